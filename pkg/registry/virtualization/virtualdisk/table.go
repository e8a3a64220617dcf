package virtualdisk

import (
	"strings"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Table prints the columns of the API reference; priority 1 shows only with -o wide.
var Table = resource.NewTable([]resource.Column[*virtualization.VirtualDisk]{
	{Name: "Phase", Type: "string", Value: func(o *virtualization.VirtualDisk) interface{} { return resource.String(o.Status.Phase) }},
	{Name: "Capacity", Type: "string", Value: func(o *virtualization.VirtualDisk) interface{} { return resource.String(o.Status.Capacity) }},
	{Name: "InUse", Type: "string", Priority: 1, Value: func(o *virtualization.VirtualDisk) interface{} {
		return resource.ConditionStatus(o.Status.Conditions, "InUse")
	}},
	{Name: "VirtualMachine", Type: "string", Value: func(o *virtualization.VirtualDisk) interface{} { return mountedOn(o) }},
	{Name: "Progress", Type: "string", Priority: 1, Value: func(o *virtualization.VirtualDisk) interface{} { return resource.String(o.Status.Progress) }},
	{Name: "StorageClass", Type: "string", Priority: 1, Value: func(o *virtualization.VirtualDisk) interface{} { return resource.String(o.Status.StorageClassName) }},
	{Name: "TargetPVC", Type: "string", Priority: 1, Value: func(o *virtualization.VirtualDisk) interface{} {
		return resource.String(o.Status.Target.PersistentVolumeClaim)
	}},
	resource.CreatedAge[*virtualization.VirtualDisk]("Age"),
})

// mountedOn joins the VMs that have the disk mounted, as the reference's JSONPath
// .status.attachedToVirtualMachines[?(@.mounted==true)].name prints them.
func mountedOn(o *virtualization.VirtualDisk) interface{} {
	var names []string
	for _, vm := range o.Status.AttachedToVirtualMachines {
		if vm.Mounted {
			names = append(names, vm.Name)
		}
	}
	return resource.String(strings.Join(names, " "))
}
