package virtualmachineclass

import (
	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Table prints the columns of the API reference; priority 1 shows only with -o wide.
var Table = resource.NewTable([]resource.Column[*virtualization.VirtualMachineClass]{
	{Name: "Phase", Type: "string", Value: func(o *virtualization.VirtualMachineClass) interface{} { return resource.String(o.Status.Phase) }},
	{Name: "IsDefault", Type: "string", Value: func(o *virtualization.VirtualMachineClass) interface{} {
		return resource.String(o.Annotations[virtualization.DefaultClassAnnotation])
	}},
	resource.CreatedAge[*virtualization.VirtualMachineClass]("Age"),
})
