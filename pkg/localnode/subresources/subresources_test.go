package subresources

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/coder/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/virtplane/virtplane/pkg/localnode/virt"
)

func TestDiscoveryListsTheStreamSubresources(t *testing.T) {
	srv := newServer(t, nil)
	resp, err := http.Get(srv.URL + "/apis/subresources.kubevirt.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var list metav1.APIResourceList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if list.GroupVersion != "subresources.kubevirt.io/v1" {
		t.Errorf("groupVersion = %q", list.GroupVersion)
	}
	names := map[string]bool{}
	for _, r := range list.APIResources {
		names[r.Name] = r.Namespaced
	}
	for _, want := range []string{"virtualmachineinstances/console", "virtualmachineinstances/vnc", "virtualmachineinstances/portforward"} {
		if namespaced, ok := names[want]; !ok || !namespaced {
			t.Errorf("%s missing or not namespaced in %v", want, names)
		}
	}

	for _, path := range []string{"/healthz", "/apis/subresources.kubevirt.io/v1/healthz"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", path, resp.StatusCode)
		}
	}
}

func TestConsoleBridgesTheSerialPort(t *testing.T) {
	ctx := testContext(t)
	sockets := vmSockets(socketDir(t))
	startSerial(t, sockets.Serial)
	srv := newServer(t, map[string]virt.Sockets{"ns/vm": sockets})

	ws := dialStream(t, ctx, vmiURL(srv, "ns", "vm", "console"))
	roundTrip(t, ctx, ws, "root\r\n")
	roundTrip(t, ctx, ws, "\x00\xff binary too\x1b[0m")
	if err := ws.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("close: %v", err)
	}
}

