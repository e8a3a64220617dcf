package platform

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// The two API paths to a VM's streams: our group and the group the upstream d8 calls.
const (
	mainGroupPath     = "/apis/virtualization.deckhouse.io/v1alpha2"
	upstreamGroupPath = "/apis/subresources.virtualization.deckhouse.io/v1alpha2"
	upstreamProtocol  = "plain.virtualization.deckhouse.io"
)

// TestConnectToAVM is the guide's "Connecting to a virtual machine" as an edit user of the
// VM's namespace: the serial console logs in with cloud/cloud, `d8 v ssh --local-ssh` runs
// nproc, port-forward reaches a port the guest serves, VNC speaks RFB and sends a screen, a
// second console session takes over the first. Users without the right get 403, and a VM
// that is not running gets 409.
func TestConnectToAVM(t *testing.T) {
	ns := namespace(t, "vm-connect")
	other := namespace(t, "vm-connect-other")
	guestDisk(t, ns, "guest", "linux-disk")
	deleteVMs(t, ns, "linux-vm", "stopped-vm")
	token := randomHex(t, 8)
	mustKubectl(t, vmManifest(ns, "linux-vm", "AlwaysOnUnlessStoppedManually", 1, "linux-disk",
		userData(`echo "NPROC=$(nproc)" > /dev/console`,
			`mkdir -p /srv/www && echo `+token+` > /srv/www/token.txt && httpd -p 8080 -h /srv/www`)), "apply", "-f", "-")
	// A VM that never runs: AlwaysOff with a disk of its own.
	guestDisk(t, ns, "guest", "stopped-disk")
	mustKubectl(t, vmManifest(ns, "stopped-vm", "AlwaysOff", 1, "stopped-disk", ""), "apply", "-f", "-")

	// alice edits this namespace, bob views it, carol edits another one.
	mustKubectl(t, "", "-n", ns, "create", "rolebinding", "alice-edit", "--clusterrole=edit", "--user=alice")
	mustKubectl(t, "", "-n", ns, "create", "rolebinding", "bob-view", "--clusterrole=view", "--user=bob")
	mustKubectl(t, "", "-n", other, "create", "rolebinding", "carol-edit", "--clusterrole=edit", "--user=carol")
	alice := kubeconfigAs(t, "alice")

	waitVM(t, ns, "linux-vm", 3*time.Minute, "Running", phaseIs(v1alpha2.MachineRunning))
	uid := vmiUID(t, ns, "linux-vm")
	waitSerial(t, ns, "linux-vm", uid, regexp.MustCompile(`linux-vm login:`), 2*time.Minute)
	nproc := strings.TrimPrefix(waitSerial(t, ns, "linux-vm", uid, nprocRe, time.Minute), "NPROC=")

	t.Run("console", func(t *testing.T) {
		consoleLogin(t, alice, ns, "linux-vm")
	})

	t.Run("ssh", func(t *testing.T) {
		out := sshNproc(t, alice, ns, "linux-vm")
		if got := lastLine(out); got != nproc {
			t.Errorf("d8 v ssh --local-ssh --command nproc printed %q, the guest has %s CPUs:\n%s", got, nproc, out)
		}
	})

	t.Run("port-forward", func(t *testing.T) {
		port := freeLocalPort(t)
		c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(c, filepath.Join(bin, "d8"), "v", "port-forward", "-n", ns, "linux-vm",
			strconv.Itoa(port)+":8080")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+alice)
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		body, err := getWithRetry(c, "http://127.0.0.1:"+strconv.Itoa(port)+"/token.txt", time.Minute)
		if err != nil {
			t.Fatalf("GET through d8 v port-forward: %v\nd8 printed:\n%s", err, out.String())
		}
		if strings.TrimSpace(body) != token {
			t.Errorf("the guest's httpd served %q through port-forward, want %q", body, token)
		}
	})

	t.Run("vnc", func(t *testing.T) {
		ws := mustDial(t, "alice", upstreamGroupPath, ns, "linux-vm", "vnc", nil)
		defer ws.CloseNow()
		w, h := rfbHandshake(t, websocket.NetConn(context.Background(), ws, websocket.MessageBinary))
		if w == 0 || h == 0 {
			t.Errorf("the guest's screen is %dx%d", w, h)
		}
	})

	t.Run("takeover", func(t *testing.T) {
		first := mustDial(t, "alice", upstreamGroupPath, ns, "linux-vm", "console", nil)
		defer first.CloseNow()
		// The probe says alice holds the console.
		probe := probeSession(t, ns, "linux-vm", "console")
		var session struct {
			Holder    string `json:"holder"`
			StartTime string `json:"startTime"`
		}
		if err := json.Unmarshal([]byte(probe), &session); err != nil || session.Holder != "alice" || session.StartTime == "" {
			t.Errorf("?probe=true while alice holds the console answered %s", probe)
		}
		second := mustDial(t, "admin", mainGroupPath, ns, "linux-vm", "console", nil)
		defer second.CloseNow()
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var err error
		for err == nil {
			_, _, err = first.Read(c)
		}
		var closeErr websocket.CloseError
		if !errors.As(err, &closeErr) || closeErr.Code != websocket.StatusGoingAway || !strings.Contains(closeErr.Reason, "admin") {
			t.Errorf("the first console session ended with %v, want close 1001 (going away, as the upstream d8 expects) naming admin", err)
		}
		// The VM says so in an Event, for the user who was disconnected.
		var events string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			events = mustKubectl(t, "", "-n", ns, "get", "events", "--field-selector",
				"reason=SessionTakenOver,involvedObject.kind=VirtualMachine,involvedObject.name=linux-vm", "-o", "jsonpath={.items[*].message}")
			if strings.Contains(events, "alice") && strings.Contains(events, "admin") {
				break
			}
		}
		if !strings.Contains(events, "alice") || !strings.Contains(events, "admin") {
			t.Errorf("no SessionTakenOver Event on the VM naming alice and admin: %q", events)
		}
		// The new holder gets the guest: the shell the console subtest left, or a login prompt.
		if err := second.Write(c, websocket.MessageBinary, []byte("echo TAKEOVER-$((6*7))\r")); err != nil {
			t.Fatal(err)
		}
		if got := readUntil(c, second, regexp.MustCompile(`TAKEOVER-42|login:`)); !regexp.MustCompile(`TAKEOVER-42|login:`).MatchString(got) {
			t.Errorf("the session that took over read %q, want the guest's answer", got)
		}
	})

	t.Run("refused", func(t *testing.T) {
		for _, c := range []struct{ user, group, sub string }{
			{"bob", upstreamGroupPath, "console"}, // view
			{"bob", mainGroupPath, "vnc"},
			{"bob", mainGroupPath, "portforward"},
			{"carol", upstreamGroupPath, "console"}, // edit elsewhere
			{"carol", mainGroupPath, "vnc"},
		} {
			q := url.Values{}
			if c.sub == "portforward" {
				q.Set("port", "22")
			}
			_, code, msg := dial(t, c.user, c.group, ns, "linux-vm", c.sub, q)
			if code != http.StatusForbidden {
				t.Errorf("%s on %s %s: HTTP %d %s, want 403", c.user, c.group, c.sub, code, msg)
			}
		}
	})

	t.Run("stopped", func(t *testing.T) {
		waitVM(t, ns, "stopped-vm", time.Minute, "Stopped", phaseIs(v1alpha2.MachineStopped))
		for _, group := range []string{mainGroupPath, upstreamGroupPath} {
			_, code, msg := dial(t, "alice", group, ns, "stopped-vm", "console", nil)
			if code != http.StatusConflict || !strings.Contains(msg, "stopped-vm") {
				t.Errorf("console of a stopped VM on %s: HTTP %d %q, want 409 naming the VM", group, code, msg)
			}
		}
		out, err := d8As(t, alice, "v", "console", "-n", ns, "stopped-vm", "--timeout=3s")
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("d8 v console of a stopped VM with --timeout=3s: %v, want exit status 2:\n%s", err, out)
		}
	})
}

