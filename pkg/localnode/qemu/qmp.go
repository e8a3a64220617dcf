package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// qmpConn is a QMP client. It is written here rather than taken from
// github.com/digitalocean/go-qemu/qmp, whose SocketMonitor reads with a bufio.Scanner (a reply
// over 64 KiB, e.g. query-qmp-schema, kills the connection for good), blocks its reader
// forever after a read error when no command waits (so the end of the event stream cannot be
// told, and events just before a crash could not be trusted), and takes no contexts.
//
// Replies are matched to commands by id; events go to onEvent from the reader goroutine.
type qmpConn struct {
	conn    net.Conn
	onEvent func(qmpEvent)

	writeMu sync.Mutex
	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan qmpMessage

	// done closes when the reader ended: qemu closed the socket (it ended) or close was
	// called. Every event qemu sent before has been handed to onEvent by then.
	done chan struct{}
}

// qmpEvent is an asynchronous QMP event.
type qmpEvent struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// qmpMessage is anything qemu sends on QMP.
type qmpMessage struct {
	Event  string          `json:"event"`
	Data   json.RawMessage `json:"data"`
	ID     *uint64         `json:"id"`
	Return json.RawMessage `json:"return"`
	Error  *QMPError       `json:"error"`
}

// QMPError is an error reply of qemu.
type QMPError struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

func (e *QMPError) Error() string { return e.Desc + " (" + e.Class + ")" }

// errQMPClosed: the connection ended before the reply came.
var errQMPClosed = errors.New("QMP connection closed")

// dialQMP connects to the QMP socket and negotiates capabilities; ctx bounds the handshake.
func dialQMP(ctx context.Context, path string, onEvent func(qmpEvent)) (*qmpConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	// One decoder for the handshake and the reader: it may already hold the first events.
	dec := json.NewDecoder(conn)
	if err := qmpHandshake(ctx, conn, dec); err != nil {
		conn.Close()
		return nil, fmt.Errorf("QMP handshake: %w", err)
	}
	c := &qmpConn{conn: conn, onEvent: onEvent, pending: map[uint64]chan qmpMessage{}, nextID: 1, done: make(chan struct{})}
	go c.read(dec)
	return c, nil
}

// qmpHandshake reads the greeting and leaves negotiation mode.
func qmpHandshake(ctx context.Context, conn net.Conn, dec *json.Decoder) error {
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var greeting struct {
		QMP *json.RawMessage `json:"QMP"`
	}
	if err := dec.Decode(&greeting); err != nil {
		return ctxErr(ctx, err)
	}
	if greeting.QMP == nil {
		return errors.New("no QMP greeting")
	}
	if _, err := conn.Write([]byte(`{"execute":"qmp_capabilities"}` + "\n")); err != nil {
		return ctxErr(ctx, err)
	}
	// Events cannot come before this reply: qemu sends none in negotiation mode.
	var reply qmpMessage
	if err := dec.Decode(&reply); err != nil {
		return ctxErr(ctx, err)
	}
	if reply.Error != nil {
		return reply.Error
	}
	if !stop() {
		return ctx.Err()
	}
	return conn.SetDeadline(time.Time{})
}

// read dispatches qemu's messages until the connection ends.
func (c *qmpConn) read(dec *json.Decoder) {
	defer func() {
		c.mu.Lock()
		for id, ch := range c.pending {
			close(ch)
			delete(c.pending, id)
		}
		c.mu.Unlock()
		close(c.done)
	}()
	for {
		var msg qmpMessage
		if err := dec.Decode(&msg); err != nil {
			return
		}
		switch {
		case msg.Event != "":
			if c.onEvent != nil {
				c.onEvent(qmpEvent{Event: msg.Event, Data: msg.Data})
			}
		case msg.ID != nil:
			c.mu.Lock()
			ch, ok := c.pending[*msg.ID]
			delete(c.pending, *msg.ID)
			c.mu.Unlock()
			if ok {
				ch <- msg // buffered
			}
		}
	}
}

// execute runs one command and returns its "return" value.
func (c *qmpConn) execute(ctx context.Context, cmd string, args any) (json.RawMessage, error) {
	c.mu.Lock()
	id := c.nextID
	c.nextID++
	ch := make(chan qmpMessage, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}

	req, err := json.Marshal(struct {
		Execute   string `json:"execute"`
		Arguments any    `json:"arguments,omitempty"`
		ID        uint64 `json:"id"`
	}{cmd, args, id})
	if err != nil {
		forget()
		return nil, fmt.Errorf("encoding the arguments: %w", err)
	}
	c.writeMu.Lock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err = c.conn.Write(append(req, '\n'))
	c.writeMu.Unlock()
	if err != nil {
		forget()
		return nil, err
	}
	select {
	case msg, ok := <-ch:
		if !ok {
			return nil, errQMPClosed
		}
		if msg.Error != nil {
			return nil, msg.Error
		}
		return msg.Return, nil
	case <-ctx.Done():
		forget()
		return nil, ctx.Err()
	}
}

// close ends the connection and waits for the reader.
func (c *qmpConn) close() {
	c.conn.Close()
	<-c.done
}

// QMP runs a QMP command with args (nil for none) and decodes its return value into out
// (nil to drop it). Commands may run concurrently; ctx bounds the wait for this one. An error
// reply of qemu is a *QMPError.
func (m *Machine) QMP(ctx context.Context, cmd string, args any, out any) error {
	if m.isExited() {
		return fmt.Errorf("qmp %s: %w", cmd, ErrExited)
	}
	ret, err := m.qmp.execute(ctx, cmd, args)
	if err != nil {
		if errors.Is(err, errQMPClosed) {
			err = ErrExited
		}
		return fmt.Errorf("qmp %s: %w", cmd, err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(ret, out); err != nil {
		return fmt.Errorf("qmp %s: decoding %s: %w", cmd, ret, err)
	}
	return nil
}
