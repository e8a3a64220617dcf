// Package virtualmachineoperation stores operations on virtual machines (virtualmachineoperations).
package virtualmachineoperation

import (
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/validation"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// kind is how the shared strategy handles VirtualMachineOperation.
var kind = &resource.Kind[*virtualization.VirtualMachineOperation]{
	Namespaced: true,
	ResetStatus: func(o *virtualization.VirtualMachineOperation) {
		o.Status = virtualization.VirtualMachineOperationStatus{}
	},
	KeepStatus: func(o, old *virtualization.VirtualMachineOperation) { o.Status = old.Status },
	KeepSpec:   func(o, old *virtualization.VirtualMachineOperation) { o.Spec = old.Spec },
	SpecEqual: func(o, old *virtualization.VirtualMachineOperation) bool {
		return apiequality.Semantic.DeepEqual(o.Spec, old.Spec)
	},

	Validate:             validation.ValidateVirtualMachineOperation,
	ValidateUpdate:       validation.ValidateVirtualMachineOperationUpdate,
	ValidateStatusUpdate: validation.ValidateVirtualMachineOperationStatusUpdate,

	Fields: func(o *virtualization.VirtualMachineOperation) fields.Set {
		return fields.Set{
			"status.phase":            string(o.Status.Phase),
			"spec.type":               string(o.Spec.Type),
			"spec.virtualMachineName": o.Spec.VirtualMachine,
		}
	},
}
