// Package d8 implements the d8 command line: `d8 k` (kubectl) and `d8 v` (virtualization).
package d8

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Streams are the standard streams of a command, replaceable in tests.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// exitError carries the exit code of a child process (kubectl) or of a failed wait, so d8
// exits with it without printing anything more.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Main runs d8 with args and returns the process exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	streams := Streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	cmd := NewCommand(streams)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	var exit *exitError
	switch {
	case errors.As(err, &exit):
		return exit.code
	case err != nil:
		fmt.Fprintln(streams.ErrOut, "error:", err)
		return 1
	}
	return 0
}

// NewCommand returns the root command with the `k` and `v` groups.
func NewCommand(streams Streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "d8",
		Short:         "Command line of the virtualization platform",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.AddCommand(newKubectlCommand(streams), newVirtualizationCommand(streams))
	return root
}

// newVirtualizationCommand is `d8 v`: one subcommand per action on virtual machines and their
// images.
func newVirtualizationCommand(streams Streams) *cobra.Command {
	v := &cobra.Command{
		Use:     "v",
		Aliases: []string{"virtualization"},
		Short:   "Work with virtual machines, disks and images",
	}
	v.AddCommand(newUploadCommand(streams))
	v.AddCommand(newLifecycleCommands(streams)...)
	v.AddCommand(newConsoleCommand(streams), newVNCCommand(streams), newPortForwardCommand(streams))
	v.AddCommand(newSSHCommand(streams), newSCPCommand(streams))
	return v
}
