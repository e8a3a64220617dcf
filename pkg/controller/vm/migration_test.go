package vm

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kvv1 "kubevirt.io/api/core/v1"

	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// editVMI changes the VM's instance as KubeVirt does and syncs the VM.
func (e *env) editVMI(name string, edit func(*kvv1.VirtualMachineInstance)) {
	e.t.Helper()
	vmi := e.cl.KubeVirt.Get(ns, name)
	edit(vmi)
	e.cl.KubeVirt.Put(vmi)
	e.refresh()
	e.mustSync(name)
}

func (e *env) condition(name string, t ConditionType) *metav1.Condition {
	return meta.FindStatusCondition(e.vm(name).Status.Conditions, string(t))
}

func TestAMigratingVMShowsWhereItGoes(t *testing.T) {
	e := webEnv(t, v1alpha2.AlwaysOnPolicy)
	e.start("web")
	e.runVMI("web")
	e.mustSync("web")
	started := e.vm("web").Status.Stats.LastStartTime
	if started == nil {
		t.Fatal("a running VM has no lastStartTime")
	}
	if c := e.condition("web", MigratingType); c != nil {
		t.Errorf("a VM that does not migrate has %+v", c)
	}

	begin := metav1.NewTime(time.Now().Add(-time.Second).Truncate(time.Second))
	e.editVMI("web", func(vmi *kvv1.VirtualMachineInstance) {
		vmi.Status.MigrationState = &kvv1.VirtualMachineInstanceMigrationState{MigrationUID: "m-1", StartTimestamp: &begin,
			SourceNode: "node-1", SourcePod: "virt-launcher-web-aaaaa", TargetNode: "node-2", TargetPod: "virt-launcher-web-bbbbb"}
	})
	vm := e.vm("web")
	e.expectPhase("web", v1alpha2.MachineMigrating, metav1.ConditionTrue, Running)
	if c := e.condition("web", MigratingType); c == nil || c.Status != metav1.ConditionTrue || c.Reason != string(MigratingInProgress) ||
		c.Message != "Migrating from node node-1 to node node-2." {
		t.Errorf("Migrating condition %+v", c)
	}
	want := v1alpha2.VirtualMachineMigrationState{StartTimestamp: &begin,
		Source: v1alpha2.VirtualMachineLocation{Node: "node-1", Pod: "virt-launcher-web-aaaaa"},
		Target: v1alpha2.VirtualMachineLocation{Node: "node-2", Pod: "virt-launcher-web-bbbbb"}}
	if ms := vm.Status.MigrationState; ms == nil || !ms.StartTimestamp.Equal(want.StartTimestamp) || ms.EndTimestamp != nil ||
		ms.Source != want.Source || ms.Target != want.Target || ms.Result != "" {
		t.Errorf("migrationState %+v; want %+v", ms, want)
	}
	if vm.Status.Node != "node-1" {
		t.Errorf("status.nodeName %q while migrating; want the source node-1", vm.Status.Node)
	}

	// The source reports the transfer done before the target takes the VMI over: the VM
	// still migrates rather than show Running on the node it left.
	end := metav1.NewTime(begin.Add(2 * time.Second))
	e.editVMI("web", func(vmi *kvv1.VirtualMachineInstance) {
		vmi.Status.MigrationState.Completed, vmi.Status.MigrationState.EndTimestamp = true, &end
	})
	e.expectPhase("web", v1alpha2.MachineMigrating, metav1.ConditionTrue, Running)

	// KubeVirt switched over: the VMI runs on node-2.
	e.editVMI("web", func(vmi *kvv1.VirtualMachineInstance) {
		vmi.Status.NodeName = "node-2"
	})
	vm = e.vm("web")
	e.expectPhase("web", v1alpha2.MachineRunning, metav1.ConditionTrue, Running)
	if vm.Status.Node != "node-2" {
		t.Errorf("status.nodeName %q after the migration; want node-2", vm.Status.Node)
	}
	if ms := vm.Status.MigrationState; ms == nil || ms.Result != v1alpha2.MigrationResultSucceeded || ms.EndTimestamp == nil || !ms.EndTimestamp.Equal(&end) {
		t.Errorf("migrationState %+v; want Succeeded with the end time", ms)
	}
	if c := e.condition("web", MigratingType); c != nil {
		t.Errorf("Migrating condition %+v left after the migration", c)
	}
	if got := vm.Status.Stats.LastStartTime; got == nil || !got.Equal(started) {
		t.Errorf("lastStartTime %v after a migration; want the start %v (the guest did not restart)", got, started)
	}
}

