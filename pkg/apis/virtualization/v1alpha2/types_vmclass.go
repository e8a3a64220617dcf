package v1alpha2

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// DefaultClassAnnotation marks the VirtualMachineClass used when a VM names none.
const DefaultClassAnnotation = "virtualmachineclass.virtualization.deckhouse.io/is-default-class"

// CPUModelType names how the virtual CPU model is chosen.
// +enum
type CPUModelType string

const (
	CPUTypeHost            CPUModelType = "Host"
	CPUTypeHostPassthrough CPUModelType = "HostPassthrough"
	CPUTypeDiscovery       CPUModelType = "Discovery"
	CPUTypeModel           CPUModelType = "Model"
	CPUTypeFeatures        CPUModelType = "Features"
)

// VirtualMachineClassPhase is the lifecycle phase of a VirtualMachineClass.
// +enum
type VirtualMachineClassPhase string

const (
	ClassPhasePending     VirtualMachineClassPhase = "Pending"
	ClassPhaseReady       VirtualMachineClassPhase = "Ready"
	ClassPhaseTerminating VirtualMachineClassPhase = "Terminating"
)

// CPUDiscovery finds the CPU features common to a set of nodes.
type CPUDiscovery struct {
	// Nodes whose common CPU features make the model.
	NodeSelector metav1.LabelSelector `json:"nodeSelector,omitempty"`
}

// ClassCPU sets the virtual CPU model of the class. It cannot change once set.
type ClassCPU struct {
	// How the CPU model is chosen.
	Type CPUModelType `json:"type"`
	// CPU model name, for type Model.
	Model string `json:"model,omitempty"`
	// CPU features, for type Features.
	// +listType=atomic
	Features []string `json:"features,omitempty"`
	// Node discovery, for type Discovery.
	Discovery *CPUDiscovery `json:"discovery,omitempty"`
}

// NodeSelector picks nodes by labels.
type NodeSelector struct {
	// Labels the node must have.
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
	// Label expressions the node must satisfy.
	// +listType=atomic
	MatchExpressions []corev1.NodeSelectorRequirement `json:"matchExpressions,omitempty"`
}

// SizingPolicyCores is a range of core counts.
type SizingPolicyCores struct {
	// Smallest core count of the range.
	Min int `json:"min"`
	// Largest core count of the range.
	Max int `json:"max"`
	// Allowed core counts are min + k*step.
	Step int `json:"step,omitempty"`
}

// MemoryMinMax bounds memory per core.
type MemoryMinMax struct {
	// Smallest amount.
	Min *resource.Quantity `json:"min,omitempty"`
	// Largest amount.
	Max *resource.Quantity `json:"max,omitempty"`
}

// SizingPolicyMemory bounds the memory of VMs in a core range.
type SizingPolicyMemory struct {
	// Smallest memory size.
	Min *resource.Quantity `json:"min,omitempty"`
	// Largest memory size.
	Max *resource.Quantity `json:"max,omitempty"`
	// Allowed sizes are min + k*step.
	Step *resource.Quantity `json:"step,omitempty"`
	// Bounds of memory per core.
	PerCore *MemoryMinMax `json:"perCore,omitempty"`
}

// SizingPolicy limits the resources of VMs whose core count falls in a range.
type SizingPolicy struct {
	// Core range the policy applies to.
	Cores *SizingPolicyCores `json:"cores,omitempty"`
	// Memory limits.
	Memory *SizingPolicyMemory `json:"memory,omitempty"`
	// Allowed dedicated-core settings.
	// +listType=atomic
	DedicatedCores []bool `json:"dedicatedCores,omitempty"`
	// Allowed core fractions, in percent.
	// +listType=atomic
	CoreFractions []int `json:"coreFractions,omitempty"`
	// Core fraction of VMs that set none: 1-100 or Auto.
	DefaultCoreFraction *intstr.IntOrString `json:"defaultCoreFraction,omitempty"`
}

// VirtualMachineClassSpec is what the administrator asks for.
type VirtualMachineClassSpec struct {
	// Nodes VMs of the class may run on.
	NodeSelector NodeSelector `json:"nodeSelector,omitempty"`
	// Taints VMs of the class tolerate.
	// +listType=atomic
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// Virtual CPU model; immutable.
	CPU ClassCPU `json:"cpu"`
	// Resource limits per core range.
	// +listType=atomic
	SizingPolicies []SizingPolicy `json:"sizingPolicies,omitempty"`
}

// CPUFeatures reports CPU features of the class.
type CPUFeatures struct {
	// Features enabled for VMs.
	// +listType=atomic
	Enabled []string `json:"enabled,omitempty"`
	// Features present on some nodes but not enabled.
	// +listType=atomic
	NotEnabledCommon []string `json:"notEnabledCommon,omitempty"`
}

// VirtualMachineClassStatus is what the controller observed.
type VirtualMachineClassStatus struct {
	// Lifecycle phase.
	Phase VirtualMachineClassPhase `json:"phase"`
	// CPU features of the class.
	CPUFeatures CPUFeatures `json:"cpuFeatures,omitempty"`
	// Nodes VMs of the class can run on.
	// +listType=atomic
	AvailableNodes []string `json:"availableNodes,omitempty"`
	// Largest resources a VM of the class can get.
	MaxAllocatableResources corev1.ResourceList `json:"maxAllocatableResources,omitempty"`
	// Latest observations of the class state.
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Generation of the spec the status reflects.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineClass sets the CPU model, placement and sizing policies of VMs.
type VirtualMachineClass struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Desired class.
	Spec VirtualMachineClassSpec `json:"spec"`
	// Observed state.
	Status VirtualMachineClassStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineClassList is a list of VirtualMachineClasses.
type VirtualMachineClassList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// +listType=atomic
	Items []VirtualMachineClass `json:"items"`
}
