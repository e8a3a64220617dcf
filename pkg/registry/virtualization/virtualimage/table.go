package virtualimage

import (
	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Table prints the columns of the API reference; priority 1 shows only with -o wide.
var Table = resource.NewTable([]resource.Column[*virtualization.VirtualImage]{
	{Name: "Phase", Type: "string", Value: func(o *virtualization.VirtualImage) interface{} { return resource.String(o.Status.Phase) }},
	{Name: "CDROM", Type: "boolean", Value: func(o *virtualization.VirtualImage) interface{} { return o.Status.CDROM }},
	{Name: "Progress", Type: "string", Value: func(o *virtualization.VirtualImage) interface{} { return resource.String(o.Status.Progress) }},
	{Name: "StoredSize", Type: "string", Priority: 1, Value: func(o *virtualization.VirtualImage) interface{} { return resource.String(o.Status.Size.Stored) }},
	{Name: "UnpackedSize", Type: "string", Priority: 1, Value: func(o *virtualization.VirtualImage) interface{} { return resource.String(o.Status.Size.Unpacked) }},
	{Name: "Registry URL", Type: "string", Priority: 1, Value: func(o *virtualization.VirtualImage) interface{} { return resource.String(o.Status.Target.RegistryURL) }},
	{Name: "TargetPVC", Type: "string", Priority: 1, Value: func(o *virtualization.VirtualImage) interface{} {
		return resource.String(o.Status.Target.PersistentVolumeClaim)
	}},
	resource.CreatedAge[*virtualization.VirtualImage]("Age"),
})
