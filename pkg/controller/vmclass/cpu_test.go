package vmclass

import (
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kvv1 "kubevirt.io/api/core/v1"

	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

func featureNames(cpu kvv1.CPU) []string {
	var out []string
	for _, f := range cpu.Features {
		out = append(out, f.Name+":"+f.Policy)
	}
	return out
}

func TestDomainCPU(t *testing.T) {
	discovered := class("d", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeDiscovery})
	discovered.Status.CPUFeatures.Enabled = []string{"aes", "avx"}
	cases := []struct {
		class    *v1alpha2.VirtualMachineClass
		model    string
		features []string
	}{
		{class("h", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeHost}), "host-model", nil},
		{class("p", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeHostPassthrough}), "host-passthrough", nil},
		{class("m", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeModel, Model: "IvyBridge"}), "IvyBridge", nil},
		{class("f", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeFeatures, Features: []string{"vmx", "avx2", "vmx"}}), "kvm64", []string{"vmx:require", "avx2:require"}},
		{discovered, "kvm64", []string{"aes:require", "avx:require"}},
		{class("new", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeDiscovery}), "kvm64", nil},
	}
	for _, tc := range cases {
		cpu := DomainCPU(tc.class)
		if cpu.Model != tc.model || !slices.Equal(featureNames(cpu), tc.features) {
			t.Errorf("%s (%s): model %q features %v, want %q %v", tc.class.Name, tc.class.Spec.CPU.Type, cpu.Model, featureNames(cpu), tc.model, tc.features)
		}
		if cpu.Cores != 0 || cpu.Sockets != 0 || cpu.Threads != 0 {
			t.Errorf("%s: DomainCPU sets a topology %+v", tc.class.Name, cpu)
		}
	}
}

func TestPlacement(t *testing.T) {
	workers := []corev1.NodeSelectorRequirement{{Key: "node.deckhouse.io/group", Operator: corev1.NodeSelectorOpIn, Values: []string{"worker"}}}
	tol := []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "vm", Effect: corev1.TaintEffectNoSchedule}}
	withPlacement := func(c *v1alpha2.VirtualMachineClass) *v1alpha2.VirtualMachineClass {
		c.Spec.NodeSelector = v1alpha2.NodeSelector{MatchLabels: map[string]string{"zone": "a"}, MatchExpressions: workers}
		c.Spec.Tolerations = tol
		return c
	}
	discovered := withPlacement(class("d", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeDiscovery}))
	discovered.Status.CPUFeatures.Enabled = []string{"aes", "avx"}

	cases := []struct {
		class *v1alpha2.VirtualMachineClass
		cpu   map[string]string
	}{
		{withPlacement(class("h", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeHost})), nil},
		{withPlacement(class("p", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeHostPassthrough})), nil},
		{withPlacement(class("m", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeModel, Model: "Nehalem"})),
			map[string]string{"cpu-model.node.kubevirt.io/Nehalem": "true"}},
		{withPlacement(class("f", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeFeatures, Features: []string{"vmx"}})),
			map[string]string{"cpu-model.node.kubevirt.io/kvm64": "true", "cpu-feature.node.kubevirt.io/vmx": "true"}},
		{discovered, map[string]string{"cpu-model.node.kubevirt.io/kvm64": "true",
			"cpu-feature.node.kubevirt.io/aes": "true", "cpu-feature.node.kubevirt.io/avx": "true"}},
	}
	for _, tc := range cases {
		sel, terms, tols := Placement(tc.class)
		want := map[string]string{"zone": "a"}
		maps.Copy(want, tc.cpu)
		if !maps.Equal(sel, want) {
			t.Errorf("%s: nodeSelector %v, want %v", tc.class.Spec.CPU.Type, sel, want)
		}
		if len(terms) != 1 || terms[0].Key != workers[0].Key || !slices.Equal(terms[0].Values, workers[0].Values) {
			t.Errorf("%s: terms %v, want %v", tc.class.Spec.CPU.Type, terms, workers)
		}
		if len(tols) != 1 || tols[0] != tol[0] {
			t.Errorf("%s: tolerations %v, want %v", tc.class.Spec.CPU.Type, tols, tol)
		}
		// The caller owns the results.
		sel["x"] = "y"
		terms[0].Values[0] = "changed"
		if _, ok := tc.class.Spec.NodeSelector.MatchLabels["x"]; ok || workers[0].Values[0] != "worker" {
			t.Fatalf("%s: Placement returned the class's own maps or slices", tc.class.Spec.CPU.Type)
		}
	}

	// A class with no placement of its own yields no terms and no tolerations.
	sel, terms, tols := Placement(class("h", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeHost}))
	if len(sel) != 0 || terms != nil || tols != nil {
		t.Errorf("plain host class: %v %v %v, want nothing", sel, terms, tols)
	}
}

func TestReady(t *testing.T) {
	if ok, reason, msg := Ready(nil); ok || reason != VMClassNotReady || msg == "" {
		t.Errorf("Ready(nil) = %v %s %q", ok, reason, msg)
	}
	fresh := class("fresh", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeHost})
	if ok, reason, msg := Ready(fresh); ok || reason != VMClassNotReady || !strings.Contains(msg, "fresh") {
		t.Errorf("Ready(no status) = %v %s %q", ok, reason, msg)
	}
	ready := class("ready", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeHost})
	ready.Status.Phase = v1alpha2.ClassPhaseReady
	if ok, reason, _ := Ready(ready); !ok || reason != VMClassReady {
		t.Errorf("Ready(ready) = %v %s", ok, reason)
	}
	now := metav1.Now()
	ready.DeletionTimestamp = &now
	if ok, _, msg := Ready(ready); ok || !strings.Contains(msg, "deleted") {
		t.Errorf("Ready(deleted) = %v %q", ok, msg)
	}
}
