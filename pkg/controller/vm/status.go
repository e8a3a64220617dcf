package vm

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kvv1 "kubevirt.io/api/core/v1"

	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/powerstate"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
)

// observe fills the status from the VM, its VMI and what was resolved.
func (c *Controller) observe(vm *v1alpha2.VirtualMachine, vmi *kvv1.VirtualMachineInstance, r *resolved, st *v1alpha2.VirtualMachineStatus) error {
	gen := vm.Generation
	set := func(t ConditionType, ok bool, reason Reason, msg string) {
		s := metav1.ConditionFalse
		if ok {
			s = metav1.ConditionTrue
		}
		provisioning.SetCondition(&st.Conditions, t, s, reason, msg, gen)
	}
	should := powerstate.ShouldRun(vm)
	running := vmi != nil && vmi.DeletionTimestamp == nil && vmi.Status.Phase == kvv1.Running

	switch {
	case vmi == nil && should:
		c.setPhase(st, v1alpha2.MachinePending)
	case vmi == nil:
		c.setPhase(st, v1alpha2.MachineStopped)
	case vmi.DeletionTimestamp != nil || vmi.IsFinal():
		c.setPhase(st, v1alpha2.MachineStopping)
	case running && migrating(vmi):
		c.setPhase(st, v1alpha2.MachineMigrating)
	case running:
		c.setPhase(st, v1alpha2.MachineRunning)
	default:
		c.setPhase(st, v1alpha2.MachineStarting)
	}

	if vmi != nil {
		if applied, ok := appliedSpec(vmi); ok {
			changes, err := PendingChanges(applied, &vm.Spec)
			if err != nil {
				return err
			}
			r.changes = changes
		}
	}
	raw, err := RawChanges(r.changes)
	if err != nil {
		return err
	}
	st.RestartAwaitingChanges = raw
	if len(r.changes) > 0 {
		set(AwaitingRestartType, true, ChangesPendingRestart, "Changes wait for a restart: see status.restartAwaitingChanges.")
		set(ConfigurationAppliedType, false, ConfigurationNotApplied, "The VM runs with an older configuration until it restarts.")
	} else {
		set(AwaitingRestartType, false, NoRestartRequired, "")
		if vmi != nil {
			set(ConfigurationAppliedType, true, ConfigurationApplied, "")
		} else {
			provisioning.RemoveCondition(&st.Conditions, ConfigurationAppliedType)
		}
	}
	// Resources follow the spec, as the guide's -o wide shows them while a change waits.
	st.Resources = resources(&vm.Spec, r.fraction)

	st.Node, st.GuestOSInfo, st.Networks = "", nil, nil
	switch {
	case vmi == nil:
		if should && r.failure != "" {
			set(RunningType, false, InternalVirtualMachineError, r.failure)
		} else if should && r.backoff != "" {
			set(RunningType, false, NotRunning, r.backoff)
		} else if should && r.ready {
			set(RunningType, false, NotRunning, "Starting the VM.")
		} else if should {
			set(RunningType, false, NotRunning, "Waiting for "+waitingOn(st)+".")
		} else {
			set(RunningType, false, NotRunning, "The VM is stopped.")
		}
		provisioning.RemoveCondition(&st.Conditions, AgentReadyType)
	default:
		st.Node = vmi.Status.NodeName
		switch {
		case running:
			set(RunningType, true, Running, "")
		case vmi.DeletionTimestamp != nil:
			set(RunningType, false, PodTerminating, "The VM is stopping.")
		case vmi.Status.Phase == kvv1.Failed:
			set(RunningType, false, InternalVirtualMachineError, "The VM failed: "+vmiMessage(vmi))
		case vmi.Status.Phase == kvv1.Succeeded:
			set(RunningType, false, GuestNotRunning, "The guest powered off.")
		default:
			set(RunningType, false, PodNotStarted, "The VM's Pod is not running yet: "+vmiMessage(vmi))
		}
		agent := false
		for _, cond := range vmi.Status.Conditions {
			if cond.Type == kvv1.VirtualMachineInstanceAgentConnected && cond.Status == "True" {
				agent = true
			}
		}
		if running && agent {
			set(AgentReadyType, true, AgentReady, "")
		} else {
			set(AgentReadyType, false, AgentNotReady, "The QEMU guest agent does not answer.")
		}
		if g := vmi.Status.GuestOSInfo; running && (g.Name != "" || g.ID != "") {
			st.GuestOSInfo = &v1alpha2.GuestOSInfo{Name: g.Name, KernelRelease: g.KernelRelease, Version: g.Version, PrettyName: g.PrettyName,
				VersionID: g.VersionID, KernelVersion: g.KernelVersion, Machine: g.Machine, ID: g.ID}
		}
		for _, ifc := range vmi.Status.Interfaces {
			if ifc.Name == "default" {
				st.Networks = []v1alpha2.NetworksStatus{{Type: v1alpha2.NetworksTypeMain, MAC: ifc.MAC, IPAddress: st.IPAddress}}
			}
		}
		for i := range st.BlockDeviceRefs {
			st.BlockDeviceRefs[i].Attached = running && hasVolume(vmi, st.BlockDeviceRefs[i].Target)
		}
	}
	ok, reason, msg := migratable(vmi)
	set(MigratableType, ok, reason, msg)
	st.MigrationState = migrationState(vmi)
	if running && migrating(vmi) {
		set(MigratingType, true, MigratingInProgress, migratingMessage(vmi.Status.MigrationState))
	} else {
		provisioning.RemoveCondition(&st.Conditions, MigratingType)
	}
	st.ObservedGeneration = gen
	return nil
}

