package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
)

// The RBAC model of artifacts/rbac as users meet it: identities are impersonated with
// `kubectl --as`, the admin kubeconfig being allowed to impersonate anybody. Requests go
// through kube-apiserver, which authorizes them, and reach our server, which authorizes them
// again through SubjectAccessReviews.

const (
	// Fully qualified resource names: kubectl resolves them without doubt.
	vmResource    = "virtualmachines.virtualization.deckhouse.io"
	vdResource    = "virtualdisks.virtualization.deckhouse.io"
	vmopResource  = "virtualmachineoperations.virtualization.deckhouse.io"
	cviResource   = "clustervirtualimages.virtualization.deckhouse.io"
	classResource = "virtualmachineclasses.virtualization.deckhouse.io"
	leaseResource = "virtualmachineipaddressleases.virtualization.deckhouse.io"

	controllerSA = "system:serviceaccount:d8-virtualization:virtualization-controller"
	// vmPath is the collection of VMs of a namespace (fmt verb: the namespace).
	vmPath = "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/%s/virtualmachines"
)

// rbacVM is a valid VirtualMachine manifest. Its class does not exist, so no sizing policy of
// a class created by another test applies to it.
func rbacVM(ns, name string) string {
	return fmt.Sprintf(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: %s
  namespace: %s
spec:
  virtualMachineClassName: e2e-no-such-class
  runPolicy: AlwaysOnUnlessStoppedManually
  cpu:
    cores: 1
  memory:
    size: 1Gi
  blockDeviceRefs:
    - kind: VirtualDisk
      name: %s-root
`, name, ns, name)
}

func rbacDisk(ns, name string) string {
	return fmt.Sprintf(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualDisk
metadata:
  name: %s
  namespace: %s
spec:
  persistentVolumeClaim:
    size: 1Gi
`, name, ns)
}

func rbacVMOP(ns, name, vm string) string {
	return fmt.Sprintf(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineOperation
metadata:
  name: %s
  namespace: %s
spec:
  type: Start
  virtualMachineName: %s
`, name, ns, vm)
}

func rbacCVI(name string) string {
	return fmt.Sprintf(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: ClusterVirtualImage
metadata:
  name: %s
spec:
  dataSource:
    type: HTTP
    http:
      url: https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img
`, name)
}

