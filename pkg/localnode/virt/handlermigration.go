package virt

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	kvv1 "kubevirt.io/api/core/v1"
)

// The handler's part of a live migration, as KubeVirt's virt-handler plays it on both nodes,
// with the VMI's status.migrationState as the only channel between them and the controller:
//   - target node: a target launcher Pod bound here reports Running; once the controller has
//     handed the migration over (migrationState.targetPod names it), an incoming VM starts
//     and its address goes to targetNodeAddress and targetDirectMigrationNodePorts;
//   - source node: with that address, startTimestamp is written and the guest is sent; the
//     outcome is written as completed or failed (failureReason) with endTimestamp. After a
//     completed migration the source VM is killed without that being the guest's end, and
//     its Pod is Succeeded (reason Migrated);
//   - target node: once completed and the guest runs here, the VMI is reported running on
//     this node with the target Pod as its active Pod; an incoming VM whose migration failed
//     is killed and its Pod Failed.

// landPoll is the wait between asking an incoming VM whether the guest has landed, after the
// source reported the migration completed.
const landPoll = 100 * time.Millisecond

// outgoingMigration is a migration of a VM this node runs to another node.
type outgoingMigration struct {
	uid    types.UID
	target string
	// done closes when the runtime's MigrateTo returned; stats and err are set then.
	done  chan struct{}
	stats MigrationStats
	err   error
}

// migrationTargetOf returns the migration (VMIM UID) of a target launcher Pod whose VMI does
// not run in it yet: a Pod labelled kubevirt.io/migrationJobUID that is not among the VMI's
// active Pods. The target node makes it the active Pod when the guest lands.
func migrationTargetOf(pod *corev1.Pod, vmi *kvv1.VirtualMachineInstance) (types.UID, bool) {
	uid := pod.Labels[kvv1.MigrationJobLabel]
	if uid == "" {
		return "", false
	}
	if _, active := vmi.Status.ActivePods[pod.UID]; active {
		return "", false
	}
	return types.UID(uid), true
}

// migratedFrom says whether the VMI's guest migrated away from the Pod.
func migratedFrom(pod *corev1.Pod, vmi *kvv1.VirtualMachineInstance) bool {
	ms := vmi.Status.MigrationState
	return ms != nil && ms.Completed && ms.SourcePod == pod.Name && ms.SourceNode == pod.Spec.NodeName
}

// syncTargetPod handles a migration target Pod bound here while no VM of it runs here: the
// launcher reports up so that the controller hands the migration over, then the incoming VM
// starts.
func (h *handler) syncTargetPod(ctx context.Context, key string, vmi *kvv1.VirtualMachineInstance, pod *corev1.Pod, migration types.UID) (time.Duration, error) {
	ms := vmi.Status.MigrationState
	handedOff := ms != nil && ms.MigrationUID == migration && ms.TargetPod == pod.Name
	switch {
	case pod.DeletionTimestamp != nil:
		h.host.PodIPs.Release(string(pod.UID))
		return 0, deletePod(ctx, h.host, pod)
	case vmi.DeletionTimestamp != nil || vmi.Status.Phase != kvv1.Running:
		return 0, h.endTargetPod(ctx, pod, "the VMI stopped running before it migrated")
	case handedOff && ms.Failed:
		return 0, h.endTargetPod(ctx, pod, "the migration failed: "+ms.FailureReason)
	case handedOff && ms.Completed:
		// The guest left its source for a VM of a previous run of this node: it is lost.
		msg := fmt.Sprintf("node %s restarted while the VM migrated to it", h.host.NodeName)
		if err := writeVMIStatus(ctx, h.host, vmi, failedStatus(vmi, ReasonNodeRestarted, msg, metav1.Now())); err != nil {
			return 0, err
		}
		return 0, h.endTargetPod(ctx, pod, msg)
	case handedOff && ms.TargetNodeAddress != "":
		// The incoming VM died with a previous run of this node.
		msg := fmt.Sprintf("node %s restarted during the migration", h.host.NodeName)
		if err := markMigrationFailed(ctx, h.host, vmi, migration, msg); err != nil {
			return 0, err
		}
		return 0, h.endTargetPod(ctx, pod, msg)
	case !handedOff:
		ip, err := h.host.PodIPs.Allocate(string(pod.UID))
		if err != nil {
			return prepareRetry, fmt.Errorf("allocating the target launcher pod's address: %w", err)
		}
		now := metav1.Now()
		return 0, h.writePodStatus(ctx, pod, runningPodStatus(pod, &vmState{ip: ip, started: launcherStarted(pod, now)}, now))
	}
	return h.prepareTarget(ctx, key, vmi, pod, migration)
}

