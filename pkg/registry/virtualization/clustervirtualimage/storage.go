package clustervirtualimage

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Names are the discovery names of clustervirtualimages.
var Names = resource.Names{
	Plural:     "clustervirtualimages",
	Singular:   "clustervirtualimage",
	ShortNames: []string{"cvi"},
	Categories: []string{"virtualization-cluster"},
}

// NewREST returns the storage of clustervirtualimages and clustervirtualimages/status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*resource.REST, *resource.StatusREST, error) {
	return resource.NewStorage(scheme, optsGetter, virtualization.GroupName, Names, kind,
		func() runtime.Object { return &virtualization.ClusterVirtualImage{} },
		func() runtime.Object { return &virtualization.ClusterVirtualImageList{} },
		Table)
}
