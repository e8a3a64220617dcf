package subresources

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/virtplane/virtplane/pkg/localnode/virt"
)

// testTimeout bounds every wait of a test.
const testTimeout = 20 * time.Second

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// socketDir is a short directory for unix sockets (their paths are limited to ~100 bytes).
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "subres")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// fakeServer accepts connections on l and runs serve on each; with oneAtATime it serves one
// connection to its end before accepting the next, as QEMU's socket chardevs do.
type fakeServer struct {
	l          net.Listener
	oneAtATime bool
	serve      func(net.Conn)

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func startFake(t *testing.T, l net.Listener, oneAtATime bool, serve func(net.Conn)) *fakeServer {
	t.Helper()
	s := &fakeServer{l: l, oneAtATime: oneAtATime, serve: serve, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(s.close)
	return s
}

func (s *fakeServer) acceptLoop() {
	defer s.wg.Done()
	for {
		conn, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[conn] = true
		s.mu.Unlock()
		run := func() {
			defer func() {
				conn.Close()
				s.mu.Lock()
				delete(s.conns, conn)
				s.mu.Unlock()
			}()
			s.serve(conn)
		}
		if s.oneAtATime {
			run()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			run()
		}()
	}
}

func (s *fakeServer) close() {
	s.l.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func listenUnix(t *testing.T, path string) net.Listener {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func listenLocal(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func echo(c net.Conn) { _, _ = io.Copy(c, c) }

// startSerial is a fake serial console: an echo that serves one client at a time.
func startSerial(t *testing.T, path string) {
	startFake(t, listenUnix(t, path), true, echo)
}

// rfbGreeting is what a VNC server sends first.
const rfbGreeting = "RFB 003.008\n"

// startVNC is a fake VNC display: it greets, then ignores what the client sends.
func startVNC(t *testing.T, path string) {
	startFake(t, listenUnix(t, path), false, func(c net.Conn) {
		if _, err := io.WriteString(c, rfbGreeting); err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, c)
	})
}

// fakeQMP stands in for QEMU's QMP and user networking: hostfwd_add listens on the host port
// and forwards to guest (the guest port is not parsed: one guest service per test),
// hostfwd_remove stops it. It records the command lines it ran.
type fakeQMP struct {
	t     *testing.T
	guest string

	mu       sync.Mutex
	commands []string
	forwards map[string]*fakeServer
}

func startQMP(t *testing.T, path, guest string) *fakeQMP {
	q := &fakeQMP{t: t, guest: guest, forwards: map[string]*fakeServer{}}
	startFake(t, listenUnix(t, path), true, q.serve)
	t.Cleanup(func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		for _, f := range q.forwards {
			f.close()
		}
	})
	return q
}

func (q *fakeQMP) Commands() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.commands...)
}

func (q *fakeQMP) serve(c net.Conn) {
	enc := json.NewEncoder(c)
	if enc.Encode(map[string]any{"QMP": map[string]any{"version": map[string]any{}, "capabilities": []string{}}}) != nil {
		return
	}
	dec := json.NewDecoder(bufio.NewReader(c))
	for {
		var cmd struct {
			Execute   string            `json:"execute"`
			Arguments map[string]string `json:"arguments"`
		}
		if dec.Decode(&cmd) != nil {
			return
		}
		// An event before the reply, as QEMU may send.
		_ = enc.Encode(map[string]any{"event": "NIC_RX_FILTER_CHANGED", "data": map[string]any{}})
		switch cmd.Execute {
		case "qmp_capabilities":
			_ = enc.Encode(map[string]any{"return": map[string]any{}})
		case "human-monitor-command":
			_ = enc.Encode(map[string]any{"return": q.human(cmd.Arguments["command-line"])})
		default:
			_ = enc.Encode(map[string]any{"error": map[string]string{"class": "CommandNotFound", "desc": "no " + cmd.Execute}})
		}
	}
}

func (q *fakeQMP) human(line string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.commands = append(q.commands, line)
	verb, rule, _ := strings.Cut(line, " ")
	switch verb {
	case "hostfwd_add": // tcp:127.0.0.1:HOST-:GUEST
		host, _, _ := strings.Cut(strings.TrimPrefix(rule, "tcp:"), "-")
		l, err := net.Listen("tcp", host)
		if err != nil {
			return "could not set up host forwarding rule '" + rule + "'\r\n"
		}
		q.forwards[host] = startForward(l, q.guest)
		return ""
	case "hostfwd_remove": // tcp:127.0.0.1:HOST
		host := strings.TrimPrefix(rule, "tcp:")
		f, ok := q.forwards[host]
		if !ok {
			return "host forwarding rule for " + rule + " not found\r\n"
		}
		f.close()
		delete(q.forwards, host)
		return "host forwarding rule for " + rule + " removed\r\n"
	}
	return "unknown command: '" + verb + "'\r\n"
}

// startForward relays each connection of l to guest, as slirp does.
func startForward(l net.Listener, guest string) *fakeServer {
	s := &fakeServer{l: l, conns: map[net.Conn]bool{}, serve: func(c net.Conn) {
		g, err := net.Dial("tcp", guest)
		if err != nil {
			return
		}
		defer g.Close()
		go func() { _, _ = io.Copy(g, c); g.Close() }()
		_, _ = io.Copy(c, g)
	}}
	s.wg.Add(1)
	go s.acceptLoop()
	return s
}

// newServer serves the handler for the VMs of vms (keyed namespace/name).
func newServer(t *testing.T, vms map[string]virt.Sockets, opts ...Option) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(func(namespace, name string) (virt.Sockets, bool) {
		s, ok := vms[namespace+"/"+name]
		return s, ok
	}, opts...))
	t.Cleanup(srv.Close)
	return srv
}

