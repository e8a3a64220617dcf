// Package e2eutil holds the steps the end-to-end packages share: kubectl against the local
// stack, a namespace per test, and the programs' logs when something failed.
package e2eutil

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/virtplane/virtplane/internal/localstack"
)

// Kubectl runs the real kubectl as the stack's admin (or as another user with "--as", ...)
// and returns its combined output.
func Kubectl(t testing.TB, s *localstack.Stack, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out []byte
	var err error
	if stdin != "" {
		out, err = s.Kubectl(ctx, strings.NewReader(stdin), args...)
	} else {
		out, err = s.Kubectl(ctx, nil, args...)
	}
	return string(out), err
}

// MustKubectl is Kubectl that fails the test on error.
func MustKubectl(t testing.TB, s *localstack.Stack, stdin string, args ...string) string {
	t.Helper()
	out, err := Kubectl(t, s, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Namespace creates a namespace for one test and deletes it afterwards.
func Namespace(t testing.TB, s *localstack.Stack, name string) string {
	t.Helper()
	MustKubectl(t, s, "", "create", "namespace", name)
	t.Cleanup(func() { _, _ = Kubectl(t, s, "", "delete", "namespace", name, "--wait=false") })
	return name
}

// PrintLogs shows the end of each program's log in the stack's directory.
func PrintLogs(dir string, lines int) {
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		all := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(all) > lines {
			all = all[len(all)-lines:]
		}
		fmt.Printf("--- %s (last lines)\n%s\n", filepath.Base(l), strings.Join(all, "\n"))
	}
}
