// Package virtualmachinerestore stores restores of virtual machines from snapshots (virtualmachinerestores).
package virtualmachinerestore

import (
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/validation"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// kind is how the shared strategy handles VirtualMachineRestore.
var kind = &resource.Kind[*virtualization.VirtualMachineRestore]{
	Namespaced:  true,
	ResetStatus: func(o *virtualization.VirtualMachineRestore) { o.Status = virtualization.VirtualMachineRestoreStatus{} },
	KeepStatus:  func(o, old *virtualization.VirtualMachineRestore) { o.Status = old.Status },
	KeepSpec:    func(o, old *virtualization.VirtualMachineRestore) { o.Spec = old.Spec },
	SpecEqual: func(o, old *virtualization.VirtualMachineRestore) bool {
		return apiequality.Semantic.DeepEqual(o.Spec, old.Spec)
	},

	Validate:             validation.ValidateVirtualMachineRestore,
	ValidateUpdate:       validation.ValidateVirtualMachineRestoreUpdate,
	ValidateStatusUpdate: validation.ValidateVirtualMachineRestoreStatusUpdate,

	Fields: func(o *virtualization.VirtualMachineRestore) fields.Set {
		return fields.Set{
			"status.phase":                    string(o.Status.Phase),
			"spec.virtualMachineSnapshotName": o.Spec.VirtualMachineSnapshotName,
		}
	},
}
