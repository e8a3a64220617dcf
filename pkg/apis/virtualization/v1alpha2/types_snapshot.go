package v1alpha2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KeepIPAddress says whether a VM snapshot keeps the VM's IP address.
// +enum
type KeepIPAddress string

const (
	KeepIPAddressAlways KeepIPAddress = "Always"
	KeepIPAddressNever  KeepIPAddress = "Never"
)

// VirtualMachineSnapshotPhase is the lifecycle phase of a VM snapshot.
// +enum
type VirtualMachineSnapshotPhase string

const (
	VirtualMachineSnapshotPhasePending     VirtualMachineSnapshotPhase = "Pending"
	VirtualMachineSnapshotPhaseInProgress  VirtualMachineSnapshotPhase = "InProgress"
	VirtualMachineSnapshotPhaseReady       VirtualMachineSnapshotPhase = "Ready"
	VirtualMachineSnapshotPhaseFailed      VirtualMachineSnapshotPhase = "Failed"
	VirtualMachineSnapshotPhaseTerminating VirtualMachineSnapshotPhase = "Terminating"
)

// VolumeSnapshotClassName maps a StorageClass to the VolumeSnapshotClass used for its disks.
type VolumeSnapshotClassName struct {
	// StorageClass of the disks.
	StorageClassName string `json:"storageClassName,omitempty"`
	// VolumeSnapshotClass to use for them.
	VolumeSnapshotClassName string `json:"volumeSnapshotClassName,omitempty"`
}

// VirtualMachineSnapshotSpec is what the user asks for.
type VirtualMachineSnapshotSpec struct {
	// VM to snapshot, in the same namespace.
	VirtualMachineName string `json:"virtualMachineName"`
	// Always turns the VM's IP address into a static one kept by the snapshot.
	KeepIPAddress KeepIPAddress `json:"keepIPAddress"`
	// When true, snapshot only a consistent VM (stopped or filesystems frozen).
	RequiredConsistency *bool `json:"requiredConsistency"`
	// VolumeSnapshotClass per StorageClass. Not in the upstream v1alpha2 schema; accepted
	// because the user documentation sets it.
	// +listType=atomic
	VolumeSnapshotClasses []VolumeSnapshotClassName `json:"volumeSnapshotClasses,omitempty"`
}

// ResourceRef names a resource kept in a snapshot.
type ResourceRef struct {
	// Kind of the resource.
	Kind string `json:"kind,omitempty"`
	// API version of the resource.
	APIVersion string `json:"apiVersion,omitempty"`
	// Name of the resource.
	Name string `json:"name,omitempty"`
}

// VirtualMachineSnapshotStatus is what the controller observed.
type VirtualMachineSnapshotStatus struct {
	// Lifecycle phase.
	Phase VirtualMachineSnapshotPhase `json:"phase"`
	// True when the snapshot was taken consistently.
	Consistent *bool `json:"consistent,omitempty"`
	// Secret that holds the VM configuration.
	VirtualMachineSnapshotSecretName string `json:"virtualMachineSnapshotSecretName,omitempty"`
	// Disk snapshots taken.
	// +listType=atomic
	VirtualDiskSnapshotNames []string `json:"virtualDiskSnapshotNames,omitempty"`
	// Latest observations of the snapshot.
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Generation of the spec the status reflects.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Resources kept in the snapshot.
	// +listType=atomic
	Resources []ResourceRef `json:"resources,omitempty"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineSnapshot is a point-in-time copy of a VM: its configuration and disks.
type VirtualMachineSnapshot struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Desired snapshot.
	Spec VirtualMachineSnapshotSpec `json:"spec"`
	// Observed state.
	Status VirtualMachineSnapshotStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineSnapshotList is a list of VirtualMachineSnapshots.
type VirtualMachineSnapshotList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// +listType=atomic
	Items []VirtualMachineSnapshot `json:"items"`
}

// RestoreMode says how a restore treats conflicts with existing resources.
// +enum
type RestoreMode string

const (
	RestoreModeSafe   RestoreMode = "Safe"
	RestoreModeForced RestoreMode = "Forced"
)

// VirtualMachineRestorePhase is the lifecycle phase of a restore.
// +enum
type VirtualMachineRestorePhase string

const (
	VirtualMachineRestorePhasePending     VirtualMachineRestorePhase = "Pending"
	VirtualMachineRestorePhaseInProgress  VirtualMachineRestorePhase = "InProgress"
	VirtualMachineRestorePhaseReady       VirtualMachineRestorePhase = "Ready"
	VirtualMachineRestorePhaseFailed      VirtualMachineRestorePhase = "Failed"
	VirtualMachineRestorePhaseTerminating VirtualMachineRestorePhase = "Terminating"
)

// VirtualMachineRestoreSpec is what the user asks for.
type VirtualMachineRestoreSpec struct {
	// Safe refuses to overwrite existing resources; Forced replaces them.
	RestoreMode RestoreMode `json:"restoreMode,omitempty"`
	// Snapshot to restore from.
	VirtualMachineSnapshotName string `json:"virtualMachineSnapshotName"`
	// Renames applied to restored resources.
	// +listType=atomic
	NameReplacements []NameReplacement `json:"nameReplacements,omitempty"`
}

// VirtualMachineRestoreStatus is what the controller observed.
type VirtualMachineRestoreStatus struct {
	// Lifecycle phase.
	Phase VirtualMachineRestorePhase `json:"phase"`
	// Latest observations of the restore.
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Generation of the spec the status reflects.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineRestore recreates a VM and its disks from a VirtualMachineSnapshot.
type VirtualMachineRestore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Desired restore.
	Spec VirtualMachineRestoreSpec `json:"spec"`
	// Observed state.
	Status VirtualMachineRestoreStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineRestoreList is a list of VirtualMachineRestores.
type VirtualMachineRestoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// +listType=atomic
	Items []VirtualMachineRestore `json:"items"`
}
