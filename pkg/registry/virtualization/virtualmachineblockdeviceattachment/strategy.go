// Package virtualmachineblockdeviceattachment stores hot-plugged block devices (virtualmachineblockdeviceattachments).
package virtualmachineblockdeviceattachment

import (
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/validation"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// kind is how the shared strategy handles VirtualMachineBlockDeviceAttachment.
var kind = &resource.Kind[*virtualization.VirtualMachineBlockDeviceAttachment]{
	Namespaced: true,
	ResetStatus: func(o *virtualization.VirtualMachineBlockDeviceAttachment) {
		o.Status = virtualization.VirtualMachineBlockDeviceAttachmentStatus{}
	},
	KeepStatus: func(o, old *virtualization.VirtualMachineBlockDeviceAttachment) { o.Status = old.Status },
	KeepSpec:   func(o, old *virtualization.VirtualMachineBlockDeviceAttachment) { o.Spec = old.Spec },
	SpecEqual: func(o, old *virtualization.VirtualMachineBlockDeviceAttachment) bool {
		return apiequality.Semantic.DeepEqual(o.Spec, old.Spec)
	},

	Validate:             validation.ValidateVirtualMachineBlockDeviceAttachment,
	ValidateUpdate:       validation.ValidateVirtualMachineBlockDeviceAttachmentUpdate,
	ValidateStatusUpdate: validation.ValidateVirtualMachineBlockDeviceAttachmentStatusUpdate,

	Fields: func(o *virtualization.VirtualMachineBlockDeviceAttachment) fields.Set {
		return fields.Set{
			"status.phase":             string(o.Status.Phase),
			"spec.virtualMachineName":  o.Spec.VirtualMachineName,
			"spec.blockDeviceRef.kind": string(o.Spec.BlockDeviceRef.Kind),
			"spec.blockDeviceRef.name": o.Spec.BlockDeviceRef.Name,
		}
	},
}
