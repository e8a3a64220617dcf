package virtualmachinerestore

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Names are the discovery names of virtualmachinerestores.
var Names = resource.Names{
	Plural:     "virtualmachinerestores",
	Singular:   "virtualmachinerestore",
	ShortNames: []string{"vmrestore"},
	Categories: []string{"virtualization"},
}

// NewREST returns the storage of virtualmachinerestores and virtualmachinerestores/status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*resource.REST, *resource.StatusREST, error) {
	return resource.NewStorage(scheme, optsGetter, virtualization.GroupName, Names, kind,
		func() runtime.Object { return &virtualization.VirtualMachineRestore{} },
		func() runtime.Object { return &virtualization.VirtualMachineRestoreList{} },
		Table)
}
