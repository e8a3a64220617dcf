package ipam

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	virtlisters "github.com/virtplane/virtplane/pkg/generated/listers/virtualization/v1alpha2"
)

// VMAddress is what the VM controller needs to know of a VM's address.
type VMAddress struct {
	// Name of the VirtualMachineIPAddress the VM uses (status.virtualMachineIPAddressName).
	Name string
	// Address to give the guest; set only when Ready.
	Address string
	// Ready says the address is held for this VM and may be used.
	Ready bool
	// Reason and Message are for the VM's VirtualMachineIPAddressReady condition
	// (VMIPAddressReadyType); Message is empty when Ready.
	Reason  VMIPAddressReadyReason
	Message string
}

// AddressOfVM says which VirtualMachineIPAddress a VM uses (the one its spec names, or its
// automatic one) and whether its address is ready:
//   - NotReady: the object does not exist (yet) or is being deleted;
//   - NotAvailable: another VM uses it, or the address cannot be had (out of range, held
//     elsewhere, lease lost);
//   - NotAssigned: no address yet (being allocated, or the pool is exhausted);
//   - Ready: the address, bound and not attached to another VM.
func AddressOfVM(vm *v1alpha2.VirtualMachine, vmips virtlisters.VirtualMachineIPAddressLister) VMAddress {
	name := IPAddressNameOf(vm)
	out := VMAddress{Name: name, Reason: VMIPAddressNotReady}
	ip, err := vmips.VirtualMachineIPAddresses(vm.Namespace).Get(name)
	switch {
	case apierrors.IsNotFound(err) && vm.Spec.VirtualMachineIPAddress == "":
		out.Message = fmt.Sprintf("Waiting for the VirtualMachineIPAddress %s to be created.", name)
		return out
	case apierrors.IsNotFound(err):
		out.Message = fmt.Sprintf("VirtualMachineIPAddress %s not found.", name)
		return out
	case err != nil:
		out.Message = fmt.Sprintf("VirtualMachineIPAddress %s: %v", name, err)
		return out
	case ip.DeletionTimestamp != nil:
		out.Message = fmt.Sprintf("VirtualMachineIPAddress %s is being deleted.", name)
		return out
	case ip.Status.VirtualMachine != "" && ip.Status.VirtualMachine != vm.Name:
		out.Reason = VMIPAddressNotAvailable
		out.Message = fmt.Sprintf("VirtualMachineIPAddress %s is used by VirtualMachine %s.", name, ip.Status.VirtualMachine)
		return out
	}
	bound := meta.FindStatusCondition(ip.Status.Conditions, string(BoundType))
	switch {
	case bound != nil && bound.Status == metav1.ConditionTrue && ip.Status.Address != "" && bound.ObservedGeneration == ip.Generation:
		return VMAddress{Name: name, Address: ip.Status.Address, Ready: true, Reason: VMIPAddressReady}
	case bound == nil || bound.ObservedGeneration != ip.Generation:
		out.Reason = VMIPAddressNotAssigned
		out.Message = fmt.Sprintf("VirtualMachineIPAddress %s has no address yet.", name)
	case BoundReason(bound.Reason) == LeaseNotFound:
		out.Reason = VMIPAddressNotAssigned
		out.Message = fmt.Sprintf("VirtualMachineIPAddress %s: %s", name, bound.Message)
	default:
		out.Reason = VMIPAddressNotAvailable
		out.Message = fmt.Sprintf("VirtualMachineIPAddress %s: %s", name, bound.Message)
	}
	return out
}
