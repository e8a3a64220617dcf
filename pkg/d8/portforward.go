package d8

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

type portForwardOptions struct {
	vmStreamOptions
	stdio bool
}

// forwardedPort is one [tcp/]LOCAL[:REMOTE] argument.
type forwardedPort struct {
	local, remote int
}

func newPortForwardCommand(streams Streams) *cobra.Command {
	o := &portForwardOptions{}
	cmd := &cobra.Command{
		Use:   "port-forward NAME[.NAMESPACE] [tcp/]LOCAL[:REMOTE]...",
		Short: "Forward local TCP ports to a virtual machine",
		Long: fmt.Sprintf(`Listen on 127.0.0.1:LOCAL and carry each connection made there to port REMOTE of the
virtual machine NAME (REMOTE defaults to LOCAL; LOCAL 0 picks a free port), through the API
server. With --stdio, stdin and stdout are one connection to the single port given, as
ssh's ProxyCommand wants.

Exit status: 0 when interrupted (with --stdio: when stdin or the connection ended), 1 when
d8 could not listen or connect, %d when the server closed the --stdio stream with an error.`, ExitSessionClosed),
		Example: `  d8 v port-forward linux-vm 8080:80
  d8 v port-forward linux-vm.prod 5432 8080:80
  ssh -o 'ProxyCommand=d8 v port-forward --stdio linux-vm.prod 22' user@linux-vm.prod`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), streams, args[0], args[1:])
		},
	}
	o.addFlags(cmd)
	cmd.Flags().BoolVar(&o.stdio, "stdio", false, "Forward stdin and stdout to the single port given instead of listening.")
	return cmd
}

func parseForwardedPort(s string) (forwardedPort, error) {
	spec := s
	if proto, rest, ok := strings.Cut(s, "/"); ok {
		if proto != "tcp" {
			return forwardedPort{}, fmt.Errorf("%q: only tcp is forwarded", s)
		}
		spec = rest
	}
	localText, remoteText, hasRemote := strings.Cut(spec, ":")
	if !hasRemote {
		remoteText = localText
	}
	local, err := strconv.Atoi(localText)
	if err != nil || local < 0 || local > 65535 {
		return forwardedPort{}, fmt.Errorf("%q: expected [tcp/]LOCAL[:REMOTE] with ports 0-65535", s)
	}
	remote, err := strconv.Atoi(remoteText)
	if err != nil || remote < 1 || remote > 65535 {
		return forwardedPort{}, fmt.Errorf("%q: expected [tcp/]LOCAL[:REMOTE] with a remote port 1-65535", s)
	}
	return forwardedPort{local: local, remote: remote}, nil
}

func portForwardQuery(remote int) url.Values {
	return url.Values{"port": {strconv.Itoa(remote)}, "protocol": {"tcp"}}
}

func (o *portForwardOptions) run(ctx context.Context, streams Streams, target string, specs []string) error {
	var ports []forwardedPort
	for _, s := range specs {
		p, err := parseForwardedPort(s)
		if err != nil {
			return err
		}
		ports = append(ports, p)
	}
	d, err := o.dialer(target)
	if err != nil {
		return err
	}
	if o.stdio {
		if len(ports) != 1 {
			return fmt.Errorf("--stdio forwards exactly one port, got %d", len(ports))
		}
		return forwardStdio(ctx, streams, d, ports[0].remote)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var listeners []net.Listener
	defer func() {
		for _, ln := range listeners {
			ln.Close()
		}
	}()
	for _, p := range ports {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.local)))
		if err != nil {
			return err
		}
		listeners = append(listeners, ln)
		fmt.Fprintf(streams.Out, "Forwarding from %s -> %d\n", ln.Addr(), p.remote)
	}
	done := make(chan struct{}, len(ports))
	for i, p := range ports {
		go func() {
			forwardListener(ctx, listeners[i], d, "portforward", portForwardQuery(p.remote), streams.ErrOut)
			done <- struct{}{}
		}()
	}
	for range ports {
		<-done
	}
	return nil
}

// forwardStdio is one connection between stdin/stdout and the remote port.
func forwardStdio(ctx context.Context, streams Streams, d *vmDialer, remote int) error {
	conn, err := d.dial(ctx, "portforward", portForwardQuery(remote))
	if err != nil {
		return fmt.Errorf("connecting to port %d of VirtualMachine %s/%s: %w", remote, d.namespace, d.name, err)
	}
	defer conn.CloseNow()
	if err := pipeStream(ctx, streams.In, streams.Out, conn); err != nil && ctx.Err() == nil {
		fmt.Fprintf(streams.ErrOut, "error: the stream to port %d of VirtualMachine %s/%s ended: %v\n", remote, d.namespace, d.name, err)
		return &exitError{code: ExitSessionClosed}
	}
	return nil
}
