package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

// maxCloneNamePartLen bounds clone name prefixes, suffixes and replacement names, leaving room
// in a 63-character name.
const maxCloneNamePartLen = 59

var vmopTypes = []virtualization.VMOPType{
	virtualization.VMOPTypeRestart,
	virtualization.VMOPTypeStart,
	virtualization.VMOPTypeStop,
	virtualization.VMOPTypeMigrate,
	virtualization.VMOPTypeEvict,
	virtualization.VMOPTypeRestore,
	virtualization.VMOPTypeClone,
}

var vmopPhases = []virtualization.VMOPPhase{
	virtualization.VMOPPhasePending,
	virtualization.VMOPPhaseInProgress,
	virtualization.VMOPPhaseCompleted,
	virtualization.VMOPPhaseFailed,
	virtualization.VMOPPhaseTerminating,
	virtualization.VMOPPhaseSuperseded,
}

var snapshotOperationModes = []virtualization.SnapshotOperationMode{
	virtualization.SnapshotOperationModeDryRun,
	virtualization.SnapshotOperationModeStrict,
	virtualization.SnapshotOperationModeBestEffort,
}

// ValidateVirtualMachineOperation checks a VirtualMachineOperation on create.
func ValidateVirtualMachineOperation(obj *virtualization.VirtualMachineOperation) field.ErrorList {
	errs := ValidateMeta(&obj.ObjectMeta, true)
	return append(errs, validateVMOPSpec(&obj.Spec, specPath)...)
}

// ValidateVirtualMachineOperationUpdate checks an update of a VirtualMachineOperation: the spec
// is immutable, an operation is applied once.
func ValidateVirtualMachineOperationUpdate(obj, old *virtualization.VirtualMachineOperation) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateVMOPSpec(&obj.Spec, specPath)...)
	return append(errs, validateSpecImmutable(obj.Spec, old.Spec, "VirtualMachineOperation")...)
}

// ValidateVirtualMachineOperationStatusUpdate checks a /status update of a VirtualMachineOperation.
func ValidateVirtualMachineOperationStatusUpdate(obj, old *virtualization.VirtualMachineOperation) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateEnum(obj.Status.Phase, true, statusPath.Child("phase"), vmopPhases...)...)
	errs = append(errs, ValidateConditions(obj.Status.Conditions, statusPath.Child("conditions"))...)
	resPath := statusPath.Child("resources")
	for i := range obj.Status.Resources {
		r := &obj.Status.Resources[i]
		p := resPath.Index(i)
		errs = append(errs, requireNonEmpty(r.APIVersion, p.Child("apiVersion"))...)
		errs = append(errs, requireNonEmpty(r.Kind, p.Child("kind"))...)
		errs = append(errs, requireNonEmpty(r.Name, p.Child("name"))...)
		// message is always serialized (no omitempty), so an empty one satisfies the schema.
		errs = append(errs, validateEnum(r.Status, true, p.Child("status"),
			virtualization.VMOPResourceStatusInProgress,
			virtualization.VMOPResourceStatusCompleted,
			virtualization.VMOPResourceStatusFailed)...)
	}
	return errs
}

func validateVMOPSpec(spec *virtualization.VirtualMachineOperationSpec, fldPath *field.Path) field.ErrorList {
	errs := validateEnum(spec.Type, true, fldPath.Child("type"), vmopTypes...)
	errs = append(errs, requireNonEmpty(spec.VirtualMachine, fldPath.Child("virtualMachineName"))...)

	if spec.Type == virtualization.VMOPTypeStart && spec.Force != nil && *spec.Force {
		errs = append(errs, field.Forbidden(fldPath.Child("force"), "a Start operation cannot be forced"))
	}
	if spec.Type == virtualization.VMOPTypeRestore && spec.Restore == nil {
		errs = append(errs, field.Required(fldPath.Child("restore"), "type Restore needs the snapshot to restore from"))
	}
	if spec.Type == virtualization.VMOPTypeClone && spec.Clone == nil {
		errs = append(errs, field.Required(fldPath.Child("clone"), "type Clone needs the clone parameters"))
	}
	if spec.Migrate != nil && spec.Type != virtualization.VMOPTypeMigrate {
		errs = append(errs, field.Forbidden(fldPath.Child("migrate"), "only allowed with type Migrate"))
	}

	if r := spec.Restore; r != nil {
		rPath := fldPath.Child("restore")
		errs = append(errs, validateEnum(r.Mode, true, rPath.Child("mode"), snapshotOperationModes...)...)
		errs = append(errs, requireNonEmpty(r.VirtualMachineSnapshotName, rPath.Child("virtualMachineSnapshotName"))...)
	}
	if c := spec.Clone; c != nil {
		errs = append(errs, validateVMOPClone(c, fldPath.Child("clone"))...)
	}
	return errs
}

func validateVMOPClone(c *virtualization.VirtualMachineOperationCloneSpec, fldPath *field.Path) field.ErrorList {
	errs := validateEnum(c.Mode, true, fldPath.Child("mode"), snapshotOperationModes...)

	renames := len(c.NameReplacement) > 0
	if cu := c.Customization; cu != nil {
		cuPath := fldPath.Child("customization")
		// An empty prefix or suffix is the same as an absent one; only the upper bound can break.
		if len(cu.NamePrefix) > maxCloneNamePartLen {
			errs = append(errs, field.TooLong(cuPath.Child("namePrefix"), cu.NamePrefix, maxCloneNamePartLen))
		}
		if len(cu.NameSuffix) > maxCloneNamePartLen {
			errs = append(errs, field.TooLong(cuPath.Child("nameSuffix"), cu.NameSuffix, maxCloneNamePartLen))
		}
		renames = renames || cu.NamePrefix != "" || cu.NameSuffix != ""
	}
	if !renames {
		errs = append(errs, field.Required(fldPath, "set customization.namePrefix, customization.nameSuffix or nameReplacement so the clone gets new names"))
	}
	errs = append(errs, validateNameReplacements(c.NameReplacement, maxCloneNamePartLen, fldPath.Child("nameReplacement"))...)
	return errs
}

// validateNameReplacements checks renames of a restore or clone: from.name and to are required;
// maxTo > 0 bounds the length of to.
func validateNameReplacements(list []virtualization.NameReplacement, maxTo int, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range list {
		nr := &list[i]
		p := fldPath.Index(i)
		errs = append(errs, requireNonEmpty(nr.From.Name, p.Child("from", "name"))...)
		toPath := p.Child("to")
		switch {
		case nr.To == "":
			errs = append(errs, field.Required(toPath, "the new name"))
		case maxTo > 0 && len(nr.To) > maxTo:
			errs = append(errs, field.TooLong(toPath, nr.To, maxTo))
		}
	}
	return errs
}
