package subresources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/virtplane/virtplane/pkg/localnode/virt"
)

// Monitor runs QEMU human monitor commands (HMP, through QMP's human-monitor-command) on one
// VM; port-forward uses it for hostfwd_add and hostfwd_remove.
type Monitor interface {
	// HumanMonitorCommand runs commandLine and returns what the monitor printed; HMP reports
	// most failures as printed text, not as an error.
	HumanMonitorCommand(ctx context.Context, commandLine string) (string, error)
}

// MonitorFunc returns the monitor of the VM of the VMI namespace/name.
type MonitorFunc func(namespace, name string, sockets virt.Sockets) Monitor

// SocketMonitor is the MonitorFunc that dials the VM's QMP socket for each command.
func SocketMonitor(_, _ string, sockets virt.Sockets) Monitor {
	return qmpSocket(sockets.QMP)
}

// QMPMonitor is the Monitor of a VM reached through q, the QMP connection its running
// machine holds ((*virt.KubeVirt).QMP).
func QMPMonitor(q virt.QMP) Monitor { return qmpMonitor{q} }

type qmpMonitor struct{ q virt.QMP }

func (m qmpMonitor) HumanMonitorCommand(ctx context.Context, commandLine string) (string, error) {
	var out string
	err := m.q.QMP(ctx, "human-monitor-command", map[string]string{"command-line": commandLine}, &out)
	return out, err
}

// qmpSocket is a QMP client of one command per connection: enough for the two commands of a
// port-forward stream, and holding no connection between them.
type qmpSocket string

// qmpTimeout bounds a command when ctx has no deadline of its own.
const qmpTimeout = 10 * time.Second

// qmpReply is a QMP message: a reply or an event, which is skipped.
type qmpReply struct {
	Event  string          `json:"event"`
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
}

func (path qmpSocket) HumanMonitorCommand(ctx context.Context, commandLine string) (string, error) {
	if path == "" {
		return "", errors.New("the VM has no QMP socket")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, qmpTimeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", string(path))
	if err != nil {
		return "", fmt.Errorf("connect to QMP: %w", err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	dec := json.NewDecoder(conn)
	var greeting struct {
		QMP *json.RawMessage `json:"QMP"`
	}
	if err := dec.Decode(&greeting); err != nil {
		return "", fmt.Errorf("read the QMP greeting: %w", err)
	}
	if greeting.QMP == nil {
		return "", errors.New("the QMP socket sent no greeting")
	}
	if _, err := qmpExecute(conn, dec, "qmp_capabilities", nil); err != nil {
		return "", err
	}
	ret, err := qmpExecute(conn, dec, "human-monitor-command", map[string]string{"command-line": commandLine})
	if err != nil {
		return "", err
	}
	var out string
	if len(ret) > 0 {
		if err := json.Unmarshal(ret, &out); err != nil {
			return "", fmt.Errorf("human-monitor-command returned %s: %w", ret, err)
		}
	}
	return out, nil
}

// qmpExecute sends one command and reads up to its reply.
func qmpExecute(conn net.Conn, dec *json.Decoder, command string, args any) (json.RawMessage, error) {
	msg, err := json.Marshal(struct {
		Execute   string `json:"execute"`
		Arguments any    `json:"arguments,omitempty"`
	}{command, args})
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(append(msg, '\n')); err != nil {
		return nil, fmt.Errorf("qmp %s: %w", command, err)
	}
	for {
		var reply qmpReply
		if err := dec.Decode(&reply); err != nil {
			return nil, fmt.Errorf("qmp %s: %w", command, err)
		}
		switch {
		case reply.Event != "":
			continue
		case reply.Error != nil:
			return nil, fmt.Errorf("qmp %s: %s (%s)", command, reply.Error.Desc, reply.Error.Class)
		default:
			return reply.Return, nil
		}
	}
}
