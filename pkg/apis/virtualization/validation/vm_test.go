package validation

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

func TestVirtualMachineCorpus(t *testing.T) {
	runCorpus(t, "virtualmachine", validatorsOf(
		ValidateVirtualMachine, ValidateVirtualMachineUpdate, ValidateVirtualMachineStatusUpdate))
}

func vmTestObject() *virtualization.VirtualMachine {
	return &virtualization.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: "linux-vm", Namespace: "default", ResourceVersion: "1"},
		Spec:       *vmTestSpec(),
	}
}

// vmExpectAt fails unless errs holds an error of type typ at path.
func vmExpectAt(t *testing.T, errs field.ErrorList, path string, typ field.ErrorType) {
	t.Helper()
	for _, e := range errs {
		if e.Field == path {
			if e.Type != typ {
				t.Fatalf("error at %s is %s, want %s: %v", path, e.Type, typ, e)
			}
			return
		}
	}
	t.Fatalf("expected a %s error at %s, got %v", typ, path, errs)
}

func TestValidateVirtualMachine(t *testing.T) {
	if errs := ValidateVirtualMachine(vmTestObject()); len(errs) > 0 {
		t.Fatalf("base VM refused: %v", errs)
	}
	for _, tc := range []struct {
		name   string
		change func(vm *virtualization.VirtualMachine)
		path   string
		typ    field.ErrorType
	}{
		{"cores", func(vm *virtualization.VirtualMachine) { vm.Spec.CPU.Cores = 17 }, "spec.cpu.cores", field.ErrorTypeInvalid},
		{"fraction", func(vm *virtualization.VirtualMachine) { vm.Spec.CPU.CoreFraction = "0%" }, "spec.cpu.coreFraction", field.ErrorTypeInvalid},
		{"memory", func(vm *virtualization.VirtualMachine) { vm.Spec.Memory.Size = "" }, "spec.memory.size", field.ErrorTypeRequired},
		{"class", func(vm *virtualization.VirtualMachine) { vm.Spec.VirtualMachineClassName = "" }, "spec.virtualMachineClassName", field.ErrorTypeRequired},
		{"no devices", func(vm *virtualization.VirtualMachine) { vm.Spec.BlockDeviceRefs = nil }, "spec.blockDeviceRefs", field.ErrorTypeRequired},
		{"too many devices", func(vm *virtualization.VirtualMachine) {
			vm.Spec.BlockDeviceRefs = make([]virtualization.BlockDeviceSpecRef, 17)
			for i := range vm.Spec.BlockDeviceRefs {
				vm.Spec.BlockDeviceRefs[i] = virtualization.BlockDeviceSpecRef{Kind: virtualization.DiskDevice, Name: "disk-" + strings.Repeat("x", i+1)}
			}
		}, "spec.blockDeviceRefs", field.ErrorTypeTooMany},
		{"duplicate", func(vm *virtualization.VirtualMachine) {
			vm.Spec.BlockDeviceRefs = append(vm.Spec.BlockDeviceRefs, vm.Spec.BlockDeviceRefs[0])
		}, "spec.blockDeviceRefs[1]", field.ErrorTypeDuplicate},
		{"user data size", func(vm *virtualization.VirtualMachine) {
			vm.Spec.Provisioning = &virtualization.Provisioning{Type: virtualization.ProvisioningTypeUserData, UserData: strings.Repeat("a", 2049)}
		}, "spec.provisioning.userData", field.ErrorTypeTooLong},
		{"legacy bootloader", func(vm *virtualization.VirtualMachine) {
			vm.Spec.OsType, vm.Spec.Bootloader = virtualization.LegacyWindows, virtualization.EFI
		}, "spec.bootloader", field.ErrorTypeInvalid},
		{"legacy provisioning", func(vm *virtualization.VirtualMachine) {
			vm.Spec.OsType = virtualization.LegacyWindows
			vm.Spec.Provisioning = &virtualization.Provisioning{Type: virtualization.ProvisioningTypeUserData, UserData: "#cloud-config"}
		}, "spec.provisioning", field.ErrorTypeForbidden},
		{"usb", func(vm *virtualization.VirtualMachine) {
			vm.Spec.USBDevices = make([]virtualization.USBDeviceSpecRef, 9)
		}, "spec.usbDevices", field.ErrorTypeTooMany},
		{"gpus", func(vm *virtualization.VirtualMachine) {
			vm.Spec.GPUs = make([]virtualization.GPUSpec, 17)
		}, "spec.gpus", field.ErrorTypeTooMany},
		{"gpu name length", func(vm *virtualization.VirtualMachine) {
			vm.Spec.GPUs = []virtualization.GPUSpec{{GPUClassName: strings.Repeat("a", 254)}}
		}, "spec.gpus[0].gpuClassName", field.ErrorTypeTooLong},
		{"run policy", func(vm *virtualization.VirtualMachine) { vm.Spec.RunPolicy = "Sometimes" }, "spec.runPolicy", field.ErrorTypeNotSupported},
		{"name", func(vm *virtualization.VirtualMachine) { vm.Name = "linux.vm" }, "metadata.name", field.ErrorTypeInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vm := vmTestObject()
			tc.change(vm)
			vmExpectAt(t, ValidateVirtualMachine(vm), tc.path, tc.typ)
		})
	}
}

