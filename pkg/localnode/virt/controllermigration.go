package virt

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	kvv1 "kubevirt.io/api/core/v1"
)

// The migration controller, KubeVirt's virt-controller part for
// VirtualMachineInstanceMigrations. A migration of a Running, LiveMigratable VMI goes
//
//	Pending → Scheduling (a target launcher Pod, placed by kube-scheduler on another node)
//	→ Scheduled (the Pod is bound and ready) → PreparingTarget (handed over to the nodes in
//	the VMI's status.migrationState) → TargetReady (the target node's VM listens)
//	→ Running (the source sends) → Succeeded (the VMI runs on the target node)
//
// or Failed, with the reason in status.migrationState.failureReason and a FailedMigration
// event. The nodes' part is in handlermigration.go.

// Event reasons on migrations, KubeVirt's.
const (
	ReasonSuccessfulMigration = "SuccessfulMigration"
	ReasonFailedMigration     = "FailedMigration"
	ReasonTargetUnschedulable = "migrationTargetPodUnschedulable"
)

// byUID indexes objects by UID (migrations, for their target Pods' label).
const byUID = "uid"

func indexMigrationByVMI(obj any) ([]string, error) {
	if m, ok := obj.(*kvv1.VirtualMachineInstanceMigration); ok {
		return []string{m.Namespace + "/" + m.Spec.VMIName}, nil
	}
	return nil, nil
}

func indexByUID(obj any) ([]string, error) {
	o, err := meta(obj)
	if err != nil {
		return nil, nil
	}
	return []string{string(o.GetUID())}, nil
}

func meta(obj any) (metav1.Object, error) {
	if o, ok := obj.(metav1.Object); ok {
		return o, nil
	}
	return nil, fmt.Errorf("%T has no object metadata", obj)
}

// enqueueMigrationsOf queues the migrations of the VMI of key.
func (c *controller) enqueueMigrationsOf(vmiKey string) {
	objs, _ := c.migrations.ByIndex(byVMI, vmiKey)
	for _, o := range objs {
		c.enqueueMigration(o)
	}
}

func (c *controller) enqueueMigration(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.mqueue.Add(key)
	}
}

// onTargetPod queues the migration of a target Pod event, which also fulfils its expectation.
func (c *controller) onTargetPod(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Labels[kvv1.MigrationJobLabel] == "" {
		return
	}
	objs, _ := c.migrations.ByIndex(byUID, pod.Labels[kvv1.MigrationJobLabel])
	for _, o := range objs {
		if key, err := cache.MetaNamespaceKeyFunc(o); err == nil {
			c.targetsExpect.observed(key)
			c.mqueue.Add(key)
		}
	}
}

func (c *controller) getMigration(key string) (*kvv1.VirtualMachineInstanceMigration, error) {
	obj, ok, err := c.migrations.GetByKey(key)
	if err != nil || !ok {
		return nil, err
	}
	return obj.(*kvv1.VirtualMachineInstanceMigration), nil
}

// targetPodOf is the newest launcher Pod the VMI controls that carries the migration's label.
func (c *controller) targetPodOf(vmiKey string, vmi *kvv1.VirtualMachineInstance, m *kvv1.VirtualMachineInstanceMigration) *corev1.Pod {
	if vmi == nil {
		return nil
	}
	for _, p := range c.podsOf(vmiKey, vmi) {
		if p.Labels[kvv1.MigrationJobLabel] == string(m.UID) {
			return p
		}
	}
	return nil
}

// stateOf is the VMI's migrationState when it is the one of m (handed over to the nodes).
func stateOf(vmi *kvv1.VirtualMachineInstance, m *kvv1.VirtualMachineInstanceMigration) *kvv1.VirtualMachineInstanceMigrationState {
	if vmi == nil || vmi.Status.MigrationState == nil || vmi.Status.MigrationState.MigrationUID != m.UID {
		return nil
	}
	return vmi.Status.MigrationState
}

