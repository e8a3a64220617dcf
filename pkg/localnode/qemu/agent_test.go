package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeAgent plays qemu-ga behind qemu's chardev: one client at a time, JSON requests, a
// leading 0xFF resets the parser. Before every sync reply it sends what an earlier, abandoned
// client left in the channel: a late reply and a delimited reply to another sync.
type fakeAgent struct {
	replies map[string]string // command → reply line
	silent  bool              // accept, never answer

	mu       sync.Mutex
	commands []string
}

func startFakeAgent(t *testing.T, a *fakeAgent) string {
	t.Helper()
	path := filepath.Join(shortTempDir(t), "agent.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return // closed by the cleanup
			}
			a.serve(conn)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return path
}

func (a *fakeAgent) serve(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	dec := json.NewDecoder(&dropFF{r: bufio.NewReader(conn)})
	for {
		var req struct {
			Execute   string `json:"execute"`
			Arguments struct {
				ID int64 `json:"id"`
			} `json:"arguments"`
		}
		if err := dec.Decode(&req); err != nil {
			return
		}
		a.mu.Lock()
		a.commands = append(a.commands, req.Execute)
		a.mu.Unlock()
		if a.silent {
			continue
		}
		var out string
		switch req.Execute {
		case "guest-sync-delimited":
			out = "{\"return\": {}}\n\xff{\"return\": 7}\n" + fmt.Sprintf("\xff{\"return\": %d}\n", req.Arguments.ID)
		default:
			reply, ok := a.replies[req.Execute]
			if !ok {
				reply = `{"error": {"class": "CommandNotFound", "desc": "The command ` + req.Execute + ` has not been found"}}`
			}
			out = reply + "\n"
		}
		if _, err := io.WriteString(conn, out); err != nil {
			return
		}
	}
}

// dropFF drops the 0xFF bytes a client sends to reset the agent's parser.
type dropFF struct{ r *bufio.Reader }

func (d *dropFF) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		b, err := d.r.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if b != delimiter {
			p[n] = b
			n++
		}
		if d.r.Buffered() == 0 {
			break
		}
	}
	return n, nil
}

var guestReplies = map[string]string{
	"guest-ping":          `{"return": {}}`,
	"guest-info":          `{"return": {"version": "7.2.22", "supported_commands": [{"enabled": true, "name": "guest-ping", "success-response": true}]}}`,
	"guest-get-host-name": `{"return": {"host-name": "linux-vm"}}`,
	"guest-get-osinfo": `{"return": {"name": "Debian GNU/Linux", "kernel-release": "6.1.0-28-cloud-amd64", "version-id": "12",
		"pretty-name": "Debian GNU/Linux 12 (bookworm)", "version": "12 (bookworm)", "kernel-version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1",
		"machine": "x86_64", "id": "debian"}}`,
	"guest-network-get-interfaces": `{"return": [
		{"name": "lo", "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8}], "hardware-address": "00:00:00:00:00:00"},
		{"name": "eth0", "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "10.66.10.2", "prefix": 24}], "hardware-address": "52:54:00:12:34:56",
		 "statistics": {"rx-bytes": 1}}]}`,
}

func TestAgentCommands(t *testing.T) {
	fake := &fakeAgent{replies: guestReplies}
	agent := NewAgent(startFakeAgent(t, fake))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if err := agent.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	info, err := agent.Info(ctx)
	if err != nil || info.Version != "7.2.22" || len(info.SupportedCommands) != 1 || !info.SupportedCommands[0].Enabled {
		t.Errorf("Info = %+v, %v", info, err)
	}
	host, err := agent.Hostname(ctx)
	if err != nil || host != "linux-vm" {
		t.Errorf("Hostname = %q, %v", host, err)
	}
	os, err := agent.OSInfo(ctx)
	want := OSInfo{ID: "debian", Name: "Debian GNU/Linux", PrettyName: "Debian GNU/Linux 12 (bookworm)", Version: "12 (bookworm)",
		VersionID: "12", KernelRelease: "6.1.0-28-cloud-amd64", KernelVersion: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1", Machine: "x86_64"}
	if err != nil || os != want {
		t.Errorf("OSInfo = %+v, %v; want %+v", os, err, want)
	}
	ifaces, err := agent.Interfaces(ctx)
	if err != nil || len(ifaces) != 2 {
		t.Fatalf("Interfaces = %+v, %v", ifaces, err)
	}
	eth0 := ifaces[1]
	if eth0.Name != "eth0" || eth0.HardwareAddress != "52:54:00:12:34:56" || len(eth0.IPAddresses) != 1 ||
		eth0.IPAddresses[0] != (IPAddress{Type: "ipv4", Address: "10.66.10.2", Prefix: 24}) {
		t.Errorf("eth0 = %+v", eth0)
	}

	var agentErr *AgentError
	if err := agent.Call(ctx, "guest-fsfreeze-freeze", nil, nil); !errors.As(err, &agentErr) || agentErr.Class != "CommandNotFound" {
		t.Errorf("an unknown command = %v, want an AgentError of class CommandNotFound", err)
	}

	// Every call synchronised first.
	fake.mu.Lock()
	defer fake.mu.Unlock()
	for i := 0; i < len(fake.commands); i += 2 {
		if fake.commands[i] != "guest-sync-delimited" {
			t.Errorf("request %d was %s, not a sync: %v", i, fake.commands[i], fake.commands)
			break
		}
	}
}

func TestAgentCallsOneAtATime(t *testing.T) {
	agent := NewAgent(startFakeAgent(t, &fakeAgent{replies: guestReplies}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errs := make(chan error, 8)
	for range cap(errs) {
		go func() {
			host, err := agent.Hostname(ctx)
			if err == nil && host != "linux-vm" {
				err = fmt.Errorf("hostname %q", host)
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Errorf("concurrent call: %v", err)
		}
	}
}

func TestAgentThatDoesNotAnswer(t *testing.T) {
	agent := NewAgent(startFakeAgent(t, &fakeAgent{silent: true}))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := agent.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ping of a silent agent = %v, want the deadline", err)
	}
}

func TestAgentWithoutSocket(t *testing.T) {
	agent := NewAgent(filepath.Join(shortTempDir(t), "agent.sock"))
	if err := agent.Ping(context.Background()); err == nil {
		t.Error("Ping without an agent socket succeeded")
	}
}
