package virtualmachinesnapshot

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Names are the discovery names of virtualmachinesnapshots.
var Names = resource.Names{
	Plural:     "virtualmachinesnapshots",
	Singular:   "virtualmachinesnapshot",
	ShortNames: []string{"vmsnapshot", "vms"},
	Categories: []string{"virtualization"},
}

// NewREST returns the storage of virtualmachinesnapshots and virtualmachinesnapshots/status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*resource.REST, *resource.StatusREST, error) {
	return resource.NewStorage(scheme, optsGetter, virtualization.GroupName, Names, kind,
		func() runtime.Object { return &virtualization.VirtualMachineSnapshot{} },
		func() runtime.Object { return &virtualization.VirtualMachineSnapshotList{} },
		Table)
}
