// Package virtualdisksnapshot stores disk snapshots (virtualdisksnapshots).
package virtualdisksnapshot

import (
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/validation"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// kind is how the shared strategy handles VirtualDiskSnapshot.
var kind = &resource.Kind[*virtualization.VirtualDiskSnapshot]{
	Namespaced:  true,
	ResetStatus: func(o *virtualization.VirtualDiskSnapshot) { o.Status = virtualization.VirtualDiskSnapshotStatus{} },
	KeepStatus:  func(o, old *virtualization.VirtualDiskSnapshot) { o.Status = old.Status },
	KeepSpec:    func(o, old *virtualization.VirtualDiskSnapshot) { o.Spec = old.Spec },
	SpecEqual: func(o, old *virtualization.VirtualDiskSnapshot) bool {
		return apiequality.Semantic.DeepEqual(o.Spec, old.Spec)
	},

	Validate:             validation.ValidateVirtualDiskSnapshot,
	ValidateUpdate:       validation.ValidateVirtualDiskSnapshotUpdate,
	ValidateStatusUpdate: validation.ValidateVirtualDiskSnapshotStatusUpdate,

	Fields: func(o *virtualization.VirtualDiskSnapshot) fields.Set {
		return fields.Set{
			"status.phase":         string(o.Status.Phase),
			"spec.virtualDiskName": o.Spec.VirtualDiskName,
		}
	},
}
