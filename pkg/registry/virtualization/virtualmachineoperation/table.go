package virtualmachineoperation

import (
	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Table prints the columns of the API reference; priority 1 shows only with -o wide.
var Table = resource.NewTable([]resource.Column[*virtualization.VirtualMachineOperation]{
	{Name: "Phase", Type: "string", Value: func(o *virtualization.VirtualMachineOperation) interface{} { return resource.String(o.Status.Phase) }},
	{Name: "Progress", Type: "string", Value: func(o *virtualization.VirtualMachineOperation) interface{} { return resource.String(o.Status.Progress) }},
	{Name: "Type", Type: "string", Value: func(o *virtualization.VirtualMachineOperation) interface{} { return resource.String(o.Spec.Type) }},
	{Name: "VirtualMachine", Type: "string", Value: func(o *virtualization.VirtualMachineOperation) interface{} {
		return resource.String(o.Spec.VirtualMachine)
	}},
	resource.CreatedAge[*virtualization.VirtualMachineOperation]("Age"),
})
