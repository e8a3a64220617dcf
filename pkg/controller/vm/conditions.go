package vm

// Condition types and reasons of VirtualMachine (vmcondition), spelled as the upstream API
// documents them.

// ConditionType is a status.conditions[].type.
type ConditionType string

const (
	IPAddressReadyType       ConditionType = "VirtualMachineIPAddressReady"
	ClassReadyType           ConditionType = "VirtualMachineClassReady"
	BlockDevicesReadyType    ConditionType = "BlockDevicesReady"
	RunningType              ConditionType = "Running"
	MigratableType           ConditionType = "Migratable"
	MigratingType            ConditionType = "Migrating"
	ProvisioningReadyType    ConditionType = "ProvisioningReady"
	AgentReadyType           ConditionType = "AgentReady"
	ConfigurationAppliedType ConditionType = "ConfigurationApplied"
	AwaitingRestartType      ConditionType = "AwaitingRestartToApplyConfiguration"
	SizingPolicyMatchedType  ConditionType = "SizingPolicyMatched"
)

// Reason explains a condition.
type Reason string

const (
	AgentReady    Reason = "AgentReady"
	AgentNotReady Reason = "AgentNotReady"

	ClassReady    Reason = "VirtualMachineClassReady"
	ClassNotReady Reason = "VirtualMachineClassNotReady"

	IPAddressReady        Reason = "VirtualMachineIPAddressReady"
	IPAddressNotReady     Reason = "VirtualMachineIPAddressNotReady"
	IPAddressNotAssigned  Reason = "VirtualMachineIPAddressNotAssigned"
	IPAddressNotAvailable Reason = "VirtualMachineIPAddressNotAvailable"

	BlockDevicesReady       Reason = "BlockDevicesReady"
	WaitingForFirstConsumer Reason = "WaitingForWaitForFirstConsumerBlockDevicesToBeReady"
	BlockDevicesNotReady    Reason = "BlockDevicesNotReady"

	ProvisioningReady    Reason = "ProvisioningReady"
	ProvisioningNotReady Reason = "ProvisioningNotReady"

	ConfigurationApplied    Reason = "ConfigurationApplied"
	ConfigurationNotApplied Reason = "ConfigurationNotApplied"

	ChangesPendingRestart Reason = "ChangesPendingRestart"
	NoRestartRequired     Reason = "NoRestartRequired"

	NotRunning                  Reason = "NotRunning"
	Running                     Reason = "Running"
	InternalVirtualMachineError Reason = "InternalVirtualMachineError"
	PodNotStarted               Reason = "PodNotStarted"
	PodTerminating              Reason = "PodTerminating"
	GuestNotRunning             Reason = "GuestNotRunning"

	SizingPolicyMatched    Reason = "SizingPolicyMatched"
	SizingPolicyNotMatched Reason = "SizingPolicyNotMatched"
	ClassTerminating       Reason = "VirtualMachineClassTerminating"
	ClassNotFound          Reason = "VirtualMachineClassNotFound"

	Migratable               Reason = "VirtualMachineMigratable"
	NonMigratable            Reason = "VirtualMachineNonMigratable"
	DisksNotMigratable       Reason = "VirtualMachineDisksNotMigratable"
	HostDevicesNotMigratable Reason = "VirtualMachineHostDevicesNotMigratable"

	MigratingInProgress Reason = "InProgress"
)
