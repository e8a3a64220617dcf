// Package virtualmachine stores virtual machines (virtualmachines).
package virtualmachine

import (
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/validation"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// kind is how the shared strategy handles VirtualMachine.
var kind = &resource.Kind[*virtualization.VirtualMachine]{
	Namespaced:  true,
	ResetStatus: func(o *virtualization.VirtualMachine) { o.Status = virtualization.VirtualMachineStatus{} },
	KeepStatus:  func(o, old *virtualization.VirtualMachine) { o.Status = old.Status },
	KeepSpec:    func(o, old *virtualization.VirtualMachine) { o.Spec = old.Spec },
	SpecEqual: func(o, old *virtualization.VirtualMachine) bool {
		return apiequality.Semantic.DeepEqual(o.Spec, old.Spec)
	},

	Validate:             validation.ValidateVirtualMachine,
	ValidateUpdate:       validation.ValidateVirtualMachineUpdate,
	ValidateStatusUpdate: validation.ValidateVirtualMachineStatusUpdate,

	Fields: func(o *virtualization.VirtualMachine) fields.Set {
		return fields.Set{
			"status.phase":                 string(o.Status.Phase),
			"status.nodeName":              o.Status.Node,
			"spec.virtualMachineClassName": o.Spec.VirtualMachineClassName,
		}
	},
}
