package ipam

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

func TestAutoAllocationFillsThePoolThenWaits(t *testing.T) {
	// 10.66.10.0/29 has six usable addresses, .1 to .6.
	e := newEnv(t, []string{"10.66.10.0/29"})
	for i := range 7 {
		e.create(autoVMIP("default", fmt.Sprintf("ip-%d", i)))
	}
	e.settle()
	seen := map[string]string{}
	var waiting []*v1alpha2.VirtualMachineIPAddress
	for _, ip := range e.vmips("default") {
		if ip.Status.Address == "" {
			waiting = append(waiting, ip)
			continue
		}
		addr := e.boundTo(ip)
		if s := addr.String(); s == "10.66.10.0" || s == "10.66.10.7" || !e.c.pool.Contains(addr) {
			t.Errorf("%s got %s, not a usable address of 10.66.10.0/29", ip.Name, s)
		}
		if prev, dup := seen[ip.Status.Address]; dup {
			t.Errorf("%s and %s both got %s", prev, ip.Name, ip.Status.Address)
		}
		seen[ip.Status.Address] = ip.Name
	}
	if len(seen) != 6 || len(waiting) != 1 {
		t.Fatalf("%d bound and %d waiting, want 6 and 1", len(seen), len(waiting))
	}
	w := waiting[0]
	if c := cond(w, BoundType); c.Status != metav1.ConditionFalse || c.Reason != string(LeaseNotFound) || w.Status.Phase != v1alpha2.VirtualMachineIPAddressPhasePending {
		t.Fatalf("the seventh address: %+v, want Pending with Bound=False/%s", w.Status, LeaseNotFound)
	}
	e.wantEvent(EventAllocationFailed)
	if after := e.sync(e.c.syncVMIP, key("default", w.Name)); after <= 0 {
		t.Fatal("an address waiting for a free one is not looked at again")
	}
}

