package ipam

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/powerstate"
)

func TestVMGetsAnAutomaticAddress(t *testing.T) {
	e := newEnv(t, []string{"10.66.10.0/24"}, vm("default", "linux-vm"))
	e.settle()

	v := vm("default", "linux-vm")
	ip := e.vmip("default", AutoName(v))
	if ip.Spec.Type != v1alpha2.VirtualMachineIPAddressTypeAuto || ip.Labels[powerstate.VMNameLabel] != "linux-vm" {
		t.Fatalf("automatic address: type %q, labels %v", ip.Spec.Type, ip.Labels)
	}
	ref := metav1.GetControllerOf(ip)
	if ref == nil || ref.Kind != "VirtualMachine" || ref.Name != "linux-vm" || ref.UID != v.UID || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Fatalf("owner reference %+v, want the VM as controller blocking its deletion", ref)
	}
	addr := e.boundTo(ip)
	if !e.c.pool.Contains(addr) {
		t.Fatalf("address %s is not a usable address of 10.66.10.0/24", addr)
	}
	if ip.Status.Phase != v1alpha2.VirtualMachineIPAddressPhaseAttached || ip.Status.VirtualMachine != "linux-vm" ||
		cond(ip, AttachedType).Status != metav1.ConditionTrue {
		t.Fatalf("status %+v, want Attached to linux-vm", ip.Status)
	}
	if l := e.lease(LeaseName(addr)); l.Status.Phase != v1alpha2.VirtualMachineIPAddressLeasePhaseBound {
		t.Fatalf("lease status %+v, want Bound", l.Status)
	}
	if got := AddressOfVM(v, e.c.vmipLister); !got.Ready || got.Address != addr.String() || got.Reason != VMIPAddressReady || got.Name != ip.Name {
		t.Fatalf("AddressOfVM = %+v, want ready with %s", got, addr)
	}

	// Syncing again changes nothing: no second address, no second lease.
	e.settle()
	if n, m := len(e.vmips("default")), len(e.leases()); n != 1 || m != 1 {
		t.Fatalf("after more syncs: %d addresses and %d leases, want 1 and 1", n, m)
	}
}

