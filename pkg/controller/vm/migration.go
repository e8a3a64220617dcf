package vm

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	kvv1 "kubevirt.io/api/core/v1"

	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// What a VM shows of live migration comes from its VMI: KubeVirt records the migration in
// progress or last done in status.migrationState, and whether the VMI can migrate at all in
// its LiveMigratable condition.

// migrating reports whether KubeVirt is moving the VMI to another node: its migration state
// names a migration that has neither completed nor failed, or one that completed whose target
// has not taken the VMI over yet (status.nodeName still the source), so the VM does not show
// Running on the node it just left.
func migrating(vmi *kvv1.VirtualMachineInstance) bool {
	s := vmi.Status.MigrationState
	if s == nil || s.Failed {
		return false
	}
	if s.Completed {
		return s.TargetNode != "" && vmi.Status.NodeName != s.TargetNode
	}
	return s.EndTimestamp == nil
}

// migrationState is the VM's view of the VMI's last migration; nil when there was none.
func migrationState(vmi *kvv1.VirtualMachineInstance) *v1alpha2.VirtualMachineMigrationState {
	if vmi == nil || vmi.Status.MigrationState == nil {
		return nil
	}
	s := vmi.Status.MigrationState
	out := &v1alpha2.VirtualMachineMigrationState{
		StartTimestamp: s.StartTimestamp.DeepCopy(), EndTimestamp: s.EndTimestamp.DeepCopy(),
		Source: v1alpha2.VirtualMachineLocation{Node: s.SourceNode, Pod: s.SourcePod},
		Target: v1alpha2.VirtualMachineLocation{Node: s.TargetNode, Pod: s.TargetPod},
	}
	switch {
	case s.Failed:
		out.Result = v1alpha2.MigrationResultFailed
	case s.Completed:
		out.Result = v1alpha2.MigrationResultSucceeded
	}
	return out
}

// migratingMessage says where a migration goes, as far as KubeVirt has told.
func migratingMessage(s *kvv1.VirtualMachineInstanceMigrationState) string {
	switch {
	case s.SourceNode != "" && s.TargetNode != "":
		return fmt.Sprintf("Migrating from node %s to node %s.", s.SourceNode, s.TargetNode)
	case s.TargetNode != "":
		return fmt.Sprintf("Migrating to node %s.", s.TargetNode)
	}
	return "Migrating to another node."
}

// migratable is the Migratable condition: KubeVirt's LiveMigratable, with its reason mapped
// to the platform's and its message.
func migratable(vmi *kvv1.VirtualMachineInstance) (bool, Reason, string) {
	if vmi == nil {
		return false, NonMigratable, "The VM is not running; KubeVirt decides whether it can migrate once it runs."
	}
	for _, c := range vmi.Status.Conditions {
		if c.Type != kvv1.VirtualMachineInstanceIsMigratable {
			continue
		}
		if c.Status == corev1.ConditionTrue {
			return true, Migratable, ""
		}
		reason := NonMigratable
		switch c.Reason {
		case kvv1.VirtualMachineInstanceReasonDisksNotMigratable:
			reason = DisksNotMigratable
		case kvv1.VirtualMachineInstanceReasonHostDeviceNotMigratable:
			reason = HostDevicesNotMigratable
		}
		msg := c.Message
		if msg == "" {
			msg = fmt.Sprintf("KubeVirt says the VM cannot migrate (%s).", c.Reason)
		}
		return false, reason, msg
	}
	return false, NonMigratable, "KubeVirt has not said yet whether the VM can migrate."
}
