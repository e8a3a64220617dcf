package vmop

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
)

// operation is one sync's view of a VirtualMachineOperation: the object and the status
// being computed.
type operation struct {
	op *virtv1.VirtualMachineOperation
	st virtv1.VirtualMachineOperationStatus
}

func (c *Controller) setCondition(o *operation, t ConditionType, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&o.st.Conditions, metav1.Condition{
		Type: string(t), Status: status, Reason: reason, Message: msg,
		ObservedGeneration: o.op.Generation, LastTransitionTime: metav1.NewTime(c.settings.Now()),
	})
}

// fail ends the operation: Failed, with the reason on Completed and a Warning event.
func (c *Controller) fail(o *operation, reason CompletedReason, msg string) {
	o.st.Phase = virtv1.VMOPPhaseFailed
	c.setCondition(o, CompletedType, metav1.ConditionFalse, string(reason), msg)
	c.recorder.Event(o.op, corev1.EventTypeWarning, EventFailed, msg)
}

// Sync carries one operation a step further. An operation is decided once: while Pending it
// is checked against the VM and the other operations on it; once it acts (marked by
// CleanupFinalizer) every sync re-asserts what it asked of the VM and looks for the result.
func (c *Controller) Sync(ctx context.Context, key string) (time.Duration, error) {
	defer provisioning.LogSync(ctx, "vmop", key)()
	op, err := c.get(key)
	if err != nil || op == nil {
		return 0, err
	}
	if op.DeletionTimestamp != nil {
		return 0, c.finalize(ctx, op)
	}
	if finished(op.Status.Phase) {
		if err := c.abandon(ctx, op); err != nil {
			return 0, err
		}
		_, err := c.setFinalizer(ctx, op, false)
		return 0, err
	}
	o := &operation{op: op, st: *op.Status.DeepCopy()}
	p, ok := actions[op.Spec.Type]
	if !ok {
		c.wait(o)
		return 0, c.writeStatus(ctx, o)
	}
	vm, err := c.getVM(ctx, op.Namespace, op.Spec.VirtualMachine)
	if err != nil {
		return 0, err
	}
	if !provisioning.HasFinalizer(&op.ObjectMeta, CleanupFinalizer) {
		if ok, err := c.admit(ctx, o, p, vm); err != nil || !ok {
			if err != nil {
				return 0, err
			}
			return 0, c.writeStatus(ctx, o)
		}
		if o.op, err = c.begin(ctx, op, vm); err != nil {
			return 0, err
		}
	}
	after, err := c.progress(ctx, o, p, vm)
	if werr := c.writeStatus(ctx, o); werr != nil && err == nil {
		err = werr
	}
	return after, err
}

// wait keeps an operation of a type not implemented yet Pending, saying why.
func (c *Controller) wait(o *operation) {
	o.st.Phase = virtv1.VMOPPhasePending
	c.setCondition(o, CompletedType, metav1.ConditionFalse, string(OperationNotAvailable),
		fmt.Sprintf("%s operations are not available yet: the operation waits, Pending, until they are.", o.op.Spec.Type))
}

// abandon undoes what a finished or deleted operation left running; only operations that
// acted (the cleanup finalizer marks them) have anything to undo.
func (c *Controller) abandon(ctx context.Context, op *virtv1.VirtualMachineOperation) error {
	a := actions[op.Spec.Type]
	if a == nil || a.abandon == nil || !provisioning.HasFinalizer(&op.ObjectMeta, CleanupFinalizer) ||
		op.Status.Phase == virtv1.VMOPPhaseCompleted {
		return nil
	}
	return a.abandon(c, ctx, op)
}

