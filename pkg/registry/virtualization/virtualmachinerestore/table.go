package virtualmachinerestore

import (
	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Table prints the columns of the API reference; priority 1 shows only with -o wide.
var Table = resource.NewTable([]resource.Column[*virtualization.VirtualMachineRestore]{
	{Name: "Phase", Type: "string", Value: func(o *virtualization.VirtualMachineRestore) interface{} { return resource.String(o.Status.Phase) }},
	resource.CreatedAge[*virtualization.VirtualMachineRestore]("Age"),
})
