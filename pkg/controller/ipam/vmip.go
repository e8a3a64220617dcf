package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
)

var everything = labels.Everything()

// exhaustedRetry is when an automatic address looks for a free address again after the
// pool had none; a deleted lease wakes it sooner (leaseDeleted).
const exhaustedRetry = time.Minute

// binding is the outcome of taking the address an address object asks for.
type binding struct {
	// lease is held when the object is bound.
	lease *lease
	// want is the address asked for, or held (invalid when none could be named).
	want netip.Addr
	// keepAddress keeps status.address on failure (a lost lease: the VM still has it).
	keepAddress bool
	reason      BoundReason
	message     string
	retry       time.Duration
}

// syncVMIP reconciles one VirtualMachineIPAddress: its finalizer, its lease and status.
func (c *Controller) syncVMIP(ctx context.Context, k string) (time.Duration, error) {
	defer provisioning.LogSync(ctx, "VirtualMachineIPAddress", k)()
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return 0, fmt.Errorf("ipam vmip key %q: %w", k, err)
	}
	cached, err := c.vmipLister.VirtualMachineIPAddresses(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	ip := cached.DeepCopy()
	if ip.DeletionTimestamp != nil {
		return 0, c.finalize(ctx, ip)
	}
	if owner := ownerVM(ip); owner != "" {
		// The VM sync decides whether an automatic address is still wanted.
		if vm, err := c.vmLister.VirtualMachines(ns).Get(owner); err != nil || !usesOwned(vm, ip) {
			c.vmQueue.Add(key(ns, owner))
		}
	}
	if !provisioning.HasFinalizer(&ip.ObjectMeta, ReleaseFinalizer) {
		ip.Finalizers = append(ip.Finalizers, ReleaseFinalizer)
		if ip, err = c.virt.VirtualizationV1alpha2().VirtualMachineIPAddresses(ns).Update(ctx, ip, metav1.UpdateOptions{}); err != nil {
			return 0, fmt.Errorf("add finalizer to %s: %w", k, err)
		}
	}
	held, err := c.leasesOf(ctx, ip, false)
	if err != nil {
		return 0, err
	}
	b, err := c.bind(ctx, ip, held)
	if err != nil {
		return 0, err
	}
	st := ip.Status.DeepCopy()
	c.setBound(ip, st, b)
	c.setAttached(ip, st)
	if !apiequality.Semantic.DeepEqual(*st, ip.Status) {
		ip.Status = *st
		if _, err := c.virt.VirtualizationV1alpha2().VirtualMachineIPAddresses(ns).UpdateStatus(ctx, ip, metav1.UpdateOptions{}); err != nil {
			return 0, fmt.Errorf("update status of %s: %w", k, err)
		}
	}
	// Leases the object no longer wants go only now that its status says which one it
	// holds: a second controller that races this one to a status write never sees the
	// object without the lease its status names.
	for _, l := range held {
		if b.want.IsValid() && l.Name == LeaseName(b.want) {
			continue
		}
		if err := c.release(ctx, l, ns); err != nil {
			return 0, err
		}
	}
	return b.retry, nil
}

// bind takes the address the object asks for: a Static one its staticIP, an Auto one the
// address its status already names, else a lease already bound to it, else a new one.
func (c *Controller) bind(ctx context.Context, ip *v1alpha2.VirtualMachineIPAddress, held []*lease) (binding, error) {
	if ip.Spec.Type == v1alpha2.VirtualMachineIPAddressTypeStatic {
		addr, err := netip.ParseAddr(ip.Spec.StaticIP)
		if err != nil || !c.pool.Contains(addr) {
			return binding{want: addr, reason: OutOfTheValidRange, message: fmt.Sprintf(
				"%s is not a usable address of virtualMachineCIDRs (%s); the first and last address of each subnet are not handed out.",
				ip.Spec.StaticIP, c.pool)}, nil
		}
		return c.bindAddress(ctx, ip, addr)
	}
	if addr, err := netip.ParseAddr(ip.Status.Address); err == nil {
		// Whatever the CIDRs are now: a running VM keeps the address it was given.
		return c.bindAddress(ctx, ip, addr)
	}
	if len(held) == 0 {
		// The cache may not show a lease made a moment ago by this or another controller.
		var err error
		if held, err = c.leasesOf(ctx, ip, true); err != nil {
			return binding{}, err
		}
	}
	if len(held) > 0 {
		addr, _ := AddressOfLease(held[0].Name)
		return binding{lease: held[0], want: addr, reason: Bound}, nil
	}
	l, err := c.allocate(ctx, ip)
	if errors.Is(err, errPoolExhausted) {
		return binding{reason: LeaseNotFound, retry: exhaustedRetry, message: fmt.Sprintf(
			"No free address is left in virtualMachineCIDRs (%s); addresses released less than %s ago are kept for their namespace.",
			c.pool, c.retention)}, nil
	}
	if err != nil {
		return binding{}, err
	}
	addr, _ := AddressOfLease(l.Name)
	return binding{lease: l, want: addr, reason: Bound}, nil
}

