package vmop

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/controllertest"
	"github.com/virtplane/virtplane/pkg/controller/powerstate"
	virtfake "github.com/virtplane/virtplane/pkg/generated/clientset/versioned/fake"
	virtinformers "github.com/virtplane/virtplane/pkg/generated/informers/externalversions"
	"github.com/virtplane/virtplane/pkg/kubevirt"
)

const ns = "ns"

// env is the controller on fake clients. The test plays the VM controller and the node: it
// sets VM phases and creates and removes VMIs between syncs.
type env struct {
	t    *testing.T
	c    *Controller
	virt *virtfake.Clientset
	kv   *controllertest.KubeVirt
	// kvClient talks to kv as the controller does.
	kvClient kubevirt.Interface
	inf      Informers
	events   *record.FakeRecorder
	now      time.Time
	// created is the creation time of the next operation; each one is a second younger.
	created time.Time
}

func newEnv(t *testing.T, objs ...runtime.Object) *env {
	t.Helper()
	e := &env{t: t, virt: virtfake.NewSimpleClientset(objs...), events: record.NewFakeRecorder(100),
		now: time.Now(), created: time.Now().Add(-time.Hour)}
	e.kv, e.kvClient = controllertest.NewKubeVirt(t)
	kvClient := e.kvClient
	vf := virtinformers.NewSharedInformerFactory(e.virt, 0).Virtualization().V1alpha2()
	e.inf = Informers{VirtualMachineOperations: vf.VirtualMachineOperations(), VirtualMachines: vf.VirtualMachines(),
		VMIs: kubevirt.NewVMIInformer(kvClient, "", 0, nil), Migrations: kubevirt.NewMigrationInformer(kvClient, "", 0, nil)}
	c, err := New(e.virt, kvClient, e.inf, Settings{Now: func() time.Time { return e.now }}, e.events)
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	e.refresh()
	return e
}

// refresh loads the caches from the fake clients, as the informers would.
func (e *env) refresh() {
	e.t.Helper()
	ctx := context.Background()
	put := func(inf cache.SharedIndexInformer, list []any) {
		if err := inf.GetIndexer().Replace(list, ""); err != nil {
			e.t.Fatal(err)
		}
	}
	var l []any
	ops, _ := e.virt.VirtualizationV1alpha2().VirtualMachineOperations("").List(ctx, metav1.ListOptions{})
	for i := range ops.Items {
		l = append(l, &ops.Items[i])
	}
	put(e.inf.VirtualMachineOperations.Informer(), l)
	l = nil
	vms, _ := e.virt.VirtualizationV1alpha2().VirtualMachines("").List(ctx, metav1.ListOptions{})
	for i := range vms.Items {
		l = append(l, &vms.Items[i])
	}
	put(e.inf.VirtualMachines.Informer(), l)
	put(e.inf.VMIs.Informer, e.kv.List())
	put(e.inf.Migrations.Informer, e.kv.Migrations())
}

// sync runs the controller on one operation and returns the requeue delay.
func (e *env) sync(name string) time.Duration {
	e.t.Helper()
	after, err := e.c.Sync(context.Background(), ns+"/"+name)
	if err != nil {
		e.t.Fatalf("sync %s: %v", name, err)
	}
	e.refresh()
	return after
}

// create adds an operation as a user would.
func (e *env) create(name string, typ virtv1.VMOPType, vm string, force bool) {
	e.t.Helper()
	var f *bool
	if force {
		f = ptr.To(true)
	}
	e.createSpec(name, virtv1.VirtualMachineOperationSpec{Type: typ, VirtualMachine: vm, Force: f})
}

// createSpec adds an operation with the given spec.
func (e *env) createSpec(name string, spec virtv1.VirtualMachineOperationSpec) {
	e.t.Helper()
	e.created = e.created.Add(time.Second)
	op := &virtv1.VirtualMachineOperation{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), Generation: 1,
			CreationTimestamp: metav1.NewTime(e.created)},
		Spec: spec,
	}
	if _, err := e.virt.VirtualizationV1alpha2().VirtualMachineOperations(ns).Create(context.Background(), op, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.refresh()
}

