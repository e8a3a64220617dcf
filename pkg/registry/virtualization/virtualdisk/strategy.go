// Package virtualdisk stores virtual machine disks (virtualdisks).
package virtualdisk

import (
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/validation"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// kind is how the shared strategy handles VirtualDisk.
var kind = &resource.Kind[*virtualization.VirtualDisk]{
	Namespaced:  true,
	ResetStatus: func(o *virtualization.VirtualDisk) { o.Status = virtualization.VirtualDiskStatus{} },
	KeepStatus:  func(o, old *virtualization.VirtualDisk) { o.Status = old.Status },
	KeepSpec:    func(o, old *virtualization.VirtualDisk) { o.Spec = old.Spec },
	SpecEqual:   func(o, old *virtualization.VirtualDisk) bool { return apiequality.Semantic.DeepEqual(o.Spec, old.Spec) },

	Validate:             validation.ValidateVirtualDisk,
	ValidateUpdate:       validation.ValidateVirtualDiskUpdate,
	ValidateStatusUpdate: validation.ValidateVirtualDiskStatusUpdate,

	Fields: func(o *virtualization.VirtualDisk) fields.Set {
		return fields.Set{
			"status.phase":            string(o.Status.Phase),
			"status.storageClassName": o.Status.StorageClassName,
		}
	},
}