// consoleLogin runs `d8 v console` as the guide shows, logs in as cloud/cloud and reads a
// command's output back, then leaves with ^].
func consoleLogin(t *testing.T, kubeconfig, ns, vm string) {
	c, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, filepath.Join(bin, "d8"), "v", "console", "-n", ns, vm)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	// Each step types a line until the guest answers with what follows it.
	step := func(typed string, want *regexp.Regexp, after int) int {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			if _, err := io.WriteString(stdin, typed); err != nil {
				t.Fatalf("typing %q: %v", typed, err)
			}
			for i := 0; i < 20; i++ {
				if loc := want.FindStringIndex(out.String()[after:]); loc != nil {
					return after + loc[1]
				}
				time.Sleep(250 * time.Millisecond)
			}
			if typed != "\r" {
				break // type a login or password once
			}
		}
		t.Fatalf("the console did not show %s after typing %q:\n%s", want, typed, out.String())
		return 0
	}
	at := step("\r", regexp.MustCompile(`login: $`), 0)
	at = step("cloud\r", regexp.MustCompile(`Password: $`), at)
	at = step("cloud\r", regexp.MustCompile(`[$#] $`), at)
	step("echo CONSOLE-$((6*7))\r", regexp.MustCompile(`\nCONSOLE-42\r?\n`), at)
	if _, err := stdin.Write([]byte{0x1d}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("d8 v console after ^]: %v", err)
		}
	case <-c.Done():
		t.Fatalf("d8 v console did not exit after ^]")
	}
	if want := fmt.Sprintf("Successfully connected to %s console. The escape sequence is ^]", vm); !strings.Contains(out.String(), want) {
		t.Errorf("d8 v console did not print %q:\n%s", want, out.String())
	}
}

