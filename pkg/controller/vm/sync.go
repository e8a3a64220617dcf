package vm

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/listers"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/powerstate"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
)

var everything = labels.Everything()

// vmiCacheWait is how soon a VM is read again while the VMI cache is still filling; Run
// also requeues every VM once it has.
const vmiCacheWait = 30 * time.Second

// Sync reconciles one VM; the duration asks for another look after it.
func (c *Controller) Sync(ctx context.Context, key string) (time.Duration, error) {
	defer provisioning.LogSync(ctx, "VirtualMachine", key)()
	vm, err := c.get(key)
	if err != nil || vm == nil {
		if vm == nil {
			c.backoff.forget(key)
		}
		return 0, err
	}
	// Without KubeVirt's API there are no VMIs: the VM goes on as one without a VMI that
	// cannot get one. Until discovery says so, an unfilled cache means wait.
	served := c.vmisSynced()
	if !served && !c.kubevirt.missing() {
		return vmiCacheWait, nil
	}
	vmi, err := c.vmi(vm)
	if err != nil {
		return 0, err
	}
	if vm.DeletionTimestamp != nil {
		return c.finalize(ctx, vm, vmi)
	}
	if !provisioning.HasFinalizer(&vm.ObjectMeta, Finalizer) {
		vm.Finalizers = append(vm.Finalizers, Finalizer)
		_, err := c.virt.VirtualizationV1alpha2().VirtualMachines(vm.Namespace).Update(ctx, vm, metav1.UpdateOptions{})
		return 0, err
	}

	st := vm.Status.DeepCopy()
	r := c.resolve(vm, st)
	switch {
	case served:
		err = c.power(ctx, key, vm, vmi, r)
	case powerstate.ShouldRun(vm):
		err = cannotStart("%s", kubevirtMissingMessage)
	}
	failure, failed := asStartFailure(err)
	if err != nil && !failed {
		return 0, err
	}
	if failed {
		r.failure = failure.msg
		c.recorder.Event(vm, corev1.EventTypeWarning, FailedCreateReason, failure.msg)
	}
	if err := c.observe(vm, vmi, r, st); err != nil {
		return 0, err
	}
	if err := c.writeStatus(ctx, vm, st); err != nil {
		return 0, err
	}
	if failed {
		return 0, failure // retried with the queue's back-off, for the user may fix the cause
	}
	return r.requeue, nil
}

