package vmop

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/powerstate"
)

// runPolicy is the VM's policy with the API default filled in.
func runPolicy(vm *virtv1.VirtualMachine) virtv1.RunPolicy {
	if vm.Spec.RunPolicy == "" {
		return virtv1.AlwaysOnUnlessStoppedManuallyPolicy
	}
	return vm.Spec.RunPolicy
}

// userControlled: only Manual and AlwaysOnUnlessStoppedManually VMs follow Start and Stop.
// AlwaysOff never starts; AlwaysOn would start again at once after a stop.
func userControlled(p virtv1.RunPolicy) bool {
	return p == virtv1.ManualPolicy || p == virtv1.AlwaysOnUnlessStoppedManuallyPolicy
}

// runningPhases are the phases of a VM whose guest runs (or is being brought up).
var runningPhases = map[virtv1.MachinePhase]bool{
	virtv1.MachineRunning: true, virtv1.MachineStarting: true, virtv1.MachineMigrating: true,
	virtv1.MachinePause: true, virtv1.MachineDegraded: true,
}

// refuseStart: as virtctl says "VM is already running", a VM that runs or is set to run is
// not started again. A stopping VM may be started: it runs again once it has stopped.
func refuseStart(vm *virtv1.VirtualMachine, _ bool) string {
	p := vm.Status.Phase
	switch {
	case p == virtv1.MachineTerminating:
		return "The VM is being deleted."
	case p == virtv1.MachineStopped || p == virtv1.MachineStopping:
		return ""
	case runningPhases[p] || powerstate.ShouldRun(vm):
		return fmt.Sprintf("The VM is already running (phase %s).", phaseName(p))
	}
	return ""
}

// refuseStop: a stopped VM is not stopped again (virtctl: "VM is not running"). A VM that is
// already stopping may be: the operation records the intent and waits for the end, and with
// force it cuts the shutdown short.
func refuseStop(vm *virtv1.VirtualMachine, _ bool) string {
	switch vm.Status.Phase {
	case virtv1.MachineTerminating:
		return "The VM is being deleted."
	case virtv1.MachineStopped:
		return "The VM is not running."
	}
	return ""
}

// refuseRestart: only a running VM restarts; a stopping one only with force.
func refuseRestart(vm *virtv1.VirtualMachine, force bool) string {
	p := vm.Status.Phase
	switch {
	case p == virtv1.MachineTerminating:
		return "The VM is being deleted."
	case p == virtv1.MachineMigrating:
		return "The VM is migrating; restart it when the migration has ended."
	case p == virtv1.MachineStopping && !force:
		return "The VM is stopping; restart it with force, or start it once it has stopped."
	case p == virtv1.MachineStopping || runningPhases[p]:
		return ""
	}
	return fmt.Sprintf("The VM is not running (phase %s); start it instead.", phaseName(p))
}

func phaseName(p virtv1.MachinePhase) string {
	if p == "" {
		return "not yet known"
	}
	return string(p)
}

func (c *Controller) sendStart(ctx context.Context, _ *virtv1.VirtualMachineOperation, vm *virtv1.VirtualMachine) error {
	return c.setIntent(ctx, vm, powerstate.Running)
}

func (c *Controller) sendStop(ctx context.Context, op *virtv1.VirtualMachineOperation, vm *virtv1.VirtualMachine) error {
	if err := c.setIntent(ctx, vm, powerstate.Stopped); err != nil {
		return err
	}
	return c.stopVMI(ctx, c.vmi(vm.Namespace, vm.Name), forced(op))
}

func (c *Controller) sendRestart(ctx context.Context, op *virtv1.VirtualMachineOperation, vm *virtv1.VirtualMachine) error {
	if err := c.setIntent(ctx, vm, powerstate.Running); err != nil {
		return err
	}
	vmi := c.vmi(vm.Namespace, vm.Name)
	if vmi == nil || string(vmi.UID) != op.Annotations[RestartVMIUIDAnnotation] {
		return nil // the old instance is gone; the VM controller brings up the new one
	}
	return c.stopVMI(ctx, vmi, forced(op))
}