// sshNproc runs the guide's `d8 v ssh cloud@VM --local-ssh --command "nproc"` with OpenSSH,
// answering the password prompt with cloud through SSH_ASKPASS.
func sshNproc(t *testing.T, kubeconfig, ns, vm string) string {
	t.Helper()
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Fatalf("OpenSSH's ssh is required: %v", err)
	}
	askpass := filepath.Join(t.TempDir(), "askpass")
	if err := os.WriteFile(askpass, []byte("#!/bin/sh\necho cloud\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, filepath.Join(bin, "d8"), "v", "ssh", "cloud@"+vm+"."+ns, "--local-ssh",
		// Each -t is one argument of ssh, as upstream d8 passes them.
		"-t", "-oStrictHostKeyChecking=no", "-t", "-oUserKnownHostsFile=/dev/null", "-t", "-oPreferredAuthentications=password",
		"--command", "nproc")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "SSH_ASKPASS="+askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0")
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("d8 v ssh --local-ssh --command nproc: %v\n%s", err, out)
	}
	return string(out)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(s, "\r", "")), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// kubeconfigAs writes a copy of the admin kubeconfig that impersonates user, as a user's own
// kubeconfig would authenticate them.
func kubeconfigAs(t *testing.T, user string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(stack.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range cfg.AuthInfos {
		u.Impersonate = user
	}
	path := filepath.Join(t.TempDir(), user+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// d8As runs our CLI with another kubeconfig.
func d8As(t *testing.T, kubeconfig string, args ...string) (string, error) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, filepath.Join(bin, "d8"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// streamClient is an HTTP/1.1 client of kube-apiserver impersonating user ("admin" is the
// admin itself).
func streamClient(t *testing.T, user string) (*http.Client, string) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", stack.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if user != "admin" {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	}
	tlsConfig, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig.NextProtos = []string{"http/1.1"}
	rt, err := rest.HTTPWrappersForConfig(cfg, &http.Transport{TLSClientConfig: tlsConfig})
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: rt}, cfg.Host
}

// dial opens a VM's stream through kube-apiserver as user, offering the upstream CLI's
// subprotocol. When the server refuses, it returns the HTTP status and the Status message.
func dial(t *testing.T, user, groupPath, ns, vm, sub string, q url.Values) (*websocket.Conn, int, string) {
	t.Helper()
	client, host := streamClient(t, user)
	u := host + groupPath + "/namespaces/" + ns + "/virtualmachines/" + vm + "/" + sub
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(c, u, &websocket.DialOptions{HTTPClient: client, Subprotocols: []string{upstreamProtocol}})
	if err == nil {
		ws.SetReadLimit(-1)
		return ws, http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		t.Fatalf("dialing %s: %v", u, err)
	}
	body, _ := io.ReadAll(resp.Body)
	var status struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &status)
	return nil, resp.StatusCode, status.Message
}

func mustDial(t *testing.T, user, groupPath, ns, vm, sub string, q url.Values) *websocket.Conn {
	t.Helper()
	ws, code, msg := dial(t, user, groupPath, ns, vm, sub, q)
	if ws == nil {
		t.Fatalf("%s could not open %s of %s/%s on %s: HTTP %d %s", user, sub, ns, vm, groupPath, code, msg)
	}
	if ws.Subprotocol() != upstreamProtocol {
		t.Errorf("the server chose subprotocol %q, want %s", ws.Subprotocol(), upstreamProtocol)
	}
	return ws
}

// probeSession asks who holds a VM's console or VNC session (a plain GET with ?probe=true).
func probeSession(t *testing.T, ns, vm, sub string) string {
	t.Helper()
	out := mustKubectl(t, "", "get", "--raw", upstreamGroupPath+"/namespaces/"+ns+"/virtualmachines/"+vm+"/"+sub+"?probe=true")
	return out
}

// readUntil reads a stream until re matches what came, the context ends or the stream closes.
func readUntil(ctx context.Context, ws *websocket.Conn, re *regexp.Regexp) string {
	var got bytes.Buffer
	for !re.Match(got.Bytes()) {
		_, data, err := ws.Read(ctx)
		if err != nil {
			break
		}
		got.Write(data)
	}
	return got.String()
}

// rfbHandshake speaks the client side of RFB 3.8 with no authentication, asks for the whole
// screen and checks a framebuffer update with at least one rectangle comes back. It returns
// the screen's size.
func rfbHandshake(t *testing.T, conn net.Conn) (width, height uint16) {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	version := make([]byte, 12)
	if _, err := io.ReadFull(conn, version); err != nil {
		t.Fatalf("reading the RFB version: %v", err)
	}
	if string(version) != "RFB 003.008\n" {
		t.Fatalf("the VNC server greeted with %q, want RFB 003.008", version)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := conn.Write(version)
	must(err)
	var n [1]byte
	_, err = io.ReadFull(conn, n[:])
	must(err)
	types := make([]byte, n[0])
	_, err = io.ReadFull(conn, types)
	must(err)
	if !bytes.Contains(types, []byte{1}) {
		t.Fatalf("security types %v lack None (1)", types)
	}
	_, err = conn.Write([]byte{1})
	must(err)
	var result uint32
	must(binary.Read(conn, binary.BigEndian, &result))
	if result != 0 {
		t.Fatalf("security result %d", result)
	}
	_, err = conn.Write([]byte{1}) // ClientInit: shared
	must(err)
	var init struct {
		Width, Height uint16
		PixelFormat   [16]byte
		NameLength    uint32
	}
	must(binary.Read(conn, binary.BigEndian, &init))
	_, err = io.CopyN(io.Discard, conn, int64(init.NameLength))
	must(err)
	req := []byte{3, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(req[6:], init.Width)
	binary.BigEndian.PutUint16(req[8:], init.Height)
	_, err = conn.Write(req)
	must(err)
	var update struct {
		Type       uint8
		Padding    uint8
		Rectangles uint16
	}
	must(binary.Read(conn, binary.BigEndian, &update))
	if update.Type != 0 || update.Rectangles == 0 {
		t.Fatalf("after a FramebufferUpdateRequest the server sent message type %d with %d rectangles, want a FramebufferUpdate",
			update.Type, update.Rectangles)
	}
	return init.Width, init.Height
}

func getWithRetry(ctx context.Context, u string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(body), nil
			}
			err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
		}
		last = err
		time.Sleep(time.Second)
	}
	return "", last
}

func freeLocalPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
