// Command virtualization-importer is what importer Pods run:
//
//	virtualization-importer import|upload|fill
//
// configured only by the environment variables in pkg/importer/contract.go. It serves
// progress on IMPORTER_LISTEN, writes the Result as the termination message and exits 0 on
// success, 1 on failure.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/virtplane/virtplane/pkg/importer"
)

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Args, os.Getenv)
	stop()
	os.Exit(code)
}

// run is main without the process: arguments and environment in, exit code out.
func run(ctx context.Context, args []string, getenv func(string) string) int {
	if len(args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s %s|%s|%s (configured by IMPORTER_* environment variables)\n",
			args[0], importer.ModeImport, importer.ModeUpload, importer.ModeFill)
		return 2
	}
	mode := args[1]
	cfg := importer.LoadConfig(getenv)

	var ln net.Listener
	if cfg.Listen != "" {
		var err error
		ln, err = net.Listen("tcp", cfg.Listen)
		if err != nil {
			return finish(cfg, importer.Result{
				Error: fmt.Sprintf("listen on %s: %v", cfg.Listen, err), Reason: importer.ReasonInternal, Retryable: true,
			})
		}
	}
	return finish(cfg, importer.Run(ctx, mode, cfg, ln))
}

// finish writes the termination message and returns the exit code.
func finish(cfg importer.Config, res importer.Result) int {
	if err := importer.WriteResult(cfg.TerminationMessagePath, res); err != nil {
		log.Print(err)
	}
	if res.Error != "" {
		log.Printf("failed: %s (%s)", res.Error, res.Reason)
		return 1
	}
	return 0
}
