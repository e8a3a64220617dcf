package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ExitReason says why a machine's qemu process ended.
type ExitReason string

const (
	// GuestShutdown: the guest powered off (ACPI or its own poweroff).
	GuestShutdown ExitReason = "GuestShutdown"
	// Crashed: qemu died, or the guest panicked.
	Crashed ExitReason = "Crashed"
	// Killed: Kill, a Shutdown whose context ended first, or a stop from the host.
	Killed ExitReason = "Killed"
)

// Exit is how a machine ended.
type Exit struct {
	Reason  ExitReason
	Message string
}

// shutdownEvent is QMP's SHUTDOWN.
type shutdownEvent struct {
	guest  bool
	reason string
}

// recordEvent keeps the events that decide the exit reason.
func (m *Machine) recordEvent(ev qmpEvent) {
	switch ev.Event {
	case "SHUTDOWN":
		var data struct {
			Guest  bool   `json:"guest"`
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(ev.Data, &data)
		m.mu.Lock()
		m.shutdown = &shutdownEvent{guest: data.Guest, reason: data.Reason}
		m.mu.Unlock()
	case "GUEST_PANICKED":
		m.mu.Lock()
		m.panicked = true
		m.mu.Unlock()
	case "STOP":
		// The reader must not wait for a reply it would have to read itself.
		go m.checkInternalError()
	}
}

// checkInternalError ends a machine the accelerator stopped on an internal error (e.g. a KVM
// emulation failure): qemu keeps such a machine paused forever, the guest is gone.
func (m *Machine) checkInternalError() {
	<-m.qmpReady
	if m.qmp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var status struct {
		Status string `json:"status"`
	}
	if err := m.QMP(ctx, "query-status", nil, &status); err != nil || status.Status != "internal-error" {
		return
	}
	m.mu.Lock()
	m.internalError = true
	m.mu.Unlock()
	_ = m.signalKill()
}

// exitFor decides the Exit from what was seen and qemu's wait status.
func (m *Machine) exitFor(waitErr error) Exit {
	m.mu.Lock()
	defer m.mu.Unlock()
	sd := m.shutdown
	switch {
	case m.panicked || (sd != nil && sd.reason == "guest-panic"):
		return Exit{Crashed, "the guest panicked"}
	case m.internalError:
		return Exit{Crashed, "the accelerator stopped the guest on an internal error" + m.stderr.suffix()}
	case sd != nil && sd.guest:
		return Exit{GuestShutdown, "the guest powered off"}
	case m.killed:
		return Exit{Killed, "qemu was killed"}
	case sd != nil:
		return Exit{Killed, fmt.Sprintf("qemu was stopped by the host (%s)", sd.reason)}
	}
	var ee *exec.ExitError
	switch {
	case waitErr == nil:
		return Exit{Crashed, "qemu exited without reporting a shutdown" + m.stderr.suffix()}
	case errors.As(waitErr, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return Exit{Crashed, fmt.Sprintf("qemu was killed by signal %s", ws.Signal()) + m.stderr.suffix()}
		}
		return Exit{Crashed, fmt.Sprintf("qemu exited with status %d", ee.ExitCode()) + m.stderr.suffix()}
	default:
		return Exit{Crashed, fmt.Sprintf("waiting for qemu: %v", waitErr) + m.stderr.suffix()}
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// suffix is ": <last lines>" for a message, or "" when qemu wrote nothing.
func (t *tailBuffer) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if s == "" {
		return ""
	}
	return ": " + s
}
