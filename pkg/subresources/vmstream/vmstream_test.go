package vmstream

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

const consolePath = "/namespaces/prod/virtualmachines/linux-vm/console"

func running() vmGetter {
	return vmGetter{
		"prod/linux-vm":    vm("prod", "linux-vm", virtualization.MachineRunning),
		"prod/moving-vm":   vm("prod", "moving-vm", virtualization.MachineMigrating),
		"prod/stopped-vm":  vm("prod", "stopped-vm", virtualization.MachineStopped),
		"prod/new-vm":      vm("prod", "new-vm", ""),
		"prod/missing":     vm("prod", "missing", virtualization.MachineRunning),
		"prod/forbidden":   vm("prod", "forbidden", virtualization.MachineRunning),
		"prod/unavailable": vm("prod", "unavailable", virtualization.MachineRunning),
	}
}

// Bytes typed into the console reach the VM's side and what the VM writes comes back, with
// each subprotocol a client may offer, and none.
func TestConsoleBridgesBothWays(t *testing.T) {
	kv := newFakeKubeVirt(t)
	srv := newAPIServer(t, kv.config(), running())
	for _, offered := range [][]string{{Subprotocol}, {KubeVirtSubprotocol}, nil} {
		ws := srv.mustDial(t, "alice", consolePath, offered...)
		want := ""
		if len(offered) > 0 {
			want = offered[0]
		}
		if ws.Subprotocol() != want {
			t.Errorf("offered %v, the server chose %q", offered, ws.Subprotocol())
		}
		if got := mustRead(t, ws); got != "console prod/linux-vm" {
			t.Errorf("first message %q, want the VM's greeting", got)
		}
		for _, msg := range []string{"root\r", "uname -a\r", strings.Repeat("x", 100000)} {
			write(t, ws, msg)
			if got := mustRead(t, ws); got != msg {
				t.Errorf("echo of a %d-byte message came back as %d bytes", len(msg), len(got))
			}
		}
		ws.Close(websocket.StatusNormalClosure, "")
	}
	for i, p := range kv.subprotocols {
		if p != KubeVirtSubprotocol {
			t.Errorf("dial %d to KubeVirt offered subprotocol %q, want %s", i, p, KubeVirtSubprotocol)
		}
	}
}

// A VM that is migrating still has its VMI: the stream opens.
func TestMigratingVMStreams(t *testing.T) {
	kv := newFakeKubeVirt(t)
	srv := newAPIServer(t, kv.config(), running())
	ws := srv.mustDial(t, "alice", "/namespaces/prod/virtualmachines/moving-vm/vnc", Subprotocol)
	if got := mustRead(t, ws); got != "vnc prod/moving-vm" {
		t.Errorf("first message %q, want the VNC greeting of moving-vm", got)
	}
}

// KubeVirt closing the stream (the VM stopped) reaches the client with its reason.
func TestKubeVirtCloseReachesTheClient(t *testing.T) {
	kv := newFakeKubeVirt(t)
	srv := newAPIServer(t, kv.config(), running())
	ws := srv.mustDial(t, "alice", consolePath, Subprotocol)
	mustRead(t, ws)
	write(t, ws, "bye")
	ce := closeOf(t, ws)
	if ce.Code != websocket.StatusNormalClosure || ce.Reason != "the VM closed the stream" {
		t.Errorf("closed with %d %q, want 1000 and KubeVirt's reason", ce.Code, ce.Reason)
	}
}

// A VM that does not run answers 409 with a message naming the VM and its phase, without
// reaching KubeVirt; d8 retries on it while the VM starts.
func TestNotRunningIsConflict(t *testing.T) {
	kv := newFakeKubeVirt(t)
	srv := newAPIServer(t, kv.config(), running())
	for name, want := range map[string]string{
		"stopped-vm": "virtual machine stopped-vm is Stopped, not Running",
		"new-vm":     "virtual machine new-vm has no phase yet, not Running",
	} {
		for _, stream := range []string{"console", "vnc", "portforward?port=22"} {
			_, code, status := srv.dial(t, "alice", "/namespaces/prod/virtualmachines/"+name+"/"+stream, Subprotocol)
			if code != http.StatusConflict || status.Message != want || status.Reason != "Conflict" {
				t.Errorf("%s of %s: %d %s %q, want 409 Conflict %q", stream, name, code, status.Reason, status.Message, want)
			}
		}
	}
	_, code, status := srv.dial(t, "alice", "/namespaces/prod/virtualmachines/no-such-vm/console", Subprotocol)
	if code != http.StatusNotFound || !strings.Contains(status.Message, "no-such-vm") {
		t.Errorf("console of a VM that does not exist: %d %q, want 404", code, status.Message)
	}
	if d := kv.dialed(); len(d) != 0 {
		t.Errorf("KubeVirt was dialed for VMs that do not run: %v", d)
	}
}

