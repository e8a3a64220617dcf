package vmop

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	kvv1 "kubevirt.io/api/core/v1"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/powerstate"
)

// Evict and Migrate move a running VM to another node by KubeVirt's live migration: the
// operation creates a VirtualMachineInstanceMigration for the VM's instance, owned by the
// operation and named after it, and follows its phases to the end. KubeVirt chooses the
// target node (Migrate's nodeSelector narrows the choice), copies the guest's memory there
// and switches over; the VM controller shows the VM Migrating meanwhile. An operation that
// ends otherwise (superseded, timed out, deleted) deletes its migration, which makes KubeVirt
// abort it.
//
// liveMigrationPolicy decides, with the operation's force, whether the migration may slow
// the guest down to converge (AutoConverge). KubeVirt takes that from its cluster-wide
// migration configuration or MigrationPolicy objects, not from a migration, so the
// operation only refuses the combinations the policy rules out.

// MigrationName is the name of the VirtualMachineInstanceMigration an Evict or Migrate
// operation creates.
func MigrationName(op *virtv1.VirtualMachineOperation) string {
	name := MigrationNamePrefix + op.Name
	if len(name) > validation.DNS1123SubdomainMaxLength {
		name = strings.TrimRight(name[:validation.DNS1123SubdomainMaxLength], "-.")
	}
	return name
}

// buildMigration is the migration of vm's instance that op asks for.
func buildMigration(op *virtv1.VirtualMachineOperation, vm *virtv1.VirtualMachine) *kvv1.VirtualMachineInstanceMigration {
	m := &kvv1.VirtualMachineInstanceMigration{
		TypeMeta: metav1.TypeMeta{APIVersion: kvv1.SchemeGroupVersion.String(), Kind: "VirtualMachineInstanceMigration"},
		ObjectMeta: metav1.ObjectMeta{
			Name: MigrationName(op), Namespace: op.Namespace,
			Labels:          map[string]string{powerstate.VMNameLabel: vm.Name},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(op, virtv1.SchemeGroupVersion.WithKind("VirtualMachineOperation"))},
		},
		Spec: kvv1.VirtualMachineInstanceMigrationSpec{VMIName: vm.Name},
	}
	if op.Spec.Type == virtv1.VMOPTypeMigrate && op.Spec.Migrate != nil && len(op.Spec.Migrate.NodeSelector) > 0 {
		m.Spec.AddedNodeSelector = make(map[string]string, len(op.Spec.Migrate.NodeSelector))
		for k, v := range op.Spec.Migrate.NodeSelector {
			m.Spec.AddedNodeSelector[k] = v
		}
	}
	return m
}

// refuseMigration: only a running VM migrates, one migration at a time, when KubeVirt has
// not said it cannot, and as its liveMigrationPolicy allows.
func (c *Controller) refuseMigration(op *virtv1.VirtualMachineOperation, vm *virtv1.VirtualMachine) (CompletedReason, string) {
	p := vm.Status.Phase
	vmi := c.vmi(vm.Namespace, vm.Name)
	switch {
	case p == virtv1.MachineTerminating:
		return NotApplicableForVMPhase, "The VM is being deleted."
	case p == virtv1.MachineMigrating:
		return OtherMigrationInProgress, "The VM is already migrating; migrate it again once that migration has ended."
	case p != virtv1.MachineRunning || !vmiRunning(vmi):
		return NotApplicableForVMPhase, fmt.Sprintf("The VM is not running (phase %s); only a running VM can migrate.", phaseName(p))
	}
	if other := c.migrationInFlight(vmi, op); other != "" {
		return OtherMigrationInProgress, fmt.Sprintf("VirtualMachineInstanceMigration %s of the VM has not ended yet.", other)
	}
	if cond := liveMigratable(vmi); cond != nil && cond.Status == corev1.ConditionFalse {
		return OperationFailed, "The VM cannot migrate: " + kubevirtSays(cond.Reason, cond.Message)
	}
	policy := vm.Spec.LiveMigrationPolicy
	if policy == "" {
		policy = virtv1.PreferSafeMigrationPolicy
	}
	switch force := op.Spec.Force; {
	case policy == virtv1.AlwaysSafeMigrationPolicy && force != nil && *force:
		return NotApplicableForLiveMigrationPolicy, "The VM's liveMigrationPolicy AlwaysSafe never slows the guest down (AutoConverge): migrate it without force."
	case policy == virtv1.AlwaysForcedMigrationPolicy && force != nil && !*force:
		return NotApplicableForLiveMigrationPolicy, "The VM's liveMigrationPolicy AlwaysForced always lets the migration slow the guest down (AutoConverge): force: false asks for the opposite."
	}
	return "", ""
}

