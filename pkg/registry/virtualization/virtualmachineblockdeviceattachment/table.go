package virtualmachineblockdeviceattachment

import (
	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Table prints the columns of the API reference; priority 1 shows only with -o wide.
var Table = resource.NewTable([]resource.Column[*virtualization.VirtualMachineBlockDeviceAttachment]{
	{Name: "PHASE", Type: "string", Value: func(o *virtualization.VirtualMachineBlockDeviceAttachment) interface{} {
		return resource.String(o.Status.Phase)
	}},
	{Name: "BLOCKDEVICE KIND", Type: "string", Priority: 1, Value: func(o *virtualization.VirtualMachineBlockDeviceAttachment) interface{} {
		return resource.String(o.Spec.BlockDeviceRef.Kind)
	}},
	{Name: "BLOCKDEVICE NAME", Type: "string", Priority: 1, Value: func(o *virtualization.VirtualMachineBlockDeviceAttachment) interface{} {
		return resource.String(o.Spec.BlockDeviceRef.Name)
	}},
	{Name: "VIRTUALMACHINE", Type: "string", Value: func(o *virtualization.VirtualMachineBlockDeviceAttachment) interface{} {
		return resource.String(o.Status.VirtualMachineName)
	}},
	resource.CreatedAge[*virtualization.VirtualMachineBlockDeviceAttachment]("AGE"),
})
