package d8

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"
	"golang.org/x/term"
)

// ExitInterrupted: d8 was interrupted (Ctrl-C, SIGTERM) before the remote command ended, as
// a shell reports a command killed by SIGINT.
const ExitInterrupted = 130

type sshCommandOptions struct {
	sshOptions
	command string
}

func newSSHCommand(streams Streams) *cobra.Command {
	o := &sshCommandOptions{}
	cmd := &cobra.Command{
		Use:   "ssh [USER@]NAME[.NAMESPACE]",
		Short: "Open an SSH session to a virtual machine",
		Long: fmt.Sprintf(`Log in to the virtual machine NAME over SSH, through the API server (port-forward to
--port of the VM): no address of the VM needs to be reachable.

The built-in client logs in with the keys of the ssh-agent (SSH_AUTH_SOCK), the identity
files, then a password asked on the terminal. It checks the VM's host key in the known_hosts
file under the name vm/NAME.NAMESPACE; an unknown key is added when you confirm it on the
terminal (without a terminal it is refused), a changed key is always refused. Without
--command it opens a shell (with a terminal when stdin is one); with --command it runs the
command and exits with its status.

With --local-ssh, d8 runs the local OpenSSH client with this d8 as its ProxyCommand and
HostKeyAlias=vm/NAME.NAMESPACE; --local-ssh-opts are passed to it.

Exit status: the remote command's (without --command: the shell's) exit status when it ran;
1 when d8 could not connect or log in (no such VM, host key not trusted, authentication
failed), %d when the connection was lost before the command ended, %d when interrupted.
With --local-ssh, ssh's own status (255 for its errors).`, ExitSessionClosed, ExitInterrupted),
		Example: `  d8 v ssh cloud@linux-vm
  d8 v ssh cloud@linux-vm.prod --command "nproc"
  d8 v ssh cloud@linux-vm --local-ssh --command "nproc"
  d8 v ssh -l cloud -i ~/.ssh/vm_key -n prod linux-vm
  d8 v ssh cloud@linux-vm --local-ssh --local-ssh-opts="-o StrictHostKeyChecking=accept-new"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), streams, args[0])
		},
	}
	o.addFlags(cmd)
	cmd.Flags().StringVarP(&o.command, "command", "c", "", "Run this command instead of a shell, and exit with its status.")
	return cmd
}

func (o *sshCommandOptions) run(ctx context.Context, streams Streams, target string) error {
	h, d, err := o.resolveHost(target)
	if err != nil {
		return err
	}
	if o.localSSH {
		args, err := o.localSSHArgs(h, "-p")
		if err != nil {
			return err
		}
		if h.user != "" {
			args = append(args, "-l", h.user)
		}
		args = append(args, h.sshHost())
		if o.command != "" {
			args = append(args, o.command)
		}
		return runLocal(streams, "ssh", args)
	}

	client, err := o.dialSSH(ctx, streams, d, h)
	if err != nil {
		return err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("opening a session on %s: %w", h.alias(), err)
	}
	defer session.Close()
	session.Stdin, session.Stdout, session.Stderr = streams.In, streams.Out, streams.ErrOut

	if o.command != "" {
		err = session.Start(o.command)
	} else {
		var restore func()
		restore, err = startShell(ctx, streams, session)
		defer restore()
	}
	if err != nil {
		return fmt.Errorf("starting the session on %s: %w", h.alias(), err)
	}
	return sessionResult(ctx, streams, session.Wait())
}

// startShell starts a login shell, on a remote terminal of the local one's size when stdin
// and stdout are terminals; restore puts the local terminal back as it was.
func startShell(ctx context.Context, streams Streams, session *ssh.Session) (restore func(), err error) {
	restore = func() {}
	in, inOK := streams.In.(*os.File)
	out, outOK := streams.Out.(*os.File)
	if !inOK || !outOK || !term.IsTerminal(int(in.Fd())) || !term.IsTerminal(int(out.Fd())) {
		return restore, session.Shell()
	}
	width, height, err := term.GetSize(int(out.Fd()))
	if err != nil {
		width, height = 80, 24
	}
	termType := os.Getenv("TERM")
	if termType == "" {
		termType = "xterm-256color"
	}
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err := session.RequestPty(termType, height, width, modes); err != nil {
		return restore, err
	}
	state, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return restore, fmt.Errorf("putting the terminal into raw mode: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	restore = func() {
		cancel()
		term.Restore(int(in.Fd()), state)
	}
	go followWindowSize(ctx, session, int(out.Fd()))
	return restore, session.Shell()
}

// followWindowSize tells the remote terminal the local one's size when it changes.
func followWindowSize(ctx context.Context, session *ssh.Session, fd int) {
	changes := make(chan os.Signal, 1)
	signal.Notify(changes, syscall.SIGWINCH)
	defer signal.Stop(changes)
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
			if width, height, err := term.GetSize(fd); err == nil {
				session.WindowChange(height, width)
			}
		}
	}
}

// sessionResult turns the end of a session into d8's exit status.
func sessionResult(ctx context.Context, streams Streams, err error) error {
	var exit *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return &exitError{code: ExitInterrupted}
	case errors.As(err, &exit) && exit.Signal() == "":
		return &exitError{code: exit.ExitStatus()}
	case errors.As(err, &exit):
		fmt.Fprintf(streams.ErrOut, "error: the remote command was killed by signal %s\n", exit.Signal())
		return &exitError{code: ExitOperationFailed}
	case errors.As(err, &missing):
		fmt.Fprintln(streams.ErrOut, "error: the session ended without an exit status: the connection was lost")
		return &exitError{code: ExitSessionClosed}
	default:
		fmt.Fprintf(streams.ErrOut, "error: the session ended: %v\n", err)
		return &exitError{code: ExitSessionClosed}
	}
}
