package virtualdisksnapshot

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Names are the discovery names of virtualdisksnapshots.
var Names = resource.Names{
	Plural:     "virtualdisksnapshots",
	Singular:   "virtualdisksnapshot",
	ShortNames: []string{"vdsnapshot", "vds"},
	Categories: []string{"virtualization"},
}

// NewREST returns the storage of virtualdisksnapshots and virtualdisksnapshots/status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*resource.REST, *resource.StatusREST, error) {
	return resource.NewStorage(scheme, optsGetter, virtualization.GroupName, Names, kind,
		func() runtime.Object { return &virtualization.VirtualDiskSnapshot{} },
		func() runtime.Object { return &virtualization.VirtualDiskSnapshotList{} },
		Table)
}
