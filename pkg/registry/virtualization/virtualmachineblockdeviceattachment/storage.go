package virtualmachineblockdeviceattachment

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Names are the discovery names of virtualmachineblockdeviceattachments.
var Names = resource.Names{
	Plural:     "virtualmachineblockdeviceattachments",
	Singular:   "virtualmachineblockdeviceattachment",
	ShortNames: []string{"vmbda"},
	Categories: []string{"virtualization"},
}

// NewREST returns the storage of virtualmachineblockdeviceattachments and virtualmachineblockdeviceattachments/status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*resource.REST, *resource.StatusREST, error) {
	return resource.NewStorage(scheme, optsGetter, virtualization.GroupName, Names, kind,
		func() runtime.Object { return &virtualization.VirtualMachineBlockDeviceAttachment{} },
		func() runtime.Object { return &virtualization.VirtualMachineBlockDeviceAttachmentList{} },
		Table)
}
