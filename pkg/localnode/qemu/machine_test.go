package qemu

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// blankMachine is a machine booting a blank disk: SeaBIOS runs and finds nothing to boot.
func blankMachine(t *testing.T) Config {
	dir := shortTempDir(t)
	return Config{
		Name:        "blank",
		Dir:         filepath.Join(dir, "vm"),
		MemoryBytes: 128 << 20,
		Disks:       []Disk{{Name: "root", Path: blankQcow2(t, dir), BootOrder: 1}},
	}
}

func TestMachineRunsAndIsKilled(t *testing.T) {
	m := startMachine(t, blankMachine(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var status struct {
		Status  string `json:"status"`
		Running bool   `json:"running"`
	}
	if err := m.QMP(ctx, "query-status", nil, &status); err != nil {
		t.Fatalf("query-status: %v", err)
	}
	if status.Status != "running" || !status.Running {
		t.Errorf("query-status = %+v, want running", status)
	}

	vnc, err := net.Dial("unix", m.VNCSocket())
	if err != nil {
		t.Fatalf("VNC socket: %v", err)
	}
	_ = vnc.SetDeadline(time.Now().Add(10 * time.Second))
	greeting := make([]byte, 12)
	if _, err := io.ReadFull(vnc, greeting); err != nil {
		t.Fatalf("reading the VNC greeting: %v", err)
	}
	vnc.Close()
	if string(greeting) != "RFB 003.008\n" {
		t.Errorf("VNC greeting = %q, want RFB 003.008", greeting)
	}

	waitForLog(t, m.SerialLog(), "SeaBIOS", 30*time.Second)

	if err := m.Reset(ctx); err != nil {
		t.Errorf("Reset: %v", err)
	}
	if err := m.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if exit := m.Exit(); exit.Reason != Killed {
		t.Errorf("Exit = %+v, want %s", exit, Killed)
	}
	if err := m.QMP(ctx, "query-status", nil, nil); err == nil {
		t.Error("QMP answered after Kill")
	}
}

func TestMachineSerialSocketStreamsConsole(t *testing.T) {
	m := startMachine(t, blankMachine(t))
	conn, err := net.Dial("unix", m.SerialSocket())
	if err != nil {
		t.Fatalf("serial socket: %v", err)
	}
	defer conn.Close()
	// SeaBIOS may have printed its banner before this client came; a reset prints it again.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Reset(ctx); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var seen strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(seen.String(), "SeaBIOS") {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("reading the console (%q so far): %v", seen.String(), err)
		}
		seen.Write(buf[:n])
	}
}

func TestShutdownKillsAGuestThatIgnoresACPI(t *testing.T) {
	m := startMachine(t, blankMachine(t))
	// SeaBIOS alone does not handle the power button, so only the context ends this.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if exit := m.Exit(); exit.Reason != Killed {
		t.Errorf("Exit = %+v, want %s", exit, Killed)
	}
}

func TestQuitFromTheHostIsKilled(t *testing.T) {
	m := startMachine(t, blankMachine(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = m.QMP(ctx, "quit", nil, nil) // qemu may end before it replies
	exit := waitExit(t, m, 30*time.Second)
	if exit.Reason != Killed || !strings.Contains(exit.Message, "host-qmp-quit") {
		t.Errorf("Exit = %+v, want %s naming host-qmp-quit", exit, Killed)
	}
}

func TestQemuDyingIsCrashed(t *testing.T) {
	m := startMachine(t, blankMachine(t))
	if err := syscall.Kill(m.Pid(), syscall.SIGSEGV); err != nil {
		t.Fatal(err)
	}
	exit := waitExit(t, m, 30*time.Second)
	if exit.Reason != Crashed {
		t.Errorf("Exit = %+v, want %s", exit, Crashed)
	}
}

func TestStartReportsQemuErrors(t *testing.T) {
	needTool(t, "qemu-system-x86_64")
	cfg := blankMachine(t)
	cfg.CPU.Model = "NoSuchModel"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := Start(ctx, cfg)
	if err == nil {
		m.Kill()
		t.Fatal("Start succeeded with an unknown CPU model")
	}
	if !strings.Contains(err.Error(), "NoSuchModel") {
		t.Errorf("Start error %q does not quote qemu's complaint about the model", err)
	}
}
