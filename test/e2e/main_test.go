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
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/virtplane/virtplane/internal/localstack"
	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
	"github.com/virtplane/virtplane/test/e2e/e2eutil"
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

func printLogs(dir string) { e2eutil.PrintLogs(dir, 20) }

func kubectl(t *testing.T, stdin string, args ...string) (string, error) {
	return e2eutil.Kubectl(t, stack, stdin, args...)
}

func mustKubectl(t *testing.T, stdin string, args ...string) string {
	return e2eutil.MustKubectl(t, stack, stdin, args...)
}

func namespace(t *testing.T, name string) string { return e2eutil.Namespace(t, stack, name) }