// admit decides whether a new operation may act: its VM exists, no older operation on the VM
// is still active (unless this one supersedes it), and the runPolicy and the VM's phase
// allow it. When it may not, the status says why.
func (c *Controller) admit(ctx context.Context, o *operation, p *action, vm *virtv1.VirtualMachine) (bool, error) {
	op := o.op
	if vm == nil {
		c.fail(o, VirtualMachineNotFound, fmt.Sprintf("VirtualMachine %q not found.", op.Spec.VirtualMachine))
		return false, nil
	}
	older := c.activeBefore(op)
	for _, other := range older {
		if !supersedes(op, other) {
			c.fail(o, NotReadyToBeExecuted, fmt.Sprintf("The %s operation %s on the VM has not finished yet; run this one after it ends.",
				other.Spec.Type, other.Name))
			return false, nil
		}
	}
	if policy := runPolicy(vm); !p.allowed(policy) {
		c.fail(o, NotApplicableForRunPolicy, fmt.Sprintf("A VM with runPolicy %s cannot be %s by an operation.", policy, pastTense(p.verb)))
		return false, nil
	}
	if reason, why := p.refuse(c, op, vm); why != "" {
		c.fail(o, reason, why)
		return false, nil
	}
	// Only an operation that will act ends the ones it supersedes.
	for _, other := range older {
		if err := c.supersede(ctx, other, op); err != nil {
			return false, err
		}
	}
	return true, nil
}

func pastTense(verb string) string {
	switch {
	case verb == "stop":
		return "stopped"
	case strings.HasSuffix(verb, "e"):
		return verb + "d"
	default:
		return verb + "ed"
	}
}

// begin marks the operation as acting: the cleanup finalizer, and for a restart the UID of
// the instance it replaces. Both are stored before the VM is touched.
func (c *Controller) begin(ctx context.Context, op *virtv1.VirtualMachineOperation, vm *virtv1.VirtualMachine) (*virtv1.VirtualMachineOperation, error) {
	op = op.DeepCopy()
	op.Finalizers, _ = provisioning.WithFinalizer(op.Finalizers, CleanupFinalizer, true)
	if op.Spec.Type == virtv1.VMOPTypeRestart {
		uid := ""
		if vmi := c.vmi(vm.Namespace, vm.Name); vmi != nil {
			uid = string(vmi.UID)
		}
		if op.Annotations == nil {
			op.Annotations = map[string]string{}
		}
		op.Annotations[RestartVMIUIDAnnotation] = uid
	}
	updated, err := c.virt.VirtualizationV1alpha2().VirtualMachineOperations(op.Namespace).Update(ctx, op, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("mark VirtualMachineOperation %s/%s as started: %w", op.Namespace, op.Name, err)
	}
	return updated, nil
}

