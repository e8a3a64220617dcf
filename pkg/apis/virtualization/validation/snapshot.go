package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

// ---- VirtualDiskSnapshot ----

// ValidateVirtualDiskSnapshot checks a VirtualDiskSnapshot on create.
func ValidateVirtualDiskSnapshot(obj *virtualization.VirtualDiskSnapshot) field.ErrorList {
	errs := ValidateMeta(&obj.ObjectMeta, true)
	return append(errs, validateVirtualDiskSnapshotSpec(&obj.Spec, specPath)...)
}

// ValidateVirtualDiskSnapshotUpdate checks an update of a VirtualDiskSnapshot: the spec is
// immutable, a snapshot is taken once.
func ValidateVirtualDiskSnapshotUpdate(obj, old *virtualization.VirtualDiskSnapshot) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateVirtualDiskSnapshotSpec(&obj.Spec, specPath)...)
	return append(errs, validateSpecImmutable(obj.Spec, old.Spec, "VirtualDiskSnapshot")...)
}

// ValidateVirtualDiskSnapshotStatusUpdate checks a /status update of a VirtualDiskSnapshot.
func ValidateVirtualDiskSnapshotStatusUpdate(obj, old *virtualization.VirtualDiskSnapshot) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateEnum(obj.Status.Phase, false, statusPath.Child("phase"),
		virtualization.VirtualDiskSnapshotPhasePending,
		virtualization.VirtualDiskSnapshotPhaseInProgress,
		virtualization.VirtualDiskSnapshotPhaseReady,
		virtualization.VirtualDiskSnapshotPhaseFailed,
		virtualization.VirtualDiskSnapshotPhaseTerminating)...)
	return append(errs, ValidateConditions(obj.Status.Conditions, statusPath.Child("conditions"))...)
}

func validateVirtualDiskSnapshotSpec(spec *virtualization.VirtualDiskSnapshotSpec, fldPath *field.Path) field.ErrorList {
	return requireNonEmpty(spec.VirtualDiskName, fldPath.Child("virtualDiskName"))
}

// ---- VirtualMachineSnapshot ----

var vmSnapshotPhases = []virtualization.VirtualMachineSnapshotPhase{
	virtualization.VirtualMachineSnapshotPhasePending,
	virtualization.VirtualMachineSnapshotPhaseInProgress,
	virtualization.VirtualMachineSnapshotPhaseReady,
	virtualization.VirtualMachineSnapshotPhaseFailed,
	virtualization.VirtualMachineSnapshotPhaseTerminating,
}

// ValidateVirtualMachineSnapshot checks a VirtualMachineSnapshot on create.
func ValidateVirtualMachineSnapshot(obj *virtualization.VirtualMachineSnapshot) field.ErrorList {
	errs := ValidateMeta(&obj.ObjectMeta, true)
	return append(errs, validateVirtualMachineSnapshotSpec(&obj.Spec, specPath)...)
}

// ValidateVirtualMachineSnapshotUpdate checks an update of a VirtualMachineSnapshot: the spec
// is immutable.
func ValidateVirtualMachineSnapshotUpdate(obj, old *virtualization.VirtualMachineSnapshot) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateVirtualMachineSnapshotSpec(&obj.Spec, specPath)...)
	return append(errs, validateSpecImmutable(obj.Spec, old.Spec, "VirtualMachineSnapshot")...)
}

// ValidateVirtualMachineSnapshotStatusUpdate checks a /status update of a VirtualMachineSnapshot.
func ValidateVirtualMachineSnapshotStatusUpdate(obj, old *virtualization.VirtualMachineSnapshot) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateEnum(obj.Status.Phase, true, statusPath.Child("phase"), vmSnapshotPhases...)...)
	return append(errs, ValidateConditions(obj.Status.Conditions, statusPath.Child("conditions"))...)
}

func validateVirtualMachineSnapshotSpec(spec *virtualization.VirtualMachineSnapshotSpec, fldPath *field.Path) field.ErrorList {
	errs := requireNonEmpty(spec.VirtualMachineName, fldPath.Child("virtualMachineName"))
	errs = append(errs, validateEnum(spec.KeepIPAddress, true, fldPath.Child("keepIPAddress"),
		virtualization.KeepIPAddressAlways, virtualization.KeepIPAddressNever)...)
	if spec.RequiredConsistency == nil {
		errs = append(errs, field.Required(fldPath.Child("requiredConsistency"), "true or false"))
	}
	return errs
}

// ---- VirtualMachineRestore ----

var vmRestorePhases = []virtualization.VirtualMachineRestorePhase{
	virtualization.VirtualMachineRestorePhasePending,
	virtualization.VirtualMachineRestorePhaseInProgress,
	virtualization.VirtualMachineRestorePhaseReady,
	virtualization.VirtualMachineRestorePhaseFailed,
	virtualization.VirtualMachineRestorePhaseTerminating,
}

// ValidateVirtualMachineRestore checks a VirtualMachineRestore on create.
func ValidateVirtualMachineRestore(obj *virtualization.VirtualMachineRestore) field.ErrorList {
	errs := ValidateMeta(&obj.ObjectMeta, true)
	return append(errs, validateVirtualMachineRestoreSpec(&obj.Spec, specPath)...)
}

// ValidateVirtualMachineRestoreUpdate checks an update of a VirtualMachineRestore: the spec is
// immutable.
func ValidateVirtualMachineRestoreUpdate(obj, old *virtualization.VirtualMachineRestore) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateVirtualMachineRestoreSpec(&obj.Spec, specPath)...)
	return append(errs, validateSpecImmutable(obj.Spec, old.Spec, "VirtualMachineRestore")...)
}

// ValidateVirtualMachineRestoreStatusUpdate checks a /status update of a VirtualMachineRestore.
func ValidateVirtualMachineRestoreStatusUpdate(obj, old *virtualization.VirtualMachineRestore) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateEnum(obj.Status.Phase, true, statusPath.Child("phase"), vmRestorePhases...)...)
	return append(errs, ValidateConditions(obj.Status.Conditions, statusPath.Child("conditions"))...)
}

func validateVirtualMachineRestoreSpec(spec *virtualization.VirtualMachineRestoreSpec, fldPath *field.Path) field.ErrorList {
	errs := requireNonEmpty(spec.VirtualMachineSnapshotName, fldPath.Child("virtualMachineSnapshotName"))
	errs = append(errs, validateEnum(spec.RestoreMode, false, fldPath.Child("restoreMode"),
		virtualization.RestoreModeSafe, virtualization.RestoreModeForced)...)
	return append(errs, validateNameReplacements(spec.NameReplacements, 0, fldPath.Child("nameReplacements"))...)
}