func (c *controller) syncMigration(ctx context.Context, key string) (time.Duration, error) {
	m, err := c.getMigration(key)
	if err != nil {
		return 0, err
	}
	if m == nil {
		c.targetsExpect.observed(key)
		return 0, nil
	}
	vmiKey := m.Namespace + "/" + m.Spec.VMIName
	vmi, err := c.getVMI(vmiKey)
	if err != nil {
		return 0, err
	}
	target := c.targetPodOf(vmiKey, vmi, m)
	if m.IsFinal() {
		return 0, c.finishMigration(ctx, m, vmi)
	}
	now := metav1.Now()
	if m.Status.Phase == kvv1.MigrationPhaseUnset {
		if msg := c.refusal(vmiKey, vmi, m); msg != "" {
			return 0, c.failMigration(ctx, m, vmi, target, msg)
		}
		// The finalizer lets a deleted migration be cancelled before it goes.
		if m, err = c.setMigrationFinalizer(ctx, m, true); err != nil {
			return 0, err
		}
		st := *m.Status.DeepCopy()
		setMigrationPhase(&st, kvv1.MigrationPending, now)
		return 0, c.writeMigration(ctx, m, st)
	}
	if msg := c.interruption(key, m, vmi, target); msg != "" {
		return 0, c.failMigration(ctx, m, vmi, target, msg)
	}
	ms := stateOf(vmi, m)
	st := *m.Status.DeepCopy()
	var requeue time.Duration
	switch m.Status.Phase {
	case kvv1.MigrationPending:
		if target == nil {
			if c.targetsExpect.pending(key) {
				return 0, nil
			}
			if err := c.createTargetPod(ctx, key, m, vmi); err != nil {
				return 0, err
			}
		}
		setMigrationPhase(&st, kvv1.MigrationScheduling, now)
	case kvv1.MigrationScheduling:
		if target.Spec.NodeName != "" && isPodReady(target) {
			setMigrationPhase(&st, kvv1.MigrationScheduled, now)
			break
		}
		waited := now.Sub(target.CreationTimestamp.Time)
		if waited >= c.cfg.Migration.TargetTimeout {
			return 0, c.failMigration(ctx, m, vmi, target, targetTimeoutMessage(target, waited))
		}
		if reason, msg := unschedulable(target); reason != "" {
			c.host.Recorder.Eventf(m, nil, corev1.EventTypeWarning, ReasonTargetUnschedulable, "Schedule",
				"Migration target pod %s is currently unschedulable: %s", target.Name, msg)
		}
		requeue = c.cfg.Migration.TargetTimeout - waited
	case kvv1.MigrationScheduled:
		if ms == nil {
			// The hand-over; the VMI's update brings the migration back.
			return 0, c.handOver(ctx, vmi, m, target, now)
		}
		setMigrationPhase(&st, kvv1.MigrationPreparingTarget, now)
	case kvv1.MigrationPreparingTarget, kvv1.MigrationTargetReady:
		switch {
		case ms.StartTimestamp != nil:
			setMigrationPhase(&st, kvv1.MigrationTargetReady, now)
			setMigrationPhase(&st, kvv1.MigrationRunning, now)
		case ms.TargetNodeAddress != "":
			setMigrationPhase(&st, kvv1.MigrationTargetReady, now)
		}
		// Until the source starts sending, a node that does not answer fails it.
		if st.Phase != kvv1.MigrationRunning {
			waited := now.Sub(phaseSince(m, kvv1.MigrationScheduled))
			if waited >= c.cfg.Migration.TargetTimeout {
				return 0, c.failMigration(ctx, m, vmi, target, fmt.Sprintf(
					"the nodes did not start the migration within %s (target %s: %s, source %s)",
					c.cfg.Migration.TargetTimeout, ms.TargetNode, st.Phase, ms.SourceNode))
			}
			requeue = c.cfg.Migration.TargetTimeout - waited
		}
	case kvv1.MigrationRunning:
		// The source bounds the transfer; done when the target runs the VMI.
		if ms.Completed && vmi.Status.NodeName == ms.TargetNode {
			setMigrationPhase(&st, kvv1.MigrationSucceeded, now)
			c.host.Recorder.Eventf(m, nil, corev1.EventTypeNormal, ReasonSuccessfulMigration, "Migrate",
				"The VM migrated from node %s to node %s", ms.SourceNode, ms.TargetNode)
		}
	}
	if ms != nil {
		st.MigrationState = ms.DeepCopy()
	}
	if err := c.writeMigration(ctx, m, st); err != nil {
		return 0, err
	}
	if st.Phase == kvv1.MigrationSucceeded {
		klog.FromContext(ctx).Info("Migration succeeded", "migration", key, "vmi", vmiKey, "from", ms.SourceNode, "to", ms.TargetNode)
	}
	return requeue, nil
}

