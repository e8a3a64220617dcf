package localnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ContainerSpec is what a Runtime needs to start one container of a Pod, with paths already
// translated to the host.
type ContainerSpec struct {
	// PodKey (namespace/name) is passed back to the Runtime's exit notification.
	PodKey string
	// Name is the container's name.
	Name string
	// Argv is the program and its arguments.
	Argv []string
	// Env is KEY=value.
	Env []string
	// Dir is the working directory (the Pod's directory).
	Dir string
	// LogPath receives stdout and stderr.
	LogPath string
}

// ContainerStatus is what a Runtime knows about a container it started.
type ContainerStatus struct {
	Running    bool
	StartedAt  time.Time
	FinishedAt time.Time
	// ExitCode is set once the container stopped: 128+signal when a signal ended it.
	ExitCode int
}

// Runtime runs containers. ProcessRuntime runs host processes; a hollow runtime (nothing runs,
// as in kubemark) and the VM runtime will fit behind the same interface.
type Runtime interface {
	// Start starts a container and returns its ID.
	Start(ctx context.Context, spec ContainerSpec) (string, error)
	// Stop asks the container to stop (SIGTERM) and kills it after grace. It returns at once;
	// the exit is reported through the notification given to the Runtime.
	Stop(id string, grace time.Duration) error
	// Status reports a container; false when the ID is unknown.
	Status(id string) (ContainerStatus, bool)
	// Remove forgets a stopped container.
	Remove(id string)
	// KillAll kills every container now (the node is shutting down) and waits for them.
	KillAll()
}

// ProcessRuntime runs each container as a host process in its own process group, so a stop
// reaches the program's children too.
type ProcessRuntime struct {
	notify func(podKey string)
	mu     sync.Mutex
	procs  map[string]*proc
	seq    atomic.Uint64
}

type proc struct {
	cmd    *exec.Cmd
	podKey string
	done   chan struct{}
	status ContainerStatus
}

// NewProcessRuntime returns a runtime that calls notify with the Pod's key whenever one of
// its containers exits.
func NewProcessRuntime(notify func(podKey string)) *ProcessRuntime {
	return &ProcessRuntime{notify: notify, procs: map[string]*proc{}}
}

// Start implements Runtime.
func (r *ProcessRuntime) Start(_ context.Context, spec ContainerSpec) (string, error) {
	if len(spec.Argv) == 0 {
		return "", errors.New("no program to run")
	}
	logFile, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", fmt.Errorf("opening the log of container %s: %w", spec.Name, err)
	}
	// Not exec.CommandContext: the process must outlive the request that started it and is
	// stopped through Stop or KillAll.
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Args[0] = spec.Argv[0]
	cmd.Env, cmd.Dir = spec.Env, spec.Dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Own process group so signals reach the whole tree; SIGKILL if the node dies, as
	// containers die with their node.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return "", fmt.Errorf("starting %s: %w", spec.Argv[0], err)
	}
	id := strconv.FormatUint(r.seq.Add(1), 10) + "-" + strconv.Itoa(cmd.Process.Pid)
	p := &proc{cmd: cmd, podKey: spec.PodKey, done: make(chan struct{}),
		status: ContainerStatus{Running: true, StartedAt: time.Now()}}
	r.mu.Lock()
	r.procs[id] = p
	r.mu.Unlock()
	go func() {
		err := cmd.Wait()
		// As in a container, whose PID 1 exiting ends the rest: no child outlives the
		// program in its process group (the group's ID is not reused while members live).
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		logFile.Close()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
			if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		} else if err != nil {
			code = 128
		}
		r.mu.Lock()
		p.status.Running, p.status.ExitCode, p.status.FinishedAt = false, code, time.Now()
		r.mu.Unlock()
		close(p.done)
		if r.notify != nil {
			r.notify(p.podKey)
		}
	}()
	return id, nil
}

// Stop implements Runtime.
func (r *ProcessRuntime) Stop(id string, grace time.Duration) error {
	r.mu.Lock()
	p, ok := r.procs[id]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("container %s is unknown", id)
	}
	select {
	case <-p.done:
		return nil
	default:
	}
	pgid := p.cmd.Process.Pid
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signalling container %s: %w", id, err)
	}
	go func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-p.done:
		case <-t.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}()
	return nil
}

// Status implements Runtime.
func (r *ProcessRuntime) Status(id string) (ContainerStatus, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.procs[id]
	if !ok {
		return ContainerStatus{}, false
	}
	return p.status, true
}

// Remove implements Runtime.
func (r *ProcessRuntime) Remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.procs[id]; ok && !p.status.Running {
		delete(r.procs, id)
	}
}

// KillAll implements Runtime.
func (r *ProcessRuntime) KillAll() {
	r.mu.Lock()
	var waits []chan struct{}
	for _, p := range r.procs {
		if p.status.Running {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			waits = append(waits, p.done)
		}
	}
	r.mu.Unlock()
	for _, w := range waits {
		<-w
	}
}
