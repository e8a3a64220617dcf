package d8

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/crypto/ssh"

	"github.com/virtplane/virtplane/pkg/localnode/qemu"
)

// testGuest is the repository's test guest (hack/guest) running under qemu as the local
// node runs VMs, with its SSH port forwarded to 127.0.0.1.
type testGuest struct {
	machine *qemu.Machine
	sshPort int // 127.0.0.1 port forwarded to the guest's 22
	vCPUs   int
}

// guestUserKey is an SSH key made for one test, authorized for the guest's user cloud.
type guestUserKey struct {
	file   string // the private key, OpenSSH PEM, mode 0600
	public string // authorized_keys line
}

func newGuestUserKey(t *testing.T) guestUserKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "d8 test")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return guestUserKey{file: file, public: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))}
}

// guestUserData makes the user cloud (password cloud, the key, sudo without a password) and
// /usr/local/bin/mark, which prints MARK-N-2N on the serial console: typing "sudo mark N"
// on the screen leaves evidence in the serial log that only the guest's shell can compute.
func guestUserData(key guestUserKey) string {
	return `#cloud-config
hostname: linux-vm
ssh_pwauth: true
users:
  - name: cloud
    plain_text_passwd: cloud
    lock_passwd: false
    shell: /bin/bash
    sudo: ALL=(ALL) NOPASSWD:ALL
    ssh_authorized_keys:
      - ` + key.public + `
write_files:
  - path: /usr/local/bin/mark
    permissions: '0755'
    content: |
      #!/bin/sh
      echo "MARK-$1-$(($1 * 2))" > /dev/ttyS0
`
}

// needGuestTools skips the test when qemu is missing, as the local node's boot tests do.
func needGuestTools(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots a guest")
	}
	for _, tool := range []string{"qemu-system-x86_64", "qemu-img"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (hack/install-deps.sh installs it)", tool)
		}
	}
}

// bootGuest builds the guest image (a no-op when up to date), boots it on an overlay with
// two vCPUs and waits for the login prompt. The guest is killed when the test ends.
func bootGuest(t *testing.T, userData string) *testGuest {
	t.Helper()
	needGuestTools(t)
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, filepath.Join(repo, "hack", "guest", "build.sh")).CombinedOutput(); err != nil {
		t.Fatalf("hack/guest/build.sh: %v\n%s", err, out)
	}
	// Unix socket paths are short: not under t.TempDir, which carries the test's name.
	dir, err := os.MkdirTemp("", "d8-guest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	overlay := filepath.Join(dir, "root.qcow2")
	image := filepath.Join(repo, "bin", "guest", "guest.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-b", image, "-F", "qcow2", overlay).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v: %s", err, out)
	}
	g := &testGuest{sshPort: freePort(t), vCPUs: 2}
	startCtx, cancelStart := context.WithTimeout(context.Background(), time.Minute)
	defer cancelStart()
	g.machine, err = qemu.Start(startCtx, qemu.Config{
		Name:        "linux-vm",
		Dir:         filepath.Join(dir, "vm"),
		CPU:         qemu.CPU{Sockets: 1, Cores: g.vCPUs, Threads: 1},
		MemoryBytes: 256 << 20,
		Disks:       []qemu.Disk{{Name: "root", Path: overlay, Format: "qcow2", BootOrder: 1}},
		CloudInit:   &qemu.CloudInit{UserData: userData},
		Network: &qemu.Network{
			Address:      netip.MustParseAddr("10.66.10.2"),
			Prefix:       netip.MustParsePrefix("10.66.10.0/24"),
			HostForwards: []qemu.Forward{{HostPort: g.sshPort, GuestPort: 22}},
		},
		Hostname: "linux-vm",
	})
	if err != nil {
		t.Fatalf("starting the guest: %v", err)
	}
	t.Cleanup(func() {
		if err := g.machine.Kill(); err != nil {
			t.Errorf("stopping the guest: %v", err)
		}
	})
	g.waitForSerial(t, "linux-vm login:", 5*time.Minute)
	return g
}

// waitForSerial waits until the serial console's log holds want.
func (g *testGuest) waitForSerial(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	if !g.serialShows(want, timeout) {
		data, _ := os.ReadFile(g.machine.SerialLog())
		t.Fatalf("the serial console does not show %q after %v; it holds:\n%s", want, timeout, data)
	}
}

// serialShows polls the serial console's log for want until timeout.
func (g *testGuest) serialShows(want string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		data, _ := os.ReadFile(g.machine.SerialLog())
		if strings.Contains(string(data), want) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// hostKey reads the guest's SSH host key straight from the forwarded port, as ssh-keyscan
// would, retrying while dropbear starts.
func (g *testGuest) hostKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	var key ssh.PublicKey
	deadline := time.Now().Add(2 * time.Minute)
	for key == nil {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(g.sshPort)), 5*time.Second)
		if err == nil {
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			ssh.NewClientConn(conn, "guest:22", &ssh.ClientConfig{
				User: "keyscan",
				HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
					key = k
					return io.EOF // stop here: only the key is wanted
				},
			})
			conn.Close()
		}
		if key == nil {
			if time.Now().After(deadline) {
				t.Fatalf("no SSH host key from the guest: %v", err)
			}
			time.Sleep(time.Second)
		}
	}
	return key
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// guestSubresources serves the VM streams of VirtualMachine prod/linux-vm from a real guest,
// as virtualization-apiserver and the local node do: portforward to the guest's port 22
// through qemu's forward, vnc to qemu's VNC socket.
type guestSubresources struct {
	guest *testGuest
}

func (s *guestSubresources) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+streamTestToken {
		writeStatus(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	prefix := "/apis/" + subresourcesGroupVersion + "/namespaces/prod/virtualmachines/"
	vm, sub, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, prefix), "/")
	if !strings.HasPrefix(r.URL.Path, prefix) || vm != "linux-vm" {
		writeStatus(w, http.StatusNotFound, `virtualmachines.virtualization.deckhouse.io "`+vm+`" not found`)
		return
	}
	var network, address string
	switch {
	case sub == "portforward" && r.URL.Query().Get("port") == "22":
		network, address = "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.guest.sshPort))
	case sub == "portforward":
		writeStatus(w, http.StatusServiceUnavailable, "port "+r.URL.Query().Get("port")+" of the VM does not answer")
		return
	case sub == "vnc":
		network, address = "unix", s.guest.machine.VNCSocket()
	default:
		writeStatus(w, http.StatusNotFound, "no subresource "+sub)
		return
	}
	conn, err := net.DialTimeout(network, address, 5*time.Second)
	if err != nil {
		writeStatus(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	defer conn.Close()
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{streamSubprotocol}})
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(-1)
	nc := websocket.NetConn(r.Context(), ws, websocket.MessageBinary)
	done := make(chan struct{}, 2)
	go func() { io.Copy(conn, nc); done <- struct{}{} }()
	go func() { io.Copy(nc, conn); done <- struct{}{} }()
	<-done
	ws.Close(websocket.StatusNormalClosure, "")
}
