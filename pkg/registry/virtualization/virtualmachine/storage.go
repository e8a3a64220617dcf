package virtualmachine

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Names are the discovery names of virtualmachines.
var Names = resource.Names{
	Plural:     "virtualmachines",
	Singular:   "virtualmachine",
	ShortNames: []string{"vm"},
	Categories: []string{"all", "virtualization"},
}

// NewREST returns the storage of virtualmachines and virtualmachines/status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*resource.REST, *resource.StatusREST, error) {
	return resource.NewStorage(scheme, optsGetter, virtualization.GroupName, Names, kind,
		func() runtime.Object { return &virtualization.VirtualMachine{} },
		func() runtime.Object { return &virtualization.VirtualMachineList{} },
		Table)
}