func TestValidateVirtualMachineLegacyDevices(t *testing.T) {
	vm := vmTestObject()
	vm.Spec.OsType = virtualization.LegacyWindows
	vm.Spec.EnableParavirtualization = ptr.To(false)
	for i := 0; len(vm.Spec.BlockDeviceRefs) < 4; i++ {
		vm.Spec.BlockDeviceRefs = append(vm.Spec.BlockDeviceRefs,
			virtualization.BlockDeviceSpecRef{Kind: virtualization.ImageDevice, Name: "image-" + strings.Repeat("a", i+1)})
	}
	if errs := ValidateVirtualMachine(vm); len(errs) > 0 {
		t.Fatalf("4 devices must pass: %v", errs)
	}
	vm.Spec.BlockDeviceRefs = append(vm.Spec.BlockDeviceRefs, virtualization.BlockDeviceSpecRef{Kind: virtualization.DiskDevice, Name: "data"})
	vmExpectAt(t, ValidateVirtualMachine(vm), "spec.blockDeviceRefs", field.ErrorTypeInvalid)
	vm.Spec.EnableParavirtualization = ptr.To(true)
	if errs := ValidateVirtualMachine(vm); len(errs) > 0 {
		t.Fatalf("paravirtualized Legacy VMs take up to 16 devices: %v", errs)
	}
}

func TestValidateVirtualMachineUpdateKeepsSpecRules(t *testing.T) {
	old := vmTestObject()
	vm := vmTestObject()
	vm.Spec.CPU.Cores = 2
	if errs := ValidateVirtualMachineUpdate(vm, old); len(errs) > 0 {
		t.Fatalf("cores 1 -> 2 refused: %v", errs)
	}
	vm.Spec.CPU.Cores = 35
	vmExpectAt(t, ValidateVirtualMachineUpdate(vm, old), "spec.cpu.cores", field.ErrorTypeInvalid)
}

func TestValidateVirtualMachineStatusUpdate(t *testing.T) {
	old := vmTestObject()
	vm := vmTestObject()
	vm.Status.Phase = virtualization.MachineRunning
	vm.Status.RecommendedResources = &virtualization.RecommendedResources{CPU: &virtualization.RecommendedCPU{CoreFraction: "25%"}}
	if errs := ValidateVirtualMachineStatusUpdate(vm, old); len(errs) > 0 {
		t.Fatalf("valid status refused: %v", errs)
	}
	vm.Status.RecommendedResources.CPU.CoreFraction = "Auto"
	vmExpectAt(t, ValidateVirtualMachineStatusUpdate(vm, old), "status.recommendedResources.cpu.coreFraction", field.ErrorTypeInvalid)
}
