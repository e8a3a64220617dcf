// Package clustervirtualimage stores cluster-wide disk and ISO images (clustervirtualimages).
package clustervirtualimage

import (
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/validation"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// kind is how the shared strategy handles ClusterVirtualImage.
var kind = &resource.Kind[*virtualization.ClusterVirtualImage]{
	Namespaced:  false,
	ResetStatus: func(o *virtualization.ClusterVirtualImage) { o.Status = virtualization.ClusterVirtualImageStatus{} },
	KeepStatus:  func(o, old *virtualization.ClusterVirtualImage) { o.Status = old.Status },
	KeepSpec:    func(o, old *virtualization.ClusterVirtualImage) { o.Spec = old.Spec },
	SpecEqual: func(o, old *virtualization.ClusterVirtualImage) bool {
		return apiequality.Semantic.DeepEqual(o.Spec, old.Spec)
	},

	Validate:             validation.ValidateClusterVirtualImage,
	ValidateUpdate:       validation.ValidateClusterVirtualImageUpdate,
	ValidateStatusUpdate: validation.ValidateClusterVirtualImageStatusUpdate,

	Fields: func(o *virtualization.ClusterVirtualImage) fields.Set {
		return fields.Set{
			"status.phase":         string(o.Status.Phase),
			"spec.dataSource.type": string(o.Spec.DataSource.Type),
		}
	},
}
