package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

var blockDeviceAttachmentPhases = []virtualization.BlockDeviceAttachmentPhase{
	virtualization.BlockDeviceAttachmentPhasePending,
	virtualization.BlockDeviceAttachmentPhaseInProgress,
	virtualization.BlockDeviceAttachmentPhaseAttached,
	virtualization.BlockDeviceAttachmentPhaseFailed,
	virtualization.BlockDeviceAttachmentPhaseTerminating,
}

// ValidateVirtualMachineBlockDeviceAttachment checks an attachment on create.
func ValidateVirtualMachineBlockDeviceAttachment(obj *virtualization.VirtualMachineBlockDeviceAttachment) field.ErrorList {
	errs := ValidateMeta(&obj.ObjectMeta, true)
	return append(errs, validateVMBDASpec(&obj.Spec, specPath)...)
}

// ValidateVirtualMachineBlockDeviceAttachmentUpdate checks an update of an attachment: the
// spec cannot change (delete the attachment and create another one).
func ValidateVirtualMachineBlockDeviceAttachmentUpdate(obj, old *virtualization.VirtualMachineBlockDeviceAttachment) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateVMBDASpec(&obj.Spec, specPath)...)
	return append(errs, validateSpecImmutable(obj.Spec, old.Spec, "VirtualMachineBlockDeviceAttachment")...)
}

// ValidateVirtualMachineBlockDeviceAttachmentStatusUpdate checks a /status update of an attachment.
func ValidateVirtualMachineBlockDeviceAttachmentStatusUpdate(obj, old *virtualization.VirtualMachineBlockDeviceAttachment) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateEnum(obj.Status.Phase, false, statusPath.Child("phase"), blockDeviceAttachmentPhases...)...)
	return append(errs, ValidateConditions(obj.Status.Conditions, statusPath.Child("conditions"))...)
}

func validateVMBDASpec(spec *virtualization.VirtualMachineBlockDeviceAttachmentSpec, fldPath *field.Path) field.ErrorList {
	errs := requireNonEmpty(spec.VirtualMachineName, fldPath.Child("virtualMachineName"))
	refPath := fldPath.Child("blockDeviceRef")
	if spec.BlockDeviceRef == (virtualization.VMBDAObjectRef{}) {
		return append(errs, field.Required(refPath, "the disk or image to attach"))
	}
	// Inside blockDeviceRef, kind and name are optional in the schema (only their values are
	// constrained), and an empty name cannot be told apart from an absent one.
	errs = append(errs, validateEnum(spec.BlockDeviceRef.Kind, false, refPath.Child("kind"),
		virtualization.VMBDAObjectRefKindVirtualDisk,
		virtualization.VMBDAObjectRefKindVirtualImage,
		virtualization.VMBDAObjectRefKindClusterVirtualImage)...)
	return errs
}