func (e *env) op(name string) *virtv1.VirtualMachineOperation {
	e.t.Helper()
	op, err := e.virt.VirtualizationV1alpha2().VirtualMachineOperations(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return op
}

func (e *env) vm(name string) *virtv1.VirtualMachine {
	e.t.Helper()
	vm, err := e.virt.VirtualizationV1alpha2().VirtualMachines(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return vm
}

// setPhase writes the VM's phase, as the VM controller does.
func (e *env) setPhase(name string, phase virtv1.MachinePhase) {
	e.t.Helper()
	vm := e.vm(name)
	vm.Status.Phase = phase
	if _, err := e.virt.VirtualizationV1alpha2().VirtualMachines(ns).UpdateStatus(context.Background(), vm, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.refresh()
}

// runVMI gives the VM a running instance with uid, as the VM controller and the node do.
func (e *env) runVMI(vm, uid string, grace *int64) {
	e.t.Helper()
	e.kv.Put(&kvv1.VirtualMachineInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: vm, UID: types.UID(uid), Labels: map[string]string{powerstate.VMNameLabel: vm}},
		Spec:       kvv1.VirtualMachineInstanceSpec{TerminationGracePeriodSeconds: grace},
		Status:     kvv1.VirtualMachineInstanceStatus{Phase: kvv1.Running},
	})
	e.setPhase(vm, virtv1.MachineRunning)
}

// stopVMI ends the VM's instance, as the node does once the guest is down.
func (e *env) stopVMI(vm string) {
	e.t.Helper()
	e.kv.Remove(ns, vm)
	e.setPhase(vm, virtv1.MachineStopped)
}

func newVM(name string, policy virtv1.RunPolicy, intent string) *virtv1.VirtualMachine {
	vm := &virtv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("vm-uid-" + name)},
		Spec:       virtv1.VirtualMachineSpec{RunPolicy: policy},
		Status:     virtv1.VirtualMachineStatus{Phase: virtv1.MachineStopped},
	}
	if intent != "" {
		vm.Annotations = map[string]string{powerstate.Annotation: intent}
	}
	return vm
}

// expect checks an operation's phase and the reason of its Completed condition.
func (e *env) expect(name string, phase virtv1.VMOPPhase, reason CompletedReason) *virtv1.VirtualMachineOperation {
	e.t.Helper()
	op := e.op(name)
	cond := meta.FindStatusCondition(op.Status.Conditions, string(CompletedType))
	if op.Status.Phase != phase || cond == nil || cond.Reason != string(reason) {
		e.t.Fatalf("%s: phase %q, Completed %+v; want phase %s, reason %s", name, op.Status.Phase, cond, phase, reason)
	}
	if op.Status.ObservedGeneration != op.Generation {
		e.t.Errorf("%s: observedGeneration %d, generation %d", name, op.Status.ObservedGeneration, op.Generation)
	}
	return op
}

func (e *env) intent(vm string) string { return e.vm(vm).Annotations[powerstate.Annotation] }

// sawEvent reports whether an event with reason was recorded (and drains the recorder).
func (e *env) sawEvent(reason string) bool {
	found := false
	for {
		select {
		case ev := <-e.events.Events:
			if strings.Contains(ev, " "+reason+" ") {
				found = true
			}
		default:
			return found
		}
	}
}

