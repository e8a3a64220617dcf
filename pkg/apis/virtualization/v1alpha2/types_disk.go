package v1alpha2

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DiskPhase is the lifecycle phase of a VirtualDisk.
// +enum
type DiskPhase string

const (
	DiskPending              DiskPhase = "Pending"
	DiskProvisioning         DiskPhase = "Provisioning"
	DiskWaitForUserUpload    DiskPhase = "WaitForUserUpload"
	DiskWaitForFirstConsumer DiskPhase = "WaitForFirstConsumer"
	DiskReady                DiskPhase = "Ready"
	DiskResizing             DiskPhase = "Resizing"
	DiskFailed               DiskPhase = "Failed"
	DiskLost                 DiskPhase = "PVCLost"
	DiskExporting            DiskPhase = "Exporting"
	DiskTerminating          DiskPhase = "Terminating"
	DiskMigrating            DiskPhase = "Migrating"
)

// VirtualDiskObjectRefKind names the kinds a disk can be made from.
// +enum
type VirtualDiskObjectRefKind string

const (
	VirtualDiskObjectRefKindVirtualImage        VirtualDiskObjectRefKind = "VirtualImage"
	VirtualDiskObjectRefKindClusterVirtualImage VirtualDiskObjectRefKind = "ClusterVirtualImage"
	VirtualDiskObjectRefKindVirtualDiskSnapshot VirtualDiskObjectRefKind = "VirtualDiskSnapshot"
)

// VirtualDiskObjectRef points at an image or disk snapshot to copy.
type VirtualDiskObjectRef struct {
	// Kind of the source object.
	Kind VirtualDiskObjectRefKind `json:"kind"`
	// Name of the source object, in the same namespace for namespaced kinds.
	Name string `json:"name"`
}

// VirtualDiskDataSource says where the initial data of a disk comes from; empty for a blank disk.
type VirtualDiskDataSource struct {
	// Type of the source; the matching field below must be set.
	Type DataSourceType `json:"type,omitempty"`
	// Download over HTTP(S).
	HTTP *DataSourceHTTP `json:"http,omitempty"`
	// Pull from a container registry.
	ContainerImage *DataSourceContainerImage `json:"containerImage,omitempty"`
	// Copy an image or disk snapshot.
	ObjectRef *VirtualDiskObjectRef `json:"objectRef,omitempty"`
	// Wait for an upload by the user.
	Upload *DataSourceUpload `json:"upload,omitempty"`
}

