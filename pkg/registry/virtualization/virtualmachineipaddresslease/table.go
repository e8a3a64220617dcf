package virtualmachineipaddresslease

import (
	"encoding/json"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Table prints the columns of the API reference; priority 1 shows only with -o wide.
var Table = resource.NewTable([]resource.Column[*virtualization.VirtualMachineIPAddressLease]{
	{Name: "VirtualMachineIPAddress", Type: "string", Value: func(o *virtualization.VirtualMachineIPAddressLease) interface{} { return addressRef(o) }},
	{Name: "Status", Type: "string", Value: func(o *virtualization.VirtualMachineIPAddressLease) interface{} {
		return resource.String(o.Status.Phase)
	}},
	resource.CreatedAge[*virtualization.VirtualMachineIPAddressLease]("Age"),
})

// addressRef prints the reference as JSON with sorted keys, as a JSONPath string column over an
// object prints it.
func addressRef(o *virtualization.VirtualMachineIPAddressLease) interface{} {
	ref := o.Spec.VirtualMachineIPAddressRef
	if ref == nil {
		return nil
	}
	b, err := json.Marshal(map[string]string{"name": ref.Name, "namespace": ref.Namespace})
	if err != nil {
		return nil
	}
	return string(b)
}
