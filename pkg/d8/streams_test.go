package d8

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const streamTestToken = "s3cret"

// fakeSubresources imitates the VM streams of the API server: per VM name, a behaviour.
type fakeSubresources struct {
	mu       sync.Mutex
	attempts map[string]int
}

func (f *fakeSubresources) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+streamTestToken {
		writeStatus(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	prefix := "/apis/" + subresourcesGroupVersion + "/namespaces/prod/virtualmachines/"
	vm, sub, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, prefix), "/")
	if !strings.HasPrefix(r.URL.Path, prefix) || !ok {
		writeStatus(w, http.StatusNotFound, "the server could not find the requested resource")
		return
	}
	if vm == "missing-vm" {
		writeStatus(w, http.StatusNotFound, `virtualmachines.virtualization.deckhouse.io "missing-vm" not found`)
		return
	}
	if r.URL.Query().Get("probe") == "true" {
		session := vmSession{}
		if vm == "held-vm" {
			session = vmSession{Open: true, Holder: "alice", StartTime: &metav1.Time{Time: time.Now().Add(-90 * time.Second)}}
		}
		json.NewEncoder(w).Encode(session)
		return
	}
	f.mu.Lock()
	f.attempts[vm]++
	attempt := f.attempts[vm]
	f.mu.Unlock()
	if (vm == "booting-vm" && attempt <= 2) || vm == "stopped-vm" {
		writeStatus(w, http.StatusServiceUnavailable, "VirtualMachine prod/"+vm+" is not Running")
		return
	}
	if sub == "portforward" && (r.URL.Query().Get("port") != "22" || r.URL.Query().Get("protocol") != "tcp") {
		writeStatus(w, http.StatusBadRequest, "bad port-forward options "+r.URL.RawQuery)
		return
	}
	if !strings.Contains(r.Header.Get("Sec-WebSocket-Protocol"), streamSubprotocol) {
		writeStatus(w, http.StatusBadRequest, "missing subprotocol")
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{streamSubprotocol}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	switch {
	case sub == "console" && vm == "busy-vm":
		c.Write(ctx, websocket.MessageBinary, []byte("login: "))
		c.Close(websocket.StatusPolicyViolation, "the console was taken over by another client")
		return
	case sub == "vnc":
		if c.Write(ctx, websocket.MessageBinary, []byte("RFB 003.008\n")) != nil {
			return
		}
	case sub != "console" && sub != "portforward":
		c.Close(websocket.StatusPolicyViolation, "unknown subresource "+sub)
		return
	}
	echo(ctx, c)
}

// echo sends every binary message back.
func echo(ctx context.Context, c *websocket.Conn) {
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageBinary {
			c.Close(websocket.StatusUnsupportedData, "binary messages only")
			return
		}
		if c.Write(ctx, websocket.MessageBinary, data) != nil {
			return
		}
	}
}

func writeStatus(w http.ResponseWriter, code int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Message: message, Code: int32(code),
	})
}

// startStreamServer serves the fake on 127.0.0.1 over TLS, offering HTTP/2 as kube-apiserver
// does, and writes a kubeconfig for it with prod as the namespace.
func startStreamServer(t *testing.T) string {
	t.Helper()
	return serveStreams(t, &fakeSubresources{attempts: map[string]int{}})
}

// serveStreams serves h on 127.0.0.1 over TLS, offering HTTP/2 as kube-apiserver does, and
// writes a kubeconfig for it (token streamTestToken, namespace prod).
func serveStreams(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: srv.URL, CertificateAuthorityData: ca}
	cfg.AuthInfos["user"] = &clientcmdapi.AuthInfo{Token: streamTestToken}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "user", Namespace: "prod"}
	cfg.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer is written by the command while the test reads it.
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

// running is a d8 started in the background.
type running struct {
	out, errOut *syncBuffer
	done        chan int
}

func startD8(ctx context.Context, in io.Reader, out io.Writer, args ...string) *running {
	r := &running{out: &syncBuffer{}, errOut: &syncBuffer{}, done: make(chan int, 1)}
	if out == nil {
		out = r.out
	}
	go func() {
		cmd := NewCommand(Streams{In: in, Out: out, ErrOut: r.errOut})
		cmd.SetArgs(args)
		err := cmd.ExecuteContext(ctx)
		var exit *exitError
		switch {
		case errors.As(err, &exit):
			r.done <- exit.code
		case err != nil:
			r.errOut.Write([]byte("error: " + err.Error() + "\n"))
			r.done <- 1
		default:
			r.done <- 0
		}
	}()
	return r
}

