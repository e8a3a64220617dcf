package v1alpha2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// VirtualMachineIPAddressType says whether the address is picked or given.
// +enum
type VirtualMachineIPAddressType string

const (
	VirtualMachineIPAddressTypeAuto   VirtualMachineIPAddressType = "Auto"
	VirtualMachineIPAddressTypeStatic VirtualMachineIPAddressType = "Static"
)

// VirtualMachineIPAddressPhase is the lifecycle phase of an address.
// +enum
type VirtualMachineIPAddressPhase string

const (
	VirtualMachineIPAddressPhasePending  VirtualMachineIPAddressPhase = "Pending"
	VirtualMachineIPAddressPhaseBound    VirtualMachineIPAddressPhase = "Bound"
	VirtualMachineIPAddressPhaseAttached VirtualMachineIPAddressPhase = "Attached"
)

// VirtualMachineIPAddressSpec is what the user asks for.
type VirtualMachineIPAddressSpec struct {
	// Auto picks a free address; Static takes staticIP.
	Type VirtualMachineIPAddressType `json:"type"`
	// Address to take, for type Static.
	StaticIP string `json:"staticIP,omitempty"`
}

// VirtualMachineIPAddressStatus is what the controller observed.
type VirtualMachineIPAddressStatus struct {
	// Address held.
	Address string `json:"address,omitempty"`
	// VM that uses the address.
	VirtualMachine string `json:"virtualMachineName,omitempty"`
	// Lifecycle phase.
	Phase VirtualMachineIPAddressPhase `json:"phase,omitempty"`
	// Generation of the spec the status reflects.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Latest observations of the address.
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineIPAddress holds an IP address from the VM subnets for a VM.
type VirtualMachineIPAddress struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Desired address.
	Spec VirtualMachineIPAddressSpec `json:"spec,omitempty"`
	// Observed state.
	Status VirtualMachineIPAddressStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineIPAddressList is a list of VirtualMachineIPAddresses.
type VirtualMachineIPAddressList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// +listType=atomic
	Items []VirtualMachineIPAddress `json:"items"`
}

// VirtualMachineIPAddressLeasePhase is the lifecycle phase of a lease.
// +enum
type VirtualMachineIPAddressLeasePhase string

const (
	VirtualMachineIPAddressLeasePhaseBound    VirtualMachineIPAddressLeasePhase = "Bound"
	VirtualMachineIPAddressLeasePhaseReleased VirtualMachineIPAddressLeasePhase = "Released"
)

// VirtualMachineIPAddressLeaseIPAddressRef names the address that holds the lease.
type VirtualMachineIPAddressLeaseIPAddressRef struct {
	// Namespace of the VirtualMachineIPAddress.
	Namespace string `json:"namespace"`
	// Name of the VirtualMachineIPAddress.
	Name string `json:"name"`
}

// VirtualMachineIPAddressLeaseSpec is what the lease binds.
type VirtualMachineIPAddressLeaseSpec struct {
	// Address object that holds the lease.
	VirtualMachineIPAddressRef *VirtualMachineIPAddressLeaseIPAddressRef `json:"virtualMachineIPAddressRef,omitempty"`
}

// VirtualMachineIPAddressLeaseStatus is what the controller observed.
type VirtualMachineIPAddressLeaseStatus struct {
	// Lifecycle phase.
	Phase VirtualMachineIPAddressLeasePhase `json:"phase,omitempty"`
	// Generation of the spec the status reflects.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Latest observations of the lease.
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineIPAddressLease reserves one IP address cluster-wide; its name encodes the address.
type VirtualMachineIPAddressLease struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Binding of the lease.
	Spec VirtualMachineIPAddressLeaseSpec `json:"spec,omitempty"`
	// Observed state.
	Status VirtualMachineIPAddressLeaseStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineIPAddressLeaseList is a list of VirtualMachineIPAddressLeases.
type VirtualMachineIPAddressLeaseList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// +listType=atomic
	Items []VirtualMachineIPAddressLease `json:"items"`
}
