package qemu

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"time"
)

// DefaultAgentTimeout bounds an agent call whose context has no deadline: a guest without a
// running agent never answers.
const DefaultAgentTimeout = 10 * time.Second

// delimiter is the byte guest-sync-delimited puts before its reply; sent to the agent, it
// makes the agent's JSON parser drop whatever partial request it holds.
const delimiter = 0xff

// Agent is a client of the QEMU guest agent (qemu-ga) behind a machine's virtio-serial port.
// The protocol is JSON lines; every call connects, synchronises with a random id so stale
// replies of earlier, abandoned calls are skipped, runs one command and disconnects. qemu's
// chardev takes one client at a time, so calls are serialised.
type Agent struct {
	path string
	sem  chan struct{}
}

// AgentError is an error reply of the agent.
type AgentError struct {
	Command string
	Class   string
	Desc    string
}

func (e *AgentError) Error() string {
	return fmt.Sprintf("guest agent %s: %s (%s)", e.Command, e.Desc, e.Class)
}

// AgentInfo is guest-info's reply.
type AgentInfo struct {
	Version           string         `json:"version"`
	SupportedCommands []AgentCommand `json:"supported_commands"`
}

// AgentCommand is a command the agent knows.
type AgentCommand struct {
	Name            string `json:"name"`
	Enabled         bool   `json:"enabled"`
	SuccessResponse bool   `json:"success-response"`
}

// OSInfo is guest-get-osinfo's reply (os-release and uname of the guest).
type OSInfo struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	PrettyName    string `json:"pretty-name"`
	Version       string `json:"version"`
	VersionID     string `json:"version-id"`
	KernelRelease string `json:"kernel-release"`
	KernelVersion string `json:"kernel-version"`
	Machine       string `json:"machine"`
}

// Interface is a network interface of the guest (guest-network-get-interfaces).
type Interface struct {
	Name            string      `json:"name"`
	HardwareAddress string      `json:"hardware-address"`
	IPAddresses     []IPAddress `json:"ip-addresses"`
}

// IPAddress is an address of a guest interface.
type IPAddress struct {
	// Type is "ipv4" or "ipv6".
	Type    string `json:"ip-address-type"`
	Address string `json:"ip-address"`
	Prefix  int    `json:"prefix"`
}

// NewAgent returns a client of the agent behind the unix socket path.
func NewAgent(path string) *Agent {
	return &Agent{path: path, sem: make(chan struct{}, 1)}
}

// Ping checks that the agent answers (guest-ping).
func (a *Agent) Ping(ctx context.Context) error {
	return a.Call(ctx, "guest-ping", nil, nil)
}

// Info is the agent's version and commands (guest-info).
func (a *Agent) Info(ctx context.Context) (AgentInfo, error) {
	var info AgentInfo
	err := a.Call(ctx, "guest-info", nil, &info)
	return info, err
}

// OSInfo describes the guest's operating system (guest-get-osinfo).
func (a *Agent) OSInfo(ctx context.Context) (OSInfo, error) {
	var info OSInfo
	err := a.Call(ctx, "guest-get-osinfo", nil, &info)
	return info, err
}

// Interfaces lists the guest's network interfaces and addresses
// (guest-network-get-interfaces).
func (a *Agent) Interfaces(ctx context.Context) ([]Interface, error) {
	var ifaces []Interface
	err := a.Call(ctx, "guest-network-get-interfaces", nil, &ifaces)
	return ifaces, err
}

// Hostname is the guest's host name (guest-get-host-name).
func (a *Agent) Hostname(ctx context.Context) (string, error) {
	var r struct {
		HostName string `json:"host-name"`
	}
	err := a.Call(ctx, "guest-get-host-name", nil, &r)
	return r.HostName, err
}

// Call runs an agent command with args (nil for none) and decodes its return value into out
// (nil to drop it). An error reply is an *AgentError.
func (a *Agent) Call(ctx context.Context, cmd string, args any, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultAgentTimeout)
		defer cancel()
	}
	select {
	case a.sem <- struct{}{}:
		defer func() { <-a.sem }()
	case <-ctx.Done():
		return fmt.Errorf("guest agent %s: waiting for the previous call: %w", cmd, ctx.Err())
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", a.path)
	if err != nil {
		return fmt.Errorf("guest agent %s: %w", cmd, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	// A cancel before the deadline interrupts the blocked read or write too.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	r := bufio.NewReader(conn)
	if err := agentSync(conn, r); err != nil {
		return fmt.Errorf("guest agent %s: sync: %w", cmd, ctxErr(ctx, err))
	}
	raw, err := agentRequest(conn, r, cmd, args)
	if err != nil {
		return fmt.Errorf("guest agent %s: %w", cmd, ctxErr(ctx, err))
	}
	var reply struct {
		Return json.RawMessage `json:"return"`
		Error  *struct {
			Class string `json:"class"`
			Desc  string `json:"desc"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &reply); err != nil {
		return fmt.Errorf("guest agent %s: decoding %q: %w", cmd, raw, err)
	}
	if reply.Error != nil {
		return &AgentError{Command: cmd, Class: reply.Error.Class, Desc: reply.Error.Desc}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(reply.Return, out); err != nil {
		return fmt.Errorf("guest agent %s: decoding %s: %w", cmd, reply.Return, err)
	}
	return nil
}

// ctxErr prefers the context's error to the i/o error it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// The connection's deadline is the context's; its timer may fire first.
	if _, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return err
}

// agentSync resets the agent's parser, sends guest-sync-delimited with a random id and skips
// everything up to the delimited reply carrying that id.
func agentSync(conn net.Conn, r *bufio.Reader) error {
	id := rand.Int32()
	req, err := json.Marshal(map[string]any{
		"execute":   "guest-sync-delimited",
		"arguments": map[string]any{"id": id},
	})
	if err != nil {
		return err
	}
	if _, err := conn.Write(append(append([]byte{delimiter}, req...), '\n')); err != nil {
		return err
	}
	// Bounded by the connection's deadline: every round reads at least one byte.
	for {
		if _, err := r.ReadBytes(delimiter); err != nil {
			return err
		}
		line, err := r.ReadBytes('\n')
		if err != nil {
			return err
		}
		var reply struct {
			Return *int64 `json:"return"`
		}
		if json.Unmarshal(bytes.TrimSpace(line), &reply) == nil && reply.Return != nil && *reply.Return == int64(id) {
			return nil
		}
	}
}

// agentRequest sends one command and reads its reply (one JSON value: qemu-ga writes it on
// one line, the decoder does not need to rely on that).
func agentRequest(conn net.Conn, r *bufio.Reader, cmd string, args any) ([]byte, error) {
	req, err := json.Marshal(struct {
		Execute   string `json:"execute"`
		Arguments any    `json:"arguments,omitempty"`
	}{cmd, args})
	if err != nil {
		return nil, fmt.Errorf("encoding the arguments: %w", err)
	}
	if _, err := conn.Write(append(req, '\n')); err != nil {
		return nil, err
	}
	var reply json.RawMessage
	if err := json.NewDecoder(r).Decode(&reply); err != nil {
		return nil, err
	}
	return reply, nil
}
