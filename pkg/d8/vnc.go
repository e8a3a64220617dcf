package d8

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"strconv"

	"github.com/spf13/cobra"
)

type vncOptions struct {
	vmStreamOptions
	proxyOnly bool
	port      int
	web       bool
	novncDir  string
	force     bool
}

func newVNCCommand(streams Streams) *cobra.Command {
	o := &vncOptions{}
	cmd := &cobra.Command{
		Use:   "vnc NAME[.NAMESPACE]",
		Short: "Open the graphical console (VNC) of a virtual machine",
		Long: `Listen on 127.0.0.1 and carry each VNC connection made there to the graphical console of
the virtual machine NAME, through the API server. Without --proxy-only, d8 starts
remote-viewer or vncviewer on that address when one is installed and returns when it exits;
otherwise it prints the address and serves until interrupted. With --proxy-only it prints
{"port":N} on stdout, for programs, and serves until interrupted.

With --web, d8 serves noVNC (the browser VNC client; Debian's novnc package, or
--novnc-dir) on 127.0.0.1 instead, prints the URL of the VM's screen and opens it with
xdg-open when there is one; with --proxy-only it prints {"port":N,"url":"..."} and opens
nothing. The URL holds a random token: only who has it can connect. Each browser tab gets
its own VNC stream.

Exit status: 0 when interrupted or when the viewer exited successfully, 1 when d8 could not
listen, noVNC was not found, or the viewer failed.`,
		Example: `  d8 v vnc linux-vm
  d8 v vnc linux-vm.prod --proxy-only
  d8 v vnc linux-vm --web
  d8 v vnc linux-vm --web --proxy-only --port 6080 --novnc-dir ./node_modules/@novnc/novnc`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), streams, args[0])
		},
	}
	o.addFlags(cmd)
	f := cmd.Flags()
	f.BoolVar(&o.proxyOnly, "proxy-only", false, `Only run the proxy: print {"port":N} and serve until interrupted.`)
	f.IntVar(&o.port, "port", 0, "Port to listen on (default: a free one).")
	f.BoolVar(&o.force, "force", false, "Connect without asking, even when somebody else is using the VNC.")
	f.BoolVar(&o.web, "web", false, "Serve noVNC on 127.0.0.1 and open the VM's screen in the browser.")
	f.StringVar(&o.novncDir, "novnc-dir", "", "noVNC's files (the directory holding core/rfb.js), for --web (default: "+defaultNoVNCDir+").")
	return cmd
}

func (o *vncOptions) run(ctx context.Context, streams Streams, target string) error {
	d, err := o.dialer(target)
	if err != nil {
		return err
	}
	if !askBeforeTakeover(ctx, streams, d, "vnc", "VNC", o.force) {
		return &exitError{code: ExitOperationFailed}
	}
	if o.web {
		return o.runWeb(ctx, streams, d)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.port)))
	if err != nil {
		return err
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan struct{})
	go func() {
		defer close(served)
		forwardListener(ctx, ln, d, "vnc", nil, streams.ErrOut)
	}()
	defer func() { cancel(); <-served }()

	if o.proxyOnly {
		line, _ := json.Marshal(struct {
			Port int `json:"port"`
		}{port})
		fmt.Fprintln(streams.Out, string(line))
		<-ctx.Done()
		return nil
	}
	viewer := vncViewerCommand(ctx, port)
	if viewer == nil {
		fmt.Fprintf(streams.Out, "No VNC viewer found (remote-viewer or vncviewer): connect one to 127.0.0.1:%d (VNC display vnc://127.0.0.1:%d). Press Ctrl+C to stop.\n", port, port)
		<-ctx.Done()
		return nil
	}
	fmt.Fprintf(streams.ErrOut, "Starting %s on 127.0.0.1:%d\n", viewer.Path, port)
	viewer.Stdout, viewer.Stderr = streams.ErrOut, streams.ErrOut
	if err := viewer.Run(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("%s: %w", viewer.Path, err)
	}
	return nil
}

// vncViewerCommand is the first viewer installed, pointed at 127.0.0.1:port, or nil.
func vncViewerCommand(ctx context.Context, port int) *exec.Cmd {
	if path, err := exec.LookPath("remote-viewer"); err == nil {
		return exec.CommandContext(ctx, path, fmt.Sprintf("vnc://127.0.0.1:%d", port))
	}
	if path, err := exec.LookPath("vncviewer"); err == nil {
		// host::port is a port for TigerVNC and TightVNC; host:N would be display N.
		return exec.CommandContext(ctx, path, fmt.Sprintf("127.0.0.1::%d", port))
	}
	return nil
}
