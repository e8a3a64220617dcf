package vmop

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/powerstate"
)

// runningOn gives the VM a running instance on node, which KubeVirt says can migrate, and
// the status the VM controller shows for it.
func (e *env) runningOn(vm, node string) {
	e.t.Helper()
	e.kv.Put(&kvv1.VirtualMachineInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: vm, UID: types.UID("vmi-" + vm), Labels: map[string]string{powerstate.VMNameLabel: vm}},
		Status: kvv1.VirtualMachineInstanceStatus{Phase: kvv1.Running, NodeName: node, Conditions: []kvv1.VirtualMachineInstanceCondition{
			{Type: kvv1.VirtualMachineInstanceIsMigratable, Status: corev1.ConditionTrue}}},
	})
	e.vmStatus(vm, func(st *virtv1.VirtualMachineStatus) { st.Phase, st.Node = virtv1.MachineRunning, node })
}

// vmStatus changes the VM's status, as the VM controller does.
func (e *env) vmStatus(name string, edit func(*virtv1.VirtualMachineStatus)) {
	e.t.Helper()
	vm := e.vm(name)
	edit(&vm.Status)
	if _, err := e.virt.VirtualizationV1alpha2().VirtualMachines(ns).UpdateStatus(context.Background(), vm, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.refresh()
}

// vmi changes the VM's instance, as KubeVirt does.
func (e *env) editVMI(name string, edit func(*kvv1.VirtualMachineInstance)) {
	e.t.Helper()
	vmi := e.kv.Get(ns, name)
	edit(vmi)
	e.kv.Put(vmi)
	e.refresh()
}

// migration is the migration an operation created; the test fails when there is none.
func (e *env) migration(op string) *kvv1.VirtualMachineInstanceMigration {
	e.t.Helper()
	m := e.kv.Migration(ns, MigrationNamePrefix+op)
	if m == nil {
		e.t.Fatalf("no VirtualMachineInstanceMigration for %s; KubeVirt saw %v", op, e.kv.Requests())
	}
	return m
}

// moveMigration sets what KubeVirt reports for an operation's migration.
func (e *env) moveMigration(op string, phase kvv1.VirtualMachineInstanceMigrationPhase, state *kvv1.VirtualMachineInstanceMigrationState) {
	e.t.Helper()
	m := e.migration(op)
	m.Status.Phase, m.Status.MigrationState = phase, state
	e.kv.PutMigration(m)
	e.refresh()
}

// migrationCreates counts the migrations KubeVirt was asked to create.
func (e *env) migrationCreates() int {
	n := 0
	for _, r := range e.kv.Requests() {
		if strings.HasPrefix(r, "POST ") && strings.HasSuffix(r, "/virtualmachineinstancemigrations") {
			n++
		}
	}
	return n
}

func completedMessage(op *virtv1.VirtualMachineOperation) string {
	return meta.FindStatusCondition(op.Status.Conditions, string(CompletedType)).Message
}

func TestMigrateFollowsKubeVirtsMigrationToTheOtherNode(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.AlwaysOnPolicy, ""))
	e.runningOn("vm", "node-1")
	e.createSpec("move", virtv1.VirtualMachineOperationSpec{Type: virtv1.VMOPTypeMigrate, VirtualMachine: "vm",
		Migrate: &virtv1.VirtualMachineOperationMigrateSpec{NodeSelector: map[string]string{"zone": "b"}}})

	e.sync("move")
	op := e.expect("move", virtv1.VMOPPhaseInProgress, MigrationPending)
	if !meta.IsStatusConditionTrue(op.Status.Conditions, string(SignalSentType)) {
		t.Errorf("SignalSent is not True: %+v", op.Status.Conditions)
	}
	m := e.migration("move")
	if m.Spec.VMIName != "vm" || len(m.Spec.AddedNodeSelector) != 1 || m.Spec.AddedNodeSelector["zone"] != "b" {
		t.Fatalf("migration spec %+v; want the VM's VMI and the operation's nodeSelector as addedNodeSelector", m.Spec)
	}
	if !metav1.IsControlledBy(m, op) {
		t.Errorf("migration owners %+v; want the operation", m.OwnerReferences)
	}
	if !e.sawEvent(EventMigrateRequested) {
		t.Error("no MigrateRequested event on the VM")
	}

	e.moveMigration("move", kvv1.MigrationScheduling, nil)
	e.sync("move")
	e.expect("move", virtv1.VMOPPhaseInProgress, TargetScheduling)

	running := &kvv1.VirtualMachineInstanceMigrationState{SourceNode: "node-1", TargetNode: "node-2", MigrationUID: m.UID,
		StartTimestamp: ptr.To(metav1.Now())}
	e.moveMigration("move", kvv1.MigrationRunning, running)
	e.vmStatus("vm", func(st *virtv1.VirtualMachineStatus) { st.Phase = virtv1.MachineMigrating })
	e.sync("move")
	op = e.expect("move", virtv1.VMOPPhaseInProgress, MigrationRunning)
	if msg := completedMessage(op); !strings.Contains(msg, "node-1") || !strings.Contains(msg, "node-2") {
		t.Errorf("message %q does not say where from and where to", msg)
	}

	// KubeVirt is done; the VM's status still shows the old node.
	done := running.DeepCopy()
	done.Completed, done.EndTimestamp = true, ptr.To(metav1.Now())
	e.moveMigration("move", kvv1.MigrationSucceeded, done)
	e.editVMI("vm", func(vmi *kvv1.VirtualMachineInstance) {
		vmi.Status.NodeName, vmi.Status.MigrationState = "node-2", done
	})
	e.sync("move")
	e.expect("move", virtv1.VMOPPhaseInProgress, MigrationRunning)

	e.vmStatus("vm", func(st *virtv1.VirtualMachineStatus) { st.Phase, st.Node = virtv1.MachineRunning, "node-2" })
	e.sync("move")
	op = e.expect("move", virtv1.VMOPPhaseCompleted, OperationCompleted)
	if msg := completedMessage(op); msg != "The VM migrated from node node-1 to node node-2." {
		t.Errorf("message %q", msg)
	}
	e.sync("move")
	if f := e.op("move").Finalizers; len(f) != 0 {
		t.Errorf("finalizers left on a completed operation: %v", f)
	}
	if e.migrationCreates() != 1 || e.kv.Migration(ns, MigrationName(op)) == nil {
		t.Errorf("KubeVirt saw %v; want one migration created and kept", e.kv.Requests())
	}
}