func TestStartRunsAStoppedVM(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.ManualPolicy, ""))
	e.create("start", virtv1.VMOPTypeStart, "vm", false)

	e.sync("start")
	op := e.expect("start", virtv1.VMOPPhaseInProgress, StartInProgress)
	if !meta.IsStatusConditionTrue(op.Status.Conditions, string(SignalSentType)) {
		t.Errorf("SignalSent is not True: %+v", op.Status.Conditions)
	}
	if got := e.intent("vm"); got != powerstate.Running {
		t.Fatalf("intent %q, want Running", got)
	}
	if !e.sawEvent(EventStartRequested) {
		t.Error("no StartRequested event on the VM")
	}

	e.setPhase("vm", virtv1.MachineStarting)
	e.sync("start")
	e.expect("start", virtv1.VMOPPhaseInProgress, StartInProgress)

	e.runVMI("vm", "vmi-1", nil)
	e.sync("start")
	e.expect("start", virtv1.VMOPPhaseCompleted, OperationCompleted)
	e.sync("start")
	if f := e.op("start").Finalizers; len(f) != 0 {
		t.Errorf("finalizers left on a completed operation: %v", f)
	}
}

func TestRunPolicyDecidesWhatAnOperationMayDo(t *testing.T) {
	for _, tc := range []struct {
		typ    virtv1.VMOPType
		policy virtv1.RunPolicy
		ok     bool
	}{
		{virtv1.VMOPTypeStart, virtv1.ManualPolicy, true},
		{virtv1.VMOPTypeStart, virtv1.AlwaysOnUnlessStoppedManuallyPolicy, true},
		{virtv1.VMOPTypeStart, virtv1.AlwaysOffPolicy, false},
		{virtv1.VMOPTypeStart, virtv1.AlwaysOnPolicy, false},
		{virtv1.VMOPTypeStop, virtv1.ManualPolicy, true},
		{virtv1.VMOPTypeStop, virtv1.AlwaysOnUnlessStoppedManuallyPolicy, true},
		{virtv1.VMOPTypeStop, "", true}, // the API default is AlwaysOnUnlessStoppedManually
		{virtv1.VMOPTypeStop, virtv1.AlwaysOnPolicy, false},
		{virtv1.VMOPTypeStop, virtv1.AlwaysOffPolicy, false},
		{virtv1.VMOPTypeRestart, virtv1.ManualPolicy, true},
		{virtv1.VMOPTypeRestart, virtv1.AlwaysOnUnlessStoppedManuallyPolicy, true},
		{virtv1.VMOPTypeRestart, virtv1.AlwaysOnPolicy, true},
		{virtv1.VMOPTypeRestart, virtv1.AlwaysOffPolicy, false},
	} {
		t.Run(string(tc.typ)+"/"+string(tc.policy), func(t *testing.T) {
			intent := powerstate.Running
			if tc.typ == virtv1.VMOPTypeStart {
				intent = powerstate.Stopped
			}
			e := newEnv(t, newVM("vm", tc.policy, intent))
			if tc.typ != virtv1.VMOPTypeStart {
				e.runVMI("vm", "vmi-1", nil)
			}
			e.create("op", tc.typ, "vm", false)
			e.sync("op")
			if tc.ok {
				e.expect("op", virtv1.VMOPPhaseInProgress, actions[tc.typ].inProgress)
				return
			}
			op := e.expect("op", virtv1.VMOPPhaseFailed, NotApplicableForRunPolicy)
			if msg := meta.FindStatusCondition(op.Status.Conditions, string(CompletedType)).Message; !strings.Contains(msg, string(tc.policy)) {
				t.Errorf("message %q does not name the runPolicy", msg)
			}
			if got := e.intent("vm"); got != intent {
				t.Errorf("a refused operation changed the intent to %q", got)
			}
			if len(e.kv.DeleteOptions()) != 0 {
				t.Error("a refused operation deleted the VMI")
			}
			if !e.sawEvent(EventFailed) {
				t.Error("no Warning event for the refused operation")
			}
		})
	}
}

func TestStartOfARunningVMFails(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.ManualPolicy, powerstate.Running))
	e.runVMI("vm", "vmi-1", nil)
	e.create("start", virtv1.VMOPTypeStart, "vm", false)
	e.sync("start")
	op := e.expect("start", virtv1.VMOPPhaseFailed, NotApplicableForVMPhase)
	if msg := meta.FindStatusCondition(op.Status.Conditions, string(CompletedType)).Message; !strings.Contains(msg, "already running") {
		t.Errorf("message %q", msg)
	}
}

