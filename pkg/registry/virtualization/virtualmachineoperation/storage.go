package virtualmachineoperation

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Names are the discovery names of virtualmachineoperations.
var Names = resource.Names{
	Plural:     "virtualmachineoperations",
	Singular:   "virtualmachineoperation",
	ShortNames: []string{"vmop"},
	Categories: []string{"virtualization"},
}

// NewREST returns the storage of virtualmachineoperations and virtualmachineoperations/status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*resource.REST, *resource.StatusREST, error) {
	return resource.NewStorage(scheme, optsGetter, virtualization.GroupName, Names, kind,
		func() runtime.Object { return &virtualization.VirtualMachineOperation{} },
		func() runtime.Object { return &virtualization.VirtualMachineOperationList{} },
		Table)
}
