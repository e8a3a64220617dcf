// Package virtualimage stores namespaced disk and ISO images (virtualimages).
package virtualimage

import (
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/validation"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// kind is how the shared strategy handles VirtualImage.
var kind = &resource.Kind[*virtualization.VirtualImage]{
	Namespaced:  true,
	ResetStatus: func(o *virtualization.VirtualImage) { o.Status = virtualization.VirtualImageStatus{} },
	KeepStatus:  func(o, old *virtualization.VirtualImage) { o.Status = old.Status },
	KeepSpec:    func(o, old *virtualization.VirtualImage) { o.Spec = old.Spec },
	SpecEqual: func(o, old *virtualization.VirtualImage) bool {
		return apiequality.Semantic.DeepEqual(o.Spec, old.Spec)
	},

	Validate:             validation.ValidateVirtualImage,
	ValidateUpdate:       validation.ValidateVirtualImageUpdate,
	ValidateStatusUpdate: validation.ValidateVirtualImageStatusUpdate,

	Fields: func(o *virtualization.VirtualImage) fields.Set {
		return fields.Set{
			"status.phase":         string(o.Status.Phase),
			"spec.dataSource.type": string(o.Spec.DataSource.Type),
			"spec.storage":         string(o.Spec.Storage),
		}
	},
}