// exitCode waits (bounded) for the command to end.
func (r *running) exitCode(t *testing.T) int {
	t.Helper()
	return r.exitCodeWithin(t, 20*time.Second)
}

// exitCodeWithin waits up to timeout for the command to end.
func (r *running) exitCodeWithin(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case code := <-r.done:
		return code
	case <-time.After(timeout):
		t.Fatalf("d8 did not exit; stderr %q", r.errOut.String())
		return -1
	}
}

// waitFor polls (bounded) until get() matches re, and returns the match.
func waitFor(t *testing.T, what string, get func() string, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(get()); m != nil {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: %q never matched %s", what, get(), re)
	return nil
}

func TestConsole(t *testing.T) {
	kubeconfig := startStreamServer(t)
	defer func(old time.Duration) { streamRetryInterval = old }(streamRetryInterval)
	streamRetryInterval = 50 * time.Millisecond
	ctx := context.Background()

	t.Run("bytes go both ways and ^] exits 0", func(t *testing.T) {
		stdin, keys := io.Pipe()
		defer keys.Close()
		d8 := startD8(ctx, stdin, nil, "v", "console", "--kubeconfig", kubeconfig, "linux-vm")
		waitFor(t, "stderr", d8.errOut.String, regexp.MustCompile(`Successfully connected to linux-vm console\. The escape sequence is \^\]`))
		keys.Write([]byte("uname -a\r"))
		waitFor(t, "stdout", d8.out.String, regexp.MustCompile(`uname -a\r`))
		keys.Write([]byte("ls\x1dnot sent"))
		if code := d8.exitCode(t); code != 0 {
			t.Fatalf("exit %d, stderr %q", code, d8.errOut.String())
		}
		if strings.Contains(d8.out.String(), "not sent") {
			t.Errorf("bytes after ^] reached the VM: %q", d8.out.String())
		}
	})

	t.Run("says whom it takes the console from; --force does not ask", func(t *testing.T) {
		for _, force := range []bool{false, true} {
			stdin, keys := io.Pipe()
			args := []string{"v", "console", "--kubeconfig", kubeconfig, "held-vm"}
			if force {
				args = append(args, "--force")
			}
			d8 := startD8(ctx, stdin, nil, args...)
			waitFor(t, "stderr", d8.errOut.String, regexp.MustCompile(`Successfully connected to held-vm console`))
			keys.Write([]byte{escapeKey})
			if code := d8.exitCode(t); code != 0 {
				t.Fatalf("exit %d, stderr %q", code, d8.errOut.String())
			}
			keys.Close()
			warned := regexp.MustCompile(`alice has been using the serial console of VirtualMachine prod/held-vm since \S+ \(1m3\ds ago\); connecting disconnects them\.`).MatchString(d8.errOut.String())
			if warned == force {
				t.Errorf("--force=%v: the warning about alice printed: %v; stderr %q", force, warned, d8.errOut.String())
			}
		}
	})

	t.Run("retries while the VM is not running", func(t *testing.T) {
		stdin, keys := io.Pipe()
		defer keys.Close()
		d8 := startD8(ctx, stdin, nil, "v", "console", "--kubeconfig", kubeconfig, "booting-vm.prod")
		waitFor(t, "stderr", d8.errOut.String, regexp.MustCompile(`(?s)Waiting for the console of VirtualMachine prod/booting-vm: VirtualMachine prod/booting-vm is not Running.*Successfully connected to booting-vm console`))
		keys.Write([]byte("root\r"))
		waitFor(t, "stdout", d8.out.String, regexp.MustCompile(`root\r`))
		keys.Write([]byte{escapeKey})
		if code := d8.exitCode(t); code != 0 {
			t.Fatalf("exit %d, stderr %q", code, d8.errOut.String())
		}
	})

	t.Run("--timeout gives up with exit 2 and the server's message", func(t *testing.T) {
		stdin, keys := io.Pipe()
		defer keys.Close()
		d8 := startD8(ctx, stdin, nil, "v", "console", "--kubeconfig", kubeconfig, "--timeout", "400ms", "stopped-vm")
		if code := d8.exitCode(t); code != ExitWaitTimedOut {
			t.Fatalf("exit %d, want %d; stderr %q", code, ExitWaitTimedOut, d8.errOut.String())
		}
		if !strings.Contains(d8.errOut.String(), "gave up after 400ms waiting for the console of VirtualMachine prod/stopped-vm: VirtualMachine prod/stopped-vm is not Running") {
			t.Errorf("stderr %q", d8.errOut.String())
		}
	})

	t.Run("a missing VM exits 1 at once", func(t *testing.T) {
		d8 := startD8(ctx, strings.NewReader(""), nil, "v", "console", "--kubeconfig", kubeconfig, "missing-vm")
		if code := d8.exitCode(t); code != 1 {
			t.Fatalf("exit %d, stderr %q", code, d8.errOut.String())
		}
		if !strings.Contains(d8.errOut.String(), `"missing-vm" not found`) {
			t.Errorf("stderr %q", d8.errOut.String())
		}
	})

	t.Run("a takeover closes the session with exit 3 and the reason", func(t *testing.T) {
		stdin, keys := io.Pipe()
		defer keys.Close()
		d8 := startD8(ctx, stdin, nil, "v", "console", "--kubeconfig", kubeconfig, "-n", "prod", "busy-vm")
		if code := d8.exitCode(t); code != ExitSessionClosed {
			t.Fatalf("exit %d, want %d; stderr %q", code, ExitSessionClosed, d8.errOut.String())
		}
		if !strings.Contains(d8.errOut.String(), "the console was taken over by another client") {
			t.Errorf("stderr %q", d8.errOut.String())
		}
		if d8.out.String() != "login: " {
			t.Errorf("stdout %q, want the console's output", d8.out.String())
		}
	})
}

func TestVNCProxyOnly(t *testing.T) {
	kubeconfig := startStreamServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d8 := startD8(ctx, strings.NewReader(""), nil, "v", "vnc", "--kubeconfig", kubeconfig, "--proxy-only", "linux-vm")
	line := waitFor(t, "stdout", d8.out.String, regexp.MustCompile(`^(\{.*\})\n`))[1]
	var printed struct{ Port int }
	if err := json.Unmarshal([]byte(line), &printed); err != nil || printed.Port == 0 {
		t.Fatalf("stdout %q: %v", line, err)
	}
	for range 2 { // each connection is its own stream
		conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(printed.Port)), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		greeting := make([]byte, len("RFB 003.008\n"))
		if _, err := io.ReadFull(conn, greeting); err != nil || string(greeting) != "RFB 003.008\n" {
			t.Fatalf("read %q: %v; stderr %q", greeting, err, d8.errOut.String())
		}
		assertEcho(t, conn, conn, "RFB 003.008\n")
		conn.Close()
	}
	cancel()
	if code := d8.exitCode(t); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, d8.errOut.String())
	}
}

