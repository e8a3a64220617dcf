// Package vmsizing refuses VirtualMachines whose CPU and memory break the sizing policies of
// their VirtualMachineClass, so such a VM cannot be saved.
package vmsizing

import (
	"context"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/admission"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/validation"
	listers "github.com/virtplane/virtplane/pkg/generated/listers/virtualization/v1alpha2"
)

// PluginName is the name of the plugin in the admission chain.
const PluginName = "VirtualMachineSizing"

// Plugin checks VM sizes against their class.
type Plugin struct {
	*admission.Handler
	classes listers.VirtualMachineClassLister
}

var _ admission.ValidationInterface = &Plugin{}

// New returns the plugin; it is ready once synced reports the class informer synced.
func New(classes listers.VirtualMachineClassLister, synced func() bool) *Plugin {
	p := &Plugin{Handler: admission.NewHandler(admission.Create, admission.Update), classes: classes}
	p.SetReadyFunc(synced)
	return p
}

// Validate implements admission.ValidationInterface.
func (p *Plugin) Validate(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != virtualization.Resource("virtualmachines") || a.GetSubresource() != "" {
		return nil
	}
	vm, ok := a.GetObject().(*virtualization.VirtualMachine)
	if !ok {
		return nil
	}
	if old, ok := a.GetOldObject().(*virtualization.VirtualMachine); ok && !sizingChanged(vm, old) {
		// Keep VMs editable when only their class's policies changed since they were saved.
		return nil
	}
	if !p.WaitForReady() {
		return admission.NewForbidden(a, errNotReady{})
	}
	class, err := p.classes.Get(vm.Spec.VirtualMachineClassName)
	if apierrors.IsNotFound(err) {
		// The VM waits for its class; the controller reports that in the VM's conditions.
		return nil
	}
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	internal := &virtualization.VirtualMachineClass{}
	if err := v1alpha2.Convert_v1alpha2_VirtualMachineClass_To_virtualization_VirtualMachineClass(class, internal, nil); err != nil {
		return apierrors.NewInternalError(err)
	}
	if errs := validation.ValidateVirtualMachineSizing(&vm.Spec, internal); len(errs) > 0 {
		return apierrors.NewInvalid(virtualization.Kind("VirtualMachine"), vm.Name, errs)
	}
	return nil
}

func sizingChanged(vm, old *virtualization.VirtualMachine) bool {
	return vm.Spec.VirtualMachineClassName != old.Spec.VirtualMachineClassName ||
		!apiequality.Semantic.DeepEqual(vm.Spec.CPU, old.Spec.CPU) ||
		!apiequality.Semantic.DeepEqual(vm.Spec.Memory, old.Spec.Memory)
}

type errNotReady struct{}

func (errNotReady) Error() string { return "virtual machine classes are not loaded yet, retry" }
