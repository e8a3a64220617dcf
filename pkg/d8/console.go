package d8

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/coder/websocket"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// escapeKey (^], 0x1d) on stdin ends the console session, as in telnet and virsh.
const escapeKey = 0x1d

// streamRetryInterval is the pause between attempts to connect while the VM is not ready.
var streamRetryInterval = time.Second

type consoleOptions struct {
	vmStreamOptions
	timeout time.Duration
	force   bool
}

func newConsoleCommand(streams Streams) *cobra.Command {
	o := &consoleOptions{timeout: 5 * time.Minute}
	cmd := &cobra.Command{
		Use:   "console NAME[.NAMESPACE]",
		Short: "Connect to the serial console of a virtual machine",
		Long: fmt.Sprintf(`Connect the terminal to the serial console of the virtual machine NAME. While the VM
is not running yet, d8 tries again until --timeout passes. Press ^] (Ctrl+]) to leave.
One client holds the console at a time: connecting takes it over from the previous one.
When somebody else holds it, d8 says who and, on a terminal, asks first (--force does not).

Exit status: 0 when you left with ^] (or were interrupted), 1 when d8 could not connect
(no such VM, no access, or you declined to take the console over), %d when --timeout passed before the console was available, %d when
the server closed the session (another client took it over, the VM stopped); the reason
is printed.`, ExitWaitTimedOut, ExitSessionClosed),
		Example: `  d8 v console linux-vm
  d8 v console linux-vm.prod
  d8 v console -n prod linux-vm --timeout=1m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), streams, args[0])
		},
	}
	o.addFlags(cmd)
	cmd.Flags().DurationVar(&o.timeout, "timeout", o.timeout, "How long to wait for the console of a VM that is not running yet.")
	cmd.Flags().BoolVar(&o.force, "force", false, "Connect without asking, even when somebody else is using the console.")
	return cmd
}

func (o *consoleOptions) run(ctx context.Context, streams Streams, target string) error {
	d, err := o.dialer(target)
	if err != nil {
		return err
	}
	if !askBeforeTakeover(ctx, streams, d, "console", "serial console", o.force) {
		return &exitError{code: ExitOperationFailed}
	}
	nl := "\n"
	if f, ok := streams.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		state, err := term.MakeRaw(int(f.Fd()))
		if err != nil {
			return fmt.Errorf("putting the terminal into raw mode: %w", err)
		}
		defer term.Restore(int(f.Fd()), state)
		nl = "\r\n" // raw mode does not turn \n into \r\n
	}
	keys := readChunks(streams.In)

	conn, pending, err := o.connect(ctx, streams, d, keys, nl)
	if err != nil || conn == nil {
		return err
	}
	defer conn.CloseNow()
	fmt.Fprintf(streams.ErrOut, "Successfully connected to %s console. The escape sequence is ^]%s", d.name, nl)
	return consoleSession(ctx, streams, conn, keys, pending, nl)
}

// connect dials until the console answers or --timeout passes. Keys typed meanwhile are kept
// for the session; ^] gives up, and then conn is nil and err nil.
func (o *consoleOptions) connect(ctx context.Context, streams Streams, d *vmDialer, keys <-chan []byte, nl string) (*websocket.Conn, [][]byte, error) {
	waitCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var pending [][]byte
	lastMessage := ""
	for {
		conn, err := d.dial(waitCtx, "console", nil)
		if err == nil {
			return conn, pending, nil
		}
		if !isTemporary(err) && waitCtx.Err() == nil {
			return nil, nil, fmt.Errorf("connecting to the console of VirtualMachine %s/%s: %w", d.namespace, d.name, err)
		}
		if err.Error() != lastMessage && waitCtx.Err() == nil {
			lastMessage = err.Error()
			fmt.Fprintf(streams.ErrOut, "Waiting for the console of VirtualMachine %s/%s: %s%s", d.namespace, d.name, lastMessage, nl)
		}
		if escaped := waitForRetry(waitCtx, &keys, &pending); escaped {
			return nil, nil, nil
		}
		if waitCtx.Err() != nil {
			if ctx.Err() != nil {
				return nil, nil, nil
			}
			fmt.Fprintf(streams.ErrOut, "error: gave up after %s waiting for the console of VirtualMachine %s/%s: %s%s",
				o.timeout, d.namespace, d.name, lastMessage, nl)
			return nil, nil, &exitError{code: ExitWaitTimedOut}
		}
	}
}

// waitForRetry sleeps streamRetryInterval or until ctx ends, keeping the keys typed meanwhile
// in pending; it reports whether one of them was ^].
func waitForRetry(ctx context.Context, keys *<-chan []byte, pending *[][]byte) (escaped bool) {
	timer := time.NewTimer(streamRetryInterval)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		case chunk, ok := <-*keys:
			if !ok {
				*keys = nil
				continue
			}
			if bytes.IndexByte(chunk, escapeKey) >= 0 {
				return true
			}
			*pending = append(*pending, chunk)
		}
	}
}

// consoleSession copies keys to the console and the console to stdout until ^], an
// interrupt, or the end of the connection.
func consoleSession(ctx context.Context, streams Streams, conn *websocket.Conn, keys <-chan []byte, pending [][]byte, nl string) error {
	readDone := make(chan error, 1)
	go func() {
		for {
			_, r, err := conn.Reader(ctx)
			if err == nil {
				_, err = io.Copy(streams.Out, r)
			}
			if err != nil {
				readDone <- err
				return
			}
		}
	}()
	send := func(chunk []byte) (escaped bool, err error) {
		if i := bytes.IndexByte(chunk, escapeKey); i >= 0 {
			chunk, escaped = chunk[:i], true
		}
		if len(chunk) > 0 {
			err = conn.Write(ctx, websocket.MessageBinary, chunk)
		}
		return escaped, err
	}
	for _, chunk := range pending {
		if escaped, err := send(chunk); escaped || err != nil {
			conn.Close(websocket.StatusNormalClosure, "")
			return nil
		}
	}
	for {
		select {
		case chunk, ok := <-keys:
			if !ok {
				// stdin ended (a pipe): keep showing the console until it closes.
				keys = nil
				continue
			}
			escaped, err := send(chunk)
			if escaped {
				conn.Close(websocket.StatusNormalClosure, "")
				return nil
			}
			if err != nil && ctx.Err() == nil {
				// The reader sees why and reports it.
				keys = nil
			}
		case err := <-readDone:
			if ctx.Err() != nil {
				return nil
			}
			var closeErr websocket.CloseError
			if errors.As(err, &closeErr) {
				reason := closeErr.Reason
				if reason == "" {
					reason = closeErr.Code.String()
				}
				fmt.Fprintf(streams.ErrOut, "%serror: the server closed the console session: %s%s", nl, reason, nl)
			} else {
				fmt.Fprintf(streams.ErrOut, "%serror: lost the console connection: %v%s", nl, err, nl)
			}
			return &exitError{code: ExitSessionClosed}
		case <-ctx.Done():
			conn.Close(websocket.StatusNormalClosure, "")
			return nil
		}
	}
}

// readChunks reads r in the background; the channel closes at its end. The goroutine ends
// with r: a terminal is read until the process exits.
func readChunks(r io.Reader) <-chan []byte {
	ch := make(chan []byte, 16)
	go func() {
		defer close(ch)
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				ch <- bytes.Clone(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}
