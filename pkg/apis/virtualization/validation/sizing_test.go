package validation

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

func sizingQty(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

// sizingSeedClass is the "discovery" class of the admin guide with its four sizing policies.
func sizingSeedClass() *virtualization.VirtualMachineClass {
	return &virtualization.VirtualMachineClass{
		ObjectMeta: metav1.ObjectMeta{Name: "discovery"},
		Spec: virtualization.VirtualMachineClassSpec{
			CPU: virtualization.ClassCPU{Type: virtualization.CPUTypeDiscovery, Discovery: &virtualization.CPUDiscovery{}},
			SizingPolicies: []virtualization.SizingPolicy{
				{
					Cores:          &virtualization.SizingPolicyCores{Min: 1, Max: 4},
					Memory:         &virtualization.SizingPolicyMemory{Min: sizingQty("1Gi"), Max: sizingQty("8Gi"), Step: sizingQty("512Mi")},
					DedicatedCores: []bool{false},
					CoreFractions:  []int{5, 10, 20, 50, 100},
				},
				{
					Cores:          &virtualization.SizingPolicyCores{Min: 5, Max: 8},
					Memory:         &virtualization.SizingPolicyMemory{Min: sizingQty("5Gi"), Max: sizingQty("16Gi"), Step: sizingQty("1Gi")},
					DedicatedCores: []bool{false},
					CoreFractions:  []int{20, 50, 100},
				},
				{
					Cores:          &virtualization.SizingPolicyCores{Min: 9, Max: 16},
					Memory:         &virtualization.SizingPolicyMemory{Min: sizingQty("9Gi"), Max: sizingQty("32Gi"), Step: sizingQty("1Gi")},
					DedicatedCores: []bool{true, false},
					CoreFractions:  []int{50, 100},
				},
				{
					Cores: &virtualization.SizingPolicyCores{Min: 17, Max: 1024},
					Memory: &virtualization.SizingPolicyMemory{PerCore: &virtualization.MemoryMinMax{
						Min: sizingQty("1Gi"), Max: sizingQty("2Gi"),
					}},
					DedicatedCores: []bool{true},
					CoreFractions:  []int{100},
				},
			},
		},
	}
}

func TestSizingSeedClassIsValid(t *testing.T) {
	if errs := ValidateVirtualMachineClass(sizingSeedClass()); len(errs) > 0 {
		t.Fatalf("seed class refused: %v", errs)
	}
}

func TestSizingAgainstSeedClass(t *testing.T) {
	type vm struct {
		cores    int
		fraction string
		memory   string
	}
	for _, tc := range []struct {
		name   string
		vm     vm
		expect string // field path of the expected error; "" for a fit
		detail string // substring the error detail must contain
	}{
		{"smallest", vm{1, "", "1Gi"}, "", ""},
		{"seed linux-vm 10%", vm{1, "10%", "1Gi"}, "", ""},
		{"first policy half step", vm{2, "5%", "1536Mi"}, "", ""},
		{"first policy max", vm{4, "100%", "8Gi"}, "", ""},
		{"first policy auto", vm{3, "Auto", "2Gi"}, "", ""},
		{"below memory min", vm{1, "", "512Mi"}, "spec.memory.size", "at least 1Gi"},
		{"above memory max", vm{4, "", "9Gi"}, "spec.memory.size", "at most 8Gi"},
		{"off the 512Mi step", vm{2, "", "1200Mi"}, "spec.memory.size", "steps of 512Mi"},
		{"fraction not listed", vm{2, "15%", "2Gi"}, "spec.cpu.coreFraction", "5%, 10%, 20%, 50%, 100%"},
		{"second policy fits", vm{6, "20%", "6Gi"}, "", ""},
		{"second policy fraction 10%", vm{6, "10%", "6Gi"}, "spec.cpu.coreFraction", "5-8 cores"},
		{"second policy step from min", vm{8, "", "5632Mi"}, "spec.memory.size", "steps of 1Gi"},
		{"second policy below min", vm{5, "", "4Gi"}, "spec.memory.size", "at least 5Gi"},
		{"third policy fits", vm{16, "50%", "32Gi"}, "", ""},
		{"third policy above max", vm{12, "", "33Gi"}, "spec.memory.size", "at most 32Gi"},
		{"third policy fraction", vm{12, "20%", "12Gi"}, "spec.cpu.coreFraction", "50%, 100%"},
		{"per core fits", vm{18, "", "36Gi"}, "", ""},
		{"per core lowest", vm{32, "100%", "32Gi"}, "", ""},
		{"per core too little", vm{18, "", "17Gi"}, "spec.memory.size", "at least 1Gi of memory per core"},
		{"per core too much", vm{18, "", "37Gi"}, "spec.memory.size", "at most 2Gi of memory per core"},
		{"per core fraction", vm{20, "50%", "20Gi"}, "spec.cpu.coreFraction", "allows core fractions 100%"},
		{"auto skips fractions", vm{20, "Auto", "20Gi"}, "", ""},
		{"no policy for 0 cores", vm{0, "", "1Gi"}, "spec.cpu.cores", "no sizing policy for 0 cores"},
		{"no policy beyond 1024", vm{2048, "", "4096Gi"}, "spec.cpu.cores", "1-4, 5-8, 9-16, 17-1024"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := vmTestSpec()
			spec.CPU = virtualization.CPUSpec{Cores: tc.vm.cores, CoreFraction: tc.vm.fraction}
			spec.Memory.Size = tc.vm.memory
			errs := ValidateVirtualMachineSizing(spec, sizingSeedClass())
			sizingCheck(t, errs, tc.expect, tc.detail)
		})
	}
}

