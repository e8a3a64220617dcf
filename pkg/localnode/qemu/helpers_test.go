package qemu

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needTool skips a test when a tool from Debian's packages is missing.
func needTool(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s is not installed (hack/install-deps.sh installs it)", tool)
	}
}

// shortTempDir is a temporary directory with a path short enough for unix sockets (t.TempDir
// carries the test's name).
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "qemu-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// blankQcow2 makes an empty qcow2 disk with qemu-img.
func blankQcow2(t *testing.T, dir string) string {
	t.Helper()
	needTool(t, "qemu-img")
	path := filepath.Join(dir, "blank.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", path, "64M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v: %s", err, out)
	}
	return path
}

// startMachine starts cfg and kills the machine when the test ends.
func startMachine(t *testing.T, cfg Config) *Machine {
	t.Helper()
	needTool(t, "qemu-system-x86_64")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Kill(); err != nil {
			t.Errorf("Kill: %v", err)
		}
	})
	return m
}

// waitForLog waits until the file holds want, failing the test after timeout.
func waitForLog(t *testing.T, path, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not show %q after %v; it holds:\n%s", path, want, timeout, data)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitExit waits for the machine to end, failing the test after timeout.
func waitExit(t *testing.T, m *Machine, timeout time.Duration) Exit {
	t.Helper()
	select {
	case <-m.Exited():
		return m.Exit()
	case <-time.After(timeout):
		t.Fatalf("the machine did not end within %v", timeout)
		return Exit{}
	}
}

// retry calls f every half second until it succeeds or ctx ends, and returns f's last error.
func retry(ctx context.Context, f func(context.Context) error) error {
	for {
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := f(callCtx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}
