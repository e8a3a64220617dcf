package virtualmachineipaddress

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Names are the discovery names of virtualmachineipaddresses.
var Names = resource.Names{
	Plural:     "virtualmachineipaddresses",
	Singular:   "virtualmachineipaddress",
	ShortNames: []string{"vmip"},
	Categories: []string{"virtualization"},
}

// NewREST returns the storage of virtualmachineipaddresses and virtualmachineipaddresses/status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*resource.REST, *resource.StatusREST, error) {
	return resource.NewStorage(scheme, optsGetter, virtualization.GroupName, Names, kind,
		func() runtime.Object { return &virtualization.VirtualMachineIPAddress{} },
		func() runtime.Object { return &virtualization.VirtualMachineIPAddressList{} },
		Table)
}
