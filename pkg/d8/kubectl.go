package d8

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"

	"github.com/spf13/cobra"
)

// EnvKubectl names the kubectl binary `d8 k` runs instead of the one on PATH.
const EnvKubectl = "D8_KUBECTL"

// newKubectlCommand is `d8 k ARGS...`: kubectl with the same arguments, streams and exit code.
func newKubectlCommand(streams Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "k [kubectl arguments]",
		Short: "Run kubectl with the given arguments",
		// Every argument, flags and --help included, belongs to kubectl.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runKubectl(streams, args)
		},
	}
}

func runKubectl(streams Streams, args []string) error {
	bin := os.Getenv(EnvKubectl)
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("kubectl"); err != nil {
			return fmt.Errorf("kubectl not found on PATH (or set %s): %w", EnvKubectl, err)
		}
	}
	c := exec.Command(bin, args...)
	c.Stdin, c.Stdout, c.Stderr = streams.In, streams.Out, streams.ErrOut
	return runChild(c)
}

// runChild runs a program d8 hands the terminal to (kubectl, ssh, scp) and returns its exit
// status as an *exitError.
func runChild(c *exec.Cmd) error {
	// Ctrl-C reaches the child through the terminal's process group; d8 waits for it to
	// finish (it may print or clean up) instead of dying first.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt)
	defer signal.Stop(signals)
	err := c.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code := exit.ExitCode()
		if code < 0 {
			code = 1 // killed by a signal
		}
		return &exitError{code: code}
	}
	if err != nil {
		return fmt.Errorf("running %s: %w", c.Path, err)
	}
	return nil
}
