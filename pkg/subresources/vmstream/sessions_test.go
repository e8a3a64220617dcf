package vmstream

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// A session that takes over starts only once the previous holder has let go of KubeVirt's
// side (QEMU's serial port and VNC server take one client at a time); the holder learns who
// took over.
func TestTakeoverWaitsForTheHolderToLetGo(t *testing.T) {
	s := newSessions()
	key := sessionKey{stream: Console, namespace: "prod", name: "linux-vm"}
	var mu sync.Mutex
	var events []string
	record := func(e string) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}

	first, _ := s.start(key, "alice")
	go func() {
		<-first.ctx.Done()
		var taken *takenOverError
		if !errors.As(context.Cause(first.ctx), &taken) || taken.user != "bob" {
			t.Errorf("the first session ended with %v, want taken over by bob", context.Cause(first.ctx))
		}
		record("first let go")
		s.end(first)
	}()
	second, replaced := s.start(key, "bob")
	record("second started")
	defer s.end(second)

	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || events[0] != "first let go" || events[1] != "second started" {
		t.Errorf("events %v, want the first to let go before the second starts", events)
	}
	if st := s.status(key); !st.Open || st.Holder != "bob" {
		t.Errorf("status %+v, want bob holding the console", st)
	}
	if replaced != "alice" {
		t.Errorf("start reports it replaced %q, want alice", replaced)
	}
}

// Port-forward streams do not wait for each other, and have no holder.
func TestPortForwardHasNoHolder(t *testing.T) {
	s := newSessions()
	key := sessionKey{stream: PortForward, namespace: "prod", name: "linux-vm"}
	first, _ := s.start(key, "alice")
	second, replaced := s.start(key, "bob")
	if first.ctx.Err() != nil || second.ctx.Err() != nil || replaced != "" {
		t.Error("a port-forward stream ended another")
	}
	if st := s.status(key); st.Open {
		t.Errorf("port forwarding has a holder: %+v", st)
	}
	s.end(first)
	s.end(second)
}