func TestPortForward(t *testing.T) {
	kubeconfig := startStreamServer(t)

	t.Run("LOCAL:REMOTE", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		d8 := startD8(ctx, strings.NewReader(""), nil, "v", "port-forward", "--kubeconfig", kubeconfig, "linux-vm.prod", "0:22")
		addr := waitFor(t, "stdout", d8.out.String, regexp.MustCompile(`Forwarding from (127\.0\.0\.1:\d+) -> 22\n`))[1]
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		assertEcho(t, conn, conn, "SSH-2.0-OpenSSH_9.6\r\n")
		conn.Close()
		cancel()
		if code := d8.exitCode(t); code != 0 {
			t.Fatalf("exit %d, stderr %q", code, d8.errOut.String())
		}
	})

	t.Run("--stdio", func(t *testing.T) {
		stdin, toRemote := io.Pipe()
		fromRemote, stdout := io.Pipe()
		defer fromRemote.Close()
		d8 := startD8(context.Background(), stdin, stdout, "v", "port-forward", "--kubeconfig", kubeconfig, "--stdio", "linux-vm", "22")
		// Bounds the reads below if d8 stops forwarding.
		timer := time.AfterFunc(15*time.Second, func() { fromRemote.Close(); toRemote.Close() })
		defer timer.Stop()
		assertEcho(t, toRemote, fromRemote, "SSH-2.0-OpenSSH_9.6\r\n")
		toRemote.Close() // ssh is done
		if code := d8.exitCode(t); code != 0 {
			t.Fatalf("exit %d, stderr %q", code, d8.errOut.String())
		}
	})

	t.Run("the remote port is passed to the server", func(t *testing.T) {
		d8 := startD8(context.Background(), strings.NewReader(""), nil, "v", "port-forward", "--kubeconfig", kubeconfig, "--stdio", "linux-vm", "tcp/23")
		if code := d8.exitCode(t); code != 1 || !strings.Contains(d8.errOut.String(), "port=23") {
			t.Fatalf("exit %d, stderr %q", code, d8.errOut.String())
		}
	})
}

// assertEcho writes msg and expects it back.
func assertEcho(t *testing.T, w io.Writer, r io.Reader, msg string) {
	t.Helper()
	if _, err := w.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(r, got); err != nil || string(got) != msg {
		t.Fatalf("echo %q: %v", got, err)
	}
}