// refusal says why a new migration cannot start, "" when it can.
func (c *controller) refusal(vmiKey string, vmi *kvv1.VirtualMachineInstance, m *kvv1.VirtualMachineInstanceMigration) string {
	switch {
	case vmi == nil:
		return fmt.Sprintf("VMI %s does not exist", vmiKey)
	case vmi.DeletionTimestamp != nil:
		return fmt.Sprintf("VMI %s is being deleted", vmiKey)
	case vmi.Status.Phase != kvv1.Running:
		return fmt.Sprintf("VMI %s is not running (phase %q): only a running VMI migrates", vmiKey, vmi.Status.Phase)
	}
	if c := vmiConditionOf(vmi, kvv1.VirtualMachineInstanceIsMigratable); c == nil || c.Status != corev1.ConditionTrue {
		why := "its node has not reported it live-migratable"
		if c != nil && c.Message != "" {
			why = c.Message
		}
		return fmt.Sprintf("VMI %s is not live-migratable: %s", vmiKey, why)
	}
	if ms := vmi.Status.MigrationState; ms != nil && ms.MigrationUID != m.UID && !ms.Completed && !ms.Failed {
		return fmt.Sprintf("VMI %s is migrating already (migration %s)", vmiKey, ms.MigrationUID)
	}
	// Of migrations created together, the oldest goes.
	objs, _ := c.migrations.ByIndex(byVMI, vmiKey)
	for _, o := range objs {
		other := o.(*kvv1.VirtualMachineInstanceMigration)
		if other.UID == m.UID || other.IsFinal() || other.DeletionTimestamp != nil {
			continue
		}
		if other.Status.Phase != kvv1.MigrationPhaseUnset || older(other, m) {
			return fmt.Sprintf("VMI %s is migrating already (migration %s)", vmiKey, other.Name)
		}
	}
	return ""
}

func older(a, b *kvv1.VirtualMachineInstanceMigration) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// interruption says why a migration under way cannot go on, "" while it can.
func (c *controller) interruption(key string, m *kvv1.VirtualMachineInstanceMigration, vmi *kvv1.VirtualMachineInstance, target *corev1.Pod) string {
	ms := stateOf(vmi, m)
	handedOver := !slices.Contains([]kvv1.VirtualMachineInstanceMigrationPhase{kvv1.MigrationPending, kvv1.MigrationScheduling, kvv1.MigrationScheduled}, m.Status.Phase)
	switch {
	case vmi == nil:
		return fmt.Sprintf("VMI %s/%s is gone", m.Namespace, m.Spec.VMIName)
	case vmi.DeletionTimestamp != nil || vmi.IsFinal():
		return fmt.Sprintf("VMI %s/%s stopped during the migration", m.Namespace, m.Spec.VMIName)
	case ms != nil && ms.Failed:
		return ms.FailureReason
	case m.DeletionTimestamp != nil && (ms == nil || ms.StartTimestamp == nil):
		// Once the guest is being sent, the source decides how it ends.
		return "the migration was cancelled: it was deleted"
	case handedOver && ms == nil:
		return fmt.Sprintf("VMI %s/%s no longer records this migration", m.Namespace, m.Spec.VMIName)
	case target == nil && m.Status.Phase != kvv1.MigrationPending && !c.targetsExpect.pending(key):
		return "the target launcher pod disappeared"
	case target != nil && (target.DeletionTimestamp != nil || isFinalPod(target)) && (ms == nil || !ms.Completed):
		msg := fmt.Sprintf("the target launcher pod %s ended", target.Name)
		if target.Status.Message != "" {
			msg += ": " + target.Status.Message
		}
		return msg
	}
	return ""
}

// createTargetPod creates the migration's target launcher Pod, with the expectation recorded
// first.
func (c *controller) createTargetPod(ctx context.Context, key string, m *kvv1.VirtualMachineInstanceMigration, vmi *kvv1.VirtualMachineInstance) error {
	c.targetsExpect.expect(key)
	pod, err := c.host.Client.CoreV1().Pods(vmi.Namespace).Create(ctx, MigrationTargetPod(vmi, m), metav1.CreateOptions{})
	if err != nil {
		c.targetsExpect.observed(key)
		c.host.Recorder.Eventf(m, nil, corev1.EventTypeWarning, ReasonFailedCreate, "Create", "Error creating the target launcher pod: %v", err)
		return fmt.Errorf("creating the target launcher pod of migration %s: %w", key, err)
	}
	c.host.Recorder.Eventf(m, nil, corev1.EventTypeNormal, "SuccessfulCreate", "Create", "Created migration target pod %s", pod.Name)
	klog.FromContext(ctx).Info("Migration target pod created", "migration", key, "pod", pod.Name)
	return nil
}

