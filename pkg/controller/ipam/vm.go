package ipam

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/powerstate"
)

// syncVM makes the automatic address of a VM that names none, and deletes the automatic
// addresses its VM no longer uses (the VM is gone, or names another one and does not run
// with this one). A VM being deleted keeps its address until it is gone: its guest may still
// be shutting down with it. The garbage collector would delete orphans too, but not where
// none runs.
func (c *Controller) syncVM(ctx context.Context, k string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return 0, fmt.Errorf("ipam vm key %q: %w", k, err)
	}
	vm, err := c.vmLister.VirtualMachines(ns).Get(name)
	if apierrors.IsNotFound(err) {
		vm = nil
	} else if err != nil {
		return 0, err
	}
	owned, err := c.vmipIndexer.ByIndex(vmipByOwnerIndex, k)
	if err != nil {
		return 0, err
	}
	for _, o := range owned {
		ip := o.(*v1alpha2.VirtualMachineIPAddress)
		if ip.DeletionTimestamp != nil || usesOwned(vm, ip) {
			continue
		}
		if err := c.deleteOrphanedAuto(ctx, ip); err != nil {
			return 0, err
		}
	}
	if vm == nil || vm.DeletionTimestamp != nil || vm.Spec.VirtualMachineIPAddress != "" || vm.UID == "" {
		return 0, nil
	}
	return 0, c.ensureAuto(ctx, vm)
}

// usesOwned reports whether the VM still uses an address it controls.
func usesOwned(vm *v1alpha2.VirtualMachine, ip *v1alpha2.VirtualMachineIPAddress) bool {
	ref := metav1.GetControllerOfNoCopy(ip)
	if vm == nil || ref == nil || ref.UID != vm.UID {
		return false
	}
	for _, n := range vmipNamesOf(vm) {
		if n == ip.Name {
			return true
		}
	}
	return false
}

// deleteOrphanedAuto deletes an automatic address after checking its VM against the API
// server, not only the cache: another controller may have made the address for a VM this
// cache has not seen yet.
func (c *Controller) deleteOrphanedAuto(ctx context.Context, ip *v1alpha2.VirtualMachineIPAddress) error {
	vm, err := c.virt.VirtualizationV1alpha2().VirtualMachines(ip.Namespace).Get(ctx, ownerVM(ip), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		vm = nil
	case err != nil:
		return fmt.Errorf("get the VirtualMachine of %s/%s: %w", ip.Namespace, ip.Name, err)
	}
	if usesOwned(vm, ip) {
		return nil
	}
	klog.FromContext(ctx).V(2).Info("Deleting the automatic address of a VM that no longer uses it", "vmip", klog.KObj(ip))
	uid := ip.UID
	err = c.virt.VirtualizationV1alpha2().VirtualMachineIPAddresses(ip.Namespace).Delete(ctx, ip.Name,
		metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete VirtualMachineIPAddress %s/%s: %w", ip.Namespace, ip.Name, err)
	}
	return nil
}

// ensureAuto creates the VM's automatic address unless it exists; its name is
// deterministic, so AlreadyExists means another worker or controller made it.
func (c *Controller) ensureAuto(ctx context.Context, vm *v1alpha2.VirtualMachine) error {
	name := AutoName(vm)
	if _, err := c.vmipLister.VirtualMachineIPAddresses(vm.Namespace).Get(name); err == nil {
		return nil
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	ip := &v1alpha2.VirtualMachineIPAddress{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: vm.Namespace,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         v1alpha2.SchemeGroupVersion.String(),
				Kind:               vmKind,
				Name:               vm.Name,
				UID:                vm.UID,
				Controller:         new(true),
				BlockOwnerDeletion: new(true),
			}},
			Finalizers: []string{ReleaseFinalizer},
		},
		Spec: v1alpha2.VirtualMachineIPAddressSpec{Type: v1alpha2.VirtualMachineIPAddressTypeAuto},
	}
	if len(validation.IsValidLabelValue(vm.Name)) == 0 {
		ip.Labels = map[string]string{powerstate.VMNameLabel: vm.Name}
	}
	_, err := c.virt.VirtualizationV1alpha2().VirtualMachineIPAddresses(vm.Namespace).Create(ctx, ip, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create VirtualMachineIPAddress %s/%s for the VM: %w", vm.Namespace, name, err)
	}
	return nil
}
