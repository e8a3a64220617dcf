// Package platform tests what the platform does with objects, end to end on the whole local
// stack: kube-apiserver, kube-scheduler, virtualization-apiserver, virtualization-controller,
// DVCR and two local nodes (the stand-ins for kubelet and CSI) running importer Pods as
// processes. Images are made here with qemu-img and served by HTTP servers and an OCI
// registry on loopback; the tests check what a user would: phases, columns, and the bytes in
// DVCR and on the volumes.
package platform

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/virtplane/virtplane/internal/localstack"
	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
	"github.com/virtplane/virtplane/test/e2e/e2eutil"
)

var (
	stack *localstack.Stack
	// client reaches our group through kube-apiserver as admin; core reaches core objects.
	client versioned.Interface
	core   kubernetes.Interface
	// stackDir holds the stack's state (volumes, DVCR storage, config).
	stackDir string
	bin      string
	repoRoot string
	// files serves the fixtures over HTTP; fileURL(name) is a file's address.
	files    *httptest.Server
	fixtures *fixtureSet
)

// uploadWaitTimeout is short so the timeout test does not wait the default 10 minutes.
const uploadWaitTimeout = "25s"

// leaseRetention is short so the release test does not wait the default 10 minutes.
const leaseRetention = "20s"

// migrationTargetTimeout is short so a migration no node can take fails in seconds, not the
// default 2 minutes.
const migrationTargetTimeout = "20s"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Join(filepath.Dir(file), "..", "..", "..")
	bin = os.Getenv("E2E_BIN")
	if bin == "" {
		bin = filepath.Join(repoRoot, "bin")
	}
	for _, prog := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
		"virtualization-apiserver", "virtualization-controller", "virtualization-importer", "dvcr", "local-node", "d8"} {
		if _, err := os.Stat(filepath.Join(bin, prog)); err != nil {
			fmt.Printf("platform e2e: skipped, %s is not built: run `make test` (it builds bin/ first)\n", prog)
			return 0
		}
	}
	for _, tool := range []string{"kubectl", "qemu-img", "genisoimage", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Printf("platform e2e: %s is required (hack/install-deps.sh installs it): %v\n", tool, err)
			return 1
		}
	}
	var err error
	if stackDir, err = os.MkdirTemp("", "virtplane-platform-"); err != nil {
		fmt.Println(err)
		return 1
	}
	// E2E_KEEP=1 keeps the stack's directory (logs, volumes, DVCR storage) for a post-mortem.
	if os.Getenv("E2E_KEEP") == "" {
		defer os.RemoveAll(stackDir)
	} else {
		defer fmt.Println("platform e2e: kept", stackDir)
	}

	if fixtures, err = makeFixtures(filepath.Join(stackDir, "fixtures")); err != nil {
		fmt.Println("platform e2e: making images:", err)
		return 1
	}
	// The test guest (hack/guest/build.sh, run by make test) boots in the VM tests.
	guest := filepath.Join(bin, "guest", "guest.qcow2")
	if _, err := os.Stat(guest); err != nil {
		fmt.Printf("platform e2e: the guest image is missing (%v): run hack/guest/build.sh or make test\n", err)
		return 1
	}
	if err := os.Symlink(guest, filepath.Join(fixtures.dir, "guest.qcow2")); err != nil {
		fmt.Println(err)
		return 1
	}
	files = httptest.NewServer(fixtures.handler())
	defer files.Close()

	kubectlBin, _ := exec.LookPath("kubectl")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	start := time.Now()
	stack, err = localstack.Start(ctx, localstack.Options{
		Dir:                     stackDir,
		Bin:                     bin,
		RBAC:                    filepath.Join(repoRoot, "artifacts", "rbac"),
		Kubectl:                 kubectlBin,
		UploadWaitTimeout:       uploadWaitTimeout,
		IPAddressLeaseRetention: leaseRetention,
		MigrationTargetTimeout:  migrationTargetTimeout,
	})
	cancel()
	if err != nil {
		fmt.Println("platform e2e: starting the stack:", err)
		printLogs(stackDir)
		return 1
	}
	defer stack.Stop()
	fmt.Printf("platform e2e: stack ready in %s\n", time.Since(start).Round(time.Millisecond))
	cfg, err := clientcmd.BuildConfigFromFlags("", stack.Kubeconfig)
	if err == nil {
		client, err = versioned.NewForConfig(cfg)
	}
	if err == nil {
		core, err = kubernetes.NewForConfig(cfg)
	}
	if err != nil {
		fmt.Println("platform e2e: clients:", err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		printLogs(stackDir)
	}
	return code
}

func fileURL(name string) string { return files.URL + "/" + name }

// fill replaces the placeholders of a manifest.
func fill(manifest string, kv ...string) string {
	return strings.NewReplacer(kv...).Replace(manifest)
}

// notFoundHandler answers 404 for everything: a source that does not exist.
var notFoundHandler = http.NotFoundHandler()

func printLogs(dir string) { e2eutil.PrintLogs(dir, 30) }

func kubectl(t *testing.T, stdin string, args ...string) (string, error) {
	return e2eutil.Kubectl(t, stack, stdin, args...)
}

func mustKubectl(t *testing.T, stdin string, args ...string) string {
	return e2eutil.MustKubectl(t, stack, stdin, args...)
}

func namespace(t *testing.T, name string) string { return e2eutil.Namespace(t, stack, name) }
