package validation

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

func TestVirtualMachineClassCorpus(t *testing.T) {
	runCorpus(t, "virtualmachineclass", validatorsOf(
		ValidateVirtualMachineClass, ValidateVirtualMachineClassUpdate, ValidateVirtualMachineClassStatusUpdate))
}

func TestValidateVirtualMachineClassCPUTypes(t *testing.T) {
	disc := &virtualization.CPUDiscovery{}
	for _, tc := range []struct {
		name string
		cpu  virtualization.ClassCPU
		path string // "" when valid
		typ  field.ErrorType
	}{
		{"host", virtualization.ClassCPU{Type: virtualization.CPUTypeHost}, "", ""},
		{"passthrough", virtualization.ClassCPU{Type: virtualization.CPUTypeHostPassthrough}, "", ""},
		{"discovery", virtualization.ClassCPU{Type: virtualization.CPUTypeDiscovery, Discovery: disc}, "", ""},
		{"discovery without block", virtualization.ClassCPU{Type: virtualization.CPUTypeDiscovery}, "", ""},
		{"model", virtualization.ClassCPU{Type: virtualization.CPUTypeModel, Model: "IvyBridge"}, "", ""},
		{"features", virtualization.ClassCPU{Type: virtualization.CPUTypeFeatures, Features: []string{"vmx"}}, "", ""},
		{"no type", virtualization.ClassCPU{}, "spec.cpu.type", field.ErrorTypeRequired},
		{"bad type", virtualization.ClassCPU{Type: "Custom"}, "spec.cpu.type", field.ErrorTypeNotSupported},
		{"host model", virtualization.ClassCPU{Type: virtualization.CPUTypeHost, Model: "Nehalem"}, "spec.cpu.model", field.ErrorTypeForbidden},
		{"host features", virtualization.ClassCPU{Type: virtualization.CPUTypeHost, Features: []string{"vmx"}}, "spec.cpu.features", field.ErrorTypeForbidden},
		{"passthrough discovery", virtualization.ClassCPU{Type: virtualization.CPUTypeHostPassthrough, Discovery: disc}, "spec.cpu.discovery", field.ErrorTypeForbidden},
		{"discovery model", virtualization.ClassCPU{Type: virtualization.CPUTypeDiscovery, Model: "Nehalem"}, "spec.cpu.model", field.ErrorTypeForbidden},
		{"discovery features", virtualization.ClassCPU{Type: virtualization.CPUTypeDiscovery, Features: []string{"vmx"}}, "spec.cpu.features", field.ErrorTypeForbidden},
		{"model missing", virtualization.ClassCPU{Type: virtualization.CPUTypeModel}, "spec.cpu.model", field.ErrorTypeRequired},
		{"model features", virtualization.ClassCPU{Type: virtualization.CPUTypeModel, Model: "Nehalem", Features: []string{"vmx"}}, "spec.cpu.features", field.ErrorTypeForbidden},
		{"model discovery", virtualization.ClassCPU{Type: virtualization.CPUTypeModel, Model: "Nehalem", Discovery: disc}, "spec.cpu.discovery", field.ErrorTypeForbidden},
		{"features missing", virtualization.ClassCPU{Type: virtualization.CPUTypeFeatures}, "spec.cpu.features", field.ErrorTypeRequired},
		{"features empty", virtualization.ClassCPU{Type: virtualization.CPUTypeFeatures, Features: []string{}}, "spec.cpu.features", field.ErrorTypeRequired},
		{"features model", virtualization.ClassCPU{Type: virtualization.CPUTypeFeatures, Features: []string{"vmx"}, Model: "Nehalem"}, "spec.cpu.model", field.ErrorTypeForbidden},
		{"features discovery", virtualization.ClassCPU{Type: virtualization.CPUTypeFeatures, Features: []string{"vmx"}, Discovery: disc}, "spec.cpu.discovery", field.ErrorTypeForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			class := &virtualization.VirtualMachineClass{ObjectMeta: metav1.ObjectMeta{Name: "test"}, Spec: virtualization.VirtualMachineClassSpec{CPU: tc.cpu}}
			errs := ValidateVirtualMachineClass(class)
			if tc.path == "" {
				if len(errs) > 0 {
					t.Fatalf("expected valid, got %v", errs)
				}
				return
			}
			vmExpectAt(t, errs, tc.path, tc.typ)
		})
	}
}

func TestValidateVirtualMachineClassUpdate(t *testing.T) {
	old := sizingSeedClass()
	old.ResourceVersion = "1"
	obj := sizingSeedClass()
	obj.ResourceVersion = "1"
	obj.Spec.SizingPolicies[0].CoreFractions = []int{10, 100}
	if errs := ValidateVirtualMachineClassUpdate(obj, old); len(errs) > 0 {
		t.Fatalf("changing sizing policies refused: %v", errs)
	}
	// nil and empty features are the same CPU.
	old.Spec.CPU.Features = []string{}
	if errs := ValidateVirtualMachineClassUpdate(obj, old); len(errs) > 0 {
		t.Fatalf("nil vs empty features counted as a change: %v", errs)
	}
	obj.Spec.CPU.Discovery.NodeSelector.MatchLabels = map[string]string{"group": "green"}
	vmExpectAt(t, ValidateVirtualMachineClassUpdate(obj, old), "spec.cpu", field.ErrorTypeForbidden)
}

func TestValidateVirtualMachineClassSizingPolicies(t *testing.T) {
	class := sizingSeedClass()
	class.Spec.SizingPolicies = append(class.Spec.SizingPolicies, make([]virtualization.SizingPolicy, 13)...)
	for i := 4; i < 17; i++ {
		class.Spec.SizingPolicies[i].Cores = &virtualization.SizingPolicyCores{Min: 1100 + i*2, Max: 1101 + i*2}
	}
	errs := ValidateVirtualMachineClass(class)
	vmExpectAt(t, errs, "spec.sizingPolicies", field.ErrorTypeTooMany)

	class = sizingSeedClass()
	class.Spec.SizingPolicies[3].Cores.Min = 16 // overlaps 9-16
	vmExpectAt(t, ValidateVirtualMachineClass(class), "spec.sizingPolicies[3].cores", field.ErrorTypeInvalid)
}
