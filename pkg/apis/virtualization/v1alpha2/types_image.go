package v1alpha2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DataSourceType names where an image or disk takes its data from.
// +enum
type DataSourceType string

const (
	DataSourceTypeHTTP           DataSourceType = "HTTP"
	DataSourceTypeContainerImage DataSourceType = "ContainerImage"
	DataSourceTypeObjectRef      DataSourceType = "ObjectRef"
	DataSourceTypeUpload         DataSourceType = "Upload"
)

// ImagePhase is the lifecycle phase of VirtualImage and ClusterVirtualImage.
// +enum
type ImagePhase string

const (
	ImagePending           ImagePhase = "Pending"
	ImageProvisioning      ImagePhase = "Provisioning"
	ImageWaitForUserUpload ImagePhase = "WaitForUserUpload"
	ImageReady             ImagePhase = "Ready"
	ImageFailed            ImagePhase = "Failed"
	ImageTerminating       ImagePhase = "Terminating"
	ImageLost              ImagePhase = "ImageLost"
	ImagePVCLost           ImagePhase = "PVCLost"
)

// Checksum lists expected digests of the downloaded or uploaded file, as hex strings.
type Checksum struct {
	// MD5 digest, 32 hex characters.
	MD5 string `json:"md5,omitempty"`
	// SHA-1 digest, 40 hex characters.
	SHA1 string `json:"sha1,omitempty"`
	// SHA-256 digest, 64 hex characters.
	SHA256 string `json:"sha256,omitempty"`
	// SHA-512 digest, 128 hex characters.
	SHA512 string `json:"sha512,omitempty"`
	// GOST R 34.11-2012 256-bit digest, 64 hex characters.
	Streebog256 string `json:"streebog256,omitempty"`
	// GOST R 34.11-2012 512-bit digest, 128 hex characters.
	Streebog512 string `json:"streebog512,omitempty"`
}

// DataSourceHTTP downloads the data from an http(s) URL.
type DataSourceHTTP struct {
	// URL of the file: http:// or https://.
	URL string `json:"url"`
	// PEM bundle of CAs trusted for the https connection (base64 in JSON).
	CABundle []byte `json:"caBundle,omitempty"`
	// Expected checksums of the downloaded file.
	Checksum *Checksum `json:"checksum,omitempty"`
}

// DataSourceUpload waits for the user to upload the data.
type DataSourceUpload struct {
	// Expected checksums of the uploaded file.
	Checksum *Checksum `json:"checksum,omitempty"`
}

// ImagePullSecretName names a Secret in the object's namespace with registry credentials.
type ImagePullSecretName struct {
	// Name of the Secret.
	Name string `json:"name,omitempty"`
}

// DataSourceContainerImage pulls the data from an OCI image.
type DataSourceContainerImage struct {
	// Image reference: registry/repository[:tag][@digest].
	Image string `json:"image"`
	// Secret with credentials for the registry.
	ImagePullSecret ImagePullSecretName `json:"imagePullSecret,omitempty"`
	// PEM bundle of CAs trusted for the registry (base64 in JSON).
	CABundle []byte `json:"caBundle,omitempty"`
}

// ImageStatusSize reports the size of an image, readable and in bytes.
type ImageStatusSize struct {
	// Size of the stored (possibly compressed) image.
	Stored string `json:"stored,omitempty"`
	// Stored size in bytes.
	StoredBytes string `json:"storedBytes,omitempty"`
	// Size of the image once unpacked.
	Unpacked string `json:"unpacked,omitempty"`
	// Unpacked size in bytes.
	UnpackedBytes string `json:"unpackedBytes,omitempty"`
}

// StatusSpeed reports the speed of a download.
type StatusSpeed struct {
	// Average speed, readable.
	Avg string `json:"avg,omitempty"`
	// Average speed in bytes per second.
	AvgBytes string `json:"avgBytes,omitempty"`
	// Current speed, readable.
	Current string `json:"current,omitempty"`
	// Current speed in bytes per second.
	CurrentBytes string `json:"currentBytes,omitempty"`
}

// ImageUploadURLs are the addresses that accept an upload.
type ImageUploadURLs struct {
	// URL reachable from outside the cluster.
	External string `json:"external,omitempty"`
	// URL reachable from inside the cluster.
	InCluster string `json:"inCluster,omitempty"`
}

// ClusterVirtualImageObjectRefKind names the kinds a ClusterVirtualImage can be made from.
// +enum
type ClusterVirtualImageObjectRefKind string

