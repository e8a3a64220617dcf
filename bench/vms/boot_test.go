package vms

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/virtplane/virtplane/internal/localstack"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
)

// TestRealBoot times one VM of the test guest under the machine's accelerator (TCG here):
// create → Running (qemu started) → AgentReady (the guest booted and its agent answers).
// Information, not a goal.
func TestRealBoot(t *testing.T) {
	if os.Getenv("BENCH_VMS") == "" {
		t.Skip("a benchmark: run bash bench/vms.sh (or set BENCH_VMS=1)")
	}
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..", "..")
	guest := filepath.Join(repo, "bin", "guest")
	if _, err := os.Stat(filepath.Join(guest, "guest.qcow2")); err != nil {
		t.Fatalf("the guest image is missing: run hack/guest/build.sh (%v)", err)
	}
	files := httptest.NewServer(http.FileServer(http.Dir(guest)))
	defer files.Close()
	kubectlBin, _ := exec.LookPath("kubectl")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	stack, err := localstack.Start(ctx, localstack.Options{
		Dir: t.TempDir(), Bin: filepath.Join(repo, "bin"), RBAC: filepath.Join(repo, "artifacts", "rbac"), Kubectl: kubectlBin,
	})
	if err != nil {
		t.Fatalf("start the stack: %v", err)
	}
	defer stack.Stop()
	cfg, _ := clientcmd.BuildConfigFromFlags("", stack.Kubeconfig)
	virt := versioned.NewForConfigOrDie(cfg)
	kube := kubernetes.NewForConfigOrDie(cfg)
	const ns = "boot"
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	v := virt.VirtualizationV1alpha2()
	if _, err := v.VirtualImages(ns).Create(ctx, &v1alpha2.VirtualImage{
		ObjectMeta: metav1.ObjectMeta{Name: "guest"},
		Spec: v1alpha2.VirtualImageSpec{Storage: v1alpha2.StorageContainerRegistry, DataSource: v1alpha2.VirtualImageDataSource{
			Type: v1alpha2.DataSourceTypeHTTP, HTTP: &v1alpha2.DataSourceHTTP{URL: files.URL + "/guest.qcow2"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.VirtualDisks(ns).Create(ctx, &v1alpha2.VirtualDisk{
		ObjectMeta: metav1.ObjectMeta{Name: "root"},
		Spec: v1alpha2.VirtualDiskSpec{DataSource: &v1alpha2.VirtualDiskDataSource{Type: v1alpha2.DataSourceTypeObjectRef,
			ObjectRef: &v1alpha2.VirtualDiskObjectRef{Kind: v1alpha2.VirtualDiskObjectRefKindVirtualImage, Name: "guest"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Minute, "the disk Ready", func() bool {
		vd, err := v.VirtualDisks(ns).Get(ctx, "root", metav1.GetOptions{})
		return err == nil && vd.Status.Phase == v1alpha2.DiskReady
	})
	start := time.Now()
	if _, err := v.VirtualMachines(ns).Create(ctx, &v1alpha2.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: "linux-vm"},
		Spec: v1alpha2.VirtualMachineSpec{
			VirtualMachineClassName: "host", CPU: v1alpha2.CPUSpec{Cores: 1}, Memory: v1alpha2.MemorySpec{Size: "1Gi"},
			BlockDeviceRefs: []v1alpha2.BlockDeviceSpecRef{{Kind: v1alpha2.DiskDevice, Name: "root"}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var running time.Time
	waitFor(t, 5*time.Minute, "AgentReady", func() bool {
		vm, err := v.VirtualMachines(ns).Get(ctx, "linux-vm", metav1.GetOptions{})
		if err != nil {
			return false
		}
		if running.IsZero() && vm.Status.Phase == v1alpha2.MachineRunning {
			running = time.Now()
		}
		return meta.IsStatusConditionTrue(vm.Status.Conditions, "AgentReady")
	})
	agent := time.Now()
	fmt.Printf("one real boot (1 core, 1Gi, the test guest): create -> Running %s, -> AgentReady %s\n",
		running.Sub(start).Round(10*time.Millisecond), agent.Sub(start).Round(10*time.Millisecond))
	_ = v.VirtualMachines(ns).Delete(ctx, "linux-vm", metav1.DeleteOptions{})
	waitFor(t, 2*time.Minute, "the VM gone", func() bool {
		_, err := v.VirtualMachines(ns).Get(ctx, "linux-vm", metav1.GetOptions{})
		return err != nil
	})
}
