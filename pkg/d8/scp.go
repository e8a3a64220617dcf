package d8

import (
	"context"
	"fmt"
	"strings"

	"github.com/pkg/sftp"
	"github.com/spf13/cobra"
)

type scpOptions struct {
	sshOptions
	recursive bool
}

// scpOperand is one side of a copy: a local path, or PATH on a VM.
type scpOperand struct {
	path   string
	remote string // [USER@]NAME[.NAMESPACE], "" for a local path
}

// parseSCPOperand takes [USER@]NAME[.NAMESPACE]:PATH for a VM, as scp does: a colon before
// any slash. Everything else is a local path.
func parseSCPOperand(s string) scpOperand {
	colon := strings.IndexByte(s, ':')
	if colon <= 0 || strings.Contains(s[:colon], "/") {
		return scpOperand{path: s}
	}
	return scpOperand{remote: s[:colon], path: s[colon+1:]}
}

func newSCPCommand(streams Streams) *cobra.Command {
	o := &scpOptions{}
	cmd := &cobra.Command{
		Use:   "scp SOURCE DESTINATION",
		Short: "Copy files to or from a virtual machine",
		Long: fmt.Sprintf(`Copy files between this machine and the virtual machine NAME over SSH (SFTP), through the
API server. One of SOURCE and DESTINATION is [USER@]NAME[.NAMESPACE]:PATH, the other a
local path; a relative PATH is relative to the user's home directory on the VM. Copying into
an existing directory keeps the source's name; -r copies directories.

Logging in and host keys work as for d8 v ssh (the same flags). With --local-ssh, d8 runs
the local OpenSSH scp with this d8 as its ProxyCommand.

Exit status: 0 when everything was copied, 1 when d8 could not connect or log in or a file
could not be copied (the reason is printed), %d when the connection was lost, %d when
interrupted. With --local-ssh, scp's own status.`, ExitSessionClosed, ExitInterrupted),
		Example: `  d8 v scp ./app.conf cloud@linux-vm:/tmp/
  d8 v scp cloud@linux-vm.prod:/var/log/syslog ./syslog
  d8 v scp -r ./site cloud@linux-vm:www
  d8 v scp --local-ssh ./app.conf cloud@linux-vm:`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), streams, args[0], args[1])
		},
	}
	o.addFlags(cmd)
	cmd.Flags().BoolVarP(&o.recursive, "recursive", "r", false, "Copy directories and their contents.")
	return cmd
}

func (o *scpOptions) run(ctx context.Context, streams Streams, srcArg, dstArg string) error {
	src, dst := parseSCPOperand(srcArg), parseSCPOperand(dstArg)
	if (src.remote == "") == (dst.remote == "") {
		return fmt.Errorf("exactly one of %q and %q must be [USER@]NAME[.NAMESPACE]:PATH", srcArg, dstArg)
	}
	vm := src
	if vm.remote == "" {
		vm = dst
	}
	h, d, err := o.resolveHost(vm.remote)
	if err != nil {
		return err
	}
	if o.localSSH {
		return o.runLocal(streams, h, src, dst)
	}

	client, err := o.dialSSH(ctx, streams, d, h)
	if err != nil {
		return err
	}
	defer client.Close()
	files, err := sftp.NewClient(client)
	if err != nil {
		return fmt.Errorf("starting SFTP on %s (does the VM have an sftp-server?): %w", h.alias(), err)
	}
	defer files.Close()
	c := &sftpCopier{client: files, recursive: o.recursive}
	if src.remote == "" {
		err = c.upload(src.path, remotePath(dst.path))
	} else {
		err = c.download(remotePath(src.path), dst.path)
	}
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return &exitError{code: ExitInterrupted}
	}
	fmt.Fprintln(streams.ErrOut, "error:", err)
	if lost(client) {
		return &exitError{code: ExitSessionClosed}
	}
	return &exitError{code: ExitOperationFailed}
}

// runLocal runs the local scp with the VM operand written for it.
func (o *scpOptions) runLocal(streams Streams, h vmHost, src, dst scpOperand) error {
	args, err := o.localSSHArgs(h, "-P")
	if err != nil {
		return err
	}
	if o.recursive {
		args = append(args, "-r")
	}
	operand := func(op scpOperand) string {
		if op.remote == "" {
			return op.path
		}
		host := h.sshHost()
		if h.user != "" {
			host = h.user + "@" + host
		}
		return host + ":" + op.path
	}
	args = append(args, "--", operand(src), operand(dst))
	return runLocal(streams, "scp", args)
}

// remotePath is PATH as the SFTP server takes it: its working directory is the home, so "~/"
// and "" mean that.
func remotePath(p string) string {
	switch {
	case p == "" || p == "~":
		return "."
	case strings.HasPrefix(p, "~/"):
		return strings.TrimPrefix(p, "~/")
	}
	return p
}