func TestStopOfAStoppedVMFails(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.ManualPolicy, powerstate.Stopped))
	e.create("stop", virtv1.VMOPTypeStop, "vm", false)
	e.sync("stop")
	op := e.expect("stop", virtv1.VMOPPhaseFailed, NotApplicableForVMPhase)
	if msg := meta.FindStatusCondition(op.Status.Conditions, string(CompletedType)).Message; !strings.Contains(msg, "not running") {
		t.Errorf("message %q", msg)
	}
}

func TestOperationOnAMissingVMFails(t *testing.T) {
	e := newEnv(t)
	e.create("stop", virtv1.VMOPTypeStop, "nope", false)
	e.sync("stop")
	e.expect("stop", virtv1.VMOPPhaseFailed, VirtualMachineNotFound)
}

func TestStopDeletesTheVMIWithItsGracePeriod(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.AlwaysOnUnlessStoppedManuallyPolicy, ""))
	e.runVMI("vm", "vmi-1", ptr.To[int64](60))
	e.create("stop", virtv1.VMOPTypeStop, "vm", false)

	e.sync("stop")
	e.expect("stop", virtv1.VMOPPhaseInProgress, StopInProgress)
	if got := e.intent("vm"); got != powerstate.Stopped {
		t.Fatalf("intent %q, want Stopped", got)
	}
	dels := e.kv.DeleteOptions()
	if len(dels) != 1 || ptr.Deref(dels[0].GracePeriodSeconds, -1) != 60 {
		t.Fatalf("delete options %+v; want one delete with grace 60", dels)
	}
	if uid := dels[0].Preconditions; uid == nil || uid.UID == nil || *uid.UID != "vmi-1" {
		t.Errorf("delete without the VMI's UID as precondition: %+v", dels[0].Preconditions)
	}

	// The guest shuts down: the VMI is still there, the VM Stopping.
	e.setPhase("vm", virtv1.MachineStopping)
	e.sync("stop")
	e.expect("stop", virtv1.VMOPPhaseInProgress, StopInProgress)
	if n := len(e.kv.DeleteOptions()); n != 1 {
		t.Errorf("%d deletes of a VMI already stopping", n)
	}

	e.stopVMI("vm")
	e.sync("stop")
	e.expect("stop", virtv1.VMOPPhaseCompleted, OperationCompleted)
}

func TestForcedStopDeletesWithGraceZero(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.ManualPolicy, powerstate.Running))
	e.runVMI("vm", "vmi-1", ptr.To[int64](60))
	e.create("stop", virtv1.VMOPTypeStop, "vm", true)

	e.sync("stop")
	dels := e.kv.DeleteOptions()
	if len(dels) != 1 || ptr.Deref(dels[0].GracePeriodSeconds, -1) != 0 {
		t.Fatalf("delete options %+v; want one delete with grace 0", dels)
	}
	if got := ptr.Deref(e.kv.Get(ns, "vm").Spec.TerminationGracePeriodSeconds, -1); got != 0 {
		t.Errorf("the VMI's spec.terminationGracePeriodSeconds is %d; KubeVirt needs 0 to stop at once", got)
	}
	e.stopVMI("vm")
	e.sync("stop")
	e.expect("stop", virtv1.VMOPPhaseCompleted, OperationCompleted)
}