func TestEvictFailsWithKubeVirtsReason(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.AlwaysOnPolicy, ""))
	e.runningOn("vm", "node-1")
	e.create("evict", virtv1.VMOPTypeEvict, "vm", false)
	e.sync("evict")
	e.expect("evict", virtv1.VMOPPhaseInProgress, MigrationPending)
	if m := e.migration("evict"); m.Spec.AddedNodeSelector != nil || m.Spec.VMIName != "vm" {
		t.Errorf("evict migration spec %+v; want the VM's VMI, any node", m.Spec)
	}
	e.sawEvent(EventEvictRequested)

	e.moveMigration("evict", kvv1.MigrationFailed, &kvv1.VirtualMachineInstanceMigrationState{SourceNode: "node-1",
		Failed: true, FailureReason: "Target pod is unschedulable: 0/2 nodes are available"})
	e.sync("evict")
	op := e.expect("evict", virtv1.VMOPPhaseFailed, OperationFailed)
	if msg := completedMessage(op); msg != "The migration failed: Target pod is unschedulable: 0/2 nodes are available." {
		t.Errorf("message %q; want KubeVirt's reason", msg)
	}
	if !e.sawEvent(EventFailed) {
		t.Error("no Warning event for the failed migration")
	}
	e.sync("evict")
	if e.kv.Migration(ns, MigrationNamePrefix+"evict") == nil {
		t.Error("the failed migration was deleted; it stays for the record until the operation goes")
	}
}

