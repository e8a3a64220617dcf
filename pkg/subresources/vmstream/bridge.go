package vmstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// maxCloseReason is the longest reason a close frame carries (125 bytes less the code).
const maxCloseReason = 123

// side is one end of a bridge.
type side int

const (
	clientSide side = iota
	upstreamSide
)

type pumpEnd struct {
	// failed is the connection that ended the pump: the one read from, or the one written
	// to when the write failed.
	failed side
	err    error
}

// bridge copies messages both ways between the client's websocket and KubeVirt's until either
// side closes or ctx ends, then closes both. The client learns why in the close frame: the
// code and reason KubeVirt closed with, 1001 and who took over, 1012 when the server stops,
// 1011 when KubeVirt's side broke. upstreamClosed is called once KubeVirt's side is closed.
func bridge(ctx context.Context, client, upstream *websocket.Conn, upstreamClosed func()) {
	ends := make(chan pumpEnd, 2)
	go func() { ends <- pump(upstream, client, upstreamSide, clientSide) }()
	go func() { ends <- pump(client, upstream, clientSide, upstreamSide) }()

	var clientCode, upstreamCode websocket.StatusCode = websocket.StatusNormalClosure, websocket.StatusNormalClosure
	var clientReason, upstreamReason string
	pending := 2
	select {
	case end := <-ends:
		pending--
		if end.failed == clientSide {
			upstreamReason = "the client closed the stream"
			break
		}
		var ce websocket.CloseError
		if errors.As(end.err, &ce) {
			if ce.Code != websocket.StatusNoStatusRcvd {
				clientCode = ce.Code
			}
			clientReason = ce.Reason
			if clientReason == "" {
				clientReason = "KubeVirt closed the stream"
			}
		} else {
			clientCode, clientReason = websocket.StatusInternalError, "lost the stream to KubeVirt: "+end.err.Error()
		}
	case <-ctx.Done():
		cause := context.Cause(ctx)
		// 1001 is how KubeVirt ends a console session taken over, and the only close code
		// on which the upstream d8 stops rather than reconnects (which would take the
		// console back). A restart is 1012: a client may come back.
		clientCode, clientReason = websocket.StatusGoingAway, cause.Error()
		if errors.Is(cause, errShutdown) {
			clientCode = websocket.StatusServiceRestart
		}
		upstreamReason = cause.Error()
	}

	// Close performs the close handshake, which may wait for a slow peer: both at once.
	var wg sync.WaitGroup
	wg.Go(func() { _ = client.Close(clientCode, truncate(clientReason)) })
	wg.Go(func() {
		_ = upstream.Close(upstreamCode, truncate(upstreamReason))
		upstreamClosed()
	})
	wg.Wait()
	for ; pending > 0; pending-- {
		<-ends
	}
}

// pump copies messages from src to dst until one of them fails. Messages are streamed, not
// buffered whole, and keep their type (binary in the plain protocol).
func pump(src, dst *websocket.Conn, srcSide, dstSide side) pumpEnd {
	// The bridge, not a context, ends the copy: a cancelled context would drop the
	// connection without the close frame that tells the client why.
	ctx := context.Background()
	for {
		typ, r, err := src.Reader(ctx)
		if err != nil {
			return pumpEnd{failed: srcSide, err: err}
		}
		w, err := dst.Writer(ctx, typ)
		if err != nil {
			return pumpEnd{failed: dstSide, err: err}
		}
		if _, err := io.Copy(w, r); err != nil {
			_ = w.Close()
			// Either side may have broken; the bridge closes both anyway.
			return pumpEnd{failed: srcSide, err: fmt.Errorf("copying a message: %w", err)}
		}
		if err := w.Close(); err != nil {
			return pumpEnd{failed: dstSide, err: err}
		}
	}
}

// truncate cuts a close reason to what a close frame carries, on a rune boundary.
func truncate(reason string) string {
	if len(reason) <= maxCloseReason {
		return reason
	}
	cut := maxCloseReason
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}
