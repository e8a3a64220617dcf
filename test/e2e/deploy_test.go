package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The manifests of artifacts/ against the real kube-apiserver, as a cluster admin checks them
// before installing: `kubectl apply --dry-run=server` of every file, in the README's order.

// deployFiles lists the YAML files of a directory of artifacts/ in name order.
func deployFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "artifacts", dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatalf("no manifests in artifacts/%s", dir)
	}
	return files
}

// liveState is what the local stack's own registration looks like; a dry run must not touch it.
type liveState struct {
	APIServiceSpec       string
	APIServiceGeneration string
	ServiceSpec          string
	NamespaceLabels      string
}

func readLiveState(t *testing.T) liveState {
	t.Helper()
	return liveState{
		APIServiceSpec:       mustKubectl(t, "", "get", "apiservice", "v1alpha2.virtualization.deckhouse.io", "-o", "jsonpath={.spec}"),
		APIServiceGeneration: mustKubectl(t, "", "get", "apiservice", "v1alpha2.virtualization.deckhouse.io", "-o", "jsonpath={.metadata.generation}"),
		ServiceSpec:          mustKubectl(t, "", "get", "service", "virtualization-apiserver", "-n", "d8-virtualization", "-o", "jsonpath={.spec}"),
		NamespaceLabels:      mustKubectl(t, "", "get", "namespace", "d8-virtualization", "-o", "jsonpath={.metadata.labels}"),
	}
}

// TestDeployManifestsServerDryRun: every file of artifacts/rbac and artifacts/deploy passes
// `kubectl apply --dry-run=server`, and the dry runs leave the live stack as it was (the
// deploy APIService has the name of the stack's own registration, with a placeholder caBundle).
func TestDeployManifestsServerDryRun(t *testing.T) {
	before := readLiveState(t)
	var ca struct {
		Spec struct {
			CABundle string `json:"caBundle"`
			Service  struct {
				Name string `json:"name"`
				Port int    `json:"port"`
			} `json:"service"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(mustKubectl(t, "", "get", "apiservice", "v1alpha2.virtualization.deckhouse.io", "-o", "json")), &ca); err != nil {
		t.Fatal(err)
	}
	if ca.Spec.CABundle == "" || ca.Spec.CABundle == "RklMTC1NRQ==" || ca.Spec.Service.Port == 443 {
		t.Fatalf("the stack's APIService already looks like the deploy manifest: %+v", ca.Spec)
	}
	// Objects the deploy manifests would create: a dry run must not create them.
	absent := [][]string{
		{"configmap", "virtualization-config", "-n", "d8-virtualization"},
		{"deployment", "virtualization-apiserver", "-n", "d8-virtualization"},
		{"deployment", "virtualization-controller", "-n", "d8-virtualization"},
		{"statefulset", "virtualization-etcd", "-n", "d8-virtualization"},
		{"deployment", "dvcr", "-n", "d8-virtualization"},
		{"persistentvolumeclaim", "dvcr", "-n", "d8-virtualization"},
	}
	for _, obj := range absent {
		if out := mustKubectl(t, "", append([]string{"get", "--ignore-not-found", "-o", "name"}, obj...)...); out != "" {
			t.Fatalf("%s exists before the dry run", out)
		}
	}

	files := append(deployFiles(t, "rbac"), deployFiles(t, "deploy")...)
	for _, file := range files {
		rel, _ := filepath.Rel(repoRoot, file)
		out, err := kubectl(t, "", "apply", "--dry-run=server", "-f", file)
		if err != nil {
			t.Errorf("kubectl apply --dry-run=server -f %s: %v\n%s", rel, err, out)
			continue
		}
		// One line per object, each marked as a server dry run.
		objects := deployObjectCount(t, file)
		if got := strings.Count(out, "(server dry run)"); got != objects {
			t.Errorf("%s: %d objects answered, the file has %d:\n%s", rel, got, objects, out)
		}
		if strings.Contains(out, "Warning:") {
			t.Errorf("%s: the dry run warns:\n%s", rel, out)
		}
	}

	after := readLiveState(t)
	if after != before {
		t.Errorf("the dry runs changed the live stack:\nbefore %+v\nafter  %+v", before, after)
	}
	for _, obj := range absent {
		if out := mustKubectl(t, "", append([]string{"get", "--ignore-not-found", "-o", "name"}, obj...)...); out != "" {
			t.Errorf("the dry run created %s", out)
		}
	}
	// The API is still served through the stack's registration.
	if out, err := kubectl(t, "", "get", "apiservice", "v1alpha2.virtualization.deckhouse.io",
		"-o", `jsonpath={.status.conditions[?(@.type=="Available")].status}`); err != nil || out != "True" {
		t.Errorf("APIService Available after the dry runs: %q %v", out, err)
	}
	mustKubectl(t, "", "get", vmResource, "-A")
}

// deployObjectCount counts the YAML documents of a file that hold an object.
func deployObjectCount(t *testing.T, file string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if obj["kind"] != nil {
			n++
		}
	}
	return n
}

// TestDeployPodSecurityRestricted: the workloads of artifacts/deploy meet the Pod Security level
// their namespace enforces (00-namespace.yaml). They are dry-run in a namespace labelled as
// that file says, plus `warn` at the same level so workload templates are checked too.
func TestDeployPodSecurityRestricted(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "artifacts", "deploy", "00-namespace.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var nsManifest struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(data, &nsManifest); err != nil {
		t.Fatal(err)
	}
	level := nsManifest.Metadata.Labels["pod-security.kubernetes.io/enforce"]
	if level != "restricted" {
		t.Fatalf("00-namespace.yaml enforces %q, the README promises restricted", level)
	}
	ns := namespace(t, "deploy-pod-security")
	args := []string{"label", "namespace", ns, "pod-security.kubernetes.io/warn=" + level}
	for k, v := range nsManifest.Metadata.Labels {
		args = append(args, k+"="+v)
	}
	mustKubectl(t, "", args...)

	// A pod template without any securityContext is warned about: the check is live.
	bad := strings.ReplaceAll(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: unconfined
  namespace: NS
spec:
  selector: {matchLabels: {app: unconfined}}
  template:
    metadata: {labels: {app: unconfined}}
    spec:
      containers:
        - name: c
          image: busybox
`, "NS", ns)
	if out := mustKubectl(t, bad, "apply", "--dry-run=server", "-f", "-"); !strings.Contains(out, "violate PodSecurity") {
		t.Fatalf("a Deployment without securityContext got no PodSecurity warning in %s:\n%s", ns, out)
	}

	workloads := 0
	for _, file := range deployFiles(t, "deploy") {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`(?m)^kind: (Deployment|StatefulSet|DaemonSet|Pod|Job)$`).Match(data) {
			continue
		}
		workloads++
		manifest := strings.ReplaceAll(string(data), "namespace: d8-virtualization", "namespace: "+ns)
		rel, _ := filepath.Rel(repoRoot, file)
		out, err := kubectl(t, manifest, "apply", "--dry-run=server", "-f", "-")
		if err != nil {
			t.Errorf("%s in %s: %v\n%s", rel, ns, err, out)
			continue
		}
		if strings.Contains(out, "PodSecurity") {
			t.Errorf("%s breaks Pod Security %q:\n%s", rel, level, out)
		}
	}
	if workloads != 4 {
		t.Errorf("found %d files with workloads, want 4 (etcd, apiserver, dvcr, controller)", workloads)
	}
}