const (
	ClusterVirtualImageObjectRefKindClusterVirtualImage ClusterVirtualImageObjectRefKind = "ClusterVirtualImage"
	ClusterVirtualImageObjectRefKindVirtualImage        ClusterVirtualImageObjectRefKind = "VirtualImage"
	ClusterVirtualImageObjectRefKindVirtualDisk         ClusterVirtualImageObjectRefKind = "VirtualDisk"
	ClusterVirtualImageObjectRefKindVirtualDiskSnapshot ClusterVirtualImageObjectRefKind = "VirtualDiskSnapshot"
)

// ClusterVirtualImageObjectRef points at an existing image, disk or snapshot to copy.
type ClusterVirtualImageObjectRef struct {
	// Kind of the source object.
	Kind ClusterVirtualImageObjectRefKind `json:"kind"`
	// Name of the source object.
	Name string `json:"name"`
	// Namespace of the source object; required for namespaced kinds.
	Namespace string `json:"namespace,omitempty"`
}

// ClusterImagePullSecret names a Secret with registry credentials in any namespace.
type ClusterImagePullSecret struct {
	// Name of the Secret.
	Name string `json:"name,omitempty"`
	// Namespace of the Secret.
	Namespace string `json:"namespace,omitempty"`
}

// ClusterVirtualImageContainerImage pulls the data of a cluster image from an OCI image.
type ClusterVirtualImageContainerImage struct {
	// Image reference: registry/repository[:tag][@digest].
	Image string `json:"image"`
	// Secret with credentials for the registry.
	ImagePullSecret ClusterImagePullSecret `json:"imagePullSecret,omitempty"`
	// PEM bundle of CAs trusted for the registry (base64 in JSON).
	CABundle []byte `json:"caBundle,omitempty"`
}

// ClusterVirtualImageDataSource says where a cluster image comes from.
type ClusterVirtualImageDataSource struct {
	// Type of the source; the matching field below must be set.
	Type DataSourceType `json:"type"`
	// Download over HTTP(S).
	HTTP *DataSourceHTTP `json:"http,omitempty"`
	// Pull from a container registry.
	ContainerImage *ClusterVirtualImageContainerImage `json:"containerImage,omitempty"`
	// Copy an existing image, disk or disk snapshot.
	ObjectRef *ClusterVirtualImageObjectRef `json:"objectRef,omitempty"`
	// Wait for an upload by the user.
	Upload *DataSourceUpload `json:"upload,omitempty"`
}

// ClusterVirtualImageSpec is what the user asks for.
type ClusterVirtualImageSpec struct {
	// Where the image data comes from.
	DataSource ClusterVirtualImageDataSource `json:"dataSource"`
}

// ClusterVirtualImageStatusTarget says where the image is stored.
type ClusterVirtualImageStatusTarget struct {
	// Image address in DVCR.
	RegistryURL string `json:"registryURL,omitempty"`
}

// ClusterVirtualImageStatus is what the controller observed.
type ClusterVirtualImageStatus struct {
	// Lifecycle phase.
	Phase ImagePhase `json:"phase,omitempty"`
	// Download speed while provisioning.
	DownloadSpeed *StatusSpeed `json:"downloadSpeed,omitempty"`
	// Image sizes.
	Size ImageStatusSize `json:"size,omitempty"`
	// Detected image format (qcow2, raw, iso...).
	Format string `json:"format,omitempty"`
	// True when the image is an ISO to attach as a CD-ROM.
	CDROM bool `json:"cdrom,omitempty"`
	// Where the image is stored.
	Target ClusterVirtualImageStatusTarget `json:"target,omitempty"`
	// Provisioning progress, in percent.
	Progress string `json:"progress,omitempty"`
	// UID of the source object, for ObjectRef sources.
	SourceUID string `json:"sourceUID,omitempty"`
	// Latest observations of the image state.
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Generation of the spec the status reflects.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Namespaces where the image is in use.
	// +listType=atomic
	UsedInNamespaces []string `json:"usedInNamespaces,omitempty"`
	// Example command to upload the image (Upload sources).
	UploadCommand string `json:"uploadCommand,omitempty"`
	// Addresses that accept the upload (Upload sources).
	ImageUploadURLs *ImageUploadURLs `json:"imageUploadURLs,omitempty"`
}

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ClusterVirtualImage is a disk or ISO image available to every namespace, stored in DVCR.
type ClusterVirtualImage struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Desired image; frozen once the image is Ready.
	Spec ClusterVirtualImageSpec `json:"spec"`
	// Observed state.
	Status ClusterVirtualImageStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ClusterVirtualImageList is a list of ClusterVirtualImages.
type ClusterVirtualImageList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// +listType=atomic
	Items []ClusterVirtualImage `json:"items"`
}