func TestAFailedMigrationLeavesTheVMRunningWhereItWas(t *testing.T) {
	e := webEnv(t, v1alpha2.AlwaysOnPolicy)
	e.start("web")
	e.runVMI("web")
	e.mustSync("web")
	e.editVMI("web", func(vmi *kvv1.VirtualMachineInstance) {
		vmi.Status.MigrationState = &kvv1.VirtualMachineInstanceMigrationState{SourceNode: "node-1", TargetNode: "node-2"}
	})
	e.expectPhase("web", v1alpha2.MachineMigrating, metav1.ConditionTrue, Running)
	e.editVMI("web", func(vmi *kvv1.VirtualMachineInstance) {
		vmi.Status.MigrationState.Failed, vmi.Status.MigrationState.FailureReason = true, "target qemu exited"
	})
	vm := e.vm("web")
	e.expectPhase("web", v1alpha2.MachineRunning, metav1.ConditionTrue, Running)
	if vm.Status.Node != "node-1" || vm.Status.MigrationState == nil || vm.Status.MigrationState.Result != v1alpha2.MigrationResultFailed {
		t.Errorf("node %q, migrationState %+v; want node-1 and result Failed", vm.Status.Node, vm.Status.MigrationState)
	}
}

func TestMigratableIsKubeVirtsLiveMigratable(t *testing.T) {
	e := webEnv(t, v1alpha2.AlwaysOnPolicy)
	e.start("web")
	if c := e.condition("web", MigratableType); c == nil || c.Status != metav1.ConditionFalse || c.Reason != string(NonMigratable) {
		t.Fatalf("Migratable %+v of a VM not running yet; want False %s", c, NonMigratable)
	}
	e.runVMI("web")
	e.mustSync("web")
	if c := e.condition("web", MigratableType); c.Status != metav1.ConditionFalse || c.Message != "KubeVirt has not said yet whether the VM can migrate." {
		t.Errorf("Migratable %+v before KubeVirt says", c)
	}

	for _, tc := range []struct {
		cond   kvv1.VirtualMachineInstanceCondition
		status metav1.ConditionStatus
		reason Reason
		msg    string
	}{
		{kvv1.VirtualMachineInstanceCondition{Status: corev1.ConditionTrue}, metav1.ConditionTrue, Migratable, ""},
		{kvv1.VirtualMachineInstanceCondition{Status: corev1.ConditionFalse, Reason: kvv1.VirtualMachineInstanceReasonDisksNotMigratable,
			Message: "cannot migrate VMI: PVC vd-root-pvc is not shared"}, metav1.ConditionFalse, DisksNotMigratable,
			"cannot migrate VMI: PVC vd-root-pvc is not shared"},
		{kvv1.VirtualMachineInstanceCondition{Status: corev1.ConditionFalse, Reason: kvv1.VirtualMachineInstanceReasonHostDeviceNotMigratable,
			Message: "VMI uses a host device"}, metav1.ConditionFalse, HostDevicesNotMigratable, "VMI uses a host device"},
		{kvv1.VirtualMachineInstanceCondition{Status: corev1.ConditionFalse, Reason: kvv1.VirtualMachineInstanceReasonCPUModeNotMigratable},
			metav1.ConditionFalse, NonMigratable, "KubeVirt says the VM cannot migrate (CPUModeLiveMigratable)."},
	} {
		e.editVMI("web", func(vmi *kvv1.VirtualMachineInstance) {
			tc.cond.Type = kvv1.VirtualMachineInstanceIsMigratable
			vmi.Status.Conditions = []kvv1.VirtualMachineInstanceCondition{tc.cond}
		})
		c := e.condition("web", MigratableType)
		if c.Status != tc.status || c.Reason != string(tc.reason) || c.Message != tc.msg {
			t.Errorf("LiveMigratable %s %s: Migratable %s %s %q; want %s %s %q", tc.cond.Status, tc.cond.Reason,
				c.Status, c.Reason, c.Message, tc.status, tc.reason, tc.msg)
		}
	}
}
