// Package powerstate is the contract between the VirtualMachine controller, which creates
// and deletes KubeVirt VirtualMachineInstances, and the controllers that ask it to start or
// stop a VM (operations). KubeVirt keeps this intent in its VirtualMachine's runStrategy; the
// platform keeps it on the VirtualMachine itself, so it survives controller restarts and is
// visible to users.
package powerstate

import (
	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// Annotation on a VirtualMachine records whether a user asked it to run or to stay off
// (Start / Stop operations, or a shutdown from inside the guest). Only the runPolicies
// Manual and AlwaysOnUnlessStoppedManually read it.
const Annotation = "virtualization.deckhouse.io/power-state"

// Values of Annotation.
const (
	Running = "Running"
	Stopped = "Stopped"
)

// Labels and annotations the VM controller puts on the VirtualMachineInstance it creates.
const (
	// VMNameLabel names the VirtualMachine a VMI (and its launcher Pod) belongs to.
	VMNameLabel = "virtualization.deckhouse.io/virtual-machine-name"
	// AppliedSpecAnnotation holds the JSON of the VM spec the VMI was built from; changes
	// that need a restart are computed against it.
	AppliedSpecAnnotation = "virtualization.deckhouse.io/applied-spec"
	// IPAddressAnnotation is the address the guest is given (the VM's VirtualMachineIPAddress).
	// It is the annotation Cilium reads on a cluster; the local node hands it out by DHCP.
	IPAddressAnnotation = "cni.cilium.io/ipAddress"
)

// ShouldRun says whether the VM should have a running VMI, given its runPolicy and the
// recorded intent.
func ShouldRun(vm *v1alpha2.VirtualMachine) bool {
	intent := vm.Annotations[Annotation]
	switch vm.Spec.RunPolicy {
	case v1alpha2.AlwaysOnPolicy:
		return true
	case v1alpha2.AlwaysOffPolicy:
		return false
	case v1alpha2.ManualPolicy:
		return intent == Running
	default: // AlwaysOnUnlessStoppedManually
		return intent != Stopped
	}
}