// StorageType says where a VirtualImage keeps its data.
// +enum
type StorageType string

const (
	StorageContainerRegistry     StorageType = "ContainerRegistry"
	StorageKubernetes            StorageType = "Kubernetes"
	StoragePersistentVolumeClaim StorageType = "PersistentVolumeClaim"
)

// VirtualImageObjectRefKind names the kinds a VirtualImage can be made from.
// +enum
type VirtualImageObjectRefKind string

const (
	VirtualImageObjectRefKindVirtualImage        VirtualImageObjectRefKind = "VirtualImage"
	VirtualImageObjectRefKindClusterVirtualImage VirtualImageObjectRefKind = "ClusterVirtualImage"
	VirtualImageObjectRefKindVirtualDisk         VirtualImageObjectRefKind = "VirtualDisk"
	VirtualImageObjectRefKindVirtualDiskSnapshot VirtualImageObjectRefKind = "VirtualDiskSnapshot"
)

// VirtualImageObjectRef points at an image, disk or snapshot to copy.
type VirtualImageObjectRef struct {
	// Kind of the source object.
	Kind VirtualImageObjectRefKind `json:"kind"`
	// Name of the source object, in the same namespace for namespaced kinds.
	Name string `json:"name"`
}

// VirtualImageDataSource says where a namespaced image comes from.
type VirtualImageDataSource struct {
	// Type of the source; the matching field below must be set.
	Type DataSourceType `json:"type,omitempty"`
	// Download over HTTP(S).
	HTTP *DataSourceHTTP `json:"http,omitempty"`
	// Pull from a container registry.
	ContainerImage *DataSourceContainerImage `json:"containerImage,omitempty"`
	// Copy an existing image, disk or disk snapshot.
	ObjectRef *VirtualImageObjectRef `json:"objectRef,omitempty"`
	// Wait for an upload by the user.
	Upload *DataSourceUpload `json:"upload,omitempty"`
}

// VirtualImagePersistentVolumeClaim sets the PVC used by PersistentVolumeClaim storage.
type VirtualImagePersistentVolumeClaim struct {
	// StorageClass of the PVC; the default class when empty.
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// VirtualImageSpec is what the user asks for.
type VirtualImageSpec struct {
	// Where to store the image: DVCR (ContainerRegistry) or a PVC.
	Storage StorageType `json:"storage"`
	// PVC settings when storage is PersistentVolumeClaim.
	PersistentVolumeClaim VirtualImagePersistentVolumeClaim `json:"persistentVolumeClaim,omitempty"`
	// Where the image data comes from.
	DataSource VirtualImageDataSource `json:"dataSource"`
}

// VirtualImageStatusTarget says where the image is stored.
type VirtualImageStatusTarget struct {
	// Image address in DVCR.
	RegistryURL string `json:"registryURL,omitempty"`
	// PVC holding the image, for PVC storage.
	PersistentVolumeClaim string `json:"persistentVolumeClaimName,omitempty"`
}

// VirtualImageStatus is what the controller observed.
type VirtualImageStatus struct {
	// Lifecycle phase.
	Phase ImagePhase `json:"phase,omitempty"`
	// Download speed while provisioning.
	DownloadSpeed *StatusSpeed `json:"downloadSpeed,omitempty"`
	// Image sizes.
	Size ImageStatusSize `json:"size,omitempty"`
	// Detected image format (qcow2, raw, iso...).
	Format string `json:"format,omitempty"`
	// True when the image is an ISO to attach as a CD-ROM.
	CDROM bool `json:"cdrom,omitempty"`
	// Where the image is stored.
	Target VirtualImageStatusTarget `json:"target,omitempty"`
	// Provisioning progress, in percent.
	Progress string `json:"progress,omitempty"`
	// UID of the source object, for ObjectRef sources.
	SourceUID string `json:"sourceUID,omitempty"`
	// Latest observations of the image state.
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Generation of the spec the status reflects.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Example command to upload the image (Upload sources).
	UploadCommand string `json:"uploadCommand,omitempty"`
	// Addresses that accept the upload (Upload sources).
	ImageUploadURLs *ImageUploadURLs `json:"imageUploadURLs,omitempty"`
	// StorageClass of the PVC, for PVC storage.
	StorageClassName string `json:"storageClassName,omitempty"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualImage is a disk or ISO image available in one namespace.
type VirtualImage struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Desired image; frozen once the image is Ready.
	Spec VirtualImageSpec `json:"spec"`
	// Observed state.
	Status VirtualImageStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualImageList is a list of VirtualImages.
type VirtualImageList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// +listType=atomic
	Items []VirtualImage `json:"items"`
}
