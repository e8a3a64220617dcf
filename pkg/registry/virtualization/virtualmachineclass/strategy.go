// Package virtualmachineclass stores virtual machine classes (virtualmachineclasses).
package virtualmachineclass

import (
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/validation"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// kind is how the shared strategy handles VirtualMachineClass.
var kind = &resource.Kind[*virtualization.VirtualMachineClass]{
	Namespaced:  false,
	ResetStatus: func(o *virtualization.VirtualMachineClass) { o.Status = virtualization.VirtualMachineClassStatus{} },
	KeepStatus:  func(o, old *virtualization.VirtualMachineClass) { o.Status = old.Status },
	KeepSpec:    func(o, old *virtualization.VirtualMachineClass) { o.Spec = old.Spec },
	SpecEqual: func(o, old *virtualization.VirtualMachineClass) bool {
		return apiequality.Semantic.DeepEqual(o.Spec, old.Spec)
	},

	Validate:             validation.ValidateVirtualMachineClass,
	ValidateUpdate:       validation.ValidateVirtualMachineClassUpdate,
	ValidateStatusUpdate: validation.ValidateVirtualMachineClassStatusUpdate,

	Fields: func(o *virtualization.VirtualMachineClass) fields.Set {
		return fields.Set{
			"status.phase": string(o.Status.Phase),
		}
	},
}
