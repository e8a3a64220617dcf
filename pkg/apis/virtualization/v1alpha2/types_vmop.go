package v1alpha2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// VMOPType names an operation on a VM.
// +enum
type VMOPType string

const (
	VMOPTypeRestart VMOPType = "Restart"
	VMOPTypeStart   VMOPType = "Start"
	VMOPTypeStop    VMOPType = "Stop"
	VMOPTypeMigrate VMOPType = "Migrate"
	VMOPTypeEvict   VMOPType = "Evict"
	VMOPTypeRestore VMOPType = "Restore"
	VMOPTypeClone   VMOPType = "Clone"
)

// VMOPPhase is the lifecycle phase of an operation.
// +enum
type VMOPPhase string

const (
	VMOPPhasePending     VMOPPhase = "Pending"
	VMOPPhaseInProgress  VMOPPhase = "InProgress"
	VMOPPhaseCompleted   VMOPPhase = "Completed"
	VMOPPhaseFailed      VMOPPhase = "Failed"
	VMOPPhaseTerminating VMOPPhase = "Terminating"
	VMOPPhaseSuperseded  VMOPPhase = "Superseded"
)

// SnapshotOperationMode says how strictly a restore or clone is carried out.
// +enum
type SnapshotOperationMode string

const (
	SnapshotOperationModeDryRun     SnapshotOperationMode = "DryRun"
	SnapshotOperationModeStrict     SnapshotOperationMode = "Strict"
	SnapshotOperationModeBestEffort SnapshotOperationMode = "BestEffort"
)

// VirtualMachineOperationRestoreSpec restores the VM from a snapshot.
type VirtualMachineOperationRestoreSpec struct {
	// How strictly to restore.
	Mode SnapshotOperationMode `json:"mode"`
	// VirtualMachineSnapshot to restore from.
	VirtualMachineSnapshotName string `json:"virtualMachineSnapshotName"`
}

// NameReplacementFrom selects the resources whose names are replaced.
type NameReplacementFrom struct {
	// Kind of the resource; any kind when empty.
	Kind string `json:"kind,omitempty"`
	// Current name of the resource.
	Name string `json:"name"`
}

// NameReplacement renames a resource during a restore or clone.
type NameReplacement struct {
	// Resource to rename.
	From NameReplacementFrom `json:"from"`
	// New name.
	To string `json:"to"`
}

// VirtualMachineOperationCloneCustomization renames every cloned resource.
type VirtualMachineOperationCloneCustomization struct {
	// Prefix added to every name.
	NamePrefix string `json:"namePrefix,omitempty"`
	// Suffix added to every name.
	NameSuffix string `json:"nameSuffix,omitempty"`
}

// VirtualMachineOperationCloneSpec clones the VM and its disks.
type VirtualMachineOperationCloneSpec struct {
	// How strictly to clone.
	Mode SnapshotOperationMode `json:"mode"`
	// Explicit renames.
	// +listType=atomic
	NameReplacement []NameReplacement `json:"nameReplacement,omitempty"`
	// Prefix and suffix for every name.
	Customization *VirtualMachineOperationCloneCustomization `json:"customization,omitempty"`
}

// VirtualMachineOperationMigrateSpec sets where a migration may go.
type VirtualMachineOperationMigrateSpec struct {
	// Node labels the target node must have.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
}

// VirtualMachineOperationSpec is what the user asks for. It cannot change after creation.
type VirtualMachineOperationSpec struct {
	// Operation to perform.
	Type VMOPType `json:"type"`
	// VM to act on, in the same namespace.
	VirtualMachine string `json:"virtualMachineName"`
	// Act forcibly: stop without a graceful shutdown, migrate without safety limits.
	Force *bool `json:"force,omitempty"`
	// Parameters of a Restore.
	Restore *VirtualMachineOperationRestoreSpec `json:"restore,omitempty"`
	// Parameters of a Clone.
	Clone *VirtualMachineOperationCloneSpec `json:"clone,omitempty"`
	// Parameters of a Migrate.
	Migrate *VirtualMachineOperationMigrateSpec `json:"migrate,omitempty"`
}

// VMOPResourceStatus is the state of a resource touched by the operation.
// +enum
type VMOPResourceStatus string

const (
	VMOPResourceStatusInProgress VMOPResourceStatus = "InProgress"
	VMOPResourceStatusCompleted  VMOPResourceStatus = "Completed"
	VMOPResourceStatusFailed     VMOPResourceStatus = "Failed"
)

// VirtualMachineOperationResource reports a resource touched by the operation.
type VirtualMachineOperationResource struct {
	// API version of the resource.
	APIVersion string `json:"apiVersion"`
	// Kind of the resource.
	Kind string `json:"kind"`
	// Name of the resource.
	Name string `json:"name"`
	// State of the resource.
	Status VMOPResourceStatus `json:"status"`
	// Details.
	Message string `json:"message"`
}

// VirtualMachineOperationStatus is what the controller observed.
type VirtualMachineOperationStatus struct {
	// Lifecycle phase.
	Phase VMOPPhase `json:"phase"`
	// Latest observations of the operation.
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Generation of the spec the status reflects.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Progress of the operation.
	Progress string `json:"progress,omitempty"`
	// Resources touched by the operation.
	// +listType=atomic
	Resources []VirtualMachineOperationResource `json:"resources,omitempty"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineOperation is a one-shot action on a VM: start, stop, restart, migrate, evict, restore or clone.
type VirtualMachineOperation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Desired operation; immutable.
	Spec VirtualMachineOperationSpec `json:"spec"`
	// Observed state.
	Status VirtualMachineOperationStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineOperationList is a list of VirtualMachineOperations.
type VirtualMachineOperationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// +listType=atomic
	Items []VirtualMachineOperation `json:"items"`
}
