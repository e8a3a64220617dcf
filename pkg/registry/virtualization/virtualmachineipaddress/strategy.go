// Package virtualmachineipaddress stores virtual machine IP addresses (virtualmachineipaddresses).
package virtualmachineipaddress

import (
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/validation"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// kind is how the shared strategy handles VirtualMachineIPAddress.
var kind = &resource.Kind[*virtualization.VirtualMachineIPAddress]{
	Namespaced: true,
	ResetStatus: func(o *virtualization.VirtualMachineIPAddress) {
		o.Status = virtualization.VirtualMachineIPAddressStatus{}
	},
	KeepStatus: func(o, old *virtualization.VirtualMachineIPAddress) { o.Status = old.Status },
	KeepSpec:   func(o, old *virtualization.VirtualMachineIPAddress) { o.Spec = old.Spec },
	SpecEqual: func(o, old *virtualization.VirtualMachineIPAddress) bool {
		return apiequality.Semantic.DeepEqual(o.Spec, old.Spec)
	},

	Validate:             validation.ValidateVirtualMachineIPAddress,
	ValidateUpdate:       validation.ValidateVirtualMachineIPAddressUpdate,
	ValidateStatusUpdate: validation.ValidateVirtualMachineIPAddressStatusUpdate,

	Fields: func(o *virtualization.VirtualMachineIPAddress) fields.Set {
		return fields.Set{
			"status.phase":              string(o.Status.Phase),
			"spec.type":                 string(o.Spec.Type),
			"status.address":            o.Status.Address,
			"status.virtualMachineName": o.Status.VirtualMachine,
		}
	},
}
