// Package virtualmachineipaddresslease stores cluster-wide IP address leases (virtualmachineipaddressleases).
package virtualmachineipaddresslease

import (
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/validation"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// kind is how the shared strategy handles VirtualMachineIPAddressLease.
var kind = &resource.Kind[*virtualization.VirtualMachineIPAddressLease]{
	Namespaced: false,
	ResetStatus: func(o *virtualization.VirtualMachineIPAddressLease) {
		o.Status = virtualization.VirtualMachineIPAddressLeaseStatus{}
	},
	KeepStatus: func(o, old *virtualization.VirtualMachineIPAddressLease) { o.Status = old.Status },
	KeepSpec:   func(o, old *virtualization.VirtualMachineIPAddressLease) { o.Spec = old.Spec },
	SpecEqual: func(o, old *virtualization.VirtualMachineIPAddressLease) bool {
		return apiequality.Semantic.DeepEqual(o.Spec, old.Spec)
	},

	Validate:             validation.ValidateVirtualMachineIPAddressLease,
	ValidateUpdate:       validation.ValidateVirtualMachineIPAddressLeaseUpdate,
	ValidateStatusUpdate: validation.ValidateVirtualMachineIPAddressLeaseStatusUpdate,

	Fields: func(o *virtualization.VirtualMachineIPAddressLease) fields.Set {
		return fields.Set{
			"status.phase":                              string(o.Status.Phase),
			"spec.virtualMachineIPAddressRef.name":      refName(o),
			"spec.virtualMachineIPAddressRef.namespace": refNamespace(o),
		}
	},
}

func refName(o *virtualization.VirtualMachineIPAddressLease) string {
	if o.Spec.VirtualMachineIPAddressRef == nil {
		return ""
	}
	return o.Spec.VirtualMachineIPAddressRef.Name
}

func refNamespace(o *virtualization.VirtualMachineIPAddressLease) string {
	if o.Spec.VirtualMachineIPAddressRef == nil {
		return ""
	}
	return o.Spec.VirtualMachineIPAddressRef.Namespace
}
