// Command d8 is the platform's command line: `d8 k ...` runs kubectl, `d8 v ...` works with
// virtual machines and their images (upload, start, stop, restart, evict, migrate, console, vnc,
// port-forward, ssh, scp).
package main

import (
	"os"

	"github.com/virtplane/virtplane/pkg/d8"
)

func main() {
	os.Exit(d8.Main(os.Args[1:]))
}
