package ipam

import (
	"context"
	"fmt"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
)

// syncLease writes a lease's status, releases a lease whose address object is gone, and
// deletes a released lease once its retention time has passed.
func (c *Controller) syncLease(ctx context.Context, name string) (time.Duration, error) {
	defer provisioning.LogSync(ctx, "VirtualMachineIPAddressLease", name)()
	cached, err := c.leaseLister.Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	l := cached.DeepCopy()
	if isBound(l) {
		gone, err := c.holderGone(ctx, l)
		if err != nil || gone {
			// The release is an update; its event brings the lease back here.
			if err == nil {
				err = c.release(ctx, l, l.Spec.VirtualMachineIPAddressRef.Namespace)
			}
			return 0, err
		}
	}
	if err := c.writeLeaseStatus(ctx, l); err != nil {
		return 0, err
	}
	if isBound(l) {
		return 0, nil
	}
	left := c.expiry(l).Sub(c.now())
	if left > 0 {
		return left, nil
	}
	klog.FromContext(ctx).V(2).Info("Deleting a released lease after its retention time", "lease", name, "namespace", retainedFor(l))
	// The preconditions keep a lease that was taken over since it was read.
	rv, uid := l.ResourceVersion, l.UID
	err = c.virt.VirtualizationV1alpha2().VirtualMachineIPAddressLeases().Delete(ctx, name,
		metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}})
	if err != nil && !apierrors.IsNotFound(err) {
		return 0, fmt.Errorf("delete released lease %s: %w", name, err)
	}
	return 0, nil
}

// holderGone reports whether the address object a bound lease names no longer exists
// (deleted without its finalizer). The API server confirms what the cache says: the
// object may be younger than the cache.
func (c *Controller) holderGone(ctx context.Context, l *lease) (bool, error) {
	ref := l.Spec.VirtualMachineIPAddressRef
	if _, err := c.vmipLister.VirtualMachineIPAddresses(ref.Namespace).Get(ref.Name); err == nil {
		return false, nil
	}
	_, err := c.virt.VirtualizationV1alpha2().VirtualMachineIPAddresses(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("get the holder of lease %s: %w", l.Name, err)
	}
	return false, nil
}

func (c *Controller) writeLeaseStatus(ctx context.Context, l *lease) error {
	st := l.Status.DeepCopy()
	st.ObservedGeneration = l.Generation
	if isBound(l) {
		st.Phase = v1alpha2.VirtualMachineIPAddressLeasePhaseBound
		provisioning.SetCondition(&st.Conditions, BoundType, metav1.ConditionTrue, LeaseBound, "", l.Generation)
	} else {
		st.Phase = v1alpha2.VirtualMachineIPAddressLeasePhaseReleased
		msg := "Not bound to a VirtualMachineIPAddress."
		if ns := retainedFor(l); ns != "" {
			msg = fmt.Sprintf("Kept for namespace %s until %s.", ns, c.expiry(l).UTC().Format(time.RFC3339))
		}
		provisioning.SetCondition(&st.Conditions, BoundType, metav1.ConditionFalse, LeaseReleased, msg, l.Generation)
	}
	if apiequality.Semantic.DeepEqual(*st, l.Status) {
		return nil
	}
	l.Status = *st
	updated, err := c.virt.VirtualizationV1alpha2().VirtualMachineIPAddressLeases().UpdateStatus(ctx, l, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update status of lease %s: %w", l.Name, err)
	}
	*l = *updated
	return nil
}

// expiry is when a released lease may be deleted: the retention time after its release
// (recorded on the lease, so a restarted controller keeps the deadline), or for a lease
// released some other way, after it was seen released or made.
func (c *Controller) expiry(l *lease) time.Time {
	if t, err := time.Parse(time.RFC3339, l.Annotations[ReleasedAtAnnotation]); err == nil {
		return t.Add(c.retention)
	}
	if cond := meta.FindStatusCondition(l.Status.Conditions, string(BoundType)); cond != nil && cond.Status == metav1.ConditionFalse {
		return cond.LastTransitionTime.Add(c.retention)
	}
	return l.CreationTimestamp.Add(c.retention)
}
