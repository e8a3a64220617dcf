// Package e2e tests the project as users meet it: the real local stack (etcd, kube-apiserver
// with RBAC and aggregation, kube-controller-manager, virtualization-apiserver behind its
// APIService) driven by the real kubectl and the generated clientset through kube-apiserver.
//
// The programs come from bin/ (make test builds them; E2E_BIN overrides the directory). The
// stack runs on free loopback ports in a temporary directory and stops when the tests end.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/virtplane/virtplane/internal/localstack"
	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
)

var (
	stack *localstack.Stack
	// client is the generated clientset reaching our server through kube-apiserver as admin.
	client versioned.Interface
	// repoRoot is the repository's top directory.
	repoRoot string
)

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Join(filepath.Dir(file), "..", "..")
	bin := os.Getenv("E2E_BIN")
	if bin == "" {
		bin = filepath.Join(repoRoot, "bin")
	}
	for _, prog := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "virtualization-apiserver"} {
		if _, err := os.Stat(filepath.Join(bin, prog)); err != nil {
			fmt.Printf("e2e: skipped, %s is not built: run `make test` (it builds bin/ first)\n", prog)
			os.Exit(0)
		}
	}
	kubectlBin, err := exec.LookPath("kubectl")
	if err != nil {
		fmt.Println("e2e: kubectl is required:", err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "virtplane-e2e-")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	start := time.Now()
	stack, err = localstack.Start(ctx, localstack.Options{
		Dir:     dir,
		Bin:     bin,
		RBAC:    filepath.Join(repoRoot, "artifacts", "rbac"),
		Kubectl: kubectlBin,
		// The API alone: these tests write status themselves (columns, RBAC), which a running
		// controller would overwrite. test/e2e/platform runs the whole platform.
		WithoutPlatform: true,
	})
	cancel()
	code := 1
	if err != nil {
		fmt.Println("e2e: starting the stack:", err)
		printLogs(dir)
	} else {
		fmt.Printf("e2e: stack ready in %s\n", time.Since(start).Round(time.Millisecond))
		cfg, err := clientcmd.BuildConfigFromFlags("", stack.Kubeconfig)
		if err == nil {
			client, err = versioned.NewForConfig(cfg)
		}
		if err != nil {
			fmt.Println("e2e: client:", err)
		} else {
			code = m.Run()
		}
		if code != 0 {
			printLogs(dir)
		}
		stack.Stop()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// printLogs shows the end of each program's log when something failed.
func printLogs(dir string) {
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		fmt.Printf("--- %s (last lines)\n%s\n", filepath.Base(l), strings.Join(lines, "\n"))
	}
}

// kubectl runs the real kubectl as admin (or as another user with "--as", ...) and returns
// its combined output.
func kubectl(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var in *strings.Reader
	if stdin != "" {
		in = strings.NewReader(stdin)
	}
	var out []byte
	var err error
	if in != nil {
		out, err = stack.Kubectl(ctx, in, args...)
	} else {
		out, err = stack.Kubectl(ctx, nil, args...)
	}
	return string(out), err
}

// mustKubectl is kubectl that fails the test on error.
func mustKubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := kubectl(t, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// namespace creates a namespace for one test and deletes it afterwards.
func namespace(t *testing.T, name string) string {
	t.Helper()
	mustKubectl(t, "", "create", "namespace", name)
	t.Cleanup(func() { _, _ = kubectl(t, "", "delete", "namespace", name, "--wait=false") })
	return name
}