func (c *Controller) started(_ context.Context, _ *virtv1.VirtualMachineOperation, vm *virtv1.VirtualMachine) (result, error) {
	if vm.Status.Phase == virtv1.MachineRunning {
		return success("The VM is running."), nil
	}
	return waitingFor(fmt.Sprintf("Waiting for the VM to run (phase %s).", phaseName(vm.Status.Phase))), nil
}

func (c *Controller) stopped(_ context.Context, _ *virtv1.VirtualMachineOperation, vm *virtv1.VirtualMachine) (result, error) {
	if vm.Status.Phase == virtv1.MachineStopped && c.vmi(vm.Namespace, vm.Name) == nil {
		return success("The VM is stopped."), nil
	}
	return waitingFor(fmt.Sprintf("Waiting for the VM to stop (phase %s).", phaseName(vm.Status.Phase))), nil
}

// restarted: the VM runs, on an instance other than the one the restart stopped. The VMI's
// own phase is checked too, so a VM status not yet updated for the new VMI does not count.
func (c *Controller) restarted(_ context.Context, op *virtv1.VirtualMachineOperation, vm *virtv1.VirtualMachine) (result, error) {
	old := op.Annotations[RestartVMIUIDAnnotation]
	vmi := c.vmi(vm.Namespace, vm.Name)
	switch {
	case vmi != nil && string(vmi.UID) == old:
		return waitingFor("Waiting for the VM's instance to stop."), nil
	case vmi != nil && vmi.DeletionTimestamp == nil && vmi.Status.Phase == kvv1.Running && vm.Status.Phase == virtv1.MachineRunning:
		return success("The VM is running again."), nil
	}
	return waitingFor(fmt.Sprintf("Waiting for the VM to run again (phase %s).", phaseName(vm.Status.Phase))), nil
}

// setIntent records Running or Stopped on the VM (a merge patch of one annotation: no read,
// no conflict with the VM controller's writes).
func (c *Controller) setIntent(ctx context.Context, vm *virtv1.VirtualMachine, intent string) error {
	if vm.Annotations[powerstate.Annotation] == intent {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{powerstate.Annotation: intent}}})
	if err != nil {
		return err
	}
	if _, err := c.virt.VirtualizationV1alpha2().VirtualMachines(vm.Namespace).Patch(ctx, vm.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("set %s=%s on VirtualMachine %s/%s: %w", powerstate.Annotation, intent, vm.Namespace, vm.Name, err)
	}
	return nil
}

// stopVMI deletes a VMI: gracefully with the grace period of its spec, or at once with force.
// KubeVirt ends the guest after the VMI's spec.terminationGracePeriodSeconds (custom
// resources have no graceful deletion of their own), so a forced stop sets it to 0 first,
// then deletes with grace 0. The UID precondition keeps a stale cache from deleting a newer
// instance.
func (c *Controller) stopVMI(ctx context.Context, vmi *kvv1.VirtualMachineInstance, force bool) error {
	if vmi == nil {
		return nil
	}
	client := c.kv.VirtualMachineInstances(vmi.Namespace)
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &vmi.UID}}
	switch {
	case force:
		if vmi.DeletionTimestamp != nil && ptr.Deref(vmi.Spec.TerminationGracePeriodSeconds, -1) == 0 {
			return nil // already being stopped at once
		}
		_, err := client.Patch(ctx, vmi.Name, types.MergePatchType, []byte(`{"spec":{"terminationGracePeriodSeconds":0}}`), metav1.PatchOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("set the grace period of VMI %s/%s to 0: %w", vmi.Namespace, vmi.Name, err)
		}
		opts.GracePeriodSeconds = ptr.To[int64](0)
	case vmi.DeletionTimestamp != nil:
		return nil // already stopping
	default:
		opts.GracePeriodSeconds = vmi.Spec.TerminationGracePeriodSeconds
	}
	err := client.Delete(ctx, vmi.Name, opts)
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone, or replaced: the next event shows which
	}
	if err != nil {
		return fmt.Errorf("delete VMI %s/%s: %w", vmi.Namespace, vmi.Name, err)
	}
	return nil
}
