package provisioning

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/virtplane/virtplane/pkg/importer"
)

// PodState is what the controller makes of an importer Pod.
type PodState int

const (
	// PodAbsent: no Pod yet (or it was deleted).
	PodAbsent PodState = iota
	// PodStarting: created, not running yet.
	PodStarting
	// PodRunning: the importer serves /progress on the Pod IP.
	PodRunning
	// PodSucceeded: the importer wrote a successful result.
	PodSucceeded
	// PodFailed: the importer ended with an error (see Result), or the Pod failed without one.
	PodFailed
	// PodNotStarted: the Pod cannot start (image refused, unschedulable too long).
	PodNotStarted
	// PodTerminating: being deleted; wait for it to go.
	PodTerminating
)

// Observation is one look at an importer Pod.
type Observation struct {
	State PodState
	Pod   *corev1.Pod
	// Result is the termination message of an ended Pod.
	Result *importer.Result
	// Message explains PodNotStarted and PodFailed without a result.
	Message string
}

// imageRefusedReasons are container waiting reasons after which the node will not run the
// importer image without someone fixing the configuration.
var imageRefusedReasons = map[string]bool{
	"InvalidImageName":  true,
	"ErrImageNeverPull": true,
	"ImageInspectError": true,
}

// imagePullReasons may be transient (a registry hiccup), so they fail the Pod only after
// the start timeout.
var imagePullReasons = map[string]bool{
	"ErrImagePull":     true,
	"ImagePullBackOff": true,
	// A Secret the Pod reads (a copied pull secret) is missing or unreadable.
	"CreateContainerConfigError": true,
}

// Observe classifies a Pod. startTimeout bounds how long a Pod may stay unschedulable or
// unable to pull its image before provisioning is declared not started.
func Observe(pod *corev1.Pod, now time.Time, startTimeout time.Duration) Observation {
	if pod == nil {
		return Observation{State: PodAbsent}
	}
	o := Observation{Pod: pod}
	if pod.DeletionTimestamp != nil {
		o.State = PodTerminating
		return o
	}
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		o.Result = TerminationResult(pod)
		if pod.Status.Phase == corev1.PodSucceeded && (o.Result == nil || o.Result.Error == "") {
			o.State = PodSucceeded
			if o.Result == nil {
				o.Result = &importer.Result{}
			}
			return o
		}
		o.State = PodFailed
		if o.Result == nil {
			// Killed without a word (OOM, eviction, node loss): worth another try.
			o.Result = &importer.Result{Error: podEndMessage(pod), Reason: "PodFailed", Retryable: true}
		}
		return o
	case corev1.PodRunning:
		if pod.Status.PodIP != "" {
			o.State = PodRunning
			return o
		}
	}
	o.State = PodStarting
	age := now.Sub(pod.CreationTimestamp.Time)
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			if imageRefusedReasons[w.Reason] || (imagePullReasons[w.Reason] && age > startTimeout) {
				o.State = PodNotStarted
				o.Message = fmt.Sprintf("The importer Pod %s cannot start: %s: %s.", pod.Name, w.Reason, strings.TrimSuffix(w.Message, "."))
				return o
			}
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && age > startTimeout {
			o.State = PodNotStarted
			o.Message = fmt.Sprintf("The importer Pod %s has not been scheduled for %s: %s", pod.Name, age.Round(time.Second), c.Message)
			return o
		}
	}
	return o
}

// TerminationResult decodes the importer's result from the Pod's termination message.
func TerminationResult(pod *corev1.Pod) *importer.Result {
	for _, cs := range pod.Status.ContainerStatuses {
		t := cs.State.Terminated
		if t == nil || t.Message == "" {
			continue
		}
		var r importer.Result
		if err := json.Unmarshal([]byte(t.Message), &r); err != nil {
			return &importer.Result{Error: "The importer ended with an unreadable result: " + t.Message, Reason: "InvalidResult"}
		}
		if r.Error == "" && t.ExitCode != 0 {
			r.Error = fmt.Sprintf("The importer exited with code %d.", t.ExitCode)
		}
		return &r
	}
	return nil
}

func podEndMessage(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil {
			return fmt.Sprintf("The importer Pod %s ended (%s, exit code %d) without a result.", pod.Name, t.Reason, t.ExitCode)
		}
	}
	if pod.Status.Reason != "" {
		return fmt.Sprintf("The importer Pod %s failed: %s: %s", pod.Name, pod.Status.Reason, pod.Status.Message)
	}
	return fmt.Sprintf("The importer Pod %s failed without a result.", pod.Name)
}