// The port and protocol reach KubeVirt's path; bad ones are 400 before anything is dialed.
func TestPortForward(t *testing.T) {
	kv := newFakeKubeVirt(t)
	srv := newAPIServer(t, kv.config(), running())
	for query, want := range map[string]string{
		"port=8080":            "portforward/8080/tcp prod/linux-vm",
		"port=53&protocol=udp": "portforward/53/udp prod/linux-vm",
		"port=22&protocol=tcp": "portforward/22/tcp prod/linux-vm",
		"port=65535&protocol=": "portforward/65535/tcp prod/linux-vm",
	} {
		ws := srv.mustDial(t, "alice", "/namespaces/prod/virtualmachines/linux-vm/portforward?"+query, Subprotocol)
		if got := mustRead(t, ws); got != want {
			t.Errorf("?%s: KubeVirt's greeting %q, want %q", query, got, want)
		}
		write(t, ws, "GET / HTTP/1.0\r\n\r\n")
		if got := mustRead(t, ws); got != "GET / HTTP/1.0\r\n\r\n" {
			t.Errorf("?%s: echo %q", query, got)
		}
		ws.Close(websocket.StatusNormalClosure, "")
	}
	dialedBefore := len(kv.dialed())
	for _, query := range []string{"", "port=0", "port=65536", "port=-1", "port=http", "port=22&protocol=sctp"} {
		_, code, status := srv.dial(t, "alice", "/namespaces/prod/virtualmachines/linux-vm/portforward?"+query, Subprotocol)
		if code != http.StatusBadRequest || status.Reason != "BadRequest" || status.Message == "" {
			t.Errorf("?%s: %d %s %q, want 400 BadRequest with a message", query, code, status.Reason, status.Message)
		}
	}
	if d := kv.dialed(); len(d) != dialedBefore {
		t.Errorf("bad port-forward options reached KubeVirt: %v", d[dialedBefore:])
	}
}

// Port-forward streams are independent: a second one does not end the first.
func TestPortForwardIsNotExclusive(t *testing.T) {
	kv := newFakeKubeVirt(t)
	srv := newAPIServer(t, kv.config(), running())
	path := "/namespaces/prod/virtualmachines/linux-vm/portforward?port=22"
	first := srv.mustDial(t, "alice", path, Subprotocol)
	mustRead(t, first)
	second := srv.mustDial(t, "bob", path, Subprotocol)
	mustRead(t, second)
	for _, ws := range []*websocket.Conn{first, second} {
		write(t, ws, "ping")
		if got := mustRead(t, ws); got != "ping" {
			t.Errorf("echo %q on one of two port-forward streams", got)
		}
	}
	if n := kv.peak("prod/linux-vm/portforward"); n != 2 {
		t.Errorf("%d port-forward streams were open at once at KubeVirt, want 2", n)
	}
}