// progress sends the operation's signal (again: it is idempotent) and checks for the result
// and the deadline.
func (c *Controller) progress(ctx context.Context, o *operation, p *action, vm *virtv1.VirtualMachine) (time.Duration, error) {
	op := o.op
	switch {
	case vm == nil:
		c.fail(o, VirtualMachineNotFound, fmt.Sprintf("VirtualMachine %q was deleted before the operation ended.", op.Spec.VirtualMachine))
		return 0, nil
	case vm.DeletionTimestamp != nil:
		c.fail(o, NotApplicableForVMPhase, "The VM is being deleted.")
		return 0, nil
	case !p.allowed(runPolicy(vm)):
		c.fail(o, NotApplicableForRunPolicy, fmt.Sprintf("The VM's runPolicy changed to %s, which does not let it be %s by an operation.",
			runPolicy(vm), pastTense(p.verb)))
		return 0, nil
	}
	started := c.settings.Now()
	if cond := meta.FindStatusCondition(o.st.Conditions, string(CompletedType)); o.st.Phase == virtv1.VMOPPhaseInProgress && cond != nil {
		started = cond.LastTransitionTime.Time
	}
	o.st.Phase = virtv1.VMOPPhaseInProgress
	if err := p.send(c, ctx, op, vm); err != nil {
		c.setCondition(o, SignalSentType, metav1.ConditionFalse, string(SignalSentError), fmt.Sprintf("Sending the %s signal failed: %v", p.verb, err))
		c.setCondition(o, CompletedType, metav1.ConditionFalse, string(p.inProgress), "Retrying to send the signal.")
		return 0, err
	}
	if !meta.IsStatusConditionTrue(o.st.Conditions, string(SignalSentType)) {
		c.setCondition(o, SignalSentType, metav1.ConditionTrue, string(SignalSentSuccess), fmt.Sprintf("Sent the %s signal to the VM.", p.verb))
		c.recorder.Eventf(op, corev1.EventTypeNormal, EventInProgress, "Sent the %s signal to VirtualMachine %s.", p.verb, vm.Name)
		c.recorder.Eventf(vm, corev1.EventTypeNormal, p.vmEvent, "%s requested by VirtualMachineOperation %s.", capitalize(p.verb), op.Name)
	}
	r, err := p.check(c, ctx, op, vm)
	if err != nil {
		return 0, err
	}
	switch r.state {
	case succeeded:
		o.st.Phase = virtv1.VMOPPhaseCompleted
		c.setCondition(o, CompletedType, metav1.ConditionTrue, string(OperationCompleted), r.msg)
		c.recorder.Event(op, corev1.EventTypeNormal, EventSucceeded, r.msg)
		return 0, nil
	case failed:
		c.fail(o, r.reason, r.msg)
		return 0, nil
	}
	left := started.Add(c.settings.Timeout).Sub(c.settings.Now())
	if left <= 0 {
		c.fail(o, OperationFailed, fmt.Sprintf("The VM did not %s within %s. %s", p.verb, c.settings.Timeout, r.msg))
		return 0, nil
	}
	reason := r.reason
	if reason == "" {
		reason = p.inProgress
	}
	c.setCondition(o, CompletedType, metav1.ConditionFalse, string(reason), r.msg)
	return left, nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// getVM reads the VM from the cache, and from the API when the cache has none: an operation
// created right after its VM may reach the controller before the VM does.
func (c *Controller) getVM(ctx context.Context, namespace, name string) (*virtv1.VirtualMachine, error) {
	vm, err := c.vmLister.VirtualMachines(namespace).Get(name)
	if err == nil {
		return vm, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("get VirtualMachine %s/%s: %w", namespace, name, err)
	}
	vm, err = c.virt.VirtualizationV1alpha2().VirtualMachines(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get VirtualMachine %s/%s: %w", namespace, name, err)
	}
	return vm, nil
}

// writeStatus stores the computed status through /status when it changed; o.op becomes the
// stored object.
func (c *Controller) writeStatus(ctx context.Context, o *operation) error {
	o.st.ObservedGeneration = o.op.Generation
	if apiequality.Semantic.DeepEqual(o.st, o.op.Status) {
		return nil
	}
	op := o.op.DeepCopy()
	op.Status = o.st
	updated, err := c.virt.VirtualizationV1alpha2().VirtualMachineOperations(op.Namespace).UpdateStatus(ctx, op, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update status of VirtualMachineOperation %s/%s: %w", op.Namespace, op.Name, err)
	}
	o.op = updated
	return nil
}

// setFinalizer adds or removes the cleanup finalizer; it returns the stored object.
func (c *Controller) setFinalizer(ctx context.Context, op *virtv1.VirtualMachineOperation, present bool) (*virtv1.VirtualMachineOperation, error) {
	list, changed := provisioning.WithFinalizer(op.Finalizers, CleanupFinalizer, present)
	if !changed {
		return op, nil
	}
	op = op.DeepCopy()
	op.Finalizers = list
	updated, err := c.virt.VirtualizationV1alpha2().VirtualMachineOperations(op.Namespace).Update(ctx, op, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return op, nil
	}
	if err != nil {
		return nil, fmt.Errorf("update finalizers of VirtualMachineOperation %s/%s: %w", op.Namespace, op.Name, err)
	}
	return updated, nil
}

// finalize lets a deleted operation go. One that was acting shows Terminating first; what it
// asked of the VM's power stays asked (a stop is not undone), a migration still running is
// aborted.
func (c *Controller) finalize(ctx context.Context, op *virtv1.VirtualMachineOperation) error {
	if !provisioning.HasFinalizer(&op.ObjectMeta, CleanupFinalizer) {
		return nil
	}
	if err := c.abandon(ctx, op); err != nil {
		return err
	}
	if !finished(op.Status.Phase) && op.Status.Phase != virtv1.VMOPPhaseTerminating {
		o := &operation{op: op, st: *op.Status.DeepCopy()}
		o.st.Phase = virtv1.VMOPPhaseTerminating
		if err := c.writeStatus(ctx, o); err != nil {
			return err
		}
		op = o.op
	}
	_, err := c.setFinalizer(ctx, op, false)
	return err
}