func TestMigrationFailureReasonFromTheVMIOrConditions(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.AlwaysOnPolicy, ""))
	e.runningOn("vm", "node-1")
	e.create("a", virtv1.VMOPTypeMigrate, "vm", false)
	e.sync("a")
	m := e.migration("a")
	e.editVMI("vm", func(vmi *kvv1.VirtualMachineInstance) {
		vmi.Status.MigrationState = &kvv1.VirtualMachineInstanceMigrationState{MigrationUID: m.UID, Failed: true, FailureReason: "qemu said no"}
	})
	e.moveMigration("a", kvv1.MigrationFailed, nil)
	e.sync("a")
	if msg := completedMessage(e.expect("a", virtv1.VMOPPhaseFailed, OperationFailed)); !strings.Contains(msg, "qemu said no") {
		t.Errorf("message %q; want the VMI's failure reason", msg)
	}

	e.create("b", virtv1.VMOPTypeMigrate, "vm", false)
	e.sync("b")
	m = e.migration("b")
	m.Status.Phase = kvv1.MigrationFailed
	m.Status.Conditions = []kvv1.VirtualMachineInstanceMigrationCondition{{Type: kvv1.VirtualMachineInstanceMigrationRejectedByResourceQuota,
		Status: corev1.ConditionTrue, Reason: "QuotaExceeded", Message: "exceeded quota: mem"}}
	e.kv.PutMigration(m)
	e.refresh()
	e.sync("b")
	if msg := completedMessage(e.expect("b", virtv1.VMOPPhaseFailed, OperationFailed)); !strings.Contains(msg, "exceeded quota: mem (QuotaExceeded)") {
		t.Errorf("message %q; want the migration's condition", msg)
	}
}

func TestMigrationRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(e *env)
		force  *bool
		reason CompletedReason
		says   string
	}{
		{name: "stopped VM", setup: func(e *env) {}, reason: NotApplicableForVMPhase, says: "not running (phase Stopped)"},
		{name: "starting VM", setup: func(e *env) {
			e.runningOn("vm", "node-1")
			e.editVMI("vm", func(vmi *kvv1.VirtualMachineInstance) { vmi.Status.Phase = kvv1.Scheduled })
			e.vmStatus("vm", func(st *virtv1.VirtualMachineStatus) { st.Phase = virtv1.MachineStarting })
		}, reason: NotApplicableForVMPhase, says: "only a running VM can migrate"},
		{name: "not migratable", setup: func(e *env) {
			e.runningOn("vm", "node-1")
			e.editVMI("vm", func(vmi *kvv1.VirtualMachineInstance) {
				vmi.Status.Conditions[0] = kvv1.VirtualMachineInstanceCondition{Type: kvv1.VirtualMachineInstanceIsMigratable,
					Status: corev1.ConditionFalse, Reason: kvv1.VirtualMachineInstanceReasonDisksNotMigratable,
					Message: "cannot migrate VMI: PVC root is not shared, live migration requires that all PVCs must be shared"}
			})
		}, reason: OperationFailed, says: "PVC root is not shared, live migration requires that all PVCs must be shared (DisksNotLiveMigratable)"},
		{name: "foreign migration in flight", setup: func(e *env) {
			e.runningOn("vm", "node-1")
			e.kv.PutMigration(&kvv1.VirtualMachineInstanceMigration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "by-hand"},
				Spec: kvv1.VirtualMachineInstanceMigrationSpec{VMIName: "vm"}, Status: kvv1.VirtualMachineInstanceMigrationStatus{Phase: kvv1.MigrationScheduling}})
			e.refresh()
		}, reason: OtherMigrationInProgress, says: "by-hand"},
		{name: "AlwaysSafe forced", setup: func(e *env) {
			e.runningOn("vm", "node-1")
			vm := e.vm("vm")
			vm.Spec.LiveMigrationPolicy = virtv1.AlwaysSafeMigrationPolicy
			if _, err := e.virt.VirtualizationV1alpha2().VirtualMachines(ns).Update(context.Background(), vm, metav1.UpdateOptions{}); err != nil {
				e.t.Fatal(err)
			}
			e.refresh()
		}, force: ptr.To(true), reason: NotApplicableForLiveMigrationPolicy, says: "AlwaysSafe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, newVM("vm", virtv1.AlwaysOnPolicy, ""))
			tc.setup(e)
			e.createSpec("evict", virtv1.VirtualMachineOperationSpec{Type: virtv1.VMOPTypeEvict, VirtualMachine: "vm", Force: tc.force})
			e.sync("evict")
			op := e.expect("evict", virtv1.VMOPPhaseFailed, tc.reason)
			if msg := completedMessage(op); !strings.Contains(msg, tc.says) {
				t.Errorf("message %q does not say %q", msg, tc.says)
			}
			if n := e.migrationCreates(); n != 0 {
				t.Errorf("a refused operation created %d migrations", n)
			}
			if len(op.Finalizers) != 0 {
				t.Errorf("a refused operation holds finalizers %v", op.Finalizers)
			}
		})
	}
}

