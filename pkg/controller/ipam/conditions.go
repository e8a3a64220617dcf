package ipam

// Condition types and reasons, spelled as the upstream API documents them (vmipcondition,
// vmiplcondition, and the VirtualMachine's VirtualMachineIPAddressReady in vmcondition).

// ConditionType is a status.conditions[].type of VirtualMachineIPAddress and its lease.
type ConditionType string

const (
	BoundType    ConditionType = "Bound"
	AttachedType ConditionType = "Attached"
)

// BoundReason explains Bound on a VirtualMachineIPAddress.
type BoundReason string

const (
	Bound              BoundReason = "Bound"
	OutOfTheValidRange BoundReason = "VirtualMachineIPAddressIsOutOfTheValidRange"
	LeaseAlreadyExists BoundReason = "VirtualMachineIPAddressLeaseAlreadyExists"
	LeaseLost          BoundReason = "VirtualMachineIPAddressLeaseLost"
	LeaseNotFound      BoundReason = "VirtualMachineIPAddressLeaseNotFound"
	LeaseNotReady      BoundReason = "VirtualMachineIPAddressLeaseNotReady"
)

// AttachedReason explains Attached on a VirtualMachineIPAddress.
type AttachedReason string

const (
	Attached               AttachedReason = "Attached"
	VirtualMachineNotFound AttachedReason = "VirtualMachineNotFound"
)

// LeaseBoundReason explains Bound on a VirtualMachineIPAddressLease.
type LeaseBoundReason string

const (
	LeaseBound    LeaseBoundReason = "Bound"
	LeaseReleased LeaseBoundReason = "Released"
)

// VMIPAddressReadyType is the VirtualMachine condition that reports its address.
const VMIPAddressReadyType = "VirtualMachineIPAddressReady"

// VMIPAddressReadyReason explains the VirtualMachine's VirtualMachineIPAddressReady.
type VMIPAddressReadyReason string

const (
	VMIPAddressReady        VMIPAddressReadyReason = "VirtualMachineIPAddressReady"
	VMIPAddressNotReady     VMIPAddressReadyReason = "VirtualMachineIPAddressNotReady"
	VMIPAddressNotAssigned  VMIPAddressReadyReason = "VirtualMachineIPAddressNotAssigned"
	VMIPAddressNotAvailable VMIPAddressReadyReason = "VirtualMachineIPAddressNotAvailable"
)

// Event reasons.
const (
	EventAllocationFailed = "AddressAllocationFailed"
	EventLeaseLost        = "LeaseLost"
	EventLeaseReclaimed   = "LeaseReclaimed"
)
