// Package virtualmachinesnapshot stores virtual machine snapshots (virtualmachinesnapshots).
package virtualmachinesnapshot

import (
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/validation"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// kind is how the shared strategy handles VirtualMachineSnapshot.
var kind = &resource.Kind[*virtualization.VirtualMachineSnapshot]{
	Namespaced: true,
	ResetStatus: func(o *virtualization.VirtualMachineSnapshot) {
		o.Status = virtualization.VirtualMachineSnapshotStatus{}
	},
	KeepStatus: func(o, old *virtualization.VirtualMachineSnapshot) { o.Status = old.Status },
	KeepSpec:   func(o, old *virtualization.VirtualMachineSnapshot) { o.Spec = old.Spec },
	SpecEqual: func(o, old *virtualization.VirtualMachineSnapshot) bool {
		return apiequality.Semantic.DeepEqual(o.Spec, old.Spec)
	},

	Validate:             validation.ValidateVirtualMachineSnapshot,
	ValidateUpdate:       validation.ValidateVirtualMachineSnapshotUpdate,
	ValidateStatusUpdate: validation.ValidateVirtualMachineSnapshotStatusUpdate,

	Fields: func(o *virtualization.VirtualMachineSnapshot) fields.Set {
		return fields.Set{
			"status.phase":            string(o.Status.Phase),
			"spec.virtualMachineName": o.Spec.VirtualMachineName,
		}
	},
}
