package dvcr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// ReadOnlyMarker is the file in the storage directory whose presence puts the registry in
// read-only mode. A file, not an in-memory flag, because "dvcr-cleaner gc run" is usually a
// separate process (kubectl exec into the registry's container) that shares only the
// storage with the server; the server checks it on every write.
const ReadOnlyMarker = ".gc-readonly"

// readOnlyRetryAfter is what writers are told to wait; importers retry on 503.
const readOnlyRetryAfter = 30 * time.Second

// readOnlyState is the marker's content: who set it and when, for operators who find one
// left behind by a killed collector.
type readOnlyState struct {
	Reason  string    `json:"reason"`
	PID     int       `json:"pid"`
	Host    string    `json:"host,omitempty"`
	Started time.Time `json:"started"`
}

// SetReadOnly writes the marker into storageDir; the registry refuses writes until
// ClearReadOnly removes it. It fails if the marker is already there, so two collectors
// never run at once.
func SetReadOnly(storageDir, reason string) error {
	host, _ := os.Hostname()
	data, err := json.Marshal(readOnlyState{Reason: reason, PID: os.Getpid(), Host: host, Started: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("encode read-only marker: %w", err)
	}
	p := filepath.Join(storageDir, ReadOnlyMarker)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			existing, _ := os.ReadFile(p)
			return fmt.Errorf("registry is already read-only (%s exists: %s); remove it if no collector is running", p, existing)
		}
		return fmt.Errorf("set registry read-only: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(p)
		return fmt.Errorf("set registry read-only: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(p)
		return fmt.Errorf("set registry read-only: %w", err)
	}
	return nil
}

// ClearReadOnly removes the marker; a missing marker is not an error.
func ClearReadOnly(storageDir string) error {
	if err := os.Remove(filepath.Join(storageDir, ReadOnlyMarker)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("clear registry read-only: %w", err)
	}
	return nil
}

// IsReadOnly reports whether the marker is present.
func IsReadOnly(storageDir string) bool {
	_, err := os.Stat(filepath.Join(storageDir, ReadOnlyMarker))
	return err == nil
}

// clearStaleReadOnly removes a marker whose collector no longer runs: one written on this
// host by a process that is gone (the registry's container restarted while "dvcr-cleaner
// gc run" ran in it). Without this the registry would refuse writes forever. A marker
// from another host or a live process stays.
func clearStaleReadOnly(storageDir string) (bool, error) {
	p := filepath.Join(storageDir, ReadOnlyMarker)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read read-only marker: %w", err)
	}
	var st readOnlyState
	if err := json.Unmarshal(data, &st); err != nil {
		// Not ours to judge; an operator wrote it.
		return false, nil
	}
	host, _ := os.Hostname()
	// Our own PID means a previous life of this server (PID 1 in a restarted container):
	// the server calls this before it schedules any collection.
	if st.Host != host || st.PID <= 0 || (st.PID != os.Getpid() && processAlive(st.PID)) {
		return false, nil
	}
	if err := ClearReadOnly(storageDir); err != nil {
		return false, err
	}
	return true, nil
}

// processAlive reports whether pid exists (signal 0 checks without signalling).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// readOnlyGuard answers writes with 503 and Retry-After while the marker exists. Reads pass:
// garbage collection only removes what nothing refers to, so pulls of live images are safe.
// The answer uses the registry's error shape so OCI clients show a readable message.
func readOnlyGuard(storageDir string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if IsReadOnly(storageDir) {
				w.Header().Set("Retry-After", strconv.Itoa(int(readOnlyRetryAfter.Seconds())))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"errors":[{"code":"UNAVAILABLE","message":"registry is read-only while garbage collection runs; retry later"}]}`))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
