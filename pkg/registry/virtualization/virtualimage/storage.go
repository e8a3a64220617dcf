package virtualimage

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Names are the discovery names of virtualimages.
var Names = resource.Names{
	Plural:     "virtualimages",
	Singular:   "virtualimage",
	ShortNames: []string{"vi"},
	Categories: []string{"virtualization"},
}

// NewREST returns the storage of virtualimages and virtualimages/status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*resource.REST, *resource.StatusREST, error) {
	return resource.NewStorage(scheme, optsGetter, virtualization.GroupName, Names, kind,
		func() runtime.Object { return &virtualization.VirtualImage{} },
		func() runtime.Object { return &virtualization.VirtualImageList{} },
		Table)
}