func vmiURL(srv *httptest.Server, namespace, name, subresource string) string {
	return srv.URL + groupVersionPath + "/namespaces/" + namespace + "/virtualmachineinstances/" + name + "/" + subresource
}

// dialStream opens a stream as virtctl does, with the plain.kubevirt.io subprotocol.
func dialStream(t *testing.T, ctx context.Context, url string) *websocket.Conn {
	t.Helper()
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{PlainSubprotocol}})
	if err != nil {
		t.Fatalf("dial %s: %v (response %v)", url, err, statusOf(resp))
	}
	t.Cleanup(func() { ws.CloseNow() })
	if got := ws.Subprotocol(); got != PlainSubprotocol {
		t.Errorf("subprotocol = %q, want %q", got, PlainSubprotocol)
	}
	return ws
}

func statusOf(resp *http.Response) string {
	if resp == nil {
		return "none"
	}
	return strconv.Itoa(resp.StatusCode)
}

// readBytes reads binary messages until n bytes arrived.
func readBytes(t *testing.T, ctx context.Context, ws *websocket.Conn, n int) string {
	t.Helper()
	var got []byte
	for len(got) < n {
		typ, msg, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("read after %q: %v", got, err)
		}
		if typ != websocket.MessageBinary {
			t.Fatalf("message type %v, want binary", typ)
		}
		got = append(got, msg...)
	}
	return string(got)
}

// roundTrip sends msg and expects an echo.
func roundTrip(t *testing.T, ctx context.Context, ws *websocket.Conn, msg string) {
	t.Helper()
	if err := ws.Write(ctx, websocket.MessageBinary, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	if got := readBytes(t, ctx, ws, len(msg)); got != msg {
		t.Fatalf("echo = %q, want %q", got, msg)
	}
}

// getStatus GETs url without upgrading and decodes the error Status.
func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	return requestStatus(t, url, nil)
}

// upgradeStatus asks url for a websocket, as a client's handshake does, and decodes the
// Status that refuses it.
func upgradeStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	return requestStatus(t, url, http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"},
		"Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}})
}

func requestStatus(t *testing.T, url string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Kind    string `json:"kind"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("GET %s: %d with a body that is no Status: %v", url, resp.StatusCode, err)
	}
	if st.Kind != "Status" {
		t.Errorf("GET %s: kind %q, want Status", url, st.Kind)
	}
	return resp.StatusCode, st.Message
}

// vmSockets are the socket paths of a fake VM in dir.
func vmSockets(dir string) virt.Sockets {
	return virt.Sockets{
		Serial: filepath.Join(dir, "serial.sock"),
		VNC:    filepath.Join(dir, "vnc.sock"),
		QMP:    filepath.Join(dir, "qmp.sock"),
	}
}

// waitFor polls cond, a bounded number of times.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

var errNoClose = errors.New("no close")

func closeStatus(err error) (websocket.StatusCode, string, error) {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Reason, nil
	}
	return -1, "", fmt.Errorf("%w: %v", errNoClose, err)
}
