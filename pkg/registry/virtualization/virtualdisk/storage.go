package virtualdisk

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Names are the discovery names of virtualdisks.
var Names = resource.Names{
	Plural:     "virtualdisks",
	Singular:   "virtualdisk",
	ShortNames: []string{"vd"},
	Categories: []string{"virtualization"},
}

// NewREST returns the storage of virtualdisks and virtualdisks/status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*resource.REST, *resource.StatusREST, error) {
	return resource.NewStorage(scheme, optsGetter, virtualization.GroupName, Names, kind,
		func() runtime.Object { return &virtualization.VirtualDisk{} },
		func() runtime.Object { return &virtualization.VirtualDiskList{} },
		Table)
}