// handOver gives the migration to the nodes: the VMI's migrationState names the source and
// the target, which the target node prepares and the source node sends to.
func (c *controller) handOver(ctx context.Context, vmi *kvv1.VirtualMachineInstance, m *kvv1.VirtualMachineInstanceMigration, target *corev1.Pod, now metav1.Time) error {
	source := ""
	for _, p := range c.podsOf(vmi.Namespace+"/"+vmi.Name, vmi) {
		if _, active := vmi.Status.ActivePods[p.UID]; active {
			source = p.Name
		}
	}
	st := *vmi.Status.DeepCopy()
	st.MigrationState = &kvv1.VirtualMachineInstanceMigrationState{
		MigrationUID: m.UID,
		SourceNode:   vmi.Status.NodeName,
		SourcePod:    source,
		TargetNode:   target.Spec.NodeName,
		TargetPod:    target.Name,
	}
	if err := writeVMIStatus(ctx, c.host, vmi, st); err != nil {
		return err
	}
	klog.FromContext(ctx).Info("Migration handed over", "vmi", klog.KObj(vmi), "migration", m.Name,
		"source", vmi.Status.NodeName, "target", target.Spec.NodeName)
	return nil
}

// failMigration ends a migration as Failed with msg: a migration handed over fails on the
// VMI too (the target node then stops its VM), a target Pod not handed over is deleted.
func (c *controller) failMigration(ctx context.Context, m *kvv1.VirtualMachineInstanceMigration, vmi *kvv1.VirtualMachineInstance, target *corev1.Pod, msg string) error {
	now := metav1.Now()
	if err := markMigrationFailed(ctx, c.host, vmi, m.UID, msg); err != nil {
		return err
	}
	ms := stateOf(vmi, m)
	if target != nil && ms == nil {
		if err := deletePod(ctx, c.host, target); err != nil {
			return err
		}
	}
	st := *m.Status.DeepCopy()
	setMigrationPhase(&st, kvv1.MigrationFailed, now)
	if ms != nil {
		st.MigrationState = ms.DeepCopy()
		// The VMI in the cache predates the failure just written.
		st.MigrationState.Failed = true
		if st.MigrationState.FailureReason == "" {
			st.MigrationState.FailureReason = msg
		}
		if st.MigrationState.EndTimestamp == nil {
			st.MigrationState.EndTimestamp = &now
		}
	} else {
		st.MigrationState = &kvv1.VirtualMachineInstanceMigrationState{
			MigrationUID: m.UID, Failed: true, FailureReason: msg, EndTimestamp: &now,
		}
		if vmi != nil {
			st.MigrationState.SourceNode = vmi.Status.NodeName
		}
		if target != nil {
			st.MigrationState.TargetPod, st.MigrationState.TargetNode = target.Name, target.Spec.NodeName
		}
	}
	if err := c.writeMigration(ctx, m, st); err != nil {
		return err
	}
	var related runtime.Object // not a typed nil
	if vmi != nil {
		related = vmi
	}
	c.host.Recorder.Eventf(m, related, corev1.EventTypeWarning, ReasonFailedMigration, "Migrate", "Migration failed: %s", msg)
	klog.FromContext(ctx).Info("Migration failed", "migration", klog.KObj(m), "reason", msg)
	return nil
}

// finishMigration keeps an ended migration's record: the VMI's final migrationState is
// copied (the target node adds to it after the migration succeeded) and the finalizer
// removed, so a deleted migration goes.
func (c *controller) finishMigration(ctx context.Context, m *kvv1.VirtualMachineInstanceMigration, vmi *kvv1.VirtualMachineInstance) error {
	if ms := stateOf(vmi, m); ms != nil && (ms.Completed || ms.Failed) && m.DeletionTimestamp == nil {
		st := *m.Status.DeepCopy()
		st.MigrationState = ms.DeepCopy()
		if err := c.writeMigration(ctx, m, st); err != nil {
			return err
		}
	}
	_, err := c.setMigrationFinalizer(ctx, m, false)
	return err
}