func TestDeletedVMLosesItsAutomaticAddressButNotOneItGaveUp(t *testing.T) {
	e := newEnv(t, []string{"10.66.10.0/24"}, vm("default", "a"), vm("default", "b"))
	e.settle()
	// The user keeps b's address, as the guide shows, by removing its owner reference.
	kept := e.vmip("default", AutoName(vm("default", "b")))
	kept.OwnerReferences = nil
	if _, err := e.virt.VirtualizationV1alpha2().VirtualMachineIPAddresses("default").Update(ctx, kept, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		if err := e.virt.VirtualizationV1alpha2().VirtualMachines("default").Delete(ctx, n, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.refresh()
	e.sync(e.c.syncVM, "default/a")
	e.sync(e.c.syncVM, "default/b")

	if _, err := e.virt.VirtualizationV1alpha2().VirtualMachineIPAddresses("default").Get(ctx, AutoName(vm("default", "a")), metav1.GetOptions{}); err == nil {
		t.Fatal("the automatic address of the deleted VM a still exists")
	}
	if ip := e.vmip("default", kept.Name); ip.Status.Address == "" {
		t.Fatal("the address b's user kept lost its address")
	}
}

func TestVMNamingAnAddressGetsNoAutomaticOne(t *testing.T) {
	v := vm("default", "linux-vm")
	v.Spec.VirtualMachineIPAddress = "linux-vm-custom-ip"
	e := newEnv(t, []string{"10.66.20.0/24"}, v, staticVMIP("default", "linux-vm-custom-ip", "10.66.20.77"))
	if got := AddressOfVM(v, e.c.vmipLister); got.Ready || got.Reason != VMIPAddressNotAssigned {
		t.Fatalf("before the controller ran: AddressOfVM = %+v, want NotAssigned", got)
	}
	e.settle()
	if n := len(e.vmips("default")); n != 1 {
		t.Fatalf("%d addresses, want only the one the VM names", n)
	}
	ip := e.vmip("default", "linux-vm-custom-ip")
	if addr := e.boundTo(ip); addr.String() != "10.66.20.77" || ip.Status.VirtualMachine != "linux-vm" ||
		ip.Status.Phase != v1alpha2.VirtualMachineIPAddressPhaseAttached {
		t.Fatalf("status %+v, want 10.66.20.77 attached to linux-vm", ip.Status)
	}
	if got := AddressOfVM(v, e.c.vmipLister); !got.Ready || got.Address != "10.66.20.77" {
		t.Fatalf("AddressOfVM = %+v", got)
	}

	// A second VM naming the same address does not get it.
	other := vm("default", "other")
	other.Spec.VirtualMachineIPAddress = "linux-vm-custom-ip"
	e.create(other)
	e.settle()
	if got := AddressOfVM(other, e.c.vmipLister); got.Ready || got.Reason != VMIPAddressNotAvailable {
		t.Fatalf("second VM: AddressOfVM = %+v, want NotAvailable", got)
	}
	if ip := e.vmip("default", "linux-vm-custom-ip"); ip.Status.VirtualMachine != "linux-vm" {
		t.Fatalf("the address moved to %q", ip.Status.VirtualMachine)
	}
}

func TestAddressWithoutVMIsBoundNotAttached(t *testing.T) {
	e := newEnv(t, []string{"10.66.10.0/24"}, autoVMIP("default", "spare"))
	e.settle()
	ip := e.vmip("default", "spare")
	e.boundTo(ip)
	if ip.Status.Phase != v1alpha2.VirtualMachineIPAddressPhaseBound || cond(ip, AttachedType).Reason != string(VirtualMachineNotFound) {
		t.Fatalf("status %+v, want Bound with Attached=False/VirtualMachineNotFound", ip.Status)
	}
	if ip.Status.ObservedGeneration != ip.Generation {
		t.Fatalf("observedGeneration %d, generation %d", ip.Status.ObservedGeneration, ip.Generation)
	}
}

func TestVMSwitchingToANamedAddressDropsItsAutomaticOneOnceUnused(t *testing.T) {
	e := newEnv(t, []string{"10.66.10.0/24"}, vm("default", "linux-vm"), staticVMIP("default", "custom", "10.66.10.77"))
	e.settle()
	auto := AutoName(vm("default", "linux-vm"))
	v, err := e.virt.VirtualizationV1alpha2().VirtualMachines("default").Get(ctx, "linux-vm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The VM still runs with its automatic address (its status names it): kept.
	v.Spec.VirtualMachineIPAddress = "custom"
	v.Status.VirtualMachineIPAddress = auto
	if v, err = e.virt.VirtualizationV1alpha2().VirtualMachines("default").Update(ctx, v, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.settle()
	e.vmip("default", auto)
	if ip := e.vmip("default", "custom"); ip.Status.VirtualMachine != "linux-vm" {
		t.Fatalf("custom is attached to %q, want linux-vm which names it", ip.Status.VirtualMachine)
	}
	// Restarted with the named address: the automatic one goes.
	v.Status.VirtualMachineIPAddress = "custom"
	if _, err := e.virt.VirtualizationV1alpha2().VirtualMachines("default").Update(ctx, v, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.sync(e.c.syncVM, "default/linux-vm")
	if _, err := e.virt.VirtualizationV1alpha2().VirtualMachineIPAddresses("default").Get(ctx, auto, metav1.GetOptions{}); err == nil {
		t.Fatal("the unused automatic address was kept")
	}
}

func TestAddressOfVMWithoutItsAddressObject(t *testing.T) {
	e := newEnv(t, nil)
	v := vm("default", "linux-vm")
	if got := AddressOfVM(v, e.c.vmipLister); got.Ready || got.Reason != VMIPAddressNotReady || got.Name != AutoName(v) {
		t.Fatalf("automatic address not made yet: %+v", got)
	}
	v.Spec.VirtualMachineIPAddress = "missing"
	if got := AddressOfVM(v, e.c.vmipLister); got.Ready || got.Reason != VMIPAddressNotReady || got.Name != "missing" {
		t.Fatalf("named address missing: %+v", got)
	}
}

// A VM being deleted may still run its guest (the VM controller's finalizer waits for the
// VMI): its address stays until the VM object is gone.
func TestVMBeingDeletedKeepsItsAddress(t *testing.T) {
	v := vm("default", "a")
	v.Finalizers = []string{"virtualization.deckhouse.io/vm-cleanup"}
	e := newEnv(t, []string{"10.66.10.0/24"}, v)
	e.settle()
	// The fake clientset does not keep objects with finalizers: mark the deletion by hand.
	got, err := e.virt.VirtualizationV1alpha2().VirtualMachines("default").Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	got.DeletionTimestamp = &now
	if _, err := e.virt.VirtualizationV1alpha2().VirtualMachines("default").Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.sync(e.c.syncVM, "default/a")
	if ip := e.vmip("default", AutoName(v)); ip.Status.Address == "" || ip.DeletionTimestamp != nil {
		t.Fatalf("the address of a VM still being deleted was released: %+v", ip.Status)
	}
}
