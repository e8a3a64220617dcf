package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

// maxObjectRefNamespaceLen is the longest namespace a ClusterVirtualImage objectRef accepts.
const maxObjectRefNamespaceLen = 63

var imagePhases = []virtualization.ImagePhase{
	virtualization.ImagePending,
	virtualization.ImageProvisioning,
	virtualization.ImageWaitForUserUpload,
	virtualization.ImageReady,
	virtualization.ImageFailed,
	virtualization.ImageTerminating,
	virtualization.ImageLost,
}

var virtualImagePhases = append(append([]virtualization.ImagePhase{}, imagePhases...), virtualization.ImagePVCLost)

var storageTypes = []virtualization.StorageType{
	virtualization.StorageContainerRegistry,
	virtualization.StorageKubernetes,
	virtualization.StoragePersistentVolumeClaim,
}

// ---- ClusterVirtualImage ----

// ValidateClusterVirtualImage checks a ClusterVirtualImage on create.
func ValidateClusterVirtualImage(obj *virtualization.ClusterVirtualImage) field.ErrorList {
	errs := ValidateMeta(&obj.ObjectMeta, false)
	return append(errs, validateClusterVirtualImageSpec(&obj.Spec, specPath)...)
}

// ValidateClusterVirtualImageUpdate checks an update of a ClusterVirtualImage: the spec is
// frozen once the image is Ready.
func ValidateClusterVirtualImageUpdate(obj, old *virtualization.ClusterVirtualImage) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateClusterVirtualImageSpec(&obj.Spec, specPath)...)
	return append(errs, validateFrozenOnceReady(old.Status.Phase == virtualization.ImageReady, obj.Spec, old.Spec, specPath, "image")...)
}

// ValidateClusterVirtualImageStatusUpdate checks a /status update of a ClusterVirtualImage.
func ValidateClusterVirtualImageStatusUpdate(obj, old *virtualization.ClusterVirtualImage) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateEnum(obj.Status.Phase, false, statusPath.Child("phase"), imagePhases...)...)
	return append(errs, ValidateConditions(obj.Status.Conditions, statusPath.Child("conditions"))...)
}

func validateClusterVirtualImageSpec(spec *virtualization.ClusterVirtualImageSpec, fldPath *field.Path) field.ErrorList {
	ds := &spec.DataSource
	dsPath := fldPath.Child("dataSource")
	if *ds == (virtualization.ClusterVirtualImageDataSource{}) {
		return field.ErrorList{field.Required(dsPath, "the image needs a data source")}
	}
	src := dataSource{typ: ds.Type, typeRequired: true, http: ds.HTTP, upload: ds.Upload, hasObjectRef: ds.ObjectRef != nil}
	if ds.ContainerImage != nil {
		src.image = &ds.ContainerImage.Image
	}
	errs := validateDataSource(src, dsPath)
	if ref := ds.ObjectRef; ref != nil {
		refPath := dsPath.Child("objectRef")
		errs = append(errs, validateEnum(ref.Kind, true, refPath.Child("kind"),
			virtualization.ClusterVirtualImageObjectRefKindClusterVirtualImage,
			virtualization.ClusterVirtualImageObjectRefKindVirtualImage,
			virtualization.ClusterVirtualImageObjectRefKindVirtualDisk,
			virtualization.ClusterVirtualImageObjectRefKindVirtualDiskSnapshot)...)
		errs = append(errs, validateObjectRefName(ref.Name, refPath.Child("name"))...)
		switch ref.Kind {
		case virtualization.ClusterVirtualImageObjectRefKindVirtualImage,
			virtualization.ClusterVirtualImageObjectRefKindVirtualDisk,
			virtualization.ClusterVirtualImageObjectRefKindVirtualDiskSnapshot:
			nsPath := refPath.Child("namespace")
			if ref.Namespace == "" {
				errs = append(errs, field.Required(nsPath, "a "+string(ref.Kind)+" source is namespaced: give its namespace"))
			} else if len(ref.Namespace) > maxObjectRefNamespaceLen {
				errs = append(errs, field.TooLong(nsPath, ref.Namespace, maxObjectRefNamespaceLen))
			}
		}
	}
	return errs
}

// ---- VirtualImage ----

// ValidateVirtualImage checks a VirtualImage on create.
func ValidateVirtualImage(obj *virtualization.VirtualImage) field.ErrorList {
	errs := ValidateMeta(&obj.ObjectMeta, true)
	return append(errs, validateVirtualImageSpec(&obj.Spec, specPath)...)
}

// ValidateVirtualImageUpdate checks an update of a VirtualImage: the spec is frozen once the
// image is Ready.
func ValidateVirtualImageUpdate(obj, old *virtualization.VirtualImage) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateVirtualImageSpec(&obj.Spec, specPath)...)
	return append(errs, validateFrozenOnceReady(old.Status.Phase == virtualization.ImageReady, obj.Spec, old.Spec, specPath, "image")...)
}

// ValidateVirtualImageStatusUpdate checks a /status update of a VirtualImage.
func ValidateVirtualImageStatusUpdate(obj, old *virtualization.VirtualImage) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateEnum(obj.Status.Phase, false, statusPath.Child("phase"), virtualImagePhases...)...)
	return append(errs, ValidateConditions(obj.Status.Conditions, statusPath.Child("conditions"))...)
}

func validateVirtualImageSpec(spec *virtualization.VirtualImageSpec, fldPath *field.Path) field.ErrorList {
	errs := validateEnum(spec.Storage, true, fldPath.Child("storage"), storageTypes...)
	ds := &spec.DataSource
	dsPath := fldPath.Child("dataSource")
	if *ds == (virtualization.VirtualImageDataSource{}) {
		return append(errs, field.Required(dsPath, "the image needs a data source"))
	}
	src := dataSource{typ: ds.Type, http: ds.HTTP, upload: ds.Upload, hasObjectRef: ds.ObjectRef != nil}
	if ds.ContainerImage != nil {
		src.image = &ds.ContainerImage.Image
	}
	errs = append(errs, validateDataSource(src, dsPath)...)
	if ref := ds.ObjectRef; ref != nil {
		refPath := dsPath.Child("objectRef")
		errs = append(errs, validateEnum(ref.Kind, true, refPath.Child("kind"),
			virtualization.VirtualImageObjectRefKindClusterVirtualImage,
			virtualization.VirtualImageObjectRefKindVirtualImage,
			virtualization.VirtualImageObjectRefKindVirtualDisk,
			virtualization.VirtualImageObjectRefKindVirtualDiskSnapshot)...)
		errs = append(errs, validateObjectRefName(ref.Name, refPath.Child("name"))...)
	}
	return errs
}