func TestConsoleWithoutSubprotocol(t *testing.T) {
	ctx := testContext(t)
	sockets := vmSockets(socketDir(t))
	startSerial(t, sockets.Serial)
	srv := newServer(t, map[string]virt.Sockets{"ns/vm": sockets})

	ws, _, err := websocket.Dial(ctx, vmiURL(srv, "ns", "vm", "console"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	roundTrip(t, ctx, ws, "hello")
}

func TestVNCSendsTheRFBGreeting(t *testing.T) {
	ctx := testContext(t)
	sockets := vmSockets(socketDir(t))
	startVNC(t, sockets.VNC)
	srv := newServer(t, map[string]virt.Sockets{"ns/vm": sockets})

	ws := dialStream(t, ctx, vmiURL(srv, "ns", "vm", "vnc"))
	if got := readBytes(t, ctx, ws, len(rfbGreeting)); got != rfbGreeting {
		t.Errorf("greeting = %q, want %q", got, rfbGreeting)
	}
}

func TestNewConsoleSessionTakesOver(t *testing.T) {
	ctx := testContext(t)
	sockets := vmSockets(socketDir(t))
	startSerial(t, sockets.Serial)
	srv := newServer(t, map[string]virt.Sockets{"ns/vm": sockets})
	url := vmiURL(srv, "ns", "vm", "console")

	first := dialStream(t, ctx, url)
	roundTrip(t, ctx, first, "first\n")
	// The first client keeps reading, as a terminal does, and so sees its session end.
	firstEnd := make(chan error, 1)
	go func() {
		for {
			if _, _, err := first.Read(ctx); err != nil {
				firstEnd <- err
				return
			}
		}
	}()

	second := dialStream(t, ctx, url)
	select {
	case err := <-firstEnd:
		code, reason, err := closeStatus(err)
		if err != nil {
			t.Fatalf("first session: %v", err)
		}
		if code != websocket.StatusPolicyViolation || !strings.Contains(reason, "another console session took over") {
			t.Errorf("first session closed with %v %q", code, reason)
		}
	case <-ctx.Done():
		t.Fatal("the first session was not closed")
	}
	// The fake serial serves one client at a time: the echo proves the second has it.
	roundTrip(t, ctx, second, "second\n")
}

func TestPlainRequestLeavesTheConsoleSessionAlone(t *testing.T) {
	ctx := testContext(t)
	sockets := vmSockets(socketDir(t))
	startSerial(t, sockets.Serial)
	srv := newServer(t, map[string]virt.Sockets{"ns/vm": sockets})
	url := vmiURL(srv, "ns", "vm", "console")

	ws := dialStream(t, ctx, url)
	roundTrip(t, ctx, ws, "first\n")
	if code, msg := getStatus(t, url); code != http.StatusUpgradeRequired || !strings.Contains(msg, "websocket") {
		t.Errorf("plain GET: %d %q", code, msg)
	}
	roundTrip(t, ctx, ws, "still mine\n")
}

func TestErrorsBeforeTheUpgrade(t *testing.T) {
	dir := socketDir(t)
	// A VM whose sockets nobody listens on: its QEMU is gone.
	srv := newServer(t, map[string]virt.Sockets{"ns/dead": vmSockets(dir)})

	for _, tc := range []struct {
		name, url   string
		code        int
		wantMessage string
	}{
		{"unknown VM console", vmiURL(srv, "ns", "missing", "console"), http.StatusNotFound, "ns/missing"},
		{"unknown VM vnc", vmiURL(srv, "other", "dead", "vnc"), http.StatusNotFound, "other/dead"},
		{"unknown VM portforward", vmiURL(srv, "ns", "missing", "portforward/22"), http.StatusNotFound, "ns/missing"},
		{"dead console", vmiURL(srv, "ns", "dead", "console"), http.StatusServiceUnavailable, "does not answer"},
		{"dead vnc", vmiURL(srv, "ns", "dead", "vnc"), http.StatusServiceUnavailable, "does not answer"},
		{"dead portforward", vmiURL(srv, "ns", "dead", "portforward/22"), http.StatusServiceUnavailable, "port 22"},
		{"port zero", vmiURL(srv, "ns", "dead", "portforward/0"), http.StatusBadRequest, "port"},
		{"port not a number", vmiURL(srv, "ns", "dead", "portforward/ssh"), http.StatusBadRequest, "ssh"},
		{"port too large", vmiURL(srv, "ns", "dead", "portforward/65536"), http.StatusBadRequest, "65536"},
		{"udp", vmiURL(srv, "ns", "dead", "portforward/53/udp"), http.StatusBadRequest, "only tcp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := upgradeStatus(t, tc.url)
			if code != tc.code || !strings.Contains(msg, tc.wantMessage) {
				t.Errorf("got %d %q, want %d with %q", code, msg, tc.code, tc.wantMessage)
			}
		})
	}
}

func TestPortForwardThroughAHostForward(t *testing.T) {
	ctx := testContext(t)
	sockets := vmSockets(socketDir(t))
	guest := listenLocal(t)
	startFake(t, guest, false, echo)
	qmp := startQMP(t, sockets.QMP, guest.Addr().String())
	srv := newServer(t, map[string]virt.Sockets{"ns/vm": sockets})

	const guestPort = 8080
	for _, sub := range []string{"portforward/8080", "portforward/8080/tcp"} {
		before := len(qmp.Commands())
		ws := dialStream(t, ctx, vmiURL(srv, "ns", "vm", sub))
		roundTrip(t, ctx, ws, "GET / HTTP/1.0\r\n\r\n")
		if err := ws.Close(websocket.StatusNormalClosure, ""); err != nil {
			t.Errorf("close: %v", err)
		}
		waitFor(t, "hostfwd_remove", func() bool { return len(qmp.Commands()) == before+2 })

		cmds := qmp.Commands()[before:]
		add, remove := cmds[0], cmds[1]
		hostPort := strings.TrimSuffix(strings.TrimPrefix(add, "hostfwd_add tcp:127.0.0.1:"), "-:"+strconv.Itoa(guestPort))
		if _, err := strconv.Atoi(hostPort); err != nil {
			t.Fatalf("%s: hostfwd_add = %q, want tcp:127.0.0.1:HOSTPORT-:%d", sub, add, guestPort)
		}
		if want := "hostfwd_remove tcp:127.0.0.1:" + hostPort; remove != want {
			t.Errorf("%s: removed with %q, want %q", sub, remove, want)
		}
		// The forward is gone with the stream.
		if c, err := net.Dial("tcp", "127.0.0.1:"+hostPort); err == nil {
			c.Close()
			t.Errorf("%s: host port %s still accepts after the stream ended", sub, hostPort)
		}
	}
}

func TestStreamEndsWhenTheVMClosesIt(t *testing.T) {
	ctx := testContext(t)
	sockets := vmSockets(socketDir(t))
	// A display that greets and hangs up, as QEMU does when it stops.
	startFake(t, listenUnix(t, sockets.VNC), false, func(c net.Conn) { _, _ = c.Write([]byte(rfbGreeting)) })
	srv := newServer(t, map[string]virt.Sockets{"ns/vm": sockets})

	ws := dialStream(t, ctx, vmiURL(srv, "ns", "vm", "vnc"))
	readBytes(t, ctx, ws, len(rfbGreeting))
	_, _, err := ws.Read(ctx)
	code, reason, err := closeStatus(err)
	if err != nil {
		t.Fatal(err)
	}
	if code != websocket.StatusNormalClosure || !strings.Contains(reason, "VM closed") {
		t.Errorf("closed with %v %q", code, reason)
	}
}

// machineQMP stands in for the QMP connection a running qemu.Machine holds.
type machineQMP struct{ q *fakeQMP }

func (m machineQMP) QMP(_ context.Context, cmd string, args, out any) error {
	if cmd != "human-monitor-command" {
		return fmt.Errorf("unexpected QMP command %s", cmd)
	}
	*out.(*string) = m.q.human(args.(map[string]string)["command-line"])
	return nil
}

func TestPortForwardThroughTheMachinesQMP(t *testing.T) {
	ctx := testContext(t)
	dir := socketDir(t)
	guest := listenLocal(t)
	startFake(t, guest, false, echo)
	// The machine holds QMP: the handler must not dial the socket, which nobody serves.
	held := machineQMP{&fakeQMP{t: t, guest: guest.Addr().String(), forwards: map[string]*fakeServer{}}}
	t.Cleanup(func() {
		held.q.mu.Lock()
		defer held.q.mu.Unlock()
		for _, f := range held.q.forwards {
			f.close()
		}
	})
	srv := newServer(t, map[string]virt.Sockets{"ns/vm": vmSockets(dir)},
		WithMonitor(func(string, string, virt.Sockets) Monitor { return QMPMonitor(held) }))

	ws := dialStream(t, ctx, vmiURL(srv, "ns", "vm", "portforward/80"))
	roundTrip(t, ctx, ws, "GET / HTTP/1.0\r\n\r\n")
	if err := ws.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("close: %v", err)
	}
	waitFor(t, "hostfwd_remove", func() bool { return len(held.q.Commands()) == 2 })
	if cmds := held.q.Commands(); !strings.HasPrefix(cmds[0], "hostfwd_add tcp:127.0.0.1:") || !strings.HasPrefix(cmds[1], "hostfwd_remove tcp:127.0.0.1:") {
		t.Errorf("monitor commands %q", cmds)
	}
}
