package d8

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/apiserver/testserver"
	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
)

// fakeOperator plays the VMOP controller against the test server: what it does with an
// operation depends on the name of its VM.
type fakeOperator struct {
	client versioned.Interface
	mu     sync.Mutex
	seen   map[string]*v1alpha2.VirtualMachineOperation // by VM name, the last created
}

func (f *fakeOperator) run(ctx context.Context, t *testing.T, namespace string) {
	w, err := f.client.VirtualizationV1alpha2().VirtualMachineOperations(namespace).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Errorf("watch operations: %v", err)
		return
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		op, ok := ev.Object.(*v1alpha2.VirtualMachineOperation)
		if !ok || ev.Type != watch.Added {
			continue
		}
		f.mu.Lock()
		f.seen[op.Spec.VirtualMachine] = op.DeepCopy()
		f.mu.Unlock()
		if err := f.handle(ctx, op); err != nil && ctx.Err() == nil {
			t.Errorf("operator on %s: %v", op.Name, err)
		}
	}
}

func (f *fakeOperator) handle(ctx context.Context, op *v1alpha2.VirtualMachineOperation) error {
	ops := f.client.VirtualizationV1alpha2().VirtualMachineOperations(op.Namespace)
	set := func(phase v1alpha2.VMOPPhase, status metav1.ConditionStatus, reason, msg string) error {
		op.Status.Phase = phase
		op.Status.Conditions = []metav1.Condition{{Type: "Completed", Status: status, Reason: reason, Message: msg,
			LastTransitionTime: metav1.Now()}}
		updated, err := ops.UpdateStatus(ctx, op, metav1.UpdateOptions{})
		if err == nil {
			op = updated
		}
		return err
	}
	switch op.Spec.VirtualMachine {
	case "linux-vm":
		if err := set(v1alpha2.VMOPPhaseInProgress, metav1.ConditionFalse, "RestartInProgress", "Waiting for the VM."); err != nil {
			return err
		}
		return set(v1alpha2.VMOPPhaseCompleted, metav1.ConditionTrue, "OperationCompleted", "The VM is running.")
	case "running-vm":
		return set(v1alpha2.VMOPPhaseFailed, metav1.ConditionFalse, "NotApplicableForVirtualMachinePhase", "The VM is already running (phase Running).")
	case "slow-vm":
		return set(v1alpha2.VMOPPhaseInProgress, metav1.ConditionFalse, "StopInProgress", "Waiting for the VM to stop (phase Stopping).")
	case "mover-vm":
		if err := set(v1alpha2.VMOPPhaseInProgress, metav1.ConditionFalse, "MigrationRunning", "Migrating the VM from node node-1 to node node-2."); err != nil {
			return err
		}
		return set(v1alpha2.VMOPPhaseCompleted, metav1.ConditionTrue, "OperationCompleted", "The VM migrated from node node-1 to node node-2.")
	case "pinned-vm":
		if err := set(v1alpha2.VMOPPhaseInProgress, metav1.ConditionFalse, "TargetScheduling", "Waiting for a node to take the VM."); err != nil {
			return err
		}
		return set(v1alpha2.VMOPPhaseFailed, metav1.ConditionFalse, "OperationFailed", "The migration failed: no node matches the selector.")
	case "doomed-vm":
		if err := set(v1alpha2.VMOPPhaseInProgress, metav1.ConditionFalse, "StopInProgress", "Waiting."); err != nil {
			return err
		}
		return ops.Delete(ctx, op.Name, metav1.DeleteOptions{})
	}
	return nil
}

func (f *fakeOperator) last(vm string) *v1alpha2.VirtualMachineOperation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen[vm]
}

// kubeconfigForServer writes a kubeconfig reaching the test server, with namespace as the
// context's default.
func kubeconfigForServer(t *testing.T, srv *testserver.Server, namespace string) string {
	t.Helper()
	c := srv.Config
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: c.Host, CertificateAuthorityData: c.CAData, TLSServerName: c.ServerName}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: c.BearerToken}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "admin", Namespace: namespace}
	cfg.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// d8 runs the command line as Main does and returns its exit code and output.
