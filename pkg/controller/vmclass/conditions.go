package vmclass

// Condition types and reasons of VirtualMachineClass (vmclasscondition), spelled as the
// upstream API documents them.

// ConditionType is a status.conditions[].type.
type ConditionType string

const (
	ReadyType      ConditionType = "Ready"
	DiscoveredType ConditionType = "Discovered"
	InUseType      ConditionType = "InUse"
)

// ReadyReason explains Ready.
type ReadyReason string

const (
	SuitableNodesFound   ReadyReason = "SuitableNodesFound"
	NoSuitableNodesFound ReadyReason = "NoSuitableNodesFound"
	NoCPUFeaturesEnabled ReadyReason = "NoCpuFeaturesEnabled"
)

// DiscoveredReason explains Discovered.
type DiscoveredReason string

const (
	DiscoverySucceeded DiscoveredReason = "DiscoverySucceeded"
	DiscoveryFailed    DiscoveredReason = "DiscoveryFailed"
	DiscoverySkip      DiscoveredReason = "DiscoverySkip"
)

// InUseReason explains InUse; the condition is there only while VMs use the class.
type InUseReason string

const (
	VirtualMachineClassInUse InUseReason = "VirtualMachineClassInUse"
)

// Reasons of the VirtualMachine condition VirtualMachineClassReady (vmcondition), which
// Ready computes.
const (
	VMClassReady    = "VirtualMachineClassReady"
	VMClassNotReady = "VirtualMachineClassNotReady"
)

// Event reasons.
const (
	EventClassReady            = "VirtualMachineClassReady"
	EventNoSuitableNodes       = "NoSuitableNodesFound"
	EventCPUFeaturesDiscovered = "CPUFeaturesDiscovered"
	EventAvailableNodesChanged = "AvailableNodesChanged"
)
