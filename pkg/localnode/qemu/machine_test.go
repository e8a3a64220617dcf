package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
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
	// SeaBIOS may have printed its banner before this client came; a reset prints it again
	// once qemu has taken the connection (its chardev then no longer says "disconnected").
	// The reset waits for the end of POST: SeaBIOS reset in its first moments can hang.
	waitForLog(t, m.SerialLog(), "No bootable device", 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = retry(ctx, func(ctx context.Context) error {
		var chardevs []struct {
			Label    string `json:"label"`
			Filename string `json:"filename"`
		}
		if err := m.QMP(ctx, "query-chardev", nil, &chardevs); err != nil {
			return err
		}
		for _, c := range chardevs {
			if c.Label == "serial0" && !strings.HasPrefix(c.Filename, "disconnected:") {
				return nil
			}
		}
		return fmt.Errorf("the serial console has no client: %+v", chardevs)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Reset(ctx); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var seen strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(seen.String(), "SeaBIOS") {
		n, err := conn.Read(buf)
		if err != nil {
			log, _ := os.ReadFile(m.SerialLog())
			t.Fatalf("reading the console (%q so far): %v; the log holds %q", seen.String(), err, log)
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

// TestQemuTakesEveryKindOfDevice starts qemu with each kind of device the Config describes,
// so a command line qemu would refuse fails here rather than in a VMI.
func TestQemuTakesEveryKindOfDevice(t *testing.T) {
	needTool(t, "genisoimage")
	cfg := blankMachine(t)
	dir := filepath.Dir(cfg.Dir)
	// TCG: host-model becomes max there. (Under KVM it becomes host, which nested KVM may
	// refuse, e.g. when the outer hypervisor does not let IA32_ARCH_CAPABILITIES be set.)
	cfg.Accel = "tcg"
	cfg.CPU = CPU{Sockets: 1, Cores: 2, Threads: 1, Model: "host-model", Features: []CPUFeature{{Name: "pcid"}, {Name: "svm", Policy: "disable"}}}
	cfg.Disks = append(cfg.Disks,
		Disk{Name: "data", Path: diskFile(t, dir, "data.img", false), Format: "raw", ReadOnly: true, Serial: "DATA1"},
		Disk{Name: "install", Path: diskFile(t, dir, "install.iso", false), CDROM: true, BootOrder: 2})
	cfg.CloudInit = &CloudInit{UserData: "#cloud-config\n"}
	cfg.Sysprep = map[string][]byte{"unattend.xml": []byte("<unattend/>")}
	cfg.Network = &Network{Address: netip.MustParseAddr("10.66.10.2"), Prefix: netip.MustParsePrefix("10.66.10.0/24"),
		HostForwards: []Forward{{HostPort: freePort(t), GuestPort: 22}}}
	cfg.Hostname = "linux-vm"
	cfg.UUID = "6c1f7c1e-2b1a-4e62-9d43-3c6f1e0a9b10"
	m := startMachine(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var cpus []struct {
		CPUIndex int `json:"cpu-index"`
	}
	if err := m.QMP(ctx, "query-cpus-fast", nil, &cpus); err != nil {
		t.Fatalf("query-cpus-fast: %v", err)
	}
	if len(cpus) != 2 {
		t.Errorf("the guest has %d vCPUs, want 2", len(cpus))
	}
	var blocks []struct {
		Device   string `json:"device"`
		QDev     string `json:"qdev"`
		Inserted *struct {
			RO bool `json:"ro"`
		} `json:"inserted"`
	}
	if err := m.QMP(ctx, "query-block", nil, &blocks); err != nil {
		t.Fatalf("query-block: %v", err)
	}
	readOnly := map[string]bool{}
	for _, b := range blocks {
		if b.Inserted != nil {
			// virtio-blk reports its backend's path, IDE the device id.
			dev := strings.TrimSuffix(strings.TrimPrefix(b.QDev, "/machine/peripheral/"), "/virtio-backend")
			readOnly[dev] = b.Inserted.RO
		}
	}
	wantRO := map[string]bool{"ua-root": false, "ua-data": true, "ua-install": true, "cidata": true, "sysprep": true}
	for dev, ro := range wantRO {
		got, ok := readOnly[dev]
		if !ok {
			t.Errorf("query-block lacks device %s: %v", dev, readOnly)
		} else if got != ro {
			t.Errorf("device %s read-only = %v, want %v", dev, got, ro)
		}
	}
	var uuid struct {
		UUID string `json:"UUID"`
	}
	if err := m.QMP(ctx, "query-uuid", nil, &uuid); err != nil || uuid.UUID != cfg.UUID {
		t.Errorf("query-uuid = %q, %v; want %s", uuid.UUID, err, cfg.UUID)
	}
	// A reply far over 64 KiB comes through, and QMP still answers after it.
	var schema []json.RawMessage
	if err := m.QMP(ctx, "query-qmp-schema", nil, &schema); err != nil || len(schema) == 0 {
		t.Errorf("query-qmp-schema: %d entries, %v", len(schema), err)
	}
	var status struct {
		Status string `json:"status"`
	}
	if err := m.QMP(ctx, "query-status", nil, &status); err != nil || status.Status != "running" {
		t.Errorf("query-status after the schema = %q, %v", status.Status, err)
	}
	var qerr *QMPError
	if err := m.QMP(ctx, "no-such-command", nil, nil); !errors.As(err, &qerr) || qerr.Class != "CommandNotFound" {
		t.Errorf("an unknown command = %v, want a CommandNotFound QMPError", err)
	}
}

// freePort is a TCP port of 127.0.0.1 nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
