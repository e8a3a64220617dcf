package virtualdisksnapshot

import (
	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Table prints the columns of the API reference; priority 1 shows only with -o wide.
var Table = resource.NewTable([]resource.Column[*virtualization.VirtualDiskSnapshot]{
	{Name: "Phase", Type: "string", Value: func(o *virtualization.VirtualDiskSnapshot) interface{} { return resource.String(o.Status.Phase) }},
	{Name: "Consistent", Type: "boolean", Value: func(o *virtualization.VirtualDiskSnapshot) interface{} { return resource.Bool(o.Status.Consistent) }},
	resource.CreatedAge[*virtualization.VirtualDiskSnapshot]("Age"),
})
