package virt

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kvv1 "kubevirt.io/api/core/v1"
)

// Reasons the stand-in writes on VMIs (status.reason, condition reasons) and in events.
const (
	ReasonPodNotExists   = "PodNotExists"
	ReasonPodFailed      = "PodFailed"
	ReasonPodDeleted     = "PodTerminating"
	ReasonUnsupported    = "UnsupportedByLocalNode"
	ReasonStartFailed    = "StartFailed"
	ReasonNodeRestarted  = "NodeRestarted"
	ReasonGuestShutdown  = "GuestShutdown"
	ReasonCrashed        = "Crashed"
	ReasonDeleted        = "Deleted"
	ReasonFailedCreate   = "FailedCreate"
	ReasonAgentConnected = "AgentConnected"
	ReasonNoAgent        = "GuestAgentNotConnected"
	// ReasonMigrated ends the source launcher Pod of a VM that migrated away.
	ReasonMigrated = "Migrated"
	// ReasonMigrationFailed ends the target launcher Pod of a failed migration, and a VMI
	// whose guest was lost in one.
	ReasonMigrationFailed = "MigrationFailed"
	// ReasonRuntimeNotMigratable: the node's runtime cannot move VMs (LiveMigratable False).
	ReasonRuntimeNotMigratable = "RuntimeNotLiveMigratable"
)

// setLiveMigratable sets a running VMI's LiveMigratable condition. Its volumes are files on
// the storage all local nodes share, or read-only images each node holds, so only the
// runtime decides.
func setLiveMigratable(st *kvv1.VirtualMachineInstanceStatus, ok bool, now metav1.Time) {
	if ok {
		setCondition(st, kvv1.VirtualMachineInstanceIsMigratable, corev1.ConditionTrue, "", "", now)
		return
	}
	setCondition(st, kvv1.VirtualMachineInstanceIsMigratable, corev1.ConditionFalse, ReasonRuntimeNotMigratable,
		"the local node's VM runtime cannot live-migrate", now)
}

// setPhase moves a status to phase, recording the transition time once.
func setPhase(st *kvv1.VirtualMachineInstanceStatus, phase kvv1.VirtualMachineInstancePhase, now metav1.Time) {
	if st.Phase == phase {
		return
	}
	st.Phase = phase
	st.PhaseTransitionTimestamps = append(st.PhaseTransitionTimestamps,
		kvv1.VirtualMachineInstancePhaseTransitionTimestamp{Phase: phase, PhaseTransitionTimestamp: now})
}

// setCondition sets a VMI condition, keeping its transition time when the status did not
// change, so an unchanged VMI compares equal and is not written.
func setCondition(st *kvv1.VirtualMachineInstanceStatus, t kvv1.VirtualMachineInstanceConditionType, s corev1.ConditionStatus, reason, msg string, now metav1.Time) {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status != s {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason, c.Message = s, reason, msg
		return
	}
	st.Conditions = append(st.Conditions, kvv1.VirtualMachineInstanceCondition{Type: t, Status: s, Reason: reason, Message: msg, LastTransitionTime: now})
}

func removeCondition(st *kvv1.VirtualMachineInstanceStatus, t kvv1.VirtualMachineInstanceConditionType) {
	out := st.Conditions[:0]
	for _, c := range st.Conditions {
		if c.Type != t {
			out = append(out, c)
		}
	}
	st.Conditions = out
	if len(st.Conditions) == 0 {
		st.Conditions = nil
	}
}

// failedStatus ends a VMI as Failed: reason is a CamelCase word, the message goes on Ready.
func failedStatus(vmi *kvv1.VirtualMachineInstance, reason, msg string, now metav1.Time) kvv1.VirtualMachineInstanceStatus {
	return endedStatus(vmi, kvv1.Failed, reason, msg, now)
}

func endedStatus(vmi *kvv1.VirtualMachineInstance, phase kvv1.VirtualMachineInstancePhase, reason, msg string, now metav1.Time) kvv1.VirtualMachineInstanceStatus {
	st := *vmi.Status.DeepCopy()
	setPhase(&st, phase, now)
	st.Reason = reason
	setCondition(&st, kvv1.VirtualMachineInstanceReady, corev1.ConditionFalse, reason, msg, now)
	if hasCondition(&st, kvv1.VirtualMachineInstanceAgentConnected) {
		setCondition(&st, kvv1.VirtualMachineInstanceAgentConnected, corev1.ConditionFalse, ReasonNoAgent, "", now)
	}
	st.ActivePods = nil
	return st
}

func hasCondition(st *kvv1.VirtualMachineInstanceStatus, t kvv1.VirtualMachineInstanceConditionType) bool {
	for _, c := range st.Conditions {
		if c.Type == t {
			return true
		}
	}
	return false
}

// schedulingStatus is the status virt-controller writes while the launcher Pod waits for and
// gets a node: Scheduling with the scheduler's PodScheduled condition, then Scheduled on
// the Pod's node.
func schedulingStatus(vmi *kvv1.VirtualMachineInstance, pod *corev1.Pod, now metav1.Time) kvv1.VirtualMachineInstanceStatus {
	st := *vmi.Status.DeepCopy()
	if pod.Spec.NodeName == "" {
		setPhase(&st, kvv1.Scheduling, now)
	} else {
		setPhase(&st, kvv1.Scheduled, now)
		st.NodeName = pod.Spec.NodeName
		st.ActivePods = map[types.UID]string{pod.UID: pod.Spec.NodeName}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			setCondition(&st, kvv1.VirtualMachineInstanceConditionType(corev1.PodScheduled), c.Status, c.Reason, c.Message, now)
		}
	}
	removeCondition(&st, kvv1.VirtualMachineInstanceSynchronized)
	return st
}

func isFinalPod(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}