func TestRestartCompletesOnANewInstance(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.AlwaysOnPolicy, ""))
	e.runVMI("vm", "vmi-1", ptr.To[int64](30))
	e.create("restart", virtv1.VMOPTypeRestart, "vm", false)

	e.sync("restart")
	op := e.expect("restart", virtv1.VMOPPhaseInProgress, RestartInProgress)
	if got := op.Annotations[RestartVMIUIDAnnotation]; got != "vmi-1" {
		t.Fatalf("recorded VMI UID %q, want vmi-1", got)
	}
	dels := e.kv.DeleteOptions()
	if len(dels) != 1 || ptr.Deref(dels[0].GracePeriodSeconds, -1) != 30 {
		t.Fatalf("delete options %+v; want one delete with grace 30", dels)
	}
	if got := e.intent("vm"); got != powerstate.Running {
		t.Errorf("intent %q, want Running", got)
	}

	// The VM still reports Running from the old instance, which is shutting down.
	e.sync("restart")
	e.expect("restart", virtv1.VMOPPhaseInProgress, RestartInProgress)

	// The new instance exists but does not run yet, though the VM's phase still says Running.
	e.kv.Remove(ns, "vm")
	e.kv.Put(&kvv1.VirtualMachineInstance{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vm", UID: "vmi-2"},
		Status: kvv1.VirtualMachineInstanceStatus{Phase: kvv1.Scheduling}})
	e.refresh()
	e.sync("restart")
	e.expect("restart", virtv1.VMOPPhaseInProgress, RestartInProgress)

	e.runVMI("vm", "vmi-2", ptr.To[int64](30))
	e.sync("restart")
	e.expect("restart", virtv1.VMOPPhaseCompleted, OperationCompleted)
	if n := len(e.kv.DeleteOptions()); n != 1 {
		t.Errorf("%d VMI deletes; the restart must not stop the new instance", n)
	}
}

func TestForcedRestartDeletesWithGraceZero(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.ManualPolicy, powerstate.Running))
	e.runVMI("vm", "vmi-1", ptr.To[int64](30))
	e.create("restart", virtv1.VMOPTypeRestart, "vm", true)
	e.sync("restart")
	dels := e.kv.DeleteOptions()
	if len(dels) != 1 || ptr.Deref(dels[0].GracePeriodSeconds, -1) != 0 {
		t.Fatalf("delete options %+v; want one delete with grace 0", dels)
	}
}

func TestRestartOfAStoppedVMFails(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.ManualPolicy, powerstate.Stopped))
	e.create("restart", virtv1.VMOPTypeRestart, "vm", false)
	e.sync("restart")
	e.expect("restart", virtv1.VMOPPhaseFailed, NotApplicableForVMPhase)
}

func TestOneActiveOperationPerVM(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.ManualPolicy, powerstate.Running), newVM("other", virtv1.ManualPolicy, powerstate.Running))
	e.runVMI("vm", "vmi-1", nil)
	e.runVMI("other", "vmi-o", nil)
	e.create("restart", virtv1.VMOPTypeRestart, "vm", false)
	e.sync("restart")
	e.expect("restart", virtv1.VMOPPhaseInProgress, RestartInProgress)

	// A second operation while the restart runs fails and leaves the VM alone.
	e.create("stop", virtv1.VMOPTypeStop, "vm", false)
	e.sync("stop")
	op := e.expect("stop", virtv1.VMOPPhaseFailed, NotReadyToBeExecuted)
	if msg := meta.FindStatusCondition(op.Status.Conditions, string(CompletedType)).Message; !strings.Contains(msg, "restart") {
		t.Errorf("message %q does not name the operation in the way", msg)
	}
	if got := e.intent("vm"); got != powerstate.Running {
		t.Errorf("the refused stop changed the intent to %q", got)
	}

	// Another VM is not held by it.
	e.create("stop-other", virtv1.VMOPTypeStop, "other", false)
	e.sync("stop-other")
	e.expect("stop-other", virtv1.VMOPPhaseInProgress, StopInProgress)

	// A forced stop supersedes the unforced restart.
	e.create("force-stop", virtv1.VMOPTypeStop, "vm", true)
	e.sync("force-stop")
	e.expect("force-stop", virtv1.VMOPPhaseInProgress, StopInProgress)
	e.expect("restart", virtv1.VMOPPhaseSuperseded, Superseded)
	if got := e.intent("vm"); got != powerstate.Stopped {
		t.Errorf("intent %q after the forced stop", got)
	}

	// Once the stop has ended, a new operation runs.
	e.stopVMI("vm")
	e.sync("force-stop")
	e.expect("force-stop", virtv1.VMOPPhaseCompleted, OperationCompleted)
	e.create("start", virtv1.VMOPTypeStart, "vm", false)
	e.sync("start")
	e.expect("start", virtv1.VMOPPhaseInProgress, StartInProgress)
}

