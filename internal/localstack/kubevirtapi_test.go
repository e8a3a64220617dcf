package localstack

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStackServesKubeVirtSubresources starts the whole stack with two hollow nodes from
// E2E_BIN and checks what the stack wires for KubeVirt's subresource API: the APIService
// is Available, kubectl discovers the group, every node publishes its handler endpoint,
// and a stream request for a running VMI reaches the handler of its node (a hollow VM has
// no serial port, which that handler says).
func TestStackServesKubeVirtSubresources(t *testing.T) {
	bin := os.Getenv("E2E_BIN")
	if bin == "" {
		t.Skip("E2E_BIN is not set: point it at a bin/ with the stack's programs (hack/build-tools.sh, go build -o bin/ ./cmd/...)")
	}
	for _, p := range []string{"etcd", "kube-apiserver", "kube-scheduler", "virtualization-apiserver", "virtualization-controller", "dvcr", "local-node"} {
		if _, err := os.Stat(filepath.Join(bin, p)); err != nil {
			t.Skipf("E2E_BIN=%s lacks %s", bin, p)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	s, err := Start(ctx, Options{Dir: filepath.Join(dir, "stack"), Bin: bin, RBAC: "../../artifacts/rbac", NodeRuntime: "hollow"})
	if err != nil {
		logs, _ := filepath.Glob(filepath.Join(dir, "stack", "logs", "local-node-*.log"))
		for _, l := range logs {
			data, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", l, tail(data, 3000))
		}
		t.Fatalf("starting the stack: %v", err)
	}
	t.Cleanup(s.Stop)
	kubectl := func(stdin string, args ...string) string {
		t.Helper()
		out, err := s.Kubectl(ctx, strings.NewReader(stdin), args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	if out := kubectl("", "get", "apiservice", KubeVirtAPIService, "-o", `jsonpath={.status.conditions[?(@.type=="Available")].status}`); out != "True" {
		t.Errorf("APIService %s Available=%q", KubeVirtAPIService, out)
	}
	if out := kubectl("", "get", "--raw", "/apis/subresources.kubevirt.io/v1"); !strings.Contains(out, "virtualmachineinstances/console") {
		t.Errorf("discovery of subresources.kubevirt.io/v1: %s", out)
	}
	out := kubectl("", "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.metadata.annotations.localnode\.virtplane\.io/handler-address}{"\n"}{end}`)
	for _, node := range []string{"node-1", "node-2"} {
		if !strings.Contains(out, node+"=127.0.0.1:") {
			t.Errorf("node %s publishes no handler address:\n%s", node, out)
		}
	}

	kubectl(`apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: hollow
  namespace: default
spec:
  domain:
    devices: {}
    resources:
      requests:
        memory: 64Mi
`, "apply", "-f", "-")
	kubectl("", "wait", "--for=jsonpath={.status.phase}=Running", "--timeout=60s", "vmi/hollow")
	// A plain GET (no upgrade) gets the handler's answer before any upgrade: it has no
	// serial console to bridge.
	out2, err := s.Kubectl(ctx, nil, "get", "--raw", "/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachineinstances/hollow/console")
	if err == nil || !strings.Contains(string(out2), "has no serial console") {
		t.Errorf("console of a hollow VMI: %v %s", err, out2)
	}
	out2, err = s.Kubectl(ctx, nil, "get", "--raw", "/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachineinstances/missing/console")
	if err == nil || !strings.Contains(string(out2), "NotFound") {
		t.Errorf("console of a missing VMI: %v %s", err, out2)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