// VirtualDiskPersistentVolumeClaim sets the PVC behind the disk.
type VirtualDiskPersistentVolumeClaim struct {
	// Requested disk size (a quantity such as 10Gi); can only grow.
	Size *resource.Quantity `json:"size,omitempty"`
	// StorageClass of the PVC; the default class when empty.
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// VirtualDiskSpec is what the user asks for.
type VirtualDiskSpec struct {
	// Where the initial data comes from; a blank disk when omitted.
	DataSource *VirtualDiskDataSource `json:"dataSource,omitempty"`
	// PVC settings.
	PersistentVolumeClaim VirtualDiskPersistentVolumeClaim `json:"persistentVolumeClaim,omitempty"`
}

// AttachedVirtualMachine names a VM that uses the disk.
type AttachedVirtualMachine struct {
	// Name of the VM.
	Name string `json:"name,omitempty"`
	// True when the disk is mounted in the running VM.
	Mounted bool `json:"mounted,omitempty"`
}

// DiskTarget says which PVC holds the disk.
type DiskTarget struct {
	// Name of the PVC.
	PersistentVolumeClaim string `json:"persistentVolumeClaimName,omitempty"`
}

// VirtualDiskCreationDuration breaks down how long the disk took to create.
type VirtualDiskCreationDuration struct {
	// Time spent waiting for dependencies.
	WaitingForDependencies *metav1.Duration `json:"waitingForDependencies,omitempty"`
	// Time spent importing into DVCR.
	DVCRProvisioning *metav1.Duration `json:"dvcrProvisioning,omitempty"`
	// Total time to provision.
	TotalProvisioning *metav1.Duration `json:"totalProvisioning,omitempty"`
	// Time spent waiting for the first consumer of the PVC.
	WaitingForFirstConsumer *metav1.Duration `json:"waitingForFirstConsumer,omitempty"`
}

// VirtualDiskStats holds disk statistics.
type VirtualDiskStats struct {
	// Durations of the creation steps.
	CreationDuration VirtualDiskCreationDuration `json:"creationDuration,omitempty"`
}

// VirtualDiskMigrationResult is the outcome of a storage migration.
// +enum
type VirtualDiskMigrationResult string

const (
	VirtualDiskMigrationResultSucceeded VirtualDiskMigrationResult = "Succeeded"
	VirtualDiskMigrationResultFailed    VirtualDiskMigrationResult = "Failed"
)

// VirtualDiskMigrationState describes the last storage migration of the disk.
type VirtualDiskMigrationState struct {
	// PVC the data moved from.
	SourcePVC string `json:"sourcePVC,omitempty"`
	// PVC the data moved to.
	TargetPVC string `json:"targetPVC,omitempty"`
	// Outcome.
	Result VirtualDiskMigrationResult `json:"result,omitempty"`
	// Details of the outcome.
	Message string `json:"message,omitempty"`
	// When the migration started.
	StartTimestamp *metav1.Time `json:"startTimestamp,omitempty"`
	// When the migration ended.
	EndTimestamp *metav1.Time `json:"endTimestamp,omitempty"`
}

// VirtualDiskStatus is what the controller observed.
type VirtualDiskStatus struct {
	// Download speed while provisioning.
	DownloadSpeed *StatusSpeed `json:"downloadSpeed,omitempty"`
	// Size of the provisioned PVC.
	Capacity string `json:"capacity,omitempty"`
	// PVC holding the disk.
	Target DiskTarget `json:"target,omitempty"`
	// Provisioning progress, in percent.
	Progress string `json:"progress,omitempty"`
	// Example command to upload the disk (Upload sources).
	UploadCommand string `json:"uploadCommand,omitempty"`
	// Lifecycle phase.
	Phase DiskPhase `json:"phase,omitempty"`
	// VMs the disk is attached to.
	// +listType=atomic
	AttachedToVirtualMachines []AttachedVirtualMachine `json:"attachedToVirtualMachines,omitempty"`
	// Creation statistics.
	Stats VirtualDiskStats `json:"stats,omitempty"`
	// UID of the source object, for ObjectRef sources.
	SourceUID string `json:"sourceUID,omitempty"`
	// Latest observations of the disk state.
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Generation of the spec the status reflects.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Addresses that accept the upload (Upload sources).
	ImageUploadURLs *ImageUploadURLs `json:"imageUploadURLs,omitempty"`
	// StorageClass of the PVC.
	StorageClassName string `json:"storageClassName,omitempty"`
	// Last storage migration.
	MigrationState VirtualDiskMigrationState `json:"migrationState,omitempty"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualDisk is a block device for virtual machines, backed by a PVC.
type VirtualDisk struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Desired disk.
	Spec VirtualDiskSpec `json:"spec"`
	// Observed state.
	Status VirtualDiskStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualDiskList is a list of VirtualDisks.
type VirtualDiskList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// +listType=atomic
	Items []VirtualDisk `json:"items"`
}

// VirtualDiskSnapshotPhase is the lifecycle phase of a VirtualDiskSnapshot.
// +enum
type VirtualDiskSnapshotPhase string

const (
	VirtualDiskSnapshotPhasePending     VirtualDiskSnapshotPhase = "Pending"
	VirtualDiskSnapshotPhaseInProgress  VirtualDiskSnapshotPhase = "InProgress"
	VirtualDiskSnapshotPhaseReady       VirtualDiskSnapshotPhase = "Ready"
	VirtualDiskSnapshotPhaseFailed      VirtualDiskSnapshotPhase = "Failed"
	VirtualDiskSnapshotPhaseTerminating VirtualDiskSnapshotPhase = "Terminating"
)

// VirtualDiskSnapshotSpec is what the user asks for.
type VirtualDiskSnapshotSpec struct {
	// Name of the disk to snapshot, in the same namespace.
	VirtualDiskName string `json:"virtualDiskName"`
	// When true, snapshot only a consistent disk (VM stopped or filesystem frozen).
	RequiredConsistency *bool `json:"requiredConsistency,omitempty"`
	// VolumeSnapshotClass to use. Not in the upstream v1alpha2 schema; accepted because the
	// user documentation sets it.
	VolumeSnapshotClassName string `json:"volumeSnapshotClassName,omitempty"`
}

// VirtualDiskSnapshotStatus is what the controller observed.
type VirtualDiskSnapshotStatus struct {
	// Lifecycle phase.
	Phase VirtualDiskSnapshotPhase `json:"phase,omitempty"`
	// Name of the VolumeSnapshot holding the data.
	VolumeSnapshotName string `json:"volumeSnapshotName,omitempty"`
	// True when the snapshot was taken consistently.
	Consistent *bool `json:"consistent,omitempty"`
	// Latest observations of the snapshot state.
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Generation of the spec the status reflects.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualDiskSnapshot is a point-in-time copy of a VirtualDisk.
type VirtualDiskSnapshot struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Desired snapshot.
	Spec VirtualDiskSnapshotSpec `json:"spec"`
	// Observed state.
	Status VirtualDiskSnapshotStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualDiskSnapshotList is a list of VirtualDiskSnapshots.
type VirtualDiskSnapshotList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// +listType=atomic
	Items []VirtualDiskSnapshot `json:"items"`
}