func TestAnOperationTimesOut(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.ManualPolicy, ""))
	e.create("start", virtv1.VMOPTypeStart, "vm", false)
	if after := e.sync("start"); after <= 0 || after > DefaultTimeout {
		t.Errorf("requeue after %s; want the time left until the deadline", after)
	}
	e.setPhase("vm", virtv1.MachinePending)
	e.now = e.now.Add(DefaultTimeout + time.Second)
	e.sync("start")
	op := e.expect("start", virtv1.VMOPPhaseFailed, OperationFailed)
	if msg := meta.FindStatusCondition(op.Status.Conditions, string(CompletedType)).Message; !strings.Contains(msg, "Pending") || !strings.Contains(msg, "10m") {
		t.Errorf("message %q does not say what the VM did and how long it was given", msg)
	}
	if !e.sawEvent(EventFailed) {
		t.Error("no Warning event")
	}
}

func TestUnavailableOperationsWaitAndDoNotHoldTheVM(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.ManualPolicy, powerstate.Running))
	e.runVMI("vm", "vmi-1", nil)
	e.create("clone", virtv1.VMOPTypeClone, "vm", false)
	e.sync("clone")
	e.expect("clone", virtv1.VMOPPhasePending, OperationNotAvailable)

	e.create("stop", virtv1.VMOPTypeStop, "vm", false)
	e.sync("stop")
	e.expect("stop", virtv1.VMOPPhaseInProgress, StopInProgress)
	e.expect("clone", virtv1.VMOPPhasePending, OperationNotAvailable)
}

func TestADeletedOperationShowsTerminating(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.ManualPolicy, powerstate.Running))
	e.runVMI("vm", "vmi-1", nil)
	e.create("stop", virtv1.VMOPTypeStop, "vm", false)
	e.sync("stop")
	if f := e.op("stop").Finalizers; len(f) != 1 || f[0] != CleanupFinalizer {
		t.Fatalf("finalizers %v while in progress", f)
	}

	op := e.op("stop")
	op.DeletionTimestamp = ptr.To(metav1.Now())
	if _, err := e.virt.VirtualizationV1alpha2().VirtualMachineOperations(ns).Update(context.Background(), op, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.virt.ClearActions()
	e.refresh()
	e.sync("stop")
	var phases []virtv1.VMOPPhase
	var finalizers []string
	for _, a := range e.virt.Actions() {
		if u, ok := a.(interface{ GetObject() runtime.Object }); ok && a.GetVerb() == "update" {
			op := u.GetObject().(*virtv1.VirtualMachineOperation)
			if a.GetSubresource() == "status" {
				phases = append(phases, op.Status.Phase)
			} else {
				finalizers = op.Finalizers
			}
		}
	}
	if len(phases) != 1 || phases[0] != virtv1.VMOPPhaseTerminating {
		t.Errorf("status writes %v; want Terminating", phases)
	}
	if len(finalizers) != 0 {
		t.Errorf("finalizers %v left on the deleted operation", finalizers)
	}
}

func TestARefusedOperationSupersedesNothing(t *testing.T) {
	e := newEnv(t, newVM("vm", virtv1.AlwaysOnPolicy, ""))
	e.runVMI("vm", "vmi-1", nil)
	e.create("restart", virtv1.VMOPTypeRestart, "vm", false)
	e.sync("restart")
	e.create("force-stop", virtv1.VMOPTypeStop, "vm", true)
	e.sync("force-stop")
	e.expect("force-stop", virtv1.VMOPPhaseFailed, NotApplicableForRunPolicy)
	e.expect("restart", virtv1.VMOPPhaseInProgress, RestartInProgress)
}
