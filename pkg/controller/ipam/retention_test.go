package ipam

import (
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

func TestDeletedAddressIsKeptForItsNamespace(t *testing.T) {
	e := newEnv(t, []string{"10.66.20.0/24"}, staticVMIP("prod", "linux-vm-custom-ip", "10.66.20.77"))
	e.settle()
	e.deleteVMIP("prod", "linux-vm-custom-ip")
	after := e.sync(e.c.syncLease, "ip-10-66-20-77")

	l := e.lease("ip-10-66-20-77")
	if isBound(l) || retainedFor(l) != "prod" || l.Status.Phase != v1alpha2.VirtualMachineIPAddressLeasePhaseReleased {
		t.Fatalf("lease after its address was deleted: spec %+v, annotations %v, status %+v; want Released, kept for prod", l.Spec, l.Annotations, l.Status)
	}
	if c := condOf(l.Status.Conditions, BoundType); c.Status != metav1.ConditionFalse || c.Reason != string(LeaseReleased) {
		t.Fatalf("lease Bound condition %+v, want False/Released", c)
	}
	if after <= 0 || after > 10*time.Minute {
		t.Fatalf("released lease looked at again after %s, want within the 10m retention", after)
	}

	// Another namespace asks for it: refused while it is kept.
	e.create(staticVMIP("dev", "grab", "10.66.20.77"))
	e.sync(e.c.syncVMIP, "dev/grab")
	if c := cond(e.vmip("dev", "grab"), BoundType); c.Reason != string(LeaseAlreadyExists) {
		t.Fatalf("another namespace's request: Bound %+v, want %s", c, LeaseAlreadyExists)
	}
	// An automatic address never gets it, even in the same namespace.
	e.create(autoVMIP("prod", "auto"))
	e.sync(e.c.syncVMIP, "prod/auto")
	if a := e.vmip("prod", "auto").Status.Address; a == "10.66.20.77" || a == "" {
		t.Fatalf("automatic address got %q", a)
	}
	// The same namespace asks for it again, as the guide shows: granted.
	e.create(staticVMIP("prod", "linux-vm-custom-ip", "10.66.20.77"))
	e.sync(e.c.syncVMIP, "prod/linux-vm-custom-ip")
	e.sync(e.c.syncLease, "ip-10-66-20-77")
	if addr := e.boundTo(e.vmip("prod", "linux-vm-custom-ip")); addr.String() != "10.66.20.77" {
		t.Fatalf("re-request got %s", addr)
	}
	if l := e.lease("ip-10-66-20-77"); l.Annotations[RetainedForAnnotation] != "" || l.Status.Phase != v1alpha2.VirtualMachineIPAddressLeasePhaseBound {
		t.Fatalf("taken-over lease: annotations %v, status %+v", l.Annotations, l.Status)
	}
}

func TestReleasedLeaseIsDeletedAfterRetention(t *testing.T) {
	e := newEnv(t, []string{"10.66.20.0/24"}, staticVMIP("prod", "a", "10.66.20.77"), staticVMIP("dev", "b", "10.66.20.77"))
	e.sync(e.c.syncVMIP, "prod/a")
	e.deleteVMIP("prod", "a")
	e.sync(e.c.syncLease, "ip-10-66-20-77")

	// A restarted controller reads the deadline from the lease, not from its memory.
	e.clock = e.clock.Add(9 * time.Minute)
	if after := e.sync(e.c.syncLease, "ip-10-66-20-77"); after <= 0 || after > time.Minute {
		t.Fatalf("nine minutes in: look again after %s, want within the minute left", after)
	}
	e.lease("ip-10-66-20-77")
	e.clock = e.clock.Add(time.Minute)
	e.sync(e.c.syncLease, "ip-10-66-20-77")
	if _, err := e.virt.VirtualizationV1alpha2().VirtualMachineIPAddressLeases().Get(ctx, "ip-10-66-20-77", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("lease after the retention time: %v, want deleted", err)
	}
	// Now another namespace may have it.
	e.sync(e.c.syncVMIP, "dev/b")
	if addr := e.boundTo(e.vmip("dev", "b")); addr.String() != "10.66.20.77" {
		t.Fatalf("dev got %s", addr)
	}
}

func TestLeaseDeletedByHand(t *testing.T) {
	e := newEnv(t, []string{"10.66.10.0/24"}, staticVMIP("default", "a", "10.66.10.20"), staticVMIP("default", "b", "10.66.10.30"))
	e.settle()
	del := func(name string) {
		if err := e.virt.VirtualizationV1alpha2().VirtualMachineIPAddressLeases().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		e.refresh()
	}

	// Still free: claimed again.
	del("ip-10-66-10-20")
	e.sync(e.c.syncVMIP, "default/a")
	if addr := e.boundTo(e.vmip("default", "a")); addr.String() != "10.66.10.20" {
		t.Fatalf("a got %s after its lease was deleted", addr)
	}
	e.wantEvent(EventLeaseReclaimed)

	// Taken in between by another namespace: lost.
	del("ip-10-66-10-30")
	e.create(staticVMIP("other", "thief", "10.66.10.30"))
	e.sync(e.c.syncVMIP, "other/thief")
	e.sync(e.c.syncVMIP, "default/b")
	b := e.vmip("default", "b")
	if c := cond(b, BoundType); c.Status != metav1.ConditionFalse || c.Reason != string(LeaseLost) ||
		b.Status.Phase != v1alpha2.VirtualMachineIPAddressPhasePending || b.Status.Address != "10.66.10.30" {
		t.Fatalf("b after losing its lease: %+v, want Pending with %s, address kept", b.Status, LeaseLost)
	}
	e.wantEvent(EventLeaseLost)
	v := vm("default", "vm")
	v.Spec.VirtualMachineIPAddress = "b"
	if got := AddressOfVM(v, e.c.vmipLister); got.Ready || got.Reason != VMIPAddressNotAvailable {
		t.Fatalf("AddressOfVM of a VM using b = %+v, want NotAvailable", got)
	}
}

func TestLeaseOfAVanishedAddressIsReleased(t *testing.T) {
	// The address object was deleted with its finalizer removed by hand.
	e := newEnv(t, nil, &v1alpha2.VirtualMachineIPAddressLease{
		ObjectMeta: metav1.ObjectMeta{Name: "ip-10-66-10-14"},
		Spec: v1alpha2.VirtualMachineIPAddressLeaseSpec{VirtualMachineIPAddressRef: &v1alpha2.VirtualMachineIPAddressLeaseIPAddressRef{
			Namespace: "default", Name: "linux-vm-7prpx"}},
	})
	e.sync(e.c.syncLease, "ip-10-66-10-14")
	e.sync(e.c.syncLease, "ip-10-66-10-14")
	if l := e.lease("ip-10-66-10-14"); isBound(l) || retainedFor(l) != "default" || l.Status.Phase != v1alpha2.VirtualMachineIPAddressLeasePhaseReleased {
		t.Fatalf("orphaned lease: spec %+v, status %+v; want Released for default", l.Spec, l.Status)
	}
}
