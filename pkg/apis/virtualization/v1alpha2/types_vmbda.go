package v1alpha2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// VMBDAObjectRefKind names the kinds that can be hot-plugged into a VM.
// +enum
type VMBDAObjectRefKind string

const (
	VMBDAObjectRefKindVirtualDisk         VMBDAObjectRefKind = "VirtualDisk"
	VMBDAObjectRefKindVirtualImage        VMBDAObjectRefKind = "VirtualImage"
	VMBDAObjectRefKindClusterVirtualImage VMBDAObjectRefKind = "ClusterVirtualImage"
)

// BlockDeviceAttachmentPhase is the lifecycle phase of an attachment.
// +enum
type BlockDeviceAttachmentPhase string

const (
	BlockDeviceAttachmentPhasePending     BlockDeviceAttachmentPhase = "Pending"
	BlockDeviceAttachmentPhaseInProgress  BlockDeviceAttachmentPhase = "InProgress"
	BlockDeviceAttachmentPhaseAttached    BlockDeviceAttachmentPhase = "Attached"
	BlockDeviceAttachmentPhaseFailed      BlockDeviceAttachmentPhase = "Failed"
	BlockDeviceAttachmentPhaseTerminating BlockDeviceAttachmentPhase = "Terminating"
)

// VMBDAObjectRef names the device to attach.
type VMBDAObjectRef struct {
	// Kind of the device.
	Kind VMBDAObjectRefKind `json:"kind,omitempty"`
	// Name of the device, in the same namespace for namespaced kinds.
	Name string `json:"name,omitempty"`
}

// VirtualMachineBlockDeviceAttachmentSpec is what the user asks for.
type VirtualMachineBlockDeviceAttachmentSpec struct {
	// VM to attach the device to.
	VirtualMachineName string `json:"virtualMachineName"`
	// Device to attach.
	BlockDeviceRef VMBDAObjectRef `json:"blockDeviceRef"`
}

// VirtualMachineBlockDeviceAttachmentStatus is what the controller observed.
type VirtualMachineBlockDeviceAttachmentStatus struct {
	// Lifecycle phase.
	Phase BlockDeviceAttachmentPhase `json:"phase,omitempty"`
	// VM the device is attached to.
	VirtualMachineName string `json:"virtualMachineName,omitempty"`
	// Latest observations of the attachment.
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Generation of the spec the status reflects.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineBlockDeviceAttachment hot-plugs an image or disk into a running VM.
type VirtualMachineBlockDeviceAttachment struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Desired attachment.
	Spec VirtualMachineBlockDeviceAttachmentSpec `json:"spec"`
	// Observed state.
	Status VirtualMachineBlockDeviceAttachmentStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineBlockDeviceAttachmentList is a list of VirtualMachineBlockDeviceAttachments.
type VirtualMachineBlockDeviceAttachmentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// +listType=atomic
	Items []VirtualMachineBlockDeviceAttachment `json:"items"`
}
