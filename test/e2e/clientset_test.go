package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	acv1alpha2 "github.com/virtplane/virtplane/pkg/generated/applyconfiguration/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/generated/informers/externalversions"
)

// The generated clientset, applyconfigurations and informers against the real stack: every
// request goes through kube-apiserver's aggregation layer to virtualization-apiserver.

// csVM is a valid VM object for the typed client (its class does not exist, see rbacVM).
func csVM(ns, name string) *v1alpha2.VirtualMachine {
	return &v1alpha2.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "e2e"}},
		Spec: v1alpha2.VirtualMachineSpec{
			VirtualMachineClassName: "e2e-no-such-class",
			RunPolicy:               v1alpha2.AlwaysOnUnlessStoppedManuallyPolicy,
			CPU:                     v1alpha2.CPUSpec{Cores: 2},
			Memory:                  v1alpha2.MemorySpec{Size: "2Gi"},
			BlockDeviceRefs:         []v1alpha2.BlockDeviceSpecRef{{Kind: v1alpha2.DiskDevice, Name: name + "-root"}},
		},
	}
}

func csCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestClientsetVirtualMachineCRUD: create, get, list, update, UpdateStatus and delete of a
// VM; the main resource does not write status and /status does not write spec.
func TestClientsetVirtualMachineCRUD(t *testing.T) {
	ctx := csCtx(t)
	ns := namespace(t, "cs-vm-crud")
	vms := client.VirtualizationV1alpha2().VirtualMachines(ns)

	created, err := vms.Create(ctx, csVM(ns, "crud"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.UID == "" || created.ResourceVersion == "" || created.Generation != 1 || created.Spec.CPU.Cores != 2 {
		t.Errorf("created VM: uid %q rv %q generation %d cores %d", created.UID, created.ResourceVersion, created.Generation, created.Spec.CPU.Cores)
	}
	got, err := vms.Get(ctx, "crud", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.UID != created.UID || got.Spec.Memory.Size != "2Gi" || got.Labels["app"] != "e2e" {
		t.Errorf("get: uid %q memory %q labels %v", got.UID, got.Spec.Memory.Size, got.Labels)
	}
	if _, err := vms.Create(ctx, csVM(ns, "other"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := vms.List(ctx, metav1.ListOptions{LabelSelector: "app=e2e"})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if names := csNames(list.Items); names != "crud,other" {
		t.Errorf("list: %s, want crud,other", names)
	}

	// Update: spec changes, generation moves; a status in the update is ignored.
	got.Spec.RunPolicy = v1alpha2.ManualPolicy
	got.Status.Phase = v1alpha2.MachineRunning
	updated, err := vms.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if updated.Spec.RunPolicy != v1alpha2.ManualPolicy || updated.Generation != 2 || updated.ResourceVersion == got.ResourceVersion {
		t.Errorf("updated: runPolicy %q generation %d rv %q (was %q)", updated.Spec.RunPolicy, updated.Generation, updated.ResourceVersion, got.ResourceVersion)
	}
	if updated.Status.Phase != "" {
		t.Errorf("update of the main resource wrote status.phase %q", updated.Status.Phase)
	}

	// UpdateStatus: status changes, spec and generation stay.
	updated.Status.Phase = v1alpha2.MachineRunning
	updated.Status.Node = "node-7"
	updated.Spec.CPU.Cores = 4
	status, err := vms.UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update status: %v", err)
	}
	if status.Status.Phase != v1alpha2.MachineRunning || status.Status.Node != "node-7" {
		t.Errorf("after UpdateStatus: phase %q node %q", status.Status.Phase, status.Status.Node)
	}
	if status.Spec.CPU.Cores != 2 || status.Generation != 2 {
		t.Errorf("UpdateStatus changed the spec: cores %d generation %d", status.Spec.CPU.Cores, status.Generation)
	}
	if out := mustKubectl(t, "", "get", vmResource, "crud", "-n", ns, "-o", "jsonpath={.status.phase}"); out != "Running" {
		t.Errorf("kubectl sees status.phase %q", out)
	}

	if err := vms.Delete(ctx, "crud", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := vms.Get(ctx, "crud", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: %v, want NotFound", err)
	}
	if err := vms.Delete(ctx, "crud", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: %v, want NotFound", err)
	}
}

func csNames(vms []v1alpha2.VirtualMachine) string {
	var names []string
	for _, vm := range vms {
		names = append(names, vm.Name)
	}
	return strings.Join(names, ",")
}

// TestClientsetVirtualMachineClassCRUD: the cluster-scoped VirtualMachineClass.
func TestClientsetVirtualMachineClassCRUD(t *testing.T) {
	ctx := csCtx(t)
	classes := client.VirtualizationV1alpha2().VirtualMachineClasses()
	const name = "e2e-cs-class"
	t.Cleanup(func() { _ = classes.Delete(context.Background(), name, metav1.DeleteOptions{}) })

	created, err := classes.Create(ctx, &v1alpha2.VirtualMachineClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha2.VirtualMachineClassSpec{CPU: v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeModel, Model: "Nehalem"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.Namespace != "" || created.Spec.CPU.Model != "Nehalem" {
		t.Errorf("created class: namespace %q model %q", created.Namespace, created.Spec.CPU.Model)
	}
	list, err := classes.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != name {
		t.Errorf("list by name: %d items", len(list.Items))
	}
	got, err := classes.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	// The CPU of a class is fixed once created; its placement is not.
	got.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "vms", Effect: corev1.TaintEffectNoSchedule}}
	updated, err := classes.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if len(updated.Spec.Tolerations) != 1 || updated.Spec.Tolerations[0].Value != "vms" || updated.Generation != 2 {
		t.Errorf("updated: tolerations %+v generation %d", updated.Spec.Tolerations, updated.Generation)
	}
	changedCPU := updated.DeepCopy()
	changedCPU.Spec.CPU.Model = "IvyBridge"
	if _, err := classes.Update(ctx, changedCPU, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.cpu") {
		t.Errorf("update of the class CPU: %v, want 422 on spec.cpu", err)
	}
	updated.Status.Phase = v1alpha2.ClassPhaseReady
	updated.Status.AvailableNodes = []string{"node-1"}
	status, err := classes.UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update status: %v", err)
	}
	if status.Status.Phase != v1alpha2.ClassPhaseReady || len(status.Status.AvailableNodes) != 1 || status.Generation != 2 {
		t.Errorf("after UpdateStatus: phase %q nodes %v generation %d", status.Status.Phase, status.Status.AvailableNodes, status.Generation)
	}
	if err := classes.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := classes.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: %v, want NotFound", err)
	}
}

// TestClientsetWatch: a watch from a list's resourceVersion sees the VM added, modified and
// deleted, in that order, and nothing from before.
func TestClientsetWatch(t *testing.T) {
	ctx := csCtx(t)
	ns := namespace(t, "cs-watch")
	vms := client.VirtualizationV1alpha2().VirtualMachines(ns)
	if _, err := vms.Create(ctx, csVM(ns, "before"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := vms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := vms.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()

	vm, err := vms.Create(ctx, csVM(ns, "watched"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vm.Spec.CPU.Cores = 4
	if _, err := vms.Update(ctx, vm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := vms.Delete(ctx, "watched", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		typ   watch.EventType
		cores int
	}{{watch.Added, 2}, {watch.Modified, 4}, {watch.Deleted, 4}} {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("the watch closed before %s", want.typ)
			}
			got, isVM := ev.Object.(*v1alpha2.VirtualMachine)
			if ev.Type != want.typ || !isVM || got.Name != "watched" || got.Spec.CPU.Cores != want.cores {
				t.Fatalf("event: %s %T %+v, want %s of watched with %d cores", ev.Type, ev.Object, ev.Object, want.typ, want.cores)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no %s event within 30s", want.typ)
		}
	}
}

// TestClientsetFieldSelector: VirtualMachineOperations selected by spec.virtualMachineName.
func TestClientsetFieldSelector(t *testing.T) {
	ctx := csCtx(t)
	ns := namespace(t, "cs-fieldselector")
	ops := client.VirtualizationV1alpha2().VirtualMachineOperations(ns)
	for name, vm := range map[string]string{"start-a": "vm-a", "stop-a": "vm-a", "start-b": "vm-b"} {
		typ := v1alpha2.VMOPType("Start")
		if strings.HasPrefix(name, "stop") {
			typ = "Stop"
		}
		_, err := ops.Create(ctx, &v1alpha2.VirtualMachineOperation{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       v1alpha2.VirtualMachineOperationSpec{Type: typ, VirtualMachine: vm},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	for selector, want := range map[string]string{
		"spec.virtualMachineName=vm-a":                "start-a,stop-a",
		"spec.virtualMachineName=vm-b":                "start-b",
		"spec.virtualMachineName!=vm-a":               "start-b",
		"spec.virtualMachineName=vm-c":                "",
		"spec.virtualMachineName=vm-a,spec.type=Stop": "stop-a",
	} {
		list, err := ops.List(ctx, metav1.ListOptions{FieldSelector: selector})
		if err != nil {
			t.Errorf("list %s: %v", selector, err)
			continue
		}
		var names []string
		for _, op := range list.Items {
			names = append(names, op.Name)
		}
		if got := strings.Join(names, ","); got != want {
			t.Errorf("list %s: %q, want %q", selector, got, want)
		}
	}
	// A field the kind does not publish is refused, not ignored.
	_, err := ops.List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.force", "true").String()})
	if !apierrors.IsBadRequest(err) {
		t.Errorf("list by spec.force: %v, want BadRequest", err)
	}
}

// TestClientsetServerSideApply: the typed Apply with the generated applyconfiguration creates,
// updates, records the field manager and reports conflicts with another manager.
func TestClientsetServerSideApply(t *testing.T) {
	ctx := csCtx(t)
	ns := namespace(t, "cs-apply")
	vms := client.VirtualizationV1alpha2().VirtualMachines(ns)
	config := func(cores int) *acv1alpha2.VirtualMachineApplyConfiguration {
		return acv1alpha2.VirtualMachine("applied", ns).
			WithLabels(map[string]string{"tier": "db"}).
			WithSpec(acv1alpha2.VirtualMachineSpec().
				WithVirtualMachineClassName("e2e-no-such-class").
				WithCPU(acv1alpha2.CPUSpec().WithCores(cores)).
				WithMemory(acv1alpha2.MemorySpec().WithSize("1Gi")).
				WithBlockDeviceRefs(acv1alpha2.BlockDeviceSpecRef().WithKind(v1alpha2.DiskDevice).WithName("applied-root")))
	}
	vm, err := vms.Apply(ctx, config(1), metav1.ApplyOptions{FieldManager: "e2e-applier"})
	if err != nil {
		t.Fatalf("apply (create): %v", err)
	}
	if vm.Spec.CPU.Cores != 1 || vm.Labels["tier"] != "db" || vm.Generation != 1 {
		t.Errorf("applied: cores %d labels %v generation %d", vm.Spec.CPU.Cores, vm.Labels, vm.Generation)
	}
	var managed bool
	for _, e := range vm.ManagedFields {
		if e.Manager == "e2e-applier" && e.Operation == metav1.ManagedFieldsOperationApply &&
			e.FieldsV1 != nil && strings.Contains(string(e.FieldsV1.Raw), `"f:cores"`) {
			managed = true
		}
	}
	if !managed {
		t.Errorf("managedFields has no Apply entry of e2e-applier owning spec.cpu.cores: %+v", vm.ManagedFields)
	}

	vm, err = vms.Apply(ctx, config(2), metav1.ApplyOptions{FieldManager: "e2e-applier"})
	if err != nil {
		t.Fatalf("apply (update): %v", err)
	}
	if vm.Spec.CPU.Cores != 2 || vm.Generation != 2 {
		t.Errorf("re-applied: cores %d generation %d", vm.Spec.CPU.Cores, vm.Generation)
	}
	// Another manager setting the same field conflicts unless it forces.
	_, err = vms.Apply(ctx, config(4), metav1.ApplyOptions{FieldManager: "e2e-other"})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "e2e-applier") {
		t.Errorf("apply by another manager: %v, want a conflict naming e2e-applier", err)
	}
	vm, err = vms.Apply(ctx, config(4), metav1.ApplyOptions{FieldManager: "e2e-other", Force: true})
	if err != nil {
		t.Fatalf("forced apply: %v", err)
	}
	if vm.Spec.CPU.Cores != 4 {
		t.Errorf("after the forced apply: cores %d", vm.Spec.CPU.Cores)
	}
	// Status through ApplyStatus.
	vm, err = vms.ApplyStatus(ctx, acv1alpha2.VirtualMachine("applied", ns).
		WithStatus(acv1alpha2.VirtualMachineStatus().WithPhase(v1alpha2.MachineStopped)),
		metav1.ApplyOptions{FieldManager: "e2e-controller"})
	if err != nil {
		t.Fatalf("apply status: %v", err)
	}
	if vm.Status.Phase != v1alpha2.MachineStopped || vm.Spec.CPU.Cores != 4 {
		t.Errorf("after ApplyStatus: phase %q cores %d", vm.Status.Phase, vm.Spec.CPU.Cores)
	}
}

// TestClientsetErrors: a stale resourceVersion is a 409 Conflict; an invalid VM is a 422
// naming the field.
func TestClientsetErrors(t *testing.T) {
	ctx := csCtx(t)
	ns := namespace(t, "cs-errors")
	vms := client.VirtualizationV1alpha2().VirtualMachines(ns)
	vm, err := vms.Create(ctx, csVM(ns, "contended"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := vm.DeepCopy()
	first.Spec.CPU.Cores = 4
	if _, err := vms.Update(ctx, first, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	stale := vm.DeepCopy()
	stale.Spec.CPU.Cores = 8
	_, err = vms.Update(ctx, stale, metav1.UpdateOptions{})
	var status apierrors.APIStatus
	if !apierrors.IsConflict(err) || !errorsAs(err, &status) || status.Status().Code != 409 {
		t.Errorf("update with a stale resourceVersion: %v, want 409 Conflict", err)
	}
	if got, _ := vms.Get(ctx, "contended", metav1.GetOptions{}); got == nil || got.Spec.CPU.Cores != 4 {
		t.Errorf("the stale update changed the VM: %+v", got)
	}

	invalid := csVM(ns, "seventeen")
	invalid.Spec.CPU.Cores = 17
	_, err = vms.Create(ctx, invalid, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !errorsAs(err, &status) || status.Status().Code != 422 {
		t.Fatalf("create with 17 cores: %v, want 422 Invalid", err)
	}
	var fieldNamed bool
	if d := status.Status().Details; d != nil {
		for _, c := range d.Causes {
			if c.Field == "spec.cpu.cores" {
				fieldNamed = true
			}
		}
	}
	if !fieldNamed || !strings.Contains(err.Error(), "spec.cpu.cores") {
		t.Errorf("the 422 does not name spec.cpu.cores: %v (details %+v)", err, status.Status().Details)
	}
	if _, err := vms.Get(ctx, "seventeen", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the invalid VM was stored: %v", err)
	}
}

// errorsAs extracts the API status of a client error.
func errorsAs(err error, target *apierrors.APIStatus) bool {
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		return false
	}
	*target = se
	return true
}

// TestClientsetInformer: a shared informer from pkg/generated/informers syncs on existing VMs
// and delivers a new one to its handler and lister.
func TestClientsetInformer(t *testing.T) {
	ctx := csCtx(t)
	ns := namespace(t, "cs-informer")
	vms := client.VirtualizationV1alpha2().VirtualMachines(ns)
	if _, err := vms.Create(ctx, csVM(ns, "existing"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	factory := externalversions.NewSharedInformerFactoryWithOptions(client, 0, externalversions.WithNamespace(ns))
	informer := factory.Virtualization().V1alpha2().VirtualMachines()
	added := make(chan string, 10)
	if _, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if vm, ok := obj.(*v1alpha2.VirtualMachine); ok {
				added <- vm.Name
			}
		},
	}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer func() { close(stop); factory.Shutdown() }()
	factory.Start(stop)
	syncCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for typ, ok := range factory.WaitForCacheSync(syncCtx.Done()) {
		if !ok {
			t.Fatalf("informer of %v did not sync within 30s", typ)
		}
	}
	if _, err := informer.Lister().VirtualMachines(ns).Get("existing"); err != nil {
		t.Errorf("lister after sync: %v", err)
	}

	if _, err := vms.Create(ctx, csVM(ns, "fresh"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	for seen := false; !seen; {
		select {
		case name := <-added:
			seen = name == "fresh"
		case <-deadline:
			t.Fatal("the informer did not deliver the new VM within 30s")
		}
	}
	got, err := informer.Lister().VirtualMachines(ns).Get("fresh")
	if err != nil || got.Spec.CPU.Cores != 2 {
		t.Errorf("lister after the add: %v %+v", err, got)
	}
}

// TestClientsetImpersonation: a clientset impersonating alice (rest.Config.Impersonate) works
// where alice is bound and gets Forbidden elsewhere.
func TestClientsetImpersonation(t *testing.T) {
	ctx := csCtx(t)
	nsA := namespace(t, "cs-impersonate-a")
	nsB := namespace(t, "cs-impersonate-b")
	mustKubectl(t, "", "create", "rolebinding", "alice-edit", "--clusterrole=edit", "--user=alice", "-n", nsA)
	waitCanI(t, "alice", "create", vmResource, "-n", nsA)
	if _, err := client.VirtualizationV1alpha2().VirtualMachines(nsB).Create(ctx, csVM(nsB, "b-vm"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	alice := clientAs(t, "alice").VirtualizationV1alpha2()
	vm, err := alice.VirtualMachines(nsA).Create(ctx, csVM(nsA, "alices"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create as alice in %s: %v", nsA, err)
	}
	if vm.Namespace != nsA || vm.UID == "" {
		t.Errorf("created as alice: namespace %q uid %q", vm.Namespace, vm.UID)
	}
	if _, err := alice.VirtualMachines(nsA).List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("list as alice in %s: %v", nsA, err)
	}

	_, err = alice.VirtualMachines(nsB).List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `User "alice" cannot list resource "virtualmachines"`) {
		t.Errorf("list as alice in %s: %v, want Forbidden naming alice", nsB, err)
	}
	_, err = alice.VirtualMachines(nsB).Get(ctx, "b-vm", metav1.GetOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("get as alice in %s: %v, want Forbidden", nsB, err)
	}
	err = alice.VirtualMachines(nsB).Delete(ctx, "b-vm", metav1.DeleteOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("delete as alice in %s: %v, want Forbidden", nsB, err)
	}
	_, err = alice.VirtualMachineClasses().Create(ctx, &v1alpha2.VirtualMachineClass{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-alice-class"},
		Spec:       v1alpha2.VirtualMachineClassSpec{CPU: v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeHost}},
	}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if !apierrors.IsForbidden(err) {
		t.Errorf("create a class as alice: %v, want Forbidden", err)
	}
	if _, err := client.VirtualizationV1alpha2().VirtualMachines(nsB).Get(ctx, "b-vm", metav1.GetOptions{}); err != nil {
		t.Errorf("b-vm after alice's refused delete: %v", err)
	}
}
