package virtualmachineclass

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Names are the discovery names of virtualmachineclasses.
var Names = resource.Names{
	Plural:     "virtualmachineclasses",
	Singular:   "virtualmachineclass",
	ShortNames: []string{"vmc", "vmclass"},
	Categories: []string{"virtualization-cluster"},
}

// NewREST returns the storage of virtualmachineclasses and virtualmachineclasses/status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*resource.REST, *resource.StatusREST, error) {
	return resource.NewStorage(scheme, optsGetter, virtualization.GroupName, Names, kind,
		func() runtime.Object { return &virtualization.VirtualMachineClass{} },
		func() runtime.Object { return &virtualization.VirtualMachineClassList{} },
		Table)
}
