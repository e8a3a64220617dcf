package provisioning

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	storagelisters "k8s.io/client-go/listers/storage/v1"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// Storage class annotations that tell the controller what the class supports, most
// preferred first is not required: the controller prefers Block and ReadWriteMany itself.
const (
	VolumeModesAnnotation = "virtualization.deckhouse.io/volume-modes"
	AccessModesAnnotation = "virtualization.deckhouse.io/access-modes"
	// DefaultClassAnnotation marks the cluster's default StorageClass.
	DefaultClassAnnotation = "storageclass.kubernetes.io/is-default-class"
)

// StorageClassNotFound says which class was looked for and why it is missing.
type StorageClassNotFound struct{ Message string }

func (e *StorageClassNotFound) Error() string { return e.Message }

// ResolveStorageClass picks the class for a PVC: the one the spec names, else the platform
// default for the kind, else the cluster default. A *StorageClassNotFound error says the
// object must wait (a class may be created later); other errors are cache failures.
func ResolveStorageClass(lister storagelisters.StorageClassLister, specName *string, configDefault string) (*storagev1.StorageClass, error) {
	name := ""
	switch {
	case specName != nil && *specName != "":
		name = *specName
	case configDefault != "":
		name = configDefault
	}
	if name != "" {
		sc, err := lister.Get(name)
		if apierrors.IsNotFound(err) {
			return nil, &StorageClassNotFound{Message: fmt.Sprintf("The StorageClass %q does not exist; create it or name another one.", name)}
		}
		if err != nil {
			return nil, fmt.Errorf("get StorageClass %s: %w", name, err)
		}
		return sc, nil
	}
	all, err := lister.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list StorageClasses: %w", err)
	}
	var defaults []*storagev1.StorageClass
	for _, sc := range all {
		if sc.Annotations[DefaultClassAnnotation] == "true" {
			defaults = append(defaults, sc)
		}
	}
	if len(defaults) == 0 {
		return nil, &StorageClassNotFound{Message: "No StorageClass is named and the cluster has no default StorageClass; set spec.persistentVolumeClaim.storageClassName."}
	}
	// Several defaults: Kubernetes itself takes the newest one.
	slices.SortFunc(defaults, func(a, b *storagev1.StorageClass) int {
		if c := b.CreationTimestamp.Compare(a.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return defaults[0], nil
}

// VolumeSettings are the volume and access mode chosen for a class.
type VolumeSettings struct {
	VolumeMode corev1.PersistentVolumeMode
	AccessMode corev1.PersistentVolumeAccessMode
}

// SettingsFor reads the class's annotations: Block is preferred over Filesystem (no file
// system between guest and storage) and ReadWriteMany over ReadWriteOnce (live migration
// needs both nodes to attach the volume). Without annotations: Filesystem, ReadWriteOnce,
// which every provisioner supports.
func SettingsFor(sc *storagev1.StorageClass) VolumeSettings {
	s := VolumeSettings{VolumeMode: corev1.PersistentVolumeFilesystem, AccessMode: corev1.ReadWriteOnce}
	if modes := splitList(sc.Annotations[VolumeModesAnnotation]); len(modes) > 0 {
		if slices.Contains(modes, string(corev1.PersistentVolumeBlock)) {
			s.VolumeMode = corev1.PersistentVolumeBlock
		} else if slices.Contains(modes, string(corev1.PersistentVolumeFilesystem)) {
			s.VolumeMode = corev1.PersistentVolumeFilesystem
		}
	}
	if modes := splitList(sc.Annotations[AccessModesAnnotation]); len(modes) > 0 {
		for _, m := range []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOncePod} {
			if slices.Contains(modes, string(m)) {
				s.AccessMode = m
				break
			}
		}
	}
	return s
}

// WaitsForFirstConsumer reports whether the class binds volumes only when a Pod uses them.
func WaitsForFirstConsumer(sc *storagev1.StorageClass) bool {
	return sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// FilesystemOverhead is the room a file system needs around disk.img: its metadata and
// reserved blocks. 6% with a floor of 64Mi is generous for ext4 and xfs on small volumes.
func FilesystemOverhead(size int64) int64 {
	o := size * 6 / 100
	if o < 64*mib {
		o = 64 * mib
	}
	return RoundUpMiB(o)
}

// PVCRequest describes a PVC the controller creates for a disk or image.
type PVCRequest struct {
	Name, Namespace string
	Owner           *metav1.OwnerReference
	Labels          map[string]string
	StorageClass    string
	Settings        VolumeSettings
	Size            resource.Quantity
}

// BuildPVC renders the PVC.
func BuildPVC(r PVCRequest) *corev1.PersistentVolumeClaim {
	mode := r.Settings.VolumeMode
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: r.Namespace, Labels: r.Labels},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{r.Settings.AccessMode},
			VolumeMode:       &mode,
			StorageClassName: &r.StorageClass,
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: r.Size},
			},
		},
	}
	if r.Owner != nil {
		pvc.OwnerReferences = []metav1.OwnerReference{*r.Owner}
	}
	return pvc
}

// IsBlock reports whether a PVC is a raw block volume.
func IsBlock(pvc *corev1.PersistentVolumeClaim) bool {
	return pvc.Spec.VolumeMode != nil && *pvc.Spec.VolumeMode == corev1.PersistentVolumeBlock
}

// PVCStored reports whether a VirtualImage keeps its data on a PVC rather than in DVCR;
// "Kubernetes" is the older name of PersistentVolumeClaim storage, still accepted.
func PVCStored(storage virtv1.StorageType) bool {
	return storage == virtv1.StoragePersistentVolumeClaim || storage == virtv1.StorageKubernetes
}