func rbacClass(name string) string {
	return fmt.Sprintf(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineClass
metadata:
  name: %s
spec:
  cpu:
    type: Host
`, name)
}

// kubectlAs runs kubectl as another user (with optional groups, "--as-group=..." in args).
func kubectlAs(t *testing.T, user, stdin string, args ...string) (string, error) {
	t.Helper()
	return kubectl(t, stdin, append([]string{"--as=" + user}, args...)...)
}

// mustKubectlAs is kubectlAs that fails the test on error.
func mustKubectlAs(t *testing.T, user, stdin string, args ...string) string {
	t.Helper()
	out, err := kubectlAs(t, user, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl --as=%s %s: %v\n%s", user, strings.Join(args, " "), err, out)
	}
	return out
}

// restConfigAs is the admin kubeconfig impersonating another user, as `kubectl --as` does.
func restConfigAs(t *testing.T, user string, groups ...string) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", stack.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	return cfg
}

// clientAs is the generated clientset through kube-apiserver impersonating another user.
func clientAs(t *testing.T, user string, groups ...string) versioned.Interface {
	t.Helper()
	c, err := versioned.NewForConfig(restConfigAs(t, user, groups...))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// canI asks `kubectl auth can-i ... --as=user` and returns its answer.
func canI(t *testing.T, user string, args ...string) bool {
	t.Helper()
	out, err := kubectlAs(t, user, "", append([]string{"auth", "can-i"}, args...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	switch answer := strings.TrimSpace(lines[len(lines)-1]); {
	case answer == "yes" && err == nil:
		return true
	case strings.HasPrefix(answer, "no") && err != nil:
		return false
	default:
		t.Fatalf("kubectl auth can-i %s --as=%s: %v\n%s", strings.Join(args, " "), user, err, out)
		return false
	}
}

// wantCanI checks that `kubectl auth can-i` gives the expected answer.
func wantCanI(t *testing.T, user string, want bool, args ...string) {
	t.Helper()
	if got := canI(t, user, args...); got != want {
		t.Errorf("kubectl auth can-i %s --as=%s: %v, want %v", strings.Join(args, " "), user, yesNo(got), yesNo(want))
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// waitCanI polls `kubectl auth can-i` until it answers yes: the ClusterRole aggregation
// controller merges the rules of artifacts/rbac into view/edit/admin asynchronously.
func waitCanI(t *testing.T, user string, args ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !canI(t, user, args...) {
		if time.Now().After(deadline) {
			t.Fatalf("kubectl auth can-i %s --as=%s is still no after 30s: the aggregated roles are not in effect",
				strings.Join(args, " "), user)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// wantForbidden checks that kubectl failed with 403 and that the message names the user, the
// verb and the resource (as a user reads it to learn what permission is missing).
func wantForbidden(t *testing.T, out string, err error, user, verb, resource string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s %s as %s succeeded, want Forbidden:\n%s", verb, resource, user, out)
		return
	}
	for _, want := range []string{
		"(Forbidden)",
		fmt.Sprintf("User %q cannot %s resource %q", user, verb, resource),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("%s %s as %s: the error does not contain %q:\n%s", verb, resource, user, want, out)
		}
	}
}

// TestRBACEditUser: a user bound to `edit` in one namespace manages the namespaced kinds there,
// sees nothing elsewhere, cannot write the cluster catalogue and cannot forge status.
func TestRBACEditUser(t *testing.T) {
	nsA := namespace(t, "rbac-edit-a")
	nsB := namespace(t, "rbac-edit-b")
	mustKubectl(t, "", "create", "rolebinding", "alice-edit", "--clusterrole=edit", "--user=alice", "-n", nsA)
	waitCanI(t, "alice", "create", vmResource, "-n", nsA)
	// A VM in B, so a refusal there is about permission and not about existence.
	mustKubectl(t, rbacVM(nsB, "b-vm"), "create", "-f", "-")

	// Create, get, list, patch the namespaced kinds in A.
	if out := mustKubectlAs(t, "alice", rbacVM(nsA, "alice-vm"), "create", "-f", "-"); !strings.Contains(out, "alice-vm created") {
		t.Errorf("create VM as alice: %s", out)
	}
	if out := mustKubectlAs(t, "alice", rbacDisk(nsA, "alice-vm-root"), "create", "-f", "-"); !strings.Contains(out, "alice-vm-root created") {
		t.Errorf("create VirtualDisk as alice: %s", out)
	}
	if out := mustKubectlAs(t, "alice", rbacVMOP(nsA, "alice-start", "alice-vm"), "create", "-f", "-"); !strings.Contains(out, "alice-start created") {
		t.Errorf("create VirtualMachineOperation as alice: %s", out)
	}
	if got := mustKubectlAs(t, "alice", "", "get", vmResource, "alice-vm", "-n", nsA, "-o", "jsonpath={.spec.cpu.cores}"); got != "1" {
		t.Errorf("get VM as alice: cores %q, want 1", got)
	}
	list := mustKubectlAs(t, "alice", "", "get", vmResource+","+vdResource+","+vmopResource, "-n", nsA, "-o", "name")
	for _, want := range []string{
		"virtualmachine.virtualization.deckhouse.io/alice-vm",
		"virtualdisk.virtualization.deckhouse.io/alice-vm-root",
		"virtualmachineoperation.virtualization.deckhouse.io/alice-start",
	} {
		if !strings.Contains(list, want) {
			t.Errorf("list as alice in %s lacks %s:\n%s", nsA, want, list)
		}
	}
	mustKubectlAs(t, "alice", "", "patch", vmResource, "alice-vm", "-n", nsA, "--type=merge", "-p", `{"spec":{"runPolicy":"AlwaysOff"}}`)
	if got := mustKubectl(t, "", "get", vmResource, "alice-vm", "-n", nsA, "-o", "jsonpath={.spec.runPolicy}"); got != "AlwaysOff" {
		t.Errorf("runPolicy after alice's patch: %q, want AlwaysOff", got)
	}
	for _, verb := range []string{"create", "get", "list", "watch", "update", "patch", "delete", "deletecollection"} {
		wantCanI(t, "alice", true, verb, vmResource, "-n", nsA)
	}
	wantCanI(t, "alice", true, "create", vdResource, "-n", nsA)
	wantCanI(t, "alice", true, "create", vmopResource, "-n", nsA)

	// Status is the controller's: neither patch nor replace of /status, and can-i agrees.
	// kubectl patch reads the subresource first, so its refusal is for get.
	out, err := kubectlAs(t, "alice", "", "patch", vmResource, "alice-vm", "-n", nsA, "--subresource=status",
		"--type=merge", "-p", `{"status":{"phase":"Running"}}`)
	wantForbidden(t, out, err, "alice", "get", "virtualmachines/status")
	// The PATCH request itself, sent by a clientset impersonating alice.
	_, err = clientAs(t, "alice").VirtualizationV1alpha2().VirtualMachines(nsA).Patch(context.Background(), "alice-vm",
		types.MergePatchType, []byte(`{"status":{"phase":"Running"}}`), metav1.PatchOptions{}, "status")
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `User "alice" cannot patch resource "virtualmachines/status"`) {
		t.Errorf("PATCH virtualmachines/status as alice: %v, want Forbidden naming alice and the subresource", err)
	}
	current := mustKubectl(t, "", "get", vmResource, "alice-vm", "-n", nsA, "-o", "json")
	var vm map[string]any
	if err := json.Unmarshal([]byte(current), &vm); err != nil {
		t.Fatal(err)
	}
	vm["status"] = map[string]any{"phase": "Running", "nodeName": "forged-node"}
	forged, _ := json.Marshal(vm)
	out, err = kubectlAs(t, "alice", string(forged), "replace", "--subresource=status", "-f", "-")
	wantForbidden(t, out, err, "alice", "update", "virtualmachines/status")
	if got := mustKubectl(t, "", "get", vmResource, "alice-vm", "-n", nsA, "-o", "jsonpath={.status.phase}/{.status.nodeName}"); got != "/" {
		t.Errorf("status after alice's refused writes: %q, want it empty", got)
	}
	wantCanI(t, "alice", false, "update", vmResource, "--subresource=status", "-n", nsA)
	wantCanI(t, "alice", false, "patch", vmResource, "--subresource=status", "-n", nsA)

	// Namespace B: nothing.
	out, err = kubectlAs(t, "alice", "", "get", vmResource, "b-vm", "-n", nsB)
	wantForbidden(t, out, err, "alice", "get", "virtualmachines")
	if !strings.Contains(out, fmt.Sprintf("in the namespace %q", nsB)) {
		t.Errorf("get in %s as alice: the error does not name the namespace:\n%s", nsB, out)
	}
	out, err = kubectlAs(t, "alice", "", "get", vmResource, "-n", nsB)
	wantForbidden(t, out, err, "alice", "list", "virtualmachines")
	if strings.Contains(out, "b-vm") {
		t.Errorf("the refused list in %s shows its VM:\n%s", nsB, out)
	}
	wantCanI(t, "alice", false, "get", vmResource, "-n", nsB)
	wantCanI(t, "alice", false, "list", vmResource, "-n", nsB)

	// The cluster catalogue is written by cluster admins only.
	out, err = kubectlAs(t, "alice", rbacCVI("alice-image"), "create", "-f", "-")
	wantForbidden(t, out, err, "alice", "create", "clustervirtualimages")
	out, err = kubectlAs(t, "alice", rbacClass("alice-class"), "create", "-f", "-")
	wantForbidden(t, out, err, "alice", "create", "virtualmachineclasses")
	wantCanI(t, "alice", false, "create", cviResource)
	wantCanI(t, "alice", false, "create", classResource)
	if got := mustKubectl(t, "", "get", cviResource+","+classResource, "-o", "name"); strings.Contains(got, "alice-") {
		t.Errorf("a refused create left an object:\n%s", got)
	}

	// Delete last.
	mustKubectlAs(t, "alice", "", "delete", vmopResource, "alice-start", "-n", nsA)
	mustKubectlAs(t, "alice", "", "delete", vdResource, "alice-vm-root", "-n", nsA)
	mustKubectlAs(t, "alice", "", "delete", vmResource, "alice-vm", "-n", nsA)
	if _, err := client.VirtualizationV1alpha2().VirtualMachines(nsA).Get(context.Background(), "alice-vm", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after alice deleted the VM: %v, want NotFound", err)
	}
}

// TestRBACViewUser: a user bound to `view` reads and watches but writes nothing.
func TestRBACViewUser(t *testing.T) {
	nsA := namespace(t, "rbac-view-a")
	nsB := namespace(t, "rbac-view-b")
	mustKubectl(t, "", "create", "rolebinding", "victor-view", "--clusterrole=view", "--user=victor", "-n", nsA)
	waitCanI(t, "victor", "list", vmResource, "-n", nsA)
	mustKubectl(t, rbacVM(nsA, "viewed-vm"), "create", "-f", "-")

	if got := mustKubectlAs(t, "victor", "", "get", vmResource, "viewed-vm", "-n", nsA, "-o", "jsonpath={.metadata.name}"); got != "viewed-vm" {
		t.Errorf("get as victor: %q", got)
	}
	if got := mustKubectlAs(t, "victor", "", "get", vmResource, "-n", nsA, "-o", "name"); strings.TrimSpace(got) != "virtualmachine.virtualization.deckhouse.io/viewed-vm" {
		t.Errorf("list as victor: %q", got)
	}
	// A watch that the server ends after a second: the existing VM arrives as ADDED.
	watched := mustKubectlAs(t, "victor", "", "get", "--raw", fmt.Sprintf(vmPath, nsA)+"?watch=true&timeoutSeconds=1")
	if !strings.Contains(watched, `"type":"ADDED"`) || !strings.Contains(watched, `"name":"viewed-vm"`) {
		t.Errorf("watch as victor did not deliver the VM as ADDED:\n%s", watched)
	}
	for _, verb := range []string{"get", "list", "watch"} {
		wantCanI(t, "victor", true, verb, vmResource, "-n", nsA)
	}

	out, err := kubectlAs(t, "victor", rbacVM(nsA, "victor-vm"), "create", "-f", "-")
	wantForbidden(t, out, err, "victor", "create", "virtualmachines")
	out, err = kubectlAs(t, "victor", "", "delete", vmResource, "viewed-vm", "-n", nsA)
	wantForbidden(t, out, err, "victor", "delete", "virtualmachines")
	out, err = kubectlAs(t, "victor", "", "patch", vmResource, "viewed-vm", "-n", nsA, "--type=merge", "-p", `{"spec":{"runPolicy":"AlwaysOff"}}`)
	wantForbidden(t, out, err, "victor", "patch", "virtualmachines")
	for _, verb := range []string{"create", "delete", "update", "patch", "deletecollection"} {
		wantCanI(t, "victor", false, verb, vmResource, "-n", nsA)
	}
	vms, err := client.VirtualizationV1alpha2().VirtualMachines(nsA).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(vms.Items) == 0 {
		t.Fatal("viewed-vm is gone after victor's refused delete")
	}
	if len(vms.Items) != 1 || vms.Items[0].Name != "viewed-vm" || vms.Items[0].Spec.RunPolicy != "AlwaysOnUnlessStoppedManually" {
		t.Errorf("VMs after victor's refused writes: %s (runPolicy of the first: %q), want viewed-vm unchanged",
			csNames(vms.Items), vms.Items[0].Spec.RunPolicy)
	}

	// Not bound in B.
	out, err = kubectlAs(t, "victor", "", "get", vmResource, "-n", nsB)
	wantForbidden(t, out, err, "victor", "list", "virtualmachines")
	wantCanI(t, "victor", false, "watch", vmResource, "-n", nsB)
}

// TestRBACClusterWideEdit: even `edit` granted cluster-wide writes no cluster-scoped kind and
// reads no IP address leases; it reads the catalogue (view's cluster-scoped reads).
func TestRBACClusterWideEdit(t *testing.T) {
	mustKubectl(t, "", "create", "clusterrolebinding", "e2e-carol-edit", "--clusterrole=edit", "--user=carol")
	t.Cleanup(func() { _, _ = kubectl(t, "", "delete", "clusterrolebinding", "e2e-carol-edit") })
	waitCanI(t, "carol", "list", cviResource)

	wantCanI(t, "carol", true, "list", classResource)
	wantCanI(t, "carol", true, "create", vmResource, "-n", "default")
	for _, res := range []string{cviResource, classResource, leaseResource} {
		for _, verb := range []string{"create", "update", "patch", "delete"} {
			wantCanI(t, "carol", false, verb, res)
		}
	}
	wantCanI(t, "carol", false, "list", leaseResource)
	wantCanI(t, "carol", false, "update", vmResource, "--subresource=status", "-n", "default")
	out, err := kubectlAs(t, "carol", rbacCVI("carol-image"), "create", "-f", "-")
	wantForbidden(t, out, err, "carol", "create", "clustervirtualimages")
	out, err = kubectlAs(t, "carol", rbacClass("carol-class"), "create", "-f", "-")
	wantForbidden(t, out, err, "carol", "create", "virtualmachineclasses")
	out, err = kubectlAs(t, "carol", "", "get", leaseResource)
	wantForbidden(t, out, err, "carol", "list", "virtualmachineipaddressleases")
}

// TestRBACControllerAndClusterAdmin: the controller's ServiceAccount writes status; a cluster
// admin writes the cluster-scoped catalogue.
func TestRBACControllerAndClusterAdmin(t *testing.T) {
	ns := namespace(t, "rbac-controller")
	mustKubectl(t, rbacVM(ns, "reconciled"), "create", "-f", "-")

	wantCanI(t, controllerSA, true, "update", vmResource, "--subresource=status", "-n", ns)
	wantCanI(t, controllerSA, true, "patch", vmResource, "--subresource=status", "-n", ns)
	mustKubectlAs(t, controllerSA, "", "patch", vmResource, "reconciled", "-n", ns, "--subresource=status",
		"--type=merge", "-p", `{"status":{"phase":"Running","nodeName":"node-1"}}`)
	if got := mustKubectl(t, "", "get", vmResource, "reconciled", "-n", ns, "-o", "jsonpath={.status.phase}/{.status.nodeName}"); got != "Running/node-1" {
		t.Errorf("status after the controller's patch: %q, want Running/node-1", got)
	}
	// replace --subresource=status (an update) with the ServiceAccount's groups spelled out.
	current := mustKubectlAs(t, controllerSA, "", "get", vmResource, "reconciled", "-n", ns, "--subresource=status", "-o", "json")
	var vm map[string]any
	if err := json.Unmarshal([]byte(current), &vm); err != nil {
		t.Fatal(err)
	}
	vm["status"].(map[string]any)["phase"] = "Stopped"
	updated, _ := json.Marshal(vm)
	mustKubectlAs(t, controllerSA, string(updated), "--as-group=system:serviceaccounts",
		"--as-group=system:serviceaccounts:d8-virtualization", "replace", "--subresource=status", "-f", "-")
	if got := mustKubectl(t, "", "get", vmResource, "reconciled", "-n", ns, "-o", "jsonpath={.status.phase}"); got != "Stopped" {
		t.Errorf("status after the controller's replace: %q, want Stopped", got)
	}

	// Cluster admin: the catalogue.
	for _, res := range []string{cviResource, classResource} {
		out := strings.TrimSpace(mustKubectl(t, "", "auth", "can-i", "create", res))
		if !strings.HasSuffix(out, "\nyes") && out != "yes" {
			t.Errorf("kubectl auth can-i create %s as admin: %s", res, out)
		}
	}
	for kind, manifest := range map[string]string{cviResource: rbacCVI("e2e-admin-image"), classResource: rbacClass("e2e-admin-class")} {
		out := mustKubectl(t, manifest, "create", "-f", "-")
		if !strings.Contains(out, "created") {
			t.Errorf("create %s as admin: %s", kind, out)
		}
		object := strings.Fields(out)[0] // kind/name
		t.Cleanup(func() { _, _ = kubectl(t, "", "delete", object, "--ignore-not-found") })
	}
	if got := mustKubectl(t, "", "get", classResource, "e2e-admin-class", "-o", "jsonpath={.spec.cpu.type}"); got != "Host" {
		t.Errorf("class created by admin: cpu type %q", got)
	}
	if got := mustKubectl(t, "", "get", cviResource, "e2e-admin-image", "-o", "jsonpath={.spec.dataSource.type}"); got != "HTTP" {
		t.Errorf("image created by admin: dataSource type %q", got)
	}
}

// httpGet makes one request with the given TLS client configuration and headers.
func httpGet(t *testing.T, url string, cfg *tls.Config, headers map[string]string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// stackCert loads a client certificate of the local stack: internal/localstack makes them in
// the pki directory next to the admin kubeconfig.
func stackCert(t *testing.T, name string) *tls.Config {
	t.Helper()
	dir := filepath.Join(filepath.Dir(stack.Kubeconfig), "pki")
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true} //nolint:gosec // loopback test servers
}

func wantDenied(t *testing.T, what string, code int, body, secret string) {
	t.Helper()
	if code != http.StatusUnauthorized && code != http.StatusForbidden {
		t.Errorf("%s: status %d, want 401 or 403:\n%s", what, code, body)
	}
	if strings.Contains(body, secret) || strings.Contains(body, "VirtualMachineList") {
		t.Errorf("%s: the refusal shows VMs:\n%s", what, body)
	}
}

// TestRBACUnauthenticated: requests without credentials list no VM, neither through
// kube-apiserver nor directly at virtualization-apiserver (authentication is delegated).
func TestRBACUnauthenticated(t *testing.T) {
	ns := namespace(t, "rbac-anonymous")
	mustKubectl(t, rbacVM(ns, "secret-vm"), "create", "-f", "-")
	path := fmt.Sprintf(vmPath, ns)
	anonymous := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // loopback test servers

	for name, base := range map[string]string{"kube-apiserver": stack.KubeURL, "virtualization-apiserver": stack.VirtualizationURL} {
		// The same request with the admin certificate lists the VM: the URL is right.
		code, body := httpGet(t, base+path, stackCert(t, "admin"), nil)
		if code != http.StatusOK || !strings.Contains(body, "secret-vm") {
			t.Errorf("%s as admin: %d, want 200 with the VM:\n%s", name, code, body)
		}
		code, body = httpGet(t, base+path, anonymous, nil)
		wantDenied(t, name+" without credentials", code, body, "secret-vm")
		code, body = httpGet(t, base+path+"/secret-vm", anonymous, map[string]string{"Authorization": "Bearer not-a-token"})
		wantDenied(t, name+" with a made-up token", code, body, "secret-vm")
	}
}

// TestRBACDirectRequestHeaders: virtualization-apiserver trusts the X-Remote-* identity headers
// only from kube-apiserver's front-proxy certificate, and then authorizes that identity itself.
func TestRBACDirectRequestHeaders(t *testing.T) {
	nsA := namespace(t, "rbac-direct-a")
	nsB := namespace(t, "rbac-direct-b")
	mustKubectl(t, "", "create", "rolebinding", "alice-edit", "--clusterrole=edit", "--user=alice", "-n", nsA)
	waitCanI(t, "alice", "list", vmResource, "-n", nsA)
	mustKubectl(t, rbacVM(nsA, "a-vm"), "create", "-f", "-")
	mustKubectl(t, rbacVM(nsB, "b-vm"), "create", "-f", "-")

	proxy := stackCert(t, "front-proxy-client")
	alice := map[string]string{"X-Remote-User": "alice", "X-Remote-Group": "system:authenticated"}
	code, body := httpGet(t, stack.VirtualizationURL+fmt.Sprintf(vmPath, nsA), proxy, alice)
	if code != http.StatusOK || !strings.Contains(body, "a-vm") {
		t.Errorf("alice through the front-proxy identity in %s: %d, want 200 with a-vm:\n%s", nsA, code, body)
	}
	// Our server's own authorization refuses B, as kube-apiserver would.
	code, body = httpGet(t, stack.VirtualizationURL+fmt.Sprintf(vmPath, nsB), proxy, alice)
	if code != http.StatusForbidden || !strings.Contains(body, `User \"alice\" cannot list resource \"virtualmachines\"`) {
		t.Errorf("alice through the front-proxy identity in %s: %d, want 403 naming alice:\n%s", nsB, code, body)
	}
	// Identity headers without the front-proxy certificate are not believed.
	masters := map[string]string{"X-Remote-User": "admin", "X-Remote-Group": "system:masters"}
	code, body = httpGet(t, stack.VirtualizationURL+fmt.Sprintf(vmPath, nsB), &tls.Config{InsecureSkipVerify: true}, masters) //nolint:gosec
	wantDenied(t, "X-Remote-Group: system:masters without a client certificate", code, body, "b-vm")
	// Nor with a client certificate that is not the front proxy's.
	code, body = httpGet(t, stack.VirtualizationURL+fmt.Sprintf(vmPath, nsB), stackCert(t, "virtualization-apiserver"), masters)
	wantDenied(t, "X-Remote-Group: system:masters with another client certificate", code, body, "b-vm")
}

// TestRBACNamespaceDeletion: deleting a namespace deletes its VMs; kube-controller-manager's
// namespace controller finds them through the aggregation layer.
func TestRBACNamespaceDeletion(t *testing.T) {
	ns := namespace(t, "rbac-ns-delete")
	mustKubectl(t, rbacVM(ns, "doomed"), "create", "-f", "-")
	mustKubectl(t, rbacDisk(ns, "doomed-root"), "create", "-f", "-")
	mustKubectl(t, "", "delete", "namespace", ns, "--wait=false")

	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := kubectl(t, "", "get", "namespace", ns, "-o", "jsonpath={.status.phase} {.status.conditions}")
		if err != nil && strings.Contains(out, "NotFound") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s is still there after 60s: %v\n%s", ns, err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	ctx := context.Background()
	vms, err := client.VirtualizationV1alpha2().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	disks, err := client.VirtualizationV1alpha2().VirtualDisks(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(vms.Items) != 0 || len(disks.Items) != 0 {
		t.Errorf("after the namespace is gone: %d VMs, %d disks remain in it", len(vms.Items), len(disks.Items))
	}
}
