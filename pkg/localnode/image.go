package localnode

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"
)

// ReasonImageNotRunnable is the waiting reason of a container whose image the local node
// cannot run (anything but this project's own programs).
const ReasonImageNotRunnable = "ImageNotRunnableOnLocalNode"

// ProgramName returns the program an image names: the last path element of its repository,
// without tag or digest ("registry.example.com:5000/x/virtualization-importer@sha256:..." →
// "virtualization-importer"); "" for a malformed reference.
func ProgramName(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return ""
	}
	return path.Base(reference.Path(named))
}

// resolveProgram returns the executable in binDir that image names, or an error whose text
// is the message shown on the refused container.
func resolveProgram(binDir, image string) (string, error) {
	name := ProgramName(image)
	refuse := fmt.Errorf("image %q is not run: the local node (a stand-in for a kubelet) only runs this project's own programs from %s", image, binDir)
	if name == "" || name == "." || name == "/" || strings.HasPrefix(name, ".") {
		return "", refuse
	}
	p := filepath.Join(binDir, name)
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", refuse
	}
	return p, nil
}

// commandLine builds argv for a container: the program replaces command[0] when command[0]
// names it (or another program of binDir); without a command the program runs with args.
func commandLine(binDir, program string, command, args []string) ([]string, error) {
	if len(command) == 0 {
		return append([]string{program}, args...), nil
	}
	first := command[0]
	exe := program
	if base := filepath.Base(first); base != filepath.Base(program) {
		// An image may carry several programs (e.g. "dvcr gc"): allow any of ours.
		other, err := resolveProgram(binDir, base)
		if err != nil {
			return nil, fmt.Errorf("command %q is not run: the local node only runs this project's own programs from %s", first, binDir)
		}
		exe = other
	}
	out := append([]string{exe}, command[1:]...)
	return append(out, args...), nil
}