// prepareTarget starts the VM that receives the migrating guest.
func (h *handler) prepareTarget(ctx context.Context, key string, vmi *kvv1.VirtualMachineInstance, pod *corev1.Pod, migration types.UID) (time.Duration, error) {
	logger := klog.FromContext(ctx).WithValues("vmi", key, "migration", migration, "runtime", h.cfg.Runtime.Name())
	rt, ok := h.cfg.Runtime.(MigratingRuntime)
	if !ok {
		return 0, h.refuseTarget(ctx, vmi, pod, migration,
			fmt.Sprintf("the %s runtime of node %s cannot receive a migrating VM", h.cfg.Runtime.Name(), h.host.NodeName))
	}
	dir, spec, err := h.describeVM(ctx, vmi)
	if err != nil {
		if isUnsupported(err) {
			return 0, h.refuseTarget(ctx, vmi, pod, migration, err.Error())
		}
		// The controller's target timeout bounds the retries.
		logger.Info("Preparing the target VM failed; trying again", "err", err)
		return prepareRetry, nil
	}
	ip, err := h.host.PodIPs.Allocate(string(pod.UID))
	if err != nil {
		return prepareRetry, fmt.Errorf("allocating the target launcher pod's address: %w", err)
	}
	startCtx, cancel := context.WithTimeout(h.runCtx, startTimeout)
	m, addr, err := rt.StartIncoming(startCtx, spec)
	cancel()
	if err != nil {
		return 0, h.refuseTarget(ctx, vmi, pod, migration, fmt.Sprintf("starting the target VM on node %s: %v", h.host.NodeName, err))
	}
	st := &vmState{vmiUID: vmi.UID, podUID: pod.UID, dir: dir, ip: ip, spec: spec, machine: m,
		started: launcherStarted(pod, metav1.Now()), incoming: migration, incomingAddr: addr}
	h.setState(key, st)
	if !h.cfg.Runtime.Hollow() {
		go h.watch(key, st)
	}
	h.host.Recorder.Eventf(vmi, nil, corev1.EventTypeNormal, "PreparingTarget", "Migrate",
		"Node %s waits for the VM to migrate in (on %s)", h.host.NodeName, addr)
	logger.Info("Target VM waits for the migration", "address", addr)
	return h.syncIncoming(ctx, key, vmi, pod, st)
}

// refuseTarget fails a migration this node cannot receive.
func (h *handler) refuseTarget(ctx context.Context, vmi *kvv1.VirtualMachineInstance, pod *corev1.Pod, migration types.UID, msg string) error {
	h.host.Recorder.Eventf(vmi, nil, corev1.EventTypeWarning, ReasonMigrationFailed, "Migrate", "Migration target refused: %s", msg)
	if err := markMigrationFailed(ctx, h.host, vmi, migration, msg); err != nil {
		return err
	}
	return h.endTargetPod(ctx, pod, msg)
}

// endTargetPod ends a target launcher Pod whose VM never ran the guest.
func (h *handler) endTargetPod(ctx context.Context, pod *corev1.Pod, msg string) error {
	h.host.PodIPs.Release(string(pod.UID))
	if isFinalPod(pod) {
		return nil
	}
	return h.writePodStatus(ctx, pod, endedPodStatus(pod, netip.Addr{}, kvv1.Failed, ReasonMigrationFailed, msg, metav1.Now()))
}

// syncIncoming follows an incoming VM: it publishes where it listens, makes it the VMI's VM
// once the source reported the migration completed and the guest runs here, and ends it
// when the migration ends otherwise.
func (h *handler) syncIncoming(ctx context.Context, key string, vmi *kvv1.VirtualMachineInstance, pod *corev1.Pod, st *vmState) (time.Duration, error) {
	var ms *kvv1.VirtualMachineInstanceMigrationState
	if vmi != nil && vmi.Status.MigrationState != nil && vmi.Status.MigrationState.MigrationUID == st.incoming {
		ms = vmi.Status.MigrationState
	}
	switch {
	case st.exited():
		return 0, h.endIncoming(ctx, key, vmi, pod, st, ms)
	case ms == nil || ms.Failed || vmi.DeletionTimestamp != nil || vmi.IsFinal() ||
		pod == nil || pod.DeletionTimestamp != nil || isFinalPod(pod):
		// The migration is over without this VM, or its Pod goes; its end comes back here.
		h.stop(key, st, 0, ReasonMigrationFailed)
		return 0, nil
	case ms.TargetNodeAddress == "":
		host, port, err := net.SplitHostPort(st.incomingAddr)
		if err != nil {
			return 0, fmt.Errorf("the target VM's address %q: %w", st.incomingAddr, err)
		}
		return 0, writeMigrationState(ctx, h.host, vmi, st.incoming, func(ms *kvv1.VirtualMachineInstanceMigrationState) {
			ms.TargetNodeAddress = host
			ms.TargetDirectMigrationNodePorts = map[string]int{port: 0}
		})
	case !ms.Completed:
		return 0, nil // the source is sending
	}
	lctx, cancel := context.WithTimeout(ctx, agentCallTimeout)
	landed, err := st.machine.(MigratingMachine).Landed(lctx)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("asking the target VM whether the guest runs: %w", err)
	}
	if !landed {
		return landPoll, nil
	}
	// A guest whose agent answered on the source answers here: ask before reporting, so
	// the VMI keeps AgentConnected through the move.
	var agent agentInfo
	if c := vmiConditionOf(vmi, kvv1.VirtualMachineInstanceAgentConnected); c != nil && c.Status == corev1.ConditionTrue && st.machine.Agent() != nil {
		agent = pollAgent(ctx, st.machine.Agent())
	}
	h.mu.Lock()
	st.incoming = ""
	st.agent = agent
	h.mu.Unlock()
	if !h.cfg.Runtime.Hollow() {
		if err := writeSocketsFile(st.dir, st.machine.Sockets()); err != nil {
			klog.FromContext(ctx).Error(err, "Writing the sockets file", "vmi", key)
		}
	}
	h.host.Recorder.Eventf(vmi, nil, corev1.EventTypeNormal, ReasonMigrated, "Migrate", "The VM migrated from node %s to node %s", ms.SourceNode, h.host.NodeName)
	klog.FromContext(ctx).Info("VM migrated in", "vmi", key, "from", ms.SourceNode)
	return 0, h.reportRunning(ctx, vmi, pod, st)
}

