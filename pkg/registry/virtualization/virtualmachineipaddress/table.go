package virtualmachineipaddress

import (
	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Table prints the columns of the API reference; priority 1 shows only with -o wide.
var Table = resource.NewTable([]resource.Column[*virtualization.VirtualMachineIPAddress]{
	{Name: "Address", Type: "string", Value: func(o *virtualization.VirtualMachineIPAddress) interface{} { return resource.String(o.Status.Address) }},
	{Name: "Status", Type: "string", Value: func(o *virtualization.VirtualMachineIPAddress) interface{} { return resource.String(o.Status.Phase) }},
	{Name: "VM", Type: "string", Value: func(o *virtualization.VirtualMachineIPAddress) interface{} {
		return resource.String(o.Status.VirtualMachine)
	}},
	resource.CreatedAge[*virtualization.VirtualMachineIPAddress]("Age"),
})