func d8(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	cmd := NewCommand(Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	var exit *exitError
	switch {
	case errors.As(err, &exit):
		code = exit.code
	case err != nil:
		errOut.WriteString("error: " + err.Error() + "\n")
		code = 1
	}
	return code, out.String(), errOut.String()
}

func TestLifecycleCommands(t *testing.T) {
	srv, err := testserver.Start(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	op := &fakeOperator{client: srv.Client, seen: map[string]*v1alpha2.VirtualMachineOperation{}}
	var wg sync.WaitGroup
	wg.Go(func() { op.run(ctx, t, "prod") })
	defer wg.Wait()
	defer cancel()
	// The context's namespace is elsewhere, so every test names prod one way or another.
	kubeconfig := kubeconfigForServer(t, srv, "default")

	t.Run("restart completes", func(t *testing.T) {
		code, out, errOut := d8(ctx, "v", "restart", "--kubeconfig", kubeconfig, "-n", "prod", "linux-vm")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		created := op.last("linux-vm")
		if created == nil || created.Spec.Type != v1alpha2.VMOPTypeRestart || created.GenerateName != "linux-vm-" ||
			!strings.HasPrefix(created.Name, "linux-vm-") || created.Spec.Force != nil {
			t.Fatalf("created operation %+v", created)
		}
		if !strings.Contains(out, "Restarting virtual machine prod/linux-vm") ||
			!strings.Contains(out, "Virtual machine prod/linux-vm restarted: VirtualMachineOperation "+created.Name+" completed") {
			t.Errorf("stdout %q", out)
		}
	})

	t.Run("forced stop with NAME.NAMESPACE", func(t *testing.T) {
		code, out, errOut := d8(ctx, "v", "stop", "--kubeconfig", kubeconfig, "--force", "linux-vm.prod")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		created := op.last("linux-vm")
		if created.Spec.Type != v1alpha2.VMOPTypeStop || created.Spec.Force == nil || !*created.Spec.Force {
			t.Errorf("created operation %+v; want a forced Stop", created.Spec)
		}
		if !strings.Contains(out, "stopped") {
			t.Errorf("stdout %q", out)
		}
	})

	t.Run("a failed operation exits 1 with its message", func(t *testing.T) {
		code, _, errOut := d8(ctx, "v", "start", "--kubeconfig", kubeconfig, "-n", "prod", "running-vm")
		if code != ExitOperationFailed {
			t.Fatalf("exit %d, want %d", code, ExitOperationFailed)
		}
		for _, want := range []string{"was not started", "failed", "NotApplicableForVirtualMachinePhase", "The VM is already running"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr %q lacks %q", errOut, want)
			}
		}
	})

	t.Run("timeout exits 2 and says where the operation is", func(t *testing.T) {
		code, _, errOut := d8(ctx, "v", "stop", "--kubeconfig", kubeconfig, "-n", "prod", "--timeout", "2s", "slow-vm")
		if code != ExitWaitTimedOut {
			t.Fatalf("exit %d, stderr %q; want %d", code, errOut, ExitWaitTimedOut)
		}
		if !strings.Contains(errOut, "gave up waiting after 2s") || !strings.Contains(errOut, "is InProgress") {
			t.Errorf("stderr %q", errOut)
		}
	})

	t.Run("--wait=false returns once the operation is taken up", func(t *testing.T) {
		code, out, errOut := d8(ctx, "v", "stop", "--kubeconfig", kubeconfig, "-n", "prod", "--wait=false", "slow-vm")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		if !strings.Contains(out, "is InProgress") {
			t.Errorf("stdout %q", out)
		}
	})

	t.Run("a deleted operation exits 1", func(t *testing.T) {
		code, _, errOut := d8(ctx, "v", "stop", "--kubeconfig", kubeconfig, "-n", "prod", "doomed-vm")
		if code != ExitOperationFailed || !strings.Contains(errOut, "was deleted") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})

	t.Run("migrate with --node-selector says where the VM went", func(t *testing.T) {
		code, out, errOut := d8(ctx, "v", "migrate", "--kubeconfig", kubeconfig, "-n", "prod", "mover-vm",
			"--node-selector", "kubernetes.io/hostname=node-2,zone=b")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		created := op.last("mover-vm")
		if created.Spec.Type != v1alpha2.VMOPTypeMigrate || created.Spec.Migrate == nil || created.Spec.Force != nil ||
			len(created.Spec.Migrate.NodeSelector) != 2 || created.Spec.Migrate.NodeSelector["kubernetes.io/hostname"] != "node-2" ||
			created.Spec.Migrate.NodeSelector["zone"] != "b" {
			t.Fatalf("created operation %+v; want a Migrate with both labels", created.Spec)
		}
		for _, want := range []string{"Migrating virtual machine prod/mover-vm: VirtualMachineOperation " + created.Name + " created",
			"Virtual machine prod/mover-vm migrated: VirtualMachineOperation " + created.Name + " completed: The VM migrated from node node-1 to node node-2."} {
			if !strings.Contains(out, want) {
				t.Errorf("stdout %q lacks %q", out, want)
			}
		}
	})

	t.Run("evict with NAME.NAMESPACE", func(t *testing.T) {
		code, out, errOut := d8(ctx, "v", "evict", "--kubeconfig", kubeconfig, "mover-vm.prod")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		if created := op.last("mover-vm"); created.Spec.Type != v1alpha2.VMOPTypeEvict || created.Spec.Migrate != nil {
			t.Errorf("created operation %+v; want an Evict", created.Spec)
		}
		if !strings.Contains(out, "Evicting virtual machine prod/mover-vm") || !strings.Contains(out, "evicted: VirtualMachineOperation") {
			t.Errorf("stdout %q", out)
		}
	})

	t.Run("a failed migration exits 1 with KubeVirt's reason", func(t *testing.T) {
		code, _, errOut := d8(ctx, "v", "migrate", "--kubeconfig", kubeconfig, "-n", "prod", "--node-selector", "zone=nowhere", "pinned-vm")
		if code != ExitOperationFailed {
			t.Fatalf("exit %d, stderr %q; want %d", code, errOut, ExitOperationFailed)
		}
		for _, want := range []string{"virtual machine prod/pinned-vm was not migrated", "failed", "(OperationFailed): The migration failed: no node matches"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr %q lacks %q", errOut, want)
			}
		}
	})

	t.Run("a malformed --node-selector creates nothing", func(t *testing.T) {
		before := op.last("linux-vm")
		for _, sel := range []string{"zone", "zone=b,", "bad key=b", "zone=not valid"} {
			code, _, errOut := d8(ctx, "v", "migrate", "--kubeconfig", kubeconfig, "-n", "prod", "--node-selector", sel, "linux-vm")
			if code != 1 || !strings.Contains(errOut, "--node-selector") {
				t.Errorf("--node-selector %q: exit %d, stderr %q", sel, code, errOut)
			}
		}
		if op.last("linux-vm") != before {
			t.Error("an operation was created for a malformed --node-selector")
		}
	})

	t.Run("evict takes no --node-selector", func(t *testing.T) {
		code, _, errOut := d8(ctx, "v", "evict", "--kubeconfig", kubeconfig, "-n", "prod", "--node-selector", "zone=b", "linux-vm")
		if code == 0 || !strings.Contains(errOut, "unknown flag: --node-selector") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})

	t.Run("start takes no --force", func(t *testing.T) {
		code, _, errOut := d8(ctx, "v", "start", "--kubeconfig", kubeconfig, "-n", "prod", "--force", "linux-vm")
		if code == 0 || !strings.Contains(errOut, "unknown flag: --force") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
}