// sendMigration creates the migration once. One that existed and is gone is not made again:
// migrated fails the operation instead.
func (c *Controller) sendMigration(ctx context.Context, op *virtv1.VirtualMachineOperation, vm *virtv1.VirtualMachine) error {
	if meta.IsStatusConditionTrue(op.Status.Conditions, string(SignalSentType)) || c.cachedMigration(op) != nil {
		return nil
	}
	if !vmiRunning(c.vmi(vm.Namespace, vm.Name)) {
		return nil // stopped since it was admitted: migrated says so
	}
	m := buildMigration(op, vm)
	_, err := c.kv.VirtualMachineInstanceMigrations(op.Namespace).Create(ctx, m, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create VirtualMachineInstanceMigration %s/%s: %w", op.Namespace, m.Name, err)
	}
	return nil
}

// migrated follows the migration's phases. It completes once the VM's status shows it on the
// target node, so a user who waited for the operation sees the VM where it went.
func (c *Controller) migrated(ctx context.Context, op *virtv1.VirtualMachineOperation, vm *virtv1.VirtualMachine) (result, error) {
	name := MigrationName(op)
	m, err := c.getMigration(ctx, op)
	if err != nil {
		return result{}, err
	}
	vmi := c.vmi(vm.Namespace, vm.Name)
	switch {
	case m == nil && meta.IsStatusConditionTrue(op.Status.Conditions, string(SignalSentType)):
		return failure(OperationFailed, fmt.Sprintf("VirtualMachineInstanceMigration %s was deleted before it ended.", name)), nil
	case m == nil && !vmiRunning(vmi):
		return failure(NotApplicableForVMPhase, "The VM stopped running before its migration began."), nil
	case m == nil:
		return waitingFor(fmt.Sprintf("Creating VirtualMachineInstanceMigration %s.", name)), nil
	case !metav1.IsControlledBy(m, op):
		return failure(OperationFailed, fmt.Sprintf("VirtualMachineInstanceMigration %s exists and belongs to something else.", name)), nil
	}
	from, to := endpoints(m, vmi)
	switch m.Status.Phase {
	case kvv1.MigrationSucceeded:
		if vmi != nil && (vm.Status.Phase != virtv1.MachineRunning || (to != "" && vm.Status.Node != to)) {
			return waitingAs(MigrationRunning, fmt.Sprintf("The migration succeeded; waiting for the VM to show it runs%s.", onNode(to))), nil
		}
		if from != "" && to != "" {
			return success(fmt.Sprintf("The VM migrated from node %s to node %s.", from, to)), nil
		}
		if to != "" {
			return success(fmt.Sprintf("The VM migrated to node %s.", to)), nil
		}
		return success("The VM migrated."), nil
	case kvv1.MigrationFailed:
		return failure(OperationFailed, "The migration failed: "+migrationFailure(m, vmi)), nil
	case kvv1.MigrationPhaseUnset, kvv1.MigrationPending:
		return waitingAs(MigrationPending, fmt.Sprintf("Waiting for KubeVirt to start VirtualMachineInstanceMigration %s.", name)), nil
	case kvv1.MigrationScheduling:
		return waitingAs(TargetScheduling, "Waiting for a node to take the VM: its target Pod is being scheduled."), nil
	case kvv1.MigrationScheduled, kvv1.MigrationPreparingTarget:
		return waitingAs(MigrationPrepareTarget, fmt.Sprintf("Preparing the target%s.", onNode(to))), nil
	case kvv1.MigrationTargetReady:
		return waitingAs(MigrationTargetReady, fmt.Sprintf("The target%s is ready.", onNode(to))), nil
	}
	if from != "" && to != "" {
		return waitingAs(MigrationRunning, fmt.Sprintf("Migrating the VM from node %s to node %s.", from, to)), nil
	}
	return waitingAs(MigrationRunning, fmt.Sprintf("Migrating the VM (migration phase %s).", m.Status.Phase)), nil
}

// abortMigration deletes the operation's migration while it runs; KubeVirt aborts a deleted
// migration and the guest stays where it was.
func (c *Controller) abortMigration(ctx context.Context, op *virtv1.VirtualMachineOperation) error {
	m, err := c.getMigration(ctx, op)
	if err != nil || m == nil || m.IsFinal() || !metav1.IsControlledBy(m, op) {
		return err
	}
	err = c.kv.VirtualMachineInstanceMigrations(m.Namespace).Delete(ctx, m.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &m.UID}})
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
		return nil // gone already
	case err != nil:
		return fmt.Errorf("delete VirtualMachineInstanceMigration %s/%s: %w", m.Namespace, m.Name, err)
	}
	c.recorder.Eventf(op, corev1.EventTypeNormal, EventMigrationAborted, "Deleted VirtualMachineInstanceMigration %s: the migration stops.", m.Name)
	return nil
}