// setMigrationFinalizer adds or removes the migration's finalizer and returns the migration
// as written.
func (c *controller) setMigrationFinalizer(ctx context.Context, m *kvv1.VirtualMachineInstanceMigration, want bool) (*kvv1.VirtualMachineInstanceMigration, error) {
	const f = kvv1.VirtualMachineInstanceMigrationFinalizer
	if slices.Contains(m.Finalizers, f) == want {
		return m, nil
	}
	v := m.DeepCopy()
	if want {
		v.Finalizers = append(v.Finalizers, f)
	} else {
		v.Finalizers = slices.DeleteFunc(v.Finalizers, func(s string) bool { return s == f })
	}
	v, err := c.host.KubeVirt.VirtualMachineInstanceMigrations(v.Namespace).Update(ctx, v, metav1.UpdateOptions{})
	if err != nil {
		if !want && apierrors.IsNotFound(err) {
			return m, nil
		}
		return nil, fmt.Errorf("updating the finalizer of migration %s/%s: %w", m.Namespace, m.Name, err)
	}
	return v, nil
}

// writeMigration writes a migration's status if it changed.
func (c *controller) writeMigration(ctx context.Context, m *kvv1.VirtualMachineInstanceMigration, st kvv1.VirtualMachineInstanceMigrationStatus) error {
	if equality.Semantic.DeepEqual(m.Status, st) {
		return nil
	}
	v := m.DeepCopy()
	v.Status = st
	_, err := c.host.KubeVirt.VirtualMachineInstanceMigrations(v.Namespace).UpdateStatus(ctx, v, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("writing the status of migration %s/%s: %w", v.Namespace, v.Name, err)
	}
	if st.Phase != m.Status.Phase {
		klog.FromContext(ctx).Info("Migration phase", "migration", klog.KObj(m), "vmi", m.Spec.VMIName, "phase", st.Phase)
	}
	return nil
}

// setMigrationPhase moves a migration to phase, recording the transition once.
func setMigrationPhase(st *kvv1.VirtualMachineInstanceMigrationStatus, phase kvv1.VirtualMachineInstanceMigrationPhase, now metav1.Time) {
	if st.Phase == phase {
		return
	}
	st.Phase = phase
	st.PhaseTransitionTimestamps = append(st.PhaseTransitionTimestamps,
		kvv1.VirtualMachineInstanceMigrationPhaseTransitionTimestamp{Phase: phase, PhaseTransitionTimestamp: now})
}

// phaseSince is when the migration entered phase (its creation if it never did).
func phaseSince(m *kvv1.VirtualMachineInstanceMigration, phase kvv1.VirtualMachineInstanceMigrationPhase) time.Time {
	for _, t := range m.Status.PhaseTransitionTimestamps {
		if t.Phase == phase {
			return t.PhaseTransitionTimestamp.Time
		}
	}
	return m.CreationTimestamp.Time
}

// unschedulable returns the scheduler's reason and message while it cannot place the Pod.
func unschedulable(pod *corev1.Pod) (string, string) {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return c.Reason, c.Message
		}
	}
	return "", ""
}

// targetTimeoutMessage says why a target Pod that did not get ready in time failed the
// migration, in the scheduler's words when it could not place it.
func targetTimeoutMessage(pod *corev1.Pod, waited time.Duration) string {
	waited = waited.Truncate(time.Second)
	if _, msg := unschedulable(pod); msg != "" {
		return fmt.Sprintf("no node can take the VM: the target pod %s stayed unschedulable for %s: %s", pod.Name, waited, msg)
	}
	if pod.Spec.NodeName == "" {
		return fmt.Sprintf("the target pod %s was not scheduled within %s", pod.Name, waited)
	}
	return fmt.Sprintf("the target pod %s on node %s did not get ready within %s", pod.Name, pod.Spec.NodeName, waited)
}

func isPodReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func vmiConditionOf(vmi *kvv1.VirtualMachineInstance, t kvv1.VirtualMachineInstanceConditionType) *kvv1.VirtualMachineInstanceCondition {
	for i := range vmi.Status.Conditions {
		if vmi.Status.Conditions[i].Type == t {
			return &vmi.Status.Conditions[i]
		}
	}
	return nil
}
