package vmop

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// One operation acts on a VM at a time, as upstream: a new operation on a VM that has an
// older unfinished one fails (NotReadyToBeExecuted), unless it supersedes it: a Stop ends a
// Start, and a forced Stop or Restart ends an unforced Stop or Restart. The older one then
// becomes Superseded and the new one acts.

// EventSuperseded is the event on an operation another one replaced.
const EventSuperseded = "VirtualMachineOperationSuperseded"

// activeBefore lists the unfinished operations on op's VM created before op, oldest first.
// Operations that wait for a feature not available yet do not hold the VM, nor do deleted ones.
func (c *Controller) activeBefore(op *virtv1.VirtualMachineOperation) []*virtv1.VirtualMachineOperation {
	var out []*virtv1.VirtualMachineOperation
	for _, other := range c.operationsOn(op.Namespace, op.Spec.VirtualMachine) {
		if other.Name == op.Name || finished(other.Status.Phase) || other.DeletionTimestamp != nil || actions[other.Spec.Type] == nil {
			continue
		}
		if older(other, op) {
			out = append(out, other)
		}
	}
	sort.Slice(out, func(i, j int) bool { return older(out[i], out[j]) })
	return out
}

// older orders operations by creation, then by name (timestamps have one-second resolution).
func older(a, b *virtv1.VirtualMachineOperation) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// supersedes reports whether op may replace the unfinished operation old.
func supersedes(op, old *virtv1.VirtualMachineOperation) bool {
	force := ptr.Deref(op.Spec.Force, false)
	switch old.Spec.Type {
	case virtv1.VMOPTypeStart:
		return op.Spec.Type == virtv1.VMOPTypeStop
	case virtv1.VMOPTypeStop, virtv1.VMOPTypeRestart:
		return !ptr.Deref(old.Spec.Force, false) && force &&
			(op.Spec.Type == virtv1.VMOPTypeStop || op.Spec.Type == virtv1.VMOPTypeRestart)
	case virtv1.VMOPTypeEvict, virtv1.VMOPTypeMigrate:
		return op.Spec.Type == virtv1.VMOPTypeStop || op.Spec.Type == virtv1.VMOPTypeRestart
	}
	return false
}

// supersede ends old in favour of op. What old asked of the VM's power state needs no
// undoing (op asks for the power state it wants on every sync); a migration old started is
// aborted when old is synced next (see Sync).
func (c *Controller) supersede(ctx context.Context, old, op *virtv1.VirtualMachineOperation) error {
	client := c.virt.VirtualizationV1alpha2().VirtualMachineOperations(old.Namespace)
	msg := fmt.Sprintf("Superseded by the %s operation %s.", op.Spec.Type, op.Name)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := client.Get(ctx, old.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if finished(cur.Status.Phase) {
			return nil
		}
		o := &operation{op: cur, st: *cur.Status.DeepCopy()}
		o.st.Phase = virtv1.VMOPPhaseSuperseded
		c.setCondition(o, CompletedType, metav1.ConditionFalse, string(Superseded), msg)
		return c.writeStatus(ctx, o)
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("supersede VirtualMachineOperation %s/%s: %w", old.Namespace, old.Name, err)
	}
	c.recorder.Event(old, corev1.EventTypeNormal, EventSuperseded, msg)
	return nil
}
