package d8

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"

	"github.com/coder/websocket"
)

// forwardListener serves ln until ctx ends: each accepted connection gets its own stream,
// the subresource sub of the VM, and the bytes are copied both ways.
func forwardListener(ctx context.Context, ln net.Listener, d *vmDialer, sub string, query url.Values, errOut io.Writer) {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		local, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				fmt.Fprintf(errOut, "error: accepting a connection on %s: %v\n", ln.Addr(), err)
			}
			return
		}
		wg.Go(func() {
			defer local.Close()
			conn, err := d.dial(ctx, sub, query)
			if err != nil {
				if ctx.Err() == nil {
					fmt.Fprintf(errOut, "error: opening %s of VirtualMachine %s/%s: %v\n", sub, d.namespace, d.name, err)
				}
				return
			}
			pipeStream(ctx, local, local, conn)
		})
	}
}

// pipeStream copies in to the websocket and the websocket to out until either side ends or
// ctx does, then closes the websocket. It returns the reason the websocket's side ended, or
// nil when the local side ended first.
func pipeStream(ctx context.Context, in io.Reader, out io.Writer, conn *websocket.Conn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nc := websocket.NetConn(ctx, conn, websocket.MessageBinary)
	remoteDone := make(chan error, 1)
	localDone := make(chan struct{})
	go func() {
		_, err := io.Copy(out, nc)
		remoteDone <- err
	}()
	go func() {
		defer close(localDone)
		io.Copy(nc, in)
	}()
	var remoteErr error
	select {
	case remoteErr = <-remoteDone:
	case <-localDone:
	case <-ctx.Done():
	}
	// Closing ends the copy that is still running on the websocket's side; one reading a
	// local stream ends with that stream.
	conn.Close(websocket.StatusNormalClosure, "")
	if websocket.CloseStatus(remoteErr) == websocket.StatusNormalClosure || errors.Is(remoteErr, io.EOF) {
		return nil
	}
	return remoteErr
}
