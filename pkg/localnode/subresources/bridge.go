package subresources

import (
	"context"
	"io"
	"net"
	"time"

	"github.com/coder/websocket"
)

// dialTimeout bounds connecting to a VM's socket: a VM that does not accept in this time is
// reported unavailable rather than leaving the client waiting.
const dialTimeout = 5 * time.Second

// dial connects to a VM endpoint before the upgrade, so a dead VM is a plain HTTP error.
func dial(ctx context.Context, network, address string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// bridge copies raw bytes both ways between the websocket's binary messages and conn until
// either side ends or ctx is done, then closes both. The websocket's close reason says which
// ended it; when ctx is done, its cause is the reason.
func bridge(ctx context.Context, ws *websocket.Conn, conn net.Conn) {
	// The stream outlives no request, but its end is decided here, not by the NetConn.
	nc := websocket.NetConn(context.WithoutCancel(ctx), ws, websocket.MessageBinary)
	fromClient := make(chan struct{})
	fromVM := make(chan struct{})
	go func() {
		defer close(fromClient)
		_, _ = io.Copy(conn, nc)
	}()
	go func() {
		defer close(fromVM)
		_, _ = io.Copy(nc, conn)
	}()

	code, reason := websocket.StatusNormalClosure, ""
	select {
	case <-fromClient:
	case <-fromVM:
		reason = "the VM closed the stream"
	case <-ctx.Done():
		code, reason = websocket.StatusPolicyViolation, context.Cause(ctx).Error()
	}
	_ = conn.Close()
	// Close waits for the client's close frame (bounded by the library), which the copy
	// from the client reads.
	_ = ws.Close(code, reason)
	<-fromClient
	<-fromVM
}