// endIncoming reports an incoming VM that ended before its guest landed, and forgets it.
func (h *handler) endIncoming(ctx context.Context, key string, vmi *kvv1.VirtualMachineInstance, pod *corev1.Pod, st *vmState, ms *kvv1.VirtualMachineInstanceMigrationState) error {
	msg := fmt.Sprintf("the target VM on node %s ended: %s", h.host.NodeName, st.machine.Exit().Message)
	if st.stopCause == ReasonMigrationFailed {
		msg = fmt.Sprintf("the target VM on node %s was stopped", h.host.NodeName)
	}
	switch {
	case ms != nil && ms.Completed && !vmi.IsFinal():
		// The guest had left its source: it is lost.
		lost := "the VM ended while it migrated: " + msg
		h.host.Recorder.Eventf(vmi, nil, corev1.EventTypeWarning, ReasonMigrationFailed, "Migrate", lost)
		if err := writeVMIStatus(ctx, h.host, vmi, failedStatus(vmi, ReasonMigrationFailed, lost, metav1.Now())); err != nil {
			return err
		}
	case ms != nil:
		if err := markMigrationFailed(ctx, h.host, vmi, st.incoming, msg); err != nil {
			return err
		}
	}
	if pod != nil {
		if pod.DeletionTimestamp != nil {
			if err := deletePod(ctx, h.host, pod); err != nil {
				return err
			}
		} else if err := h.endTargetPod(ctx, pod, msg); err != nil {
			return err
		}
	}
	klog.FromContext(ctx).Info("Target VM ended", "vmi", key, "reason", msg)
	h.forget(key, st)
	return nil
}

// syncOutgoing starts and follows the migration of a VM this node runs. It says whether one
// is under way (or just completed): then the VMI's status is not this node's to report.
func (h *handler) syncOutgoing(ctx context.Context, key string, vmi *kvv1.VirtualMachineInstance, st *vmState) (bool, error) {
	out := st.outgoing
	if out == nil {
		ms := vmi.Status.MigrationState
		if ms == nil || ms.SourceNode != h.host.NodeName || ms.TargetNodeAddress == "" || len(ms.TargetDirectMigrationNodePorts) == 0 ||
			ms.StartTimestamp != nil || ms.Completed || ms.Failed {
			return false, nil
		}
		return true, h.startOutgoing(ctx, key, vmi, st)
	}
	select {
	case <-out.done:
	default:
		return true, nil
	}
	if out.err != nil {
		if err := markMigrationFailed(ctx, h.host, vmi, out.uid, out.err.Error()); err != nil {
			return true, err
		}
		h.host.Recorder.Eventf(vmi, nil, corev1.EventTypeWarning, ReasonMigrationFailed, "Migrate",
			"The migration to node %s failed; the VM runs on here: %v", out.target, out.err)
		klog.FromContext(ctx).Info("Migration failed; the VM runs on here", "vmi", key, "target", out.target, "err", out.err)
		st.outgoing = nil
		return false, nil
	}
	now := metav1.Now()
	err := writeMigrationState(ctx, h.host, vmi, out.uid, func(ms *kvv1.VirtualMachineInstanceMigrationState) {
		ms.Completed = true
		if ms.EndTimestamp == nil {
			ms.EndTimestamp = &now
		}
	})
	if err != nil {
		return true, err
	}
	if st.stopCause == "" {
		s := out.stats
		klog.FromContext(ctx).Info("VM migrated out", "vmi", key, "target", out.target,
			"total", s.Total, "downtime", s.Downtime, "transferredBytes", s.Transferred)
		h.host.Recorder.Eventf(vmi, nil, corev1.EventTypeNormal, "Migrating", "Migrate",
			"Sent the VM to node %s in %s (downtime %s, %d bytes)", out.target, s.Total, s.Downtime, s.Transferred)
		// The guest runs on the target: this VM is paused for good.
		h.stop(key, st, 0, ReasonMigrated)
	}
	return true, nil
}

