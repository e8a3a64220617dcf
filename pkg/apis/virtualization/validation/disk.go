package validation

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

var diskPhases = []virtualization.DiskPhase{
	virtualization.DiskPending,
	virtualization.DiskProvisioning,
	virtualization.DiskWaitForUserUpload,
	virtualization.DiskWaitForFirstConsumer,
	virtualization.DiskReady,
	virtualization.DiskResizing,
	virtualization.DiskFailed,
	virtualization.DiskLost,
	virtualization.DiskExporting,
	virtualization.DiskTerminating,
	virtualization.DiskMigrating,
}

// diskProvisioned tells whether a disk in this phase already holds its data: Ready, or one of
// the phases a Ready disk moves through (resizing, storage migration, export). The data source
// is frozen in these phases.
func diskProvisioned(p virtualization.DiskPhase) bool {
	switch p {
	case virtualization.DiskReady, virtualization.DiskResizing, virtualization.DiskMigrating, virtualization.DiskExporting:
		return true
	}
	return false
}

// ValidateVirtualDisk checks a VirtualDisk on create.
func ValidateVirtualDisk(obj *virtualization.VirtualDisk) field.ErrorList {
	errs := ValidateMeta(&obj.ObjectMeta, true)
	return append(errs, validateVirtualDiskSpec(&obj.Spec, specPath)...)
}

// ValidateVirtualDiskUpdate checks an update of a VirtualDisk: the size can only grow and the
// data source is frozen once the disk is Ready.
func ValidateVirtualDiskUpdate(obj, old *virtualization.VirtualDisk) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateVirtualDiskSpec(&obj.Spec, specPath)...)
	errs = append(errs, validateDiskSizeUpdate(obj.Spec.PersistentVolumeClaim.Size, old.Spec.PersistentVolumeClaim.Size,
		specPath.Child("persistentVolumeClaim", "size"))...)
	return append(errs, validateFrozenOnceReady(diskProvisioned(old.Status.Phase), obj.Spec.DataSource, old.Spec.DataSource,
		specPath.Child("dataSource"), "disk")...)
}

// ValidateVirtualDiskStatusUpdate checks a /status update of a VirtualDisk.
func ValidateVirtualDiskStatusUpdate(obj, old *virtualization.VirtualDisk) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateEnum(obj.Status.Phase, false, statusPath.Child("phase"), diskPhases...)...)
	errs = append(errs, validateEnum(obj.Status.MigrationState.Result, false, statusPath.Child("migrationState", "result"),
		virtualization.VirtualDiskMigrationResultSucceeded, virtualization.VirtualDiskMigrationResultFailed)...)
	return append(errs, ValidateConditions(obj.Status.Conditions, statusPath.Child("conditions"))...)
}

func validateVirtualDiskSpec(spec *virtualization.VirtualDiskSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if ds := spec.DataSource; ds != nil {
		dsPath := fldPath.Child("dataSource")
		src := dataSource{typ: ds.Type, http: ds.HTTP, upload: ds.Upload, hasObjectRef: ds.ObjectRef != nil}
		if ds.ContainerImage != nil {
			src.image = &ds.ContainerImage.Image
		}
		errs = append(errs, validateDataSource(src, dsPath)...)
		if ref := ds.ObjectRef; ref != nil {
			refPath := dsPath.Child("objectRef")
			errs = append(errs, validateEnum(ref.Kind, true, refPath.Child("kind"),
				virtualization.VirtualDiskObjectRefKindClusterVirtualImage,
				virtualization.VirtualDiskObjectRefKindVirtualImage,
				virtualization.VirtualDiskObjectRefKindVirtualDiskSnapshot)...)
			errs = append(errs, validateObjectRefName(ref.Name, refPath.Child("name"))...)
		}
	}
	if _, err := diskSize(spec.PersistentVolumeClaim.Size, fldPath.Child("persistentVolumeClaim", "size")); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// diskSize checks spec.persistentVolumeClaim.size; nil means not set. Decoding already
// enforced the quantity syntax; the size must be positive.
func diskSize(q *resource.Quantity, fldPath *field.Path) (*resource.Quantity, *field.Error) {
	if q == nil {
		return nil, nil
	}
	if q.Sign() <= 0 {
		return nil, field.Invalid(fldPath, q.String(), "must be greater than zero")
	}
	return q, nil
}

// validateDiskSizeUpdate lets the size grow but never shrink, and keeps a size once it is set.
func validateDiskSizeUpdate(size, oldSize *resource.Quantity, fldPath *field.Path) field.ErrorList {
	if oldSize == nil {
		return nil
	}
	if size == nil {
		return field.ErrorList{field.Forbidden(fldPath, fmt.Sprintf("cannot be removed once set (currently %s)", oldSize.String()))}
	}
	newQ, err := diskSize(size, fldPath)
	if err != nil {
		return nil // already reported by the spec checks
	}
	oldQ, err := diskSize(oldSize, fldPath)
	if err != nil || oldQ == nil {
		return nil // the stored value cannot be compared; nothing to protect
	}
	if newQ.Cmp(*oldQ) < 0 {
		return field.ErrorList{field.Invalid(fldPath, size.String(), fmt.Sprintf("a disk can only grow: must be at least %s", oldSize.String()))}
	}
	return nil
}