// setPhase records a phase and its transition time.
func (c *Controller) setPhase(st *v1alpha2.VirtualMachineStatus, phase v1alpha2.MachinePhase) {
	if st.Phase == phase {
		return
	}
	migrated := st.Phase == v1alpha2.MachineMigrating
	st.Phase = phase
	now := metav1.Now()
	if st.Stats == nil {
		st.Stats = &v1alpha2.VirtualMachineStats{}
	}
	st.Stats.PhasesTransitions = append(st.Stats.PhasesTransitions, v1alpha2.VirtualMachinePhaseTransitionTimestamp{Phase: phase, Timestamp: &now})
	if n := len(st.Stats.PhasesTransitions); n > 10 {
		st.Stats.PhasesTransitions = st.Stats.PhasesTransitions[n-10:]
	}
	switch phase {
	case v1alpha2.MachineRunning:
		// A migration is no start: the guest's uptime goes on.
		if !migrated || st.Stats.LastStartTime == nil {
			st.Stats.LastStartTime = &now
		}
	case v1alpha2.MachineStopped, v1alpha2.MachinePending:
		// UPTIME counts from the last start; a VM that does not run has none.
		st.Stats.LastStartTime = nil
	}
}

func resources(spec *v1alpha2.VirtualMachineSpec, fraction string) *v1alpha2.ResourcesStatus {
	sockets, per := Topology(spec.CPU.Cores)
	out := &v1alpha2.ResourcesStatus{CPU: v1alpha2.CPUStatus{
		Cores: spec.CPU.Cores, CoreFraction: fraction,
		RuntimeOverhead: resource.MustParse("0"),
		Topology:        v1alpha2.CPUTopology{Sockets: sockets, CoresPerSocket: per},
	}}
	if f, err := CoreFraction(fraction); err == nil {
		out.CPU.RequestedCores = RequestedCPU(spec.CPU.Cores, f)
	}
	if q, err := resource.ParseQuantity(spec.Memory.Size); err == nil {
		out.Memory = v1alpha2.MemoryStatus{Size: q, RuntimeOverhead: resource.MustParse("0")}
	}
	return out
}

// waitingOn names the first condition that holds the VM back.
func waitingOn(st *v1alpha2.VirtualMachineStatus) string {
	for _, t := range []ConditionType{ClassReadyType, BlockDevicesReadyType, IPAddressReadyType, ProvisioningReadyType} {
		if c := meta.FindStatusCondition(st.Conditions, string(t)); c != nil && c.Status == metav1.ConditionFalse && c.Reason != string(WaitingForFirstConsumer) {
			return fmt.Sprintf("%s (%s)", t, c.Message)
		}
	}
	return "its dependencies"
}

func vmiMessage(vmi *kvv1.VirtualMachineInstance) string {
	for _, cond := range vmi.Status.Conditions {
		if cond.Status != "True" && cond.Message != "" {
			return cond.Message
		}
	}
	return "phase " + string(vmi.Status.Phase)
}

func hasVolume(vmi *kvv1.VirtualMachineInstance, name string) bool {
	for _, v := range vmi.Spec.Volumes {
		if v.Name == name {
			return true
		}
	}
	return false
}