func TestAMigrationHoldsTheVMUntilAStopSupersedesIt(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.ManualPolicy, powerstate.Running))
	e.runningOn("vm", "node-1")
	e.create("move", virtv1.VMOPTypeMigrate, "vm", false)
	e.sync("move")
	e.moveMigration("move", kvv1.MigrationRunning, nil)

	e.create("evict", virtv1.VMOPTypeEvict, "vm", false)
	e.sync("evict")
	if msg := completedMessage(e.expect("evict", virtv1.VMOPPhaseFailed, NotReadyToBeExecuted)); !strings.Contains(msg, "Migrate operation move") {
		t.Errorf("message %q does not name the migration in the way", msg)
	}

	e.create("stop", virtv1.VMOPTypeStop, "vm", false)
	e.sync("stop")
	e.expect("stop", virtv1.VMOPPhaseInProgress, StopInProgress)
	e.expect("move", virtv1.VMOPPhaseSuperseded, Superseded)
	// The superseded operation, synced next, aborts its migration and lets go.
	e.sync("move")
	if m := e.kv.Migration(ns, MigrationNamePrefix+"move"); m != nil {
		t.Errorf("the superseded operation's migration is still there: %+v", m.Status)
	}
	if !e.sawEvent(EventMigrationAborted) {
		t.Error("no MigrationAborted event")
	}
	if f := e.op("move").Finalizers; len(f) != 0 {
		t.Errorf("finalizers %v left on the superseded operation", f)
	}
}

func TestDeletingAMigrationOperationAbortsTheMigration(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.AlwaysOnPolicy, ""))
	e.runningOn("vm", "node-1")
	e.create("evict", virtv1.VMOPTypeEvict, "vm", false)
	e.sync("evict")
	e.moveMigration("evict", kvv1.MigrationRunning, nil)

	op := e.op("evict")
	op.DeletionTimestamp = ptr.To(metav1.Now())
	if _, err := e.virt.VirtualizationV1alpha2().VirtualMachineOperations(ns).Update(context.Background(), op, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.sync("evict")
	if m := e.kv.Migration(ns, MigrationNamePrefix+"evict"); m != nil {
		t.Fatalf("the deleted operation's migration is still there: %+v", m.Status)
	}
	if f := e.op("evict").Finalizers; len(f) != 0 {
		t.Errorf("finalizers %v left on the deleted operation", f)
	}
}

func TestAMigrationDeletedUnderTheOperationFailsIt(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.AlwaysOnPolicy, ""))
	e.runningOn("vm", "node-1")
	e.create("evict", virtv1.VMOPTypeEvict, "vm", false)
	e.sync("evict")
	if _, err := e.kvClient.VirtualMachineInstanceMigrations(ns).Get(context.Background(), MigrationNamePrefix+"evict", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.kvClient.VirtualMachineInstanceMigrations(ns).Delete(context.Background(), MigrationNamePrefix+"evict", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.sync("evict")
	if msg := completedMessage(e.expect("evict", virtv1.VMOPPhaseFailed, OperationFailed)); !strings.Contains(msg, "was deleted before it ended") {
		t.Errorf("message %q", msg)
	}
	if n := e.migrationCreates(); n != 1 {
		t.Errorf("%d migrations created; a deleted one is not made again", n)
	}
}

func TestAMigrationThatTakesTooLongIsAborted(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.AlwaysOnPolicy, ""))
	e.runningOn("vm", "node-1")
	e.create("evict", virtv1.VMOPTypeEvict, "vm", false)
	e.sync("evict")
	e.moveMigration("evict", kvv1.MigrationScheduling, nil)
	e.now = e.now.Add(DefaultTimeout + 1)
	e.sync("evict")
	if msg := completedMessage(e.expect("evict", virtv1.VMOPPhaseFailed, OperationFailed)); !strings.Contains(msg, "did not evict within 10m") {
		t.Errorf("message %q", msg)
	}
	e.sync("evict")
	if e.kv.Migration(ns, MigrationNamePrefix+"evict") != nil {
		t.Error("the timed-out migration was not deleted")
	}
}