func sizingCheck(t *testing.T, errs field.ErrorList, expect, detail string) {
	t.Helper()
	if expect == "" {
		if len(errs) > 0 {
			t.Fatalf("expected a fit, got %v", errs)
		}
		return
	}
	for _, e := range errs {
		if e.Field == expect {
			if !strings.Contains(e.Detail, detail) {
				t.Fatalf("error at %s: detail %q lacks %q", expect, e.Detail, detail)
			}
			if !strings.Contains(e.Detail, `"discovery"`) && !strings.Contains(e.Detail, "class") {
				t.Fatalf("error at %s does not name the class: %q", expect, e.Detail)
			}
			return
		}
	}
	t.Fatalf("expected an error at %s, got %v", expect, errs)
}

func TestSizingCoresStep(t *testing.T) {
	class := sizingSeedClass()
	// 9-16 cores in steps of 4 counted from 9: 9, 13.
	class.Spec.SizingPolicies[2].Cores.Step = 4
	for _, tc := range []struct {
		cores  int
		expect string
		detail string
	}{
		{9, "", ""},
		{13, "", ""},
		{10, "spec.cpu.cores", "nearest allowed: 9 or 13"},
		{16, "spec.cpu.cores", "nearest allowed: 13"},
	} {
		spec := vmTestSpec()
		spec.CPU.Cores = tc.cores
		spec.Memory.Size = "16Gi"
		errs := ValidateVirtualMachineSizing(spec, class)
		sizingCheck(t, errs, tc.expect, tc.detail)
	}
}

func TestSizingDefaultCoreFraction(t *testing.T) {
	for _, tc := range []struct {
		name     string
		def      *intstr.IntOrString
		fraction string
		expect   string
		detail   string
	}{
		{"no default means 100%, listed", nil, "", "", ""},
		{"default listed", ptrIntStr(intstr.FromInt32(50)), "", "", ""},
		{"default not listed", ptrIntStr(intstr.FromInt32(25)), "", "spec.cpu.coreFraction", "policy default 25%"},
		{"VM value wins over default", ptrIntStr(intstr.FromInt32(25)), "50%", "", ""},
		{"Auto default skips the list", ptrIntStr(intstr.FromString("Auto")), "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			class := sizingSeedClass()
			class.Spec.SizingPolicies[2].DefaultCoreFraction = tc.def
			spec := vmTestSpec()
			spec.CPU = virtualization.CPUSpec{Cores: 10, CoreFraction: tc.fraction}
			spec.Memory.Size = "10Gi"
			sizingCheck(t, ValidateVirtualMachineSizing(spec, class), tc.expect, tc.detail)
		})
	}
	// Without 100% in the list, a VM that sets nothing is refused.
	class := sizingSeedClass()
	class.Spec.SizingPolicies[0].CoreFractions = []int{5, 10}
	spec := vmTestSpec()
	sizingCheck(t, ValidateVirtualMachineSizing(spec, class), "spec.cpu.coreFraction", "gets 100%")
}

func TestSizingNoMatchingPolicy(t *testing.T) {
	class := sizingSeedClass()
	class.Spec.SizingPolicies = class.Spec.SizingPolicies[:2] // 1-8 only
	spec := vmTestSpec()
	spec.CPU.Cores = 12
	spec.Memory.Size = "12Gi"
	errs := ValidateVirtualMachineSizing(spec, class)
	sizingCheck(t, errs, "spec.cpu.cores", "1-4, 5-8")
	if len(errs) != 1 {
		t.Fatalf("a VM without a policy should get one error, got %v", errs)
	}
}

func TestSizingClassWithoutPolicies(t *testing.T) {
	class := sizingSeedClass()
	class.Spec.SizingPolicies = nil
	spec := vmTestSpec()
	spec.CPU = virtualization.CPUSpec{Cores: 248, CoreFraction: "3%"}
	spec.Memory.Size = "1Mi"
	if errs := ValidateVirtualMachineSizing(spec, class); len(errs) > 0 {
		t.Fatalf("a class without policies must accept any size, got %v", errs)
	}
	if errs := ValidateVirtualMachineSizing(spec, nil); len(errs) > 0 {
		t.Fatalf("no class: got %v", errs)
	}
}

func TestSizingPolicyWithoutMemoryOrFractions(t *testing.T) {
	class := sizingSeedClass()
	class.Spec.SizingPolicies = []virtualization.SizingPolicy{{Cores: &virtualization.SizingPolicyCores{Min: 1, Max: 64}}}
	spec := vmTestSpec()
	spec.CPU = virtualization.CPUSpec{Cores: 40, CoreFraction: "7%"}
	spec.Memory.Size = "3Mi"
	if errs := ValidateVirtualMachineSizing(spec, class); len(errs) > 0 {
		t.Fatalf("a policy with only cores limits only cores, got %v", errs)
	}
}

func TestSizingIntegerMemoryBounds(t *testing.T) {
	class := sizingSeedClass()
	one := *resource.NewQuantity(1<<30, resource.BinarySI)
	class.Spec.SizingPolicies[0].Memory = &virtualization.SizingPolicyMemory{Min: &one}
	spec := vmTestSpec()
	spec.Memory.Size = "1000Mi"
	sizingCheck(t, ValidateVirtualMachineSizing(spec, class), "spec.memory.size", "at least 1Gi")
	spec.Memory.Size = "1Gi"
	sizingCheck(t, ValidateVirtualMachineSizing(spec, class), "", "")
}

func ptrIntStr(v intstr.IntOrString) *intstr.IntOrString { return &v }
