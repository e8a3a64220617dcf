package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// ErrExited is returned by calls that need a running qemu after it ended.
var ErrExited = errors.New("qemu has exited")

// Machine is a running qemu process.
type Machine struct {
	launch *launch
	cmd    *exec.Cmd
	agent  *Agent
	stderr *tailBuffer

	// procDone closes when qemu has been reaped; exited closes after that, once the last
	// QMP events have been read and exit is set.
	procDone chan struct{}
	exited   chan struct{}
	exit     Exit
	// qmp is set by Start before it returns the Machine.
	qmp *qmpConn
	// qmpReady closes when Start has set qmp or given up on it.
	qmpReady chan struct{}

	mu            sync.Mutex
	killed        bool
	shutdown      *shutdownEvent
	panicked      bool
	internalError bool
}

// logTail is how much of qemu's stderr an Exit message may quote.
const logTail = 2048

// exitEventWait bounds how long an exit waits for the last QMP events: the socket closes with
// the process, so this is only a guard against a stuck reader.
const exitEventWait = 5 * time.Second

// Start starts qemu for cfg and returns once QMP answers. ctx bounds only the start: the
// machine runs until the guest powers off, Shutdown or Kill.
func Start(ctx context.Context, cfg Config) (*Machine, error) {
	l, err := prepare(ctx, cfg)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{qmpSocketName, serialSocketName, vncSocketName, agentSocketName} {
		if err := os.Remove(l.path(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("machine %s: removing a stale socket: %w", cfg.Name, err)
		}
	}
	logw := cfg.LogOutput
	var logFile *os.File
	if logw == nil {
		logFile, err = os.OpenFile(l.path(qemuLogName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("machine %s: %w", cfg.Name, err)
		}
		logw = logFile
	}
	m := &Machine{
		launch:   l,
		agent:    NewAgent(l.path(agentSocketName)),
		stderr:   &tailBuffer{max: logTail},
		procDone: make(chan struct{}),
		qmpReady: make(chan struct{}),
		exited:   make(chan struct{}),
	}
	// Not exec.CommandContext: the machine outlives ctx.
	m.cmd = exec.Command(l.cfg.Binary, l.commandLine()...)
	m.cmd.Dir = l.cfg.Dir
	m.cmd.Stdout = logw
	m.cmd.Stderr = io.MultiWriter(logw, m.stderr)
	m.cmd.WaitDelay = time.Second
	// Its own process group, so Kill reaches everything qemu started; SIGKILL when the local
	// node dies, as no guest may outlive its node.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	started := make(chan error, 1)
	go m.run(started, logFile)
	if err := <-started; err != nil {
		return nil, fmt.Errorf("machine %s: starting %s: %w", cfg.Name, l.cfg.Binary, err)
	}
	err = m.connectQMP(ctx)
	close(m.qmpReady)
	if err != nil {
		if errors.Is(err, errEndedEarly) {
			<-m.exited
			return nil, fmt.Errorf("machine %s: qemu ended during start: %s", cfg.Name, m.exit.Message)
		}
		_ = m.Kill()
		return nil, fmt.Errorf("machine %s: %w", cfg.Name, err)
	}
	return m, nil
}

// run starts and waits for qemu on one locked OS thread: Pdeathsig fires when the thread that
// forked the child ends, so that thread must not be retired while qemu runs.
func (m *Machine) run(started chan<- error, logFile *os.File) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if logFile != nil {
		defer logFile.Close()
	}
	if err := m.cmd.Start(); err != nil {
		started <- err
		return
	}
	started <- nil
	err := m.cmd.Wait()
	// Whatever qemu left in its group goes with it.
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
	close(m.procDone)

	<-m.qmpReady
	if m.qmp != nil {
		// qemu's end closed the socket: the reader ends having handed over every event.
		t := time.NewTimer(exitEventWait)
		select {
		case <-m.qmp.done:
		case <-t.C:
		}
		t.Stop()
		m.qmp.close()
	}
	m.exit = m.exitFor(err)
	close(m.exited)
}

// connectQMP waits for qemu's QMP socket and negotiates capabilities.
func (m *Machine) connectQMP(ctx context.Context) error {
	path := m.QMPSocket()
	for {
		c, err := dialQMP(ctx, path, m.recordEvent)
		if err == nil {
			m.qmp = c
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for QMP: %w", ctx.Err())
		}
		// Until qemu listens the dial fails; a handshake cut short is mostly qemu quitting
		// on a bad argument right after it opened the socket.
		select {
		case <-m.procDone:
			return errEndedEarly
		case <-ctx.Done():
			return fmt.Errorf("waiting for QMP: %w (last: %v)", ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// errEndedEarly: qemu ended before QMP answered; its exit message says why.
var errEndedEarly = errors.New("qemu ended during start")

func (m *Machine) isExited() bool {
	select {
	case <-m.exited:
		return true
	default:
		return false
	}
}

// Exited closes when the qemu process has ended.
func (m *Machine) Exited() <-chan struct{} { return m.exited }

// Exit is how the machine ended; valid once Exited is closed.
func (m *Machine) Exit() Exit {
	<-m.exited
	return m.exit
}

// Shutdown presses the ACPI power button and waits for the guest to power off; when ctx ends
// first, it kills qemu. Either way the machine has ended when it returns nil.
func (m *Machine) Shutdown(ctx context.Context) error {
	// A guest that is still booting has no ACPI daemon listening yet and misses the button:
	// press it again every few seconds until the guest goes or the grace period ends.
	press := time.NewTicker(shutdownRepress)
	defer press.Stop()
	for {
		if m.isExited() {
			return nil
		}
		if err := m.QMP(ctx, "system_powerdown", nil, nil); err != nil {
			switch {
			case m.isExited():
				return nil
			case ctx.Err() != nil:
				return m.Kill()
			}
			return fmt.Errorf("shutting down %s: %w", m.launch.cfg.Name, err)
		}
		select {
		case <-m.exited:
			return nil
		case <-ctx.Done():
			return m.Kill()
		case <-press.C:
		}
	}
}

// shutdownRepress is how often Shutdown presses the power button again.
const shutdownRepress = 5 * time.Second

// Kill kills qemu and waits until it is reaped.
func (m *Machine) Kill() error {
	if m.isExited() {
		return nil
	}
	if err := m.signalKill(); err != nil {
		return fmt.Errorf("killing %s: %w", m.launch.cfg.Name, err)
	}
	<-m.exited
	return nil
}

// signalKill sends SIGKILL to qemu's process group, unless qemu is already reaped (its
// process group id could be reused by then).
func (m *Machine) signalKill() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-m.procDone:
		return nil
	default:
	}
	m.killed = true
	if err := syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// Reset resets the machine as its reset button would (QMP system_reset).
func (m *Machine) Reset(ctx context.Context) error {
	return m.QMP(ctx, "system_reset", nil, nil)
}

// Pid is qemu's process id.
func (m *Machine) Pid() int { return m.cmd.Process.Pid }

// SerialSocket is the unix socket of the serial console: one client at a time; all output
// is also appended to SerialLog.
func (m *Machine) SerialSocket() string { return m.launch.path(serialSocketName) }

// SerialLog is the file that receives all serial console output.
func (m *Machine) SerialLog() string { return m.launch.path(serialLogName) }

// VNCSocket is the unix socket of the VNC server (the VGA display).
func (m *Machine) VNCSocket() string { return m.launch.path(vncSocketName) }

// QMPSocket is the unix socket of QMP. This package holds its only connection; use QMP.
func (m *Machine) QMPSocket() string { return m.launch.path(qmpSocketName) }

// Agent is the guest agent's client.
func (m *Machine) Agent() *Agent { return m.agent }

// Dir is the machine's runtime directory.
func (m *Machine) Dir() string { return m.launch.cfg.Dir }
