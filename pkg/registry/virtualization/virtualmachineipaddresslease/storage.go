package virtualmachineipaddresslease

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Names are the discovery names of virtualmachineipaddressleases.
var Names = resource.Names{
	Plural:     "virtualmachineipaddressleases",
	Singular:   "virtualmachineipaddresslease",
	ShortNames: []string{"vmipl", "vmiplease"},
	Categories: []string{"virtualization-cluster"},
}

// NewREST returns the storage of virtualmachineipaddressleases and virtualmachineipaddressleases/status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*resource.REST, *resource.StatusREST, error) {
	return resource.NewStorage(scheme, optsGetter, virtualization.GroupName, Names, kind,
		func() runtime.Object { return &virtualization.VirtualMachineIPAddressLease{} },
		func() runtime.Object { return &virtualization.VirtualMachineIPAddressLeaseList{} },
		Table)
}