// vmi returns the VM's VMI from the cache, nil when there is none (or one the VM does not own).
func (c *Controller) vmi(vm *v1alpha2.VirtualMachine) (*kvv1.VirtualMachineInstance, error) {
	vmi, err := listers.NewNamespaced(c.vmis.Lister, vm.Namespace).Get(vm.Name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !metav1.IsControlledBy(vmi, vm) {
		return nil, nil
	}
	return vmi, nil
}

// power starts and stops the VM: it creates the VMI while the VM should run and everything it
// needs is ready, deletes it when the VM should not run, after the guest ended by itself, and
// for an automatic restart.
func (c *Controller) power(ctx context.Context, key string, vm *v1alpha2.VirtualMachine, vmi *kvv1.VirtualMachineInstance, r *resolved) error {
	should := powerstate.ShouldRun(vm)
	if vmi != nil && vmi.Status.Phase == kvv1.Running {
		for _, p := range vmi.Status.PhaseTransitionTimestamps {
			if p.Phase == kvv1.Running {
				c.backoff.running(key, p.PhaseTransitionTimestamp.Time)
			}
		}
	}
	switch {
	case vmi != nil && vmi.DeletionTimestamp != nil:
		return nil // stopping; a new VMI comes once this one is gone
	case vmi != nil && vmi.IsFinal():
		// The guest powered off or crashed. AlwaysOn starts it again; a shutdown from inside
		// the guest is a manual stop for the policies that remember one.
		stopped := vm.Spec.RunPolicy == v1alpha2.ManualPolicy ||
			(vm.Spec.RunPolicy == v1alpha2.AlwaysOnUnlessStoppedManuallyPolicy && vmi.Status.Phase == kvv1.Succeeded)
		if stopped && vm.Annotations[powerstate.Annotation] != powerstate.Stopped {
			if err := c.setIntent(ctx, vm, powerstate.Stopped); err != nil {
				return err
			}
		}
		if vmi.Status.Phase == kvv1.Failed {
			d := c.backoff.failed(key)
			c.recorder.Eventf(vm, corev1.EventTypeWarning, "GuestFailed", "The VM failed (%s); runPolicy %s; the next start waits %s", vmiMessage(vmi), vm.Spec.RunPolicy, d)
		} else {
			c.recorder.Eventf(vm, corev1.EventTypeNormal, "GuestStopped", "The guest powered off; runPolicy %s", vm.Spec.RunPolicy)
		}
		return c.deleteVMI(ctx, vmi, ptr.To[int64](0))
	case vmi != nil && !should:
		c.recorder.Event(vm, corev1.EventTypeNormal, "Stopping", "Stopping the virtual machine")
		return c.deleteVMI(ctx, vmi, nil)
	case vmi != nil && vmi.Status.Phase == kvv1.Running && len(r.changes) > 0 &&
		vm.Spec.Disruptions != nil && vm.Spec.Disruptions.RestartApprovalMode == v1alpha2.Automatic:
		c.recorder.Event(vm, corev1.EventTypeNormal, "Restarting", "Restarting to apply changes (restartApprovalMode Automatic)")
		return c.deleteVMI(ctx, vmi, nil)
	case vmi == nil && should && r.ready:
		if d, n := c.backoff.wait(key); d > 0 {
			r.backoff = fmt.Sprintf("The VM failed %d times in a row; it starts again in %s.", n, d.Round(time.Second))
			r.requeue = d
			return nil
		}
		if err := c.ensurePullSecret(ctx, vm, &r.machine); err != nil {
			return err
		}
		obj, err := buildVMI(r.machine)
		if err != nil {
			return cannotStart("Cannot build the VM's VirtualMachineInstance: %v.", err)
		}
		_, err = c.kv.VirtualMachineInstances(vm.Namespace).Create(ctx, obj, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil // the cache is behind; the VMI's event brings the VM back
		}
		if err != nil {
			return fmt.Errorf("create VMI %s/%s: %w", vm.Namespace, vm.Name, createRefused(err))
		}
		c.recorder.Event(vm, corev1.EventTypeNormal, "Starting", "Created the VirtualMachineInstance")
	}
	return nil
}

func (c *Controller) deleteVMI(ctx context.Context, vmi *kvv1.VirtualMachineInstance, grace *int64) error {
	err := c.kv.VirtualMachineInstances(vmi.Namespace).Delete(ctx, vmi.Name, metav1.DeleteOptions{
		GracePeriodSeconds: grace, Preconditions: &metav1.Preconditions{UID: &vmi.UID},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// setIntent records a stop from inside the guest on the VM, as a Stop operation would.
func (c *Controller) setIntent(ctx context.Context, vm *v1alpha2.VirtualMachine, intent string) error {
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{powerstate.Annotation: intent}}})
	_, err := c.virt.VirtualizationV1alpha2().VirtualMachines(vm.Namespace).Patch(ctx, vm.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// finalize stops a deleted VM and lets it go once its VMI is gone. Disks stay; the address is
// released by IPAM when the VM's VirtualMachineIPAddress goes.
func (c *Controller) finalize(ctx context.Context, vm *v1alpha2.VirtualMachine, vmi *kvv1.VirtualMachineInstance) (time.Duration, error) {
	if vmi != nil {
		if vmi.DeletionTimestamp == nil {
			if err := c.deleteVMI(ctx, vmi, nil); err != nil {
				return 0, err
			}
		}
		st := vm.Status.DeepCopy()
		c.setPhase(st, v1alpha2.MachineTerminating)
		return 0, c.writeStatus(ctx, vm, st)
	}
	if !provisioning.HasFinalizer(&vm.ObjectMeta, Finalizer) {
		return 0, nil
	}
	vm.Finalizers, _ = provisioning.WithFinalizer(vm.Finalizers, Finalizer, false)
	_, err := c.virt.VirtualizationV1alpha2().VirtualMachines(vm.Namespace).Update(ctx, vm, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	return 0, err
}

func (c *Controller) writeStatus(ctx context.Context, vm *v1alpha2.VirtualMachine, st *v1alpha2.VirtualMachineStatus) error {
	if apiequality.Semantic.DeepEqual(&vm.Status, st) {
		return nil
	}
	vm = vm.DeepCopy()
	vm.Status = *st
	_, err := c.virt.VirtualizationV1alpha2().VirtualMachines(vm.Namespace).UpdateStatus(ctx, vm, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		klog.FromContext(ctx).V(4).Info("Status write failed", "vm", klog.KObj(vm), "err", err)
	}
	return err
}