// cachedMigration is the operation's migration in the cache; nil when the cache has none.
func (c *Controller) cachedMigration(op *virtv1.VirtualMachineOperation) *kvv1.VirtualMachineInstanceMigration {
	obj, exists, err := c.migrationIndexer.GetByKey(op.Namespace + "/" + MigrationName(op))
	if err != nil || !exists {
		return nil
	}
	m, _ := obj.(*kvv1.VirtualMachineInstanceMigration)
	return m
}

// getMigration reads the operation's migration from the cache, and from the API when the
// cache has none: it may not have seen one just created.
func (c *Controller) getMigration(ctx context.Context, op *virtv1.VirtualMachineOperation) (*kvv1.VirtualMachineInstanceMigration, error) {
	if m := c.cachedMigration(op); m != nil {
		return m, nil
	}
	m, err := c.kv.VirtualMachineInstanceMigrations(op.Namespace).Get(ctx, MigrationName(op), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get VirtualMachineInstanceMigration %s/%s: %w", op.Namespace, MigrationName(op), err)
	}
	return m, nil
}

// migrationInFlight names an unfinished migration of vmi that op does not own; "" when none.
func (c *Controller) migrationInFlight(vmi *kvv1.VirtualMachineInstance, op *virtv1.VirtualMachineOperation) string {
	objs, _ := c.migrationIndexer.ByIndex(vmiIndex, vmi.Namespace+"/"+vmi.Name)
	for _, o := range objs {
		if m, ok := o.(*kvv1.VirtualMachineInstanceMigration); ok && !m.IsFinal() && !metav1.IsControlledBy(m, op) {
			return m.Name
		}
	}
	return ""
}

func vmiRunning(vmi *kvv1.VirtualMachineInstance) bool {
	return vmi != nil && vmi.DeletionTimestamp == nil && vmi.Status.Phase == kvv1.Running
}

func liveMigratable(vmi *kvv1.VirtualMachineInstance) *kvv1.VirtualMachineInstanceCondition {
	for i := range vmi.Status.Conditions {
		if vmi.Status.Conditions[i].Type == kvv1.VirtualMachineInstanceIsMigratable {
			return &vmi.Status.Conditions[i]
		}
	}
	return nil
}

// endpoints are the source and target nodes of a migration, as far as KubeVirt has told.
func endpoints(m *kvv1.VirtualMachineInstanceMigration, vmi *kvv1.VirtualMachineInstance) (from, to string) {
	s := m.Status.MigrationState
	if s == nil && vmi != nil && vmi.Status.MigrationState != nil && vmi.Status.MigrationState.MigrationUID == m.UID {
		s = vmi.Status.MigrationState
	}
	if s != nil {
		from, to = s.SourceNode, s.TargetNode
	}
	if to == "" && m.Status.Phase == kvv1.MigrationSucceeded && vmi != nil {
		to = vmi.Status.NodeName
	}
	return from, to
}

// migrationFailure is KubeVirt's word on why a migration failed.
func migrationFailure(m *kvv1.VirtualMachineInstanceMigration, vmi *kvv1.VirtualMachineInstance) string {
	if s := m.Status.MigrationState; s != nil && s.FailureReason != "" {
		return sentence(s.FailureReason)
	}
	if vmi != nil {
		if s := vmi.Status.MigrationState; s != nil && s.MigrationUID == m.UID && s.FailureReason != "" {
			return sentence(s.FailureReason)
		}
	}
	for _, cond := range m.Status.Conditions {
		if cond.Status == corev1.ConditionTrue && (cond.Message != "" || cond.Reason != "") {
			return kubevirtSays(cond.Reason, cond.Message)
		}
	}
	return fmt.Sprintf("KubeVirt gave no reason (see the events of VirtualMachineInstanceMigration %s).", m.Name)
}

// kubevirtSays is "message (Reason)." or what there is of it.
func kubevirtSays(reason, msg string) string {
	switch {
	case msg == "":
		return sentence(reason)
	case reason == "":
		return sentence(msg)
	}
	return strings.TrimSuffix(msg, ".") + " (" + reason + ")."
}

func sentence(s string) string { return strings.TrimSuffix(s, ".") + "." }

func onNode(node string) string {
	if node == "" {
		return ""
	}
	return " on node " + node
}
