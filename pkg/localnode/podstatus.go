package localnode

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// writeStatus writes the Pod's status when it changed; once the Pod is Succeeded or Failed
// the node is done with it.
func (c *podController) writeStatus(ctx context.Context, pod *corev1.Pod, st *podState) error {
	status := podStatus(pod, st, c.n.runtime, metav1.Now())
	if equality.Semantic.DeepEqual(pod.Status, status) {
		return nil
	}
	p := pod.DeepCopy()
	p.Status = status
	if _, err := c.n.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("writing the status of pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	if status.Phase != pod.Status.Phase {
		klog.FromContext(ctx).Info("Pod phase", "pod", klog.KObj(pod), "phase", status.Phase)
	}
	if status.Phase == corev1.PodSucceeded || status.Phase == corev1.PodFailed {
		st.terminal = true
		c.n.ips.Release(string(pod.UID))
		if status.Phase == corev1.PodFailed {
			c.n.recorder.Eventf(pod, nil, corev1.EventTypeWarning, "PodFailed", "Run", "Pod failed: a container exited with an error")
		}
	}
	return nil
}

// podStatus computes a Pod's status from what the node knows, as the kubelet would write it.
// Times of conditions that did not change are kept so an unchanged Pod is not rewritten.
func podStatus(pod *corev1.Pod, st *podState, rt Runtime, now metav1.Time) corev1.PodStatus {
	status := *pod.Status.DeepCopy()
	status.HostIP = "127.0.0.1"
	status.HostIPs = []corev1.HostIP{{IP: "127.0.0.1"}}
	if st.ip.IsValid() {
		status.PodIP = st.ip.String()
		status.PodIPs = []corev1.PodIP{{IP: status.PodIP}}
	}
	if status.StartTime == nil {
		status.StartTime = &now
	}
	status.Reason, status.Message = "", ""

	var running, waiting, failed, done int
	statuses := make([]corev1.ContainerStatus, 0, len(pod.Spec.Containers))
	for _, ctr := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{Name: ctr.Name, Image: ctr.Image, ImageID: ctr.Image, Started: ptr.To(false)}
		run := st.containers[ctr.Name]
		if run != nil {
			cs.RestartCount = run.restarts
			if run.last != nil {
				cs.LastTerminationState = corev1.ContainerState{Terminated: run.last}
			}
		}
		switch {
		case run != nil && run.id != "" && run.exited == nil:
			cs.ContainerID = containerID(run.id)
			startedAt := metav1.NewTime(run.started)
			if s, ok := rt.Status(run.id); ok {
				startedAt = metav1.NewTime(s.StartedAt)
			}
			cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: startedAt}}
			// No probes here: a running container is ready.
			cs.Ready, cs.Started = true, ptr.To(true)
			running++
		case run != nil && run.exited != nil:
			cs.ContainerID = run.exited.ContainerID
			if restarts(pod.Spec.RestartPolicy, run.exited.ExitCode) {
				cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
					Message: fmt.Sprintf("back-off restarting failed container %s", ctr.Name)}}
				cs.LastTerminationState = corev1.ContainerState{Terminated: run.exited}
				running++ // the Pod keeps running while it restarts
			} else {
				cs.State = corev1.ContainerState{Terminated: run.exited}
				done++
				if run.exited.ExitCode != 0 {
					failed++
				}
			}
		default:
			reason, msg := st.waitReason, st.waitMessage
			if reason == "" {
				reason = reasonCreating
			}
			cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
			waiting++
		}
		statuses = append(statuses, cs)
	}
	status.ContainerStatuses = statuses

	all := len(pod.Spec.Containers)
	switch {
	case done == all && all > 0 && failed == 0:
		status.Phase = corev1.PodSucceeded
	case done == all && all > 0:
		status.Phase = corev1.PodFailed
	case waiting > 0 && running == 0 && done == 0:
		status.Phase = corev1.PodPending
	default:
		status.Phase = corev1.PodRunning
	}

	prepared := st.volumes != nil
	setCondition(&status, corev1.PodReadyToStartContainers, boolCondition(prepared), "", "", now)
	setCondition(&status, corev1.PodInitialized, corev1.ConditionTrue, "", "", now)
	readyReason, readyMsg := "", ""
	allReady := running == all && waiting == 0 && done == 0
	for _, cs := range statuses {
		if !cs.Ready {
			allReady = false
		}
	}
	if !allReady {
		readyReason, readyMsg = "ContainersNotReady", "containers with unready status"
		switch {
		case status.Phase == corev1.PodSucceeded || status.Phase == corev1.PodFailed:
			readyReason, readyMsg = "PodCompleted", ""
		case st.refused:
			readyReason, readyMsg = ReasonImageNotRunnable, st.waitMessage
		}
	}
	setCondition(&status, corev1.ContainersReady, boolCondition(allReady), readyReason, readyMsg, now)
	setCondition(&status, corev1.PodReady, boolCondition(allReady), readyReason, readyMsg, now)
	return status
}

func boolCondition(b bool) corev1.ConditionStatus {
	if b {
		return corev1.ConditionTrue
	}
	return corev1.ConditionFalse
}

// setCondition sets a Pod condition, keeping its transition time when the status did not
// change; other conditions (PodScheduled is the scheduler's) are left alone.
func setCondition(status *corev1.PodStatus, t corev1.PodConditionType, s corev1.ConditionStatus, reason, msg string, now metav1.Time) {
	for i := range status.Conditions {
		c := &status.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status != s {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason, c.Message = s, reason, msg
		return
	}
	status.Conditions = append(status.Conditions, corev1.PodCondition{Type: t, Status: s, Reason: reason, Message: msg, LastTransitionTime: now})
}