func TestAutoAllocationSkipsAddressesTheCacheHasNotSeen(t *testing.T) {
	// Another controller took every address but one; this cache has seen none of it.
	e := newEnv(t, []string{"10.66.10.0/29"}, autoVMIP("default", "mine"))
	for i := 1; i <= 5; i++ {
		if _, err := e.virt.VirtualizationV1alpha2().VirtualMachineIPAddressLeases().Create(ctx, &v1alpha2.VirtualMachineIPAddressLease{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ip-10-66-10-%d", i)},
			Spec: v1alpha2.VirtualMachineIPAddressLeaseSpec{VirtualMachineIPAddressRef: &v1alpha2.VirtualMachineIPAddressLeaseIPAddressRef{
				Namespace: "other", Name: fmt.Sprintf("theirs-%d", i)}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.c.syncVMIP(ctx, "default/mine"); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	if addr := e.boundTo(e.vmip("default", "mine")); addr.String() != "10.66.10.6" {
		t.Fatalf("got %s, want the one free address 10.66.10.6", addr)
	}
}

func TestStaticAddress(t *testing.T) {
	e := newEnv(t, []string{"10.66.10.0/24", "10.66.20.0/24"},
		staticVMIP("default", "custom", "10.66.20.77"),
		staticVMIP("default", "outside", "10.77.0.5"),
		staticVMIP("default", "network", "10.66.10.0"),
		staticVMIP("default", "broadcast", "10.66.20.255"),
		staticVMIP("default", "second", "10.66.20.77"),
	)
	e.sync(e.c.syncVMIP, "default/custom")
	e.settle()
	if addr := e.boundTo(e.vmip("default", "custom")); addr.String() != "10.66.20.77" {
		t.Fatalf("custom got %s, want 10.66.20.77", addr)
	}
	for _, n := range []string{"outside", "network", "broadcast"} {
		ip := e.vmip("default", n)
		if c := cond(ip, BoundType); c.Reason != string(OutOfTheValidRange) || ip.Status.Address != "" || ip.Status.Phase != v1alpha2.VirtualMachineIPAddressPhasePending {
			t.Errorf("%s (%s): status %+v, want Pending with %s", n, ip.Spec.StaticIP, ip.Status, OutOfTheValidRange)
		}
	}
	second := e.vmip("default", "second")
	if c := cond(second, BoundType); c.Reason != string(LeaseAlreadyExists) || second.Status.Address != "" {
		t.Fatalf("second request for 10.66.20.77: status %+v, want %s", second.Status, LeaseAlreadyExists)
	}
	e.wantEvent(EventAllocationFailed)

	// Moving custom to another address releases the first, which second then gets.
	custom := e.vmip("default", "custom")
	custom.Spec.StaticIP = "10.66.20.78"
	custom.Generation++
	if _, err := e.virt.VirtualizationV1alpha2().VirtualMachineIPAddresses("default").Update(ctx, custom, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.settle()
	if addr := e.boundTo(e.vmip("default", "custom")); addr.String() != "10.66.20.78" {
		t.Fatalf("custom moved to %s, want 10.66.20.78", addr)
	}
	if addr := e.boundTo(e.vmip("default", "second")); addr.String() != "10.66.20.77" {
		t.Fatalf("second got %s, want the released 10.66.20.77 (same namespace)", addr)
	}
}

func TestAdoptsALeaseCreatedBeforeARestart(t *testing.T) {
	// The controller created the lease, then stopped before writing the status.
	e := newEnv(t, []string{"10.66.10.0/24"}, autoVMIP("default", "a"), &v1alpha2.VirtualMachineIPAddressLease{
		ObjectMeta: metav1.ObjectMeta{Name: "ip-10-66-10-42"},
		Spec: v1alpha2.VirtualMachineIPAddressLeaseSpec{VirtualMachineIPAddressRef: &v1alpha2.VirtualMachineIPAddressLeaseIPAddressRef{
			Namespace: "default", Name: "a"}},
	})
	e.settle()
	if addr := e.boundTo(e.vmip("default", "a")); addr.String() != "10.66.10.42" {
		t.Fatalf("got %s, want the lease's 10.66.10.42", addr)
	}
	if n := len(e.leases()); n != 1 {
		t.Fatalf("%d leases, want 1", n)
	}
}

func TestSecondLeaseOfARaceIsReleased(t *testing.T) {
	// Two controllers both allocated for "a"; the status names the first.
	ref := &v1alpha2.VirtualMachineIPAddressLeaseIPAddressRef{Namespace: "default", Name: "a"}
	ip := autoVMIP("default", "a")
	ip.Finalizers = []string{ReleaseFinalizer}
	ip.Status = v1alpha2.VirtualMachineIPAddressStatus{Address: "10.66.10.9"}
	e := newEnv(t, []string{"10.66.10.0/24"}, ip,
		&v1alpha2.VirtualMachineIPAddressLease{ObjectMeta: metav1.ObjectMeta{Name: "ip-10-66-10-5"}, Spec: v1alpha2.VirtualMachineIPAddressLeaseSpec{VirtualMachineIPAddressRef: ref.DeepCopy()}},
		&v1alpha2.VirtualMachineIPAddressLease{ObjectMeta: metav1.ObjectMeta{Name: "ip-10-66-10-9"}, Spec: v1alpha2.VirtualMachineIPAddressLeaseSpec{VirtualMachineIPAddressRef: ref.DeepCopy()}},
	)
	e.sync(e.c.syncVMIP, "default/a")
	if addr := e.boundTo(e.vmip("default", "a")); addr.String() != "10.66.10.9" {
		t.Fatalf("got %s, want the address its status named, 10.66.10.9", addr)
	}
	if l := e.lease("ip-10-66-10-5"); isBound(l) || retainedFor(l) != "default" {
		t.Fatalf("the extra lease is %+v, want released for default", l.Spec)
	}
}

func TestConcurrentAllocationAdoptsTheOtherControllersLease(t *testing.T) {
	// Another controller allocated for the same object a moment ago: its lease is neither
	// in this cache nor yet in what a list returns, but it sits on the object's first
	// candidate address, which this controller tries first too.
	ip := autoVMIP("default", "a")
	e := newEnv(t, []string{"10.66.10.0/24"}, ip)
	first := e.c.pool.At(candidates(ip).Uint64N(e.c.pool.Size()))
	if _, err := e.virt.VirtualizationV1alpha2().VirtualMachineIPAddressLeases().Create(ctx, newLease(ip, first), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.virt.PrependReactor("list", "virtualmachineipaddressleases", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, &v1alpha2.VirtualMachineIPAddressLeaseList{}, nil
	})
	if _, err := e.c.syncVMIP(ctx, "default/a"); err != nil {
		t.Fatal(err)
	}
	if got := e.vmip("default", "a").Status.Address; got != first.String() {
		t.Fatalf("got %q, want the other controller's %s", got, first)
	}
	if n := len(e.virt.Fake.Actions()); n == 0 {
		t.Fatal("no API calls recorded")
	}
	for _, a := range e.virt.Fake.Actions() {
		if c, ok := a.(k8stesting.CreateAction); ok && c.GetResource().Resource == "virtualmachineipaddressleases" {
			if l := c.GetObject().(*v1alpha2.VirtualMachineIPAddressLease); l.Name != LeaseName(first) {
				t.Fatalf("the controller also created lease %s", l.Name)
			}
		}
	}
}

func TestFreedAddressWakesWaitingAllocations(t *testing.T) {
	e := newEnv(t, []string{"10.66.10.0/30"}, autoVMIP("default", "a"), autoVMIP("default", "b"), autoVMIP("default", "c"))
	e.settle()
	var waiting string
	for _, ip := range e.vmips("default") {
		if ip.Status.Address == "" {
			waiting = ip.Name
		}
	}
	if waiting == "" {
		t.Fatal("three addresses fit in a /30")
	}
	for e.c.vmipQueue.Len() > 0 {
		k, _ := e.c.vmipQueue.Get()
		e.c.vmipQueue.Done(k)
	}
	e.c.leaseDeleted(nil)
	if k, _ := e.c.vmipQueue.Get(); e.c.vmipQueue.Len() != 0 || k != "default/"+waiting {
		t.Fatalf("a deleted lease enqueued %q (and %d more), want only the waiting %s", k, e.c.vmipQueue.Len(), waiting)
	}
}