// bindAddress claims one given address and explains a failure.
func (c *Controller) bindAddress(ctx context.Context, ip *v1alpha2.VirtualMachineIPAddress, addr netip.Addr) (binding, error) {
	res, err := c.claimAddress(ctx, ip, addr)
	if err != nil {
		return binding{}, err
	}
	// The object held this address before: its lease was deleted under it.
	hadIt := ip.Status.Address == addr.String() && (meta.IsStatusConditionTrue(ip.Status.Conditions, string(BoundType)) ||
		conditionReason(ip.Status.Conditions, BoundType) == string(LeaseLost))
	if res.lease != nil {
		if res.created && hadIt {
			c.recorder.Eventf(ip, corev1.EventTypeWarning, EventLeaseReclaimed,
				"The lease %s of %s was deleted; the address was still free and is claimed again.", res.lease.Name, addr)
		}
		return binding{lease: res.lease, want: addr, reason: Bound}, nil
	}
	b := binding{want: addr}
	switch h := res.holder; {
	case hadIt:
		b.reason, b.keepAddress = LeaseLost, true
		b.message = fmt.Sprintf("The lease %s was deleted and the address %s is now held elsewhere; delete this VirtualMachineIPAddress to get another address.", h.Name, addr)
	case isBound(h) && h.Spec.VirtualMachineIPAddressRef.Namespace == ip.Namespace:
		b.reason = LeaseAlreadyExists
		b.message = fmt.Sprintf("%s is held by VirtualMachineIPAddress %s (lease %s).", addr, h.Spec.VirtualMachineIPAddressRef.Name, h.Name)
	case isBound(h):
		b.reason = LeaseAlreadyExists
		b.message = fmt.Sprintf("%s is in use in another namespace (lease %s).", addr, h.Name)
	default:
		b.reason = LeaseAlreadyExists
		b.message = fmt.Sprintf("%s was released in another namespace and is kept for it until %s (lease %s).",
			addr, c.expiry(h).UTC().Format(time.RFC3339), h.Name)
	}
	return b, nil
}

// setBound writes the outcome of bind into the status, with an event when a failure is new.
func (c *Controller) setBound(ip *v1alpha2.VirtualMachineIPAddress, st *v1alpha2.VirtualMachineIPAddressStatus, b binding) {
	st.ObservedGeneration = ip.Generation
	if b.lease != nil {
		st.Address = b.want.String()
		provisioning.SetCondition(&st.Conditions, BoundType, metav1.ConditionTrue, Bound, "", ip.Generation)
		return
	}
	if conditionReason(st.Conditions, BoundType) != string(b.reason) {
		event := EventAllocationFailed
		if b.reason == LeaseLost {
			event = EventLeaseLost
		}
		c.recorder.Event(ip, corev1.EventTypeWarning, event, b.message)
	}
	if !b.keepAddress {
		st.Address = ""
	}
	provisioning.SetCondition(&st.Conditions, BoundType, metav1.ConditionFalse, b.reason, b.message, ip.Generation)
}

// setAttached finds the VM that uses the address: one whose spec or status names it, or
// whose automatic address it is. When several do, the one already recorded keeps it.
func (c *Controller) setAttached(ip *v1alpha2.VirtualMachineIPAddress, st *v1alpha2.VirtualMachineIPAddressStatus) {
	objs, _ := c.vmIndexer.ByIndex(vmByVMIPIndex, key(ip.Namespace, ip.Name))
	vm := ""
	for _, o := range objs {
		n := o.(*v1alpha2.VirtualMachine).Name
		if n == st.VirtualMachine {
			vm = n
			break
		}
		if vm == "" || n < vm {
			vm = n
		}
	}
	st.VirtualMachine = vm
	bound := meta.IsStatusConditionTrue(st.Conditions, string(BoundType))
	switch {
	case !bound:
		st.Phase = v1alpha2.VirtualMachineIPAddressPhasePending
	case vm != "":
		st.Phase = v1alpha2.VirtualMachineIPAddressPhaseAttached
	default:
		st.Phase = v1alpha2.VirtualMachineIPAddressPhaseBound
	}
	if vm == "" {
		provisioning.SetCondition(&st.Conditions, AttachedType, metav1.ConditionFalse, VirtualMachineNotFound,
			"No VirtualMachine uses this address.", ip.Generation)
		return
	}
	provisioning.SetCondition(&st.Conditions, AttachedType, metav1.ConditionTrue, Attached, "", ip.Generation)
}

// finalize releases the leases of a deleted address object, then lets it go. The API server
// is asked for the leases, not only the cache: one created a moment ago must not be left
// bound to an object that no longer exists.
func (c *Controller) finalize(ctx context.Context, ip *v1alpha2.VirtualMachineIPAddress) error {
	if !provisioning.HasFinalizer(&ip.ObjectMeta, ReleaseFinalizer) {
		return nil
	}
	held, err := c.leasesOf(ctx, ip, true)
	if err != nil {
		return err
	}
	for _, l := range held {
		if err := c.release(ctx, l, ip.Namespace); err != nil {
			return err
		}
	}
	ip.Finalizers, _ = provisioning.WithFinalizer(ip.Finalizers, ReleaseFinalizer, false)
	_, err = c.virt.VirtualizationV1alpha2().VirtualMachineIPAddresses(ip.Namespace).Update(ctx, ip, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove finalizer of %s/%s: %w", ip.Namespace, ip.Name, err)
	}
	return nil
}

func conditionReason[T ~string](conds []metav1.Condition, t T) string {
	if c := meta.FindStatusCondition(conds, string(t)); c != nil {
		return c.Reason
	}
	return ""
}