// startOutgoing records the migration's start and sends the guest to the target's address.
func (h *handler) startOutgoing(ctx context.Context, key string, vmi *kvv1.VirtualMachineInstance, st *vmState) error {
	ms := vmi.Status.MigrationState
	mm, ok := st.machine.(MigratingMachine)
	if !ok {
		return markMigrationFailed(ctx, h.host, vmi, ms.MigrationUID,
			fmt.Sprintf("the %s runtime of node %s cannot migrate VMs", h.cfg.Runtime.Name(), h.host.NodeName))
	}
	addr := net.JoinHostPort(ms.TargetNodeAddress, migrationPort(ms.TargetDirectMigrationNodePorts))
	now := metav1.Now()
	// The start is written first: the controller moves the migration to Running on it.
	err := writeMigrationState(ctx, h.host, vmi, ms.MigrationUID, func(ms *kvv1.VirtualMachineInstanceMigrationState) {
		ms.StartTimestamp = &now
		ms.Mode = kvv1.MigrationPreCopy
	})
	if err != nil {
		return err
	}
	out := &outgoingMigration{uid: ms.MigrationUID, target: ms.TargetNode, done: make(chan struct{})}
	st.outgoing = out
	go func() {
		mctx, cancel := context.WithTimeout(h.runCtx, h.cfg.Migration.Timeout)
		defer cancel()
		out.stats, out.err = mm.MigrateTo(mctx, addr)
		close(out.done)
		h.queue.Add(key)
	}()
	klog.FromContext(ctx).Info("Migrating the VM", "vmi", key, "target", ms.TargetNode, "address", addr)
	return nil
}

// finishMigrated ends the source side of a completed migration once its VM is stopped: the
// Pod is Succeeded and the VM forgotten; the VMI is the target's now.
func (h *handler) finishMigrated(ctx context.Context, key string, pod *corev1.Pod, st *vmState) error {
	if pod != nil && !isFinalPod(pod) {
		msg := "the VM migrated to node " + st.outgoing.target
		if err := h.writePodStatus(ctx, pod, endedPodStatus(pod, st.ip, kvv1.Succeeded, ReasonMigrated, msg, metav1.Now())); err != nil {
			return err
		}
	}
	if pod != nil && pod.DeletionTimestamp != nil {
		if err := deletePod(ctx, h.host, pod); err != nil {
			return err
		}
	}
	h.forget(key, st)
	return nil
}

// migrationPort is the port of the migration stream among the target's ports: the one
// mapped to 0, as KubeVirt maps it (others would carry block migration).
func migrationPort(ports map[string]int) string {
	keys := slices.Sorted(maps.Keys(ports))
	for _, p := range keys {
		if ports[p] == 0 {
			return p
		}
	}
	if len(keys) > 0 {
		return keys[0]
	}
	return ""
}

// launcherStarted is when the Pod's launcher container started, now if it has not.
func launcherStarted(pod *corev1.Pod, now metav1.Time) metav1.Time {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Running != nil {
			return cs.State.Running.StartedAt
		}
	}
	return metav1.NewTime(now.Truncate(time.Second))
}

// writeMigrationState changes the VMI's migrationState, if it is the one of migration.
func writeMigrationState(ctx context.Context, host Host, vmi *kvv1.VirtualMachineInstance, migration types.UID, change func(*kvv1.VirtualMachineInstanceMigrationState)) error {
	if vmi == nil || vmi.Status.MigrationState == nil || vmi.Status.MigrationState.MigrationUID != migration {
		return nil
	}
	st := *vmi.Status.DeepCopy()
	change(st.MigrationState)
	return writeVMIStatus(ctx, host, vmi, st)
}

// markMigrationFailed records on the VMI that a migration failed, unless it already ended.
func markMigrationFailed(ctx context.Context, host Host, vmi *kvv1.VirtualMachineInstance, migration types.UID, reason string) error {
	now := metav1.Now()
	return writeMigrationState(ctx, host, vmi, migration, func(ms *kvv1.VirtualMachineInstanceMigrationState) {
		if ms.Completed || ms.Failed {
			return
		}
		ms.Failed, ms.FailureReason = true, reason
		if ms.EndTimestamp == nil {
			ms.EndTimestamp = &now
		}
	})
}
