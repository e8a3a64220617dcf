package controllertest

import (
	"strings"

	"k8s.io/client-go/tools/record"
)

// Event is one event a fake recorder collected.
type Event struct {
	Type, Reason, Message string
}

// Events drains the events recorded so far. FakeRecorder formats each as "TYPE REASON
// MESSAGE"; the recorder must be made without object references (record.NewFakeRecorder).
func Events(rec *record.FakeRecorder) []Event {
	var out []Event
	for {
		select {
		case s := <-rec.Events:
			parts := strings.SplitN(s, " ", 3)
			for len(parts) < 3 {
				parts = append(parts, "")
			}
			out = append(out, Event{Type: parts[0], Reason: parts[1], Message: parts[2]})
		default:
			return out
		}
	}
}
