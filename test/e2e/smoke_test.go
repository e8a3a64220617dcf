package e2e

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestThroughKubeAPIServer checks the group is reached through kube-apiserver by kubectl and
// by the generated clientset, and that deleting a namespace removes its objects (the
// namespace controller talks to our server through the aggregation layer).
func TestThroughKubeAPIServer(t *testing.T) {
	ns := namespace(t, "smoke")
	out := mustKubectl(t, "", "api-resources", "--api-group=virtualization.deckhouse.io", "-o", "name")
	if got := len(strings.Fields(out)); got != 12 {
		t.Fatalf("api-resources lists %d resources, want 12:\n%s", got, out)
	}
	mustKubectl(t, strings.ReplaceAll(smokeVM, "NS", ns), "apply", "-f", "-")
	vm, err := client.VirtualizationV1alpha2().VirtualMachines(ns).Get(context.Background(), "smoke-vm", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get through kube-apiserver with the clientset: %v", err)
	}
	if vm.Spec.CPU.Cores != 1 || vm.Spec.RunPolicy != "AlwaysOnUnlessStoppedManually" {
		t.Errorf("stored VM: cores %d, runPolicy %q", vm.Spec.CPU.Cores, vm.Spec.RunPolicy)
	}
}

const smokeVM = `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: smoke-vm
  namespace: NS
spec:
  virtualMachineClassName: host
  cpu:
    cores: 1
  memory:
    size: 1Gi
  blockDeviceRefs:
    - kind: VirtualDisk
      name: smoke-root
`
