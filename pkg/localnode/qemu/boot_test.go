package qemu

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// guestUserData is what a user of the seeds writes: a host name and a user with a password.
const guestUserData = `#cloud-config
hostname: linux-vm
ssh_pwauth: true
users:
  - name: cloud
    passwd: $6$rounds=4096$saltsalt$fPmUsbjAuA7mnQNTajQM6ClhesyG0.yyQhvahas02ejfMAq1ykBo1RquzS0R6GgdIDlvS.kbUwDablGZKZcTP/
    lock_passwd: false
    shell: /bin/bash
`

// buildGuest runs hack/guest/build.sh (a no-op when its outputs are up to date) and returns
// the guest's qcow2 disk.
func buildGuest(t *testing.T) string {
	t.Helper()
	repo, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(repo, "hack", "guest", "build.sh")
	if _, err := os.Stat(script); err != nil {
		t.Skipf("no guest image builder: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return filepath.Join(repo, "bin", "guest", "guest.qcow2")
}

func TestBootGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a guest")
	}
	needTool(t, "qemu-system-x86_64")
	image := buildGuest(t)
	dir := shortTempDir(t)
	// The guest writes to an overlay; the built image stays as it is for the next test.
	overlay := filepath.Join(dir, "root.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-b", image, "-F", "qcow2", overlay).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v: %s", err, out)
	}
	network := &Network{Address: netip.MustParseAddr("10.66.10.2"), Prefix: netip.MustParsePrefix("10.66.10.0/24")}
	m := startMachine(t, Config{
		Name:        "linux-vm",
		Dir:         filepath.Join(dir, "vm"),
		CPU:         CPU{Sockets: 1, Cores: 2, Threads: 1},
		MemoryBytes: 256 << 20,
		// Named qcow2: the overlay's backing chain is followed.
		Disks:     []Disk{{Name: "root", Path: overlay, Format: "qcow2", BootOrder: 1}},
		CloudInit: &CloudInit{UserData: guestUserData},
		Network:   network,
		Hostname:  "linux-vm",
	})

	waitForLog(t, m.SerialLog(), "linux-vm login:", 5*time.Minute)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	agent := m.Agent()
	if err := retry(ctx, func(ctx context.Context) error { return agent.Ping(ctx) }); err != nil {
		t.Fatalf("guest agent Ping: %v", err)
	}
	osInfo, err := agent.OSInfo(ctx)
	if err != nil || osInfo.ID == "" || osInfo.KernelRelease == "" || osInfo.Machine != "x86_64" {
		t.Errorf("guest agent OSInfo = %+v, %v; want the guest's os-release and kernel", osInfo, err)
	}
	// The address comes from qemu's DHCP server; udhcpc may still be at it.
	err = retry(ctx, func(ctx context.Context) error {
		ifaces, err := agent.Interfaces(ctx)
		if err != nil {
			return err
		}
		for _, iface := range ifaces {
			for _, ip := range iface.IPAddresses {
				if ip.Address == network.Address.String() && ip.Prefix == network.Prefix.Bits() {
					return nil
				}
			}
		}
		return fmt.Errorf("no interface holds %s/%d: %+v", network.Address, network.Prefix.Bits(), ifaces)
	})
	if err != nil {
		t.Errorf("guest agent Interfaces: %v", err)
	}

	if err := m.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if exit := m.Exit(); exit.Reason != GuestShutdown {
		t.Errorf("Exit = %+v, want %s", exit, GuestShutdown)
	}
}