// A second console session takes over: the first client is closed with 1001 and a reason
// naming the new user, the new one works, and the probe reports the new holder.
func TestConsoleTakeover(t *testing.T) {
	kv := newFakeKubeVirt(t)
	srv := newAPIServer(t, kv.config(), running())
	for _, stream := range []string{"console", "vnc"} {
		path := "/namespaces/prod/virtualmachines/linux-vm/" + stream
		first := srv.mustDial(t, "alice", path, Subprotocol)
		mustRead(t, first)
		firstClosed := closing(t, first)
		second := srv.mustDial(t, "bob@example.com", path, KubeVirtSubprotocol)
		ce := <-firstClosed
		if ce.Code != websocket.StatusGoingAway || !strings.Contains(ce.Reason, "bob@example.com") {
			t.Errorf("%s: the first session closed with %d %q, want 1001 naming bob@example.com", stream, ce.Code, ce.Reason)
		}
		if got := mustRead(t, second); got != stream+" prod/linux-vm" {
			t.Errorf("%s: the session that took over read %q", stream, got)
		}
		write(t, second, "still here")
		if got := mustRead(t, second); got != "still here" {
			t.Errorf("%s: the session that took over echoes %q", stream, got)
		}
		var st SessionStatus
		code, body := srv.get(t, path+"?probe=true")
		if err := json.Unmarshal(body, &st); code != http.StatusOK || err != nil || !st.Open || st.Holder != "bob@example.com" {
			t.Errorf("%s: probe after the takeover answered %d %s", stream, code, body)
		}
	}
	// The VM tells its users: an Event names both users.
	e := kv.waitEvent(t, SessionTakenOverReason)
	if e.InvolvedObject.Kind != "VirtualMachine" || e.InvolvedObject.Name != "linux-vm" || e.InvolvedObject.Namespace != "prod" ||
		!strings.Contains(e.Message, "alice") || !strings.Contains(e.Message, "bob@example.com") {
		t.Errorf("takeover Event %s/%s %q: %q, want one on VirtualMachine prod/linux-vm naming alice and bob@example.com",
			e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
	}
	// Console and VNC are held apart: bob holds both now.
	console := SessionStatus{}
	_, body := srv.get(t, consolePath+"?probe=true")
	if err := json.Unmarshal(body, &console); err != nil || console.Holder != "bob@example.com" {
		t.Errorf("the VNC session took the console over: probe %s", body)
	}
}

// A long user name still fits the close frame (125 bytes).
func TestTakeoverReasonFitsACloseFrame(t *testing.T) {
	kv := newFakeKubeVirt(t)
	srv := newAPIServer(t, kv.config(), running())
	first := srv.mustDial(t, "alice", consolePath, Subprotocol)
	mustRead(t, first)
	firstClosed := closing(t, first)
	long := "system:serviceaccount:" + strings.Repeat("a-very-long-namespace-", 8) + ":d8"
	srv.mustDial(t, long, consolePath, Subprotocol)
	ce := <-firstClosed
	if ce.Code != websocket.StatusGoingAway || !strings.HasPrefix(ce.Reason, "the console was taken over by system:serviceaccount:") {
		t.Errorf("closed with %d %q, want 1001 naming the (cut) user", ce.Code, ce.Reason)
	}
}

// The probe answers whether a session is open, by whom and since when, without opening one.
func TestProbe(t *testing.T) {
	kv := newFakeKubeVirt(t)
	srv := newAPIServer(t, kv.config(), running())
	code, body := srv.get(t, consolePath+"?probe=true")
	if code != http.StatusOK || strings.TrimSpace(string(body)) != `{"open":false}` {
		t.Errorf("probe with no session: %d %s, want 200 {\"open\":false}", code, body)
	}
	before := time.Now().Add(-time.Second)
	ws := srv.mustDial(t, "alice", consolePath, Subprotocol)
	mustRead(t, ws)
	code, body = srv.get(t, consolePath+"?probe=true")
	var st struct {
		Open      bool   `json:"open"`
		Holder    string `json:"holder"`
		StartTime string `json:"startTime"`
	}
	if err := json.Unmarshal(body, &st); code != http.StatusOK || err != nil {
		t.Fatalf("probe: %d %s", code, body)
	}
	since, err := time.Parse(time.RFC3339, st.StartTime)
	if !st.Open || st.Holder != "alice" || err != nil || since.Before(before.Truncate(time.Second)) || since.After(time.Now()) {
		t.Errorf("probe while alice holds the console: %s", body)
	}
	// A probe is no session: alice still has the console.
	write(t, ws, "after the probe")
	if got := mustRead(t, ws); got != "after the probe" {
		t.Errorf("the console after a probe echoes %q", got)
	}
	ws.Close(websocket.StatusNormalClosure, "")
	// Closing the session frees the console (the server notices at once, but allow it to
	// finish the close handshake).
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body = srv.get(t, consolePath+"?probe=true")
		if strings.TrimSpace(string(body)) == `{"open":false}` || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.TrimSpace(string(body)) != `{"open":false}` {
		t.Errorf("probe after the session closed: %s", body)
	}
	if code, _ := srv.get(t, "/namespaces/prod/virtualmachines/no-such-vm/console?probe=true"); code != http.StatusNotFound {
		t.Errorf("probe of a VM that does not exist: %d, want 404", code)
	}
}

// A plain GET without ?probe=true is told the subresource is a websocket.
func TestPlainGetIsBadRequest(t *testing.T) {
	kv := newFakeKubeVirt(t)
	srv := newAPIServer(t, kv.config(), running())
	code, body := srv.get(t, consolePath)
	if code != http.StatusBadRequest || !strings.Contains(string(body), "websocket") {
		t.Errorf("plain GET of the console: %d %s, want 400 saying it is a websocket", code, body)
	}
}

// Refusals of kube-apiserver or KubeVirt reach the client with their code, as a Status
// carrying the upstream message.
func TestUpstreamRefusalsKeepTheirCode(t *testing.T) {
	kv := newFakeKubeVirt(t)
	srv := newAPIServer(t, kv.config(), running())
	for name, want := range map[string]struct {
		code    int
		reason  string
		message string
	}{
		"missing":     {http.StatusNotFound, "NotFound", `virtualmachineinstances.kubevirt.io "missing" not found`},
		"forbidden":   {http.StatusForbidden, "Forbidden", "cannot get resource"},
		"unavailable": {http.StatusServiceUnavailable, "ServiceUnavailable", "service unavailable"},
	} {
		_, code, status := srv.dial(t, "alice", "/namespaces/prod/virtualmachines/"+name+"/console", Subprotocol)
		if code != want.code || string(status.Reason) != want.reason || int(status.Code) != want.code ||
			!strings.Contains(status.Message, want.message) || !strings.Contains(status.Message, "prod/"+name) {
			t.Errorf("%s: %d %+v, want %d %s with %q", name, code, status, want.code, want.reason, want.message)
		}
	}
	// Wrong credentials towards kube-apiserver are 401 too, and say whose.
	cfg := kv.config()
	cfg.BearerToken = "wrong"
	other := newAPIServer(t, cfg, running())
	_, code, status := other.dial(t, "alice", consolePath, Subprotocol)
	if code != http.StatusUnauthorized || !strings.Contains(status.Message, "KubeVirt did not open the console") {
		t.Errorf("with credentials kube-apiserver refuses: %d %q, want 401", code, status.Message)
	}
	// An unreachable kube-apiserver is 503, not a bare 500.
	cfg = kv.config()
	cfg.Host = "https://127.0.0.1:1"
	unreachable := newAPIServer(t, cfg, running())
	_, code, status = unreachable.dial(t, "alice", consolePath, Subprotocol)
	if code != http.StatusServiceUnavailable || status.Reason != "ServiceUnavailable" {
		t.Errorf("kube-apiserver unreachable: %d %s %q, want 503", code, status.Reason, status.Message)
	}
}

// A server without kube-apiserver (standalone) refuses streams with 503.
func TestStandaloneRefusesStreams(t *testing.T) {
	srv := newAPIServer(t, nil, running())
	_, code, status := srv.dial(t, "alice", consolePath, Subprotocol)
	if code != http.StatusServiceUnavailable || !strings.Contains(status.Message, "standalone") {
		t.Errorf("standalone console: %d %q, want 503", code, status.Message)
	}
}

// Stopping the server closes open streams with 1012 (service restart) and refuses new ones.
func TestStopClosesStreams(t *testing.T) {
	kv := newFakeKubeVirt(t)
	srv := newAPIServer(t, kv.config(), running())
	console := srv.mustDial(t, "alice", consolePath, Subprotocol)
	mustRead(t, console)
	forward := srv.mustDial(t, "alice", "/namespaces/prod/virtualmachines/linux-vm/portforward?port=22", Subprotocol)
	mustRead(t, forward)
	srv.proxy.Stop()
	for _, ws := range []*websocket.Conn{console, forward} {
		if ce := closeOf(t, ws); ce.Code != websocket.StatusServiceRestart {
			t.Errorf("on stop a stream closed with %d %q, want 1012", ce.Code, ce.Reason)
		}
	}
	_, code, _ := srv.dial(t, "alice", consolePath, Subprotocol)
	if code != http.StatusServiceUnavailable {
		t.Errorf("a stream opened after stop: %d, want 503", code)
	}
}
