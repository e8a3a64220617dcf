package v1alpha2

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// MachinePhase is the lifecycle phase of a VirtualMachine.
// +enum
type MachinePhase string

const (
	MachinePending     MachinePhase = "Pending"
	MachineRunning     MachinePhase = "Running"
	MachineDegraded    MachinePhase = "Degraded"
	MachineTerminating MachinePhase = "Terminating"
	MachineStopped     MachinePhase = "Stopped"
	MachineStopping    MachinePhase = "Stopping"
	MachineStarting    MachinePhase = "Starting"
	MachineMigrating   MachinePhase = "Migrating"
	MachinePause       MachinePhase = "Pause"
)

// RunPolicy says how the VM's power state follows the user's actions.
// +enum
type RunPolicy string

const (
	AlwaysOnPolicy                      RunPolicy = "AlwaysOn"
	AlwaysOffPolicy                     RunPolicy = "AlwaysOff"
	ManualPolicy                        RunPolicy = "Manual"
	AlwaysOnUnlessStoppedManuallyPolicy RunPolicy = "AlwaysOnUnlessStoppedManually"
)

// OsType tunes the virtual hardware for a family of guest systems.
// +enum
type OsType string

const (
	Windows       OsType = "Windows"
	GenericOs     OsType = "Generic"
	LegacyWindows OsType = "Legacy"
)

// BootloaderType is the firmware of the VM.
// +enum
type BootloaderType string

const (
	BIOS              BootloaderType = "BIOS"
	EFI               BootloaderType = "EFI"
	EFIWithSecureBoot BootloaderType = "EFIWithSecureBoot"
)

// LiveMigrationPolicy says how live migration may slow the guest down to converge.
// +enum
type LiveMigrationPolicy string

const (
	AlwaysSafeMigrationPolicy   LiveMigrationPolicy = "AlwaysSafe"
	PreferSafeMigrationPolicy   LiveMigrationPolicy = "PreferSafe"
	AlwaysForcedMigrationPolicy LiveMigrationPolicy = "AlwaysForced"
	PreferForcedMigrationPolicy LiveMigrationPolicy = "PreferForced"
)

// RestartApprovalMode says whether changes that need a reboot are applied by themselves.
// +enum
type RestartApprovalMode string

const (
	Manual    RestartApprovalMode = "Manual"
	Automatic RestartApprovalMode = "Automatic"
)

// ProvisioningType names how the guest is configured at first boot.
// +enum
type ProvisioningType string

const (
	ProvisioningTypeUserData    ProvisioningType = "UserData"
	ProvisioningTypeUserDataRef ProvisioningType = "UserDataRef"
	ProvisioningTypeSysprepRef  ProvisioningType = "SysprepRef"
)

// UserDataRefKind names the kinds that can hold provisioning data.
// +enum
type UserDataRefKind string

const UserDataRefKindSecret UserDataRefKind = "Secret"

// UserDataRef points at a Secret with cloud-init user data.
type UserDataRef struct {
	// Kind of the object; only Secret.
	Kind UserDataRefKind `json:"kind"`
	// Name of the Secret in the VM's namespace.
	Name string `json:"name"`
}

// SysprepRefKind names the kinds that can hold Sysprep answers.
// +enum
type SysprepRefKind string

const SysprepRefKindSecret SysprepRefKind = "Secret"

// SysprepRef points at a Secret with Windows Sysprep answer files.
type SysprepRef struct {
	// Kind of the object; only Secret.
	Kind SysprepRefKind `json:"kind"`
	// Name of the Secret in the VM's namespace.
	Name string `json:"name"`
}

// Provisioning configures the guest at first boot.
type Provisioning struct {
	// How the guest is configured.
	Type ProvisioningType `json:"type"`
	// Inline cloud-init user data, at most 2048 bytes.
	UserData string `json:"userData,omitempty"`
	// Secret with cloud-init user data.
	UserDataRef *UserDataRef `json:"userDataRef,omitempty"`
	// Secret with Sysprep answer files.
	SysprepRef *SysprepRef `json:"sysprepRef,omitempty"`
}

// CPUSpec sets the virtual CPU of the VM.
type CPUSpec struct {
	// Number of virtual cores: 1-16, then even up to 32, multiples of 4 up to 64 and of 8 up to 248.
	Cores int `json:"cores"`
	// Guaranteed share of each core: a percentage from 1% to 100%, or Auto.
	CoreFraction string `json:"coreFraction,omitempty"`
}

// MemorySpec sets the memory of the VM.
type MemorySpec struct {
	// Memory size, a quantity such as 4Gi.
	Size string `json:"size"`
}

// BlockDeviceKind names the kinds that can be block devices of a VM.
// +enum
type BlockDeviceKind string

const (
	ClusterImageDevice BlockDeviceKind = "ClusterVirtualImage"
	ImageDevice        BlockDeviceKind = "VirtualImage"
	DiskDevice         BlockDeviceKind = "VirtualDisk"
)

// BlockDeviceSpecRef attaches an image or disk to the VM.
type BlockDeviceSpecRef struct {
	// Kind of the device.
	Kind BlockDeviceKind `json:"kind,omitempty"`
	// Name of the device; namespaced kinds are looked up in the VM's namespace.
	Name string `json:"name,omitempty"`
	// Boot priority; lower boots first.
	BootOrder *int `json:"bootOrder,omitempty"`
}

// Disruptions sets how the VM reacts to changes that need a restart.
type Disruptions struct {
	// Manual waits for the user to restart; Automatic restarts by itself.
	RestartApprovalMode RestartApprovalMode `json:"restartApprovalMode,omitempty"`
}

// NetworksType names kinds of VM network interfaces.
// +enum
type NetworksType string

const (
	NetworksTypeMain           NetworksType = "Main"
	NetworksTypeNetwork        NetworksType = "Network"
	NetworksTypeClusterNetwork NetworksType = "ClusterNetwork"
)

// NetworksSpec adds a network interface to the VM.
type NetworksSpec struct {
	// Interface number.
	ID *int `json:"id,omitempty"`
	// Kind of network.
	Type NetworksType `json:"type"`
	// Name of the network for Network and ClusterNetwork types.
	Name string `json:"name,omitempty"`
	// VirtualMachineMACAddress to use on this interface.
	VirtualMachineMACAddressName string `json:"virtualMachineMACAddressName,omitempty"`
	// VirtualMachineIPAddress to use on this interface.
	IPAddressName string `json:"ipAddressName,omitempty"`
}

// USBDeviceSpecRef attaches a USB device to the VM.
type USBDeviceSpecRef struct {
	// Name of the USBDevice.
	Name string `json:"name"`
}

// GPUSpec requests a GPU of a class.
type GPUSpec struct {
	// Name of the GPU class.
	GPUClassName string `json:"gpuClassName"`
}

// TopologySpreadConstraint spreads VMs across topology domains.
type TopologySpreadConstraint struct {
	// Largest allowed difference in VM counts between domains.
	MaxSkew int32 `json:"maxSkew"`
	// Node label that defines a domain.
	TopologyKey string `json:"topologyKey"`
	// DoNotSchedule or ScheduleAnyway.
	WhenUnsatisfiable corev1.UnsatisfiableConstraintAction `json:"whenUnsatisfiable"`
	// Selects the VMs and pods counted in each domain.
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
}

// WeightedVirtualMachineAndPodAffinityTerm is a preferred affinity term with a weight.
type WeightedVirtualMachineAndPodAffinityTerm struct {
	// Weight from 1 to 100.
	Weight int32 `json:"weight"`
	// The affinity term.
	VirtualMachineAndPodAffinityTerm corev1.PodAffinityTerm `json:"virtualMachineAndPodAffinityTerm"`
}

// VirtualMachineAndPodAffinity places the VM near other VMs and pods.
type VirtualMachineAndPodAffinity struct {
	// Terms that must hold to schedule the VM.
	// +listType=atomic
	RequiredDuringSchedulingIgnoredDuringExecution []corev1.PodAffinityTerm `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
	// Terms the scheduler tries to honour.
	// +listType=atomic
	PreferredDuringSchedulingIgnoredDuringExecution []WeightedVirtualMachineAndPodAffinityTerm `json:"preferredDuringSchedulingIgnoredDuringExecution,omitempty"`
}

// VirtualMachineAndPodAntiAffinity keeps the VM away from other VMs and pods.
type VirtualMachineAndPodAntiAffinity struct {
	// Terms that must hold to schedule the VM.
	// +listType=atomic
	RequiredDuringSchedulingIgnoredDuringExecution []corev1.PodAffinityTerm `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
	// Terms the scheduler tries to honour.
	// +listType=atomic
	PreferredDuringSchedulingIgnoredDuringExecution []WeightedVirtualMachineAndPodAffinityTerm `json:"preferredDuringSchedulingIgnoredDuringExecution,omitempty"`
}

// VMAffinity groups the placement rules of a VM.
type VMAffinity struct {
	// Node affinity, as for pods.
	NodeAffinity *corev1.NodeAffinity `json:"nodeAffinity,omitempty"`
	// Affinity to VMs and pods.
	VirtualMachineAndPodAffinity *VirtualMachineAndPodAffinity `json:"virtualMachineAndPodAffinity,omitempty"`
	// Anti-affinity to VMs and pods.
	VirtualMachineAndPodAntiAffinity *VirtualMachineAndPodAntiAffinity `json:"virtualMachineAndPodAntiAffinity,omitempty"`
}

// VirtualMachineSpec is what the user asks for.
type VirtualMachineSpec struct {
	// How the power state follows the user's actions.
	RunPolicy RunPolicy `json:"runPolicy,omitempty"`
	// VirtualMachineIPAddress to take the main address from.
	VirtualMachineIPAddress string `json:"virtualMachineIPAddressName,omitempty"`
	// Spreads VMs across topology domains.
	// +listType=atomic
	TopologySpreadConstraints []TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	// Placement rules.
	Affinity *VMAffinity `json:"affinity,omitempty"`
	// Node labels the VM must run on.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// PriorityClass of the VM's pod.
	PriorityClassName string `json:"priorityClassName,omitempty"`
	// Taints the VM tolerates.
	// +listType=atomic
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// How changes that need a restart are applied.
	Disruptions *Disruptions `json:"disruptions,omitempty"`
	// Seconds the guest gets to shut down before it is stopped forcibly.
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
	// Use paravirtualized (virtio) devices.
	EnableParavirtualization *bool `json:"enableParavirtualization,omitempty"`
	// Family of the guest system.
	OsType OsType `json:"osType,omitempty"`
	// Firmware of the VM.
	Bootloader BootloaderType `json:"bootloader,omitempty"`
	// VirtualMachineClass that sets the CPU model, placement and sizing policies.
	VirtualMachineClassName string `json:"virtualMachineClassName"`
	// Virtual CPU.
	CPU CPUSpec `json:"cpu"`
	// Memory.
	Memory MemorySpec `json:"memory"`
	// Images and disks attached to the VM, in boot order by default.
	// +listType=atomic
	BlockDeviceRefs []BlockDeviceSpecRef `json:"blockDeviceRefs"`
	// Guest configuration at first boot.
	Provisioning *Provisioning `json:"provisioning,omitempty"`
	// Live migration behaviour.
	LiveMigrationPolicy LiveMigrationPolicy `json:"liveMigrationPolicy,omitempty"`
	// Network interfaces.
	// +listType=atomic
	Networks []NetworksSpec `json:"networks,omitempty"`
	// USB devices passed to the VM.
	// +listType=atomic
	USBDevices []USBDeviceSpecRef `json:"usbDevices,omitempty"`
	// GPUs requested for the VM.
	// +listType=atomic
	GPUs []GPUSpec `json:"gpus,omitempty"`
}

// BlockDeviceStatusRef reports one block device of the VM.
type BlockDeviceStatusRef struct {
	// Kind of the device.
	Kind BlockDeviceKind `json:"kind"`
	// Name of the device.
	Name string `json:"name"`
	// Size of the device.
	Size string `json:"size"`
	// Device name in the guest.
	Target string `json:"target,omitempty"`
	// True when attached to the running VM.
	Attached bool `json:"attached"`
	// VirtualMachineBlockDeviceAttachment that attached it, if any.
	VirtualMachineBlockDeviceAttachmentName string `json:"virtualMachineBlockDeviceAttachmentName,omitempty"`
	// True when attached while the VM was running.
	Hotplugged bool `json:"hotplugged,omitempty"`
	// Boot priority.
	BootOrder *int `json:"bootOrder,omitempty"`
}

// MigrationResult is the outcome of a live migration.
// +enum
type MigrationResult string

const (
	MigrationResultSucceeded MigrationResult = "Succeeded"
	MigrationResultFailed    MigrationResult = "Failed"
)

// VirtualMachineLocation is a node and pod of a migration.
type VirtualMachineLocation struct {
	// Node name.
	Node string `json:"node,omitempty"`
	// Pod name.
	Pod string `json:"pod,omitempty"`
}

// VirtualMachineMigrationState describes the last live migration.
type VirtualMachineMigrationState struct {
	// When the migration started.
	StartTimestamp *metav1.Time `json:"startTimestamp,omitempty"`
	// When the migration ended.
	EndTimestamp *metav1.Time `json:"endTimestamp,omitempty"`
	// Where the VM moved to.
	Target VirtualMachineLocation `json:"target,omitempty"`
	// Where the VM moved from.
	Source VirtualMachineLocation `json:"source,omitempty"`
	// Outcome.
	Result MigrationResult `json:"result,omitempty"`
}

// VirtualMachinePhaseTransitionTimestamp records when the VM entered a phase.
type VirtualMachinePhaseTransitionTimestamp struct {
	// Phase entered.
	Phase MachinePhase `json:"phase,omitempty"`
	// When.
	Timestamp *metav1.Time `json:"timestamp,omitempty"`
}

// VirtualMachineLaunchTimeDuration breaks down how long the VM took to start.
type VirtualMachineLaunchTimeDuration struct {
	// Time spent waiting for dependencies.
	WaitingForDependencies *metav1.Duration `json:"waitingForDependencies,omitempty"`
	// Time from start to a running VM.
	VirtualMachineStarting *metav1.Duration `json:"virtualMachineStarting,omitempty"`
	// Time from a running VM to a ready guest agent.
	GuestOSAgentStarting *metav1.Duration `json:"guestOSAgentStarting,omitempty"`
}

// VirtualMachineStats holds VM statistics.
type VirtualMachineStats struct {
	// Phase history.
	// +listType=atomic
	PhasesTransitions []VirtualMachinePhaseTransitionTimestamp `json:"phasesTransitions,omitempty"`
	// Durations of the start steps.
	LaunchTimeDuration VirtualMachineLaunchTimeDuration `json:"launchTimeDuration,omitempty"`
	// When the VM last started.
	LastStartTime *metav1.Time `json:"lastStartTime,omitempty"`
}

// VirtualMachinePod is a pod that runs the VM.
type VirtualMachinePod struct {
	// Pod name.
	Name string `json:"name"`
	// True for the pod the VM runs in now.
	Active bool `json:"active"`
}

// CPUTopology is the sockets and cores given to the guest.
type CPUTopology struct {
	// Cores in each socket.
	CoresPerSocket int `json:"coresPerSocket"`
	// Number of sockets.
	Sockets int `json:"sockets"`
}

// CPUStatus reports the CPU the VM runs with.
type CPUStatus struct {
	// Number of cores.
	Cores int `json:"cores"`
	// Guaranteed share of each core.
	CoreFraction string `json:"coreFraction,omitempty"`
	// CPU requested from Kubernetes.
	RequestedCores resource.Quantity `json:"requestedCores,omitempty"`
	// CPU overhead of the hypervisor.
	RuntimeOverhead resource.Quantity `json:"runtimeOverhead,omitempty"`
	// Sockets and cores given to the guest.
	Topology CPUTopology `json:"topology,omitempty"`
}

// MemoryStatus reports the memory the VM runs with.
type MemoryStatus struct {
	// Memory size.
	Size resource.Quantity `json:"size"`
	// Memory overhead of the hypervisor.
	RuntimeOverhead resource.Quantity `json:"runtimeOverhead,omitempty"`
}

// ResourcesStatus reports the resources the VM runs with.
type ResourcesStatus struct {
	// CPU.
	CPU CPUStatus `json:"cpu,omitempty"`
	// Memory.
	Memory MemoryStatus `json:"memory,omitempty"`
}

// Versions reports the versions of the hypervisor parts.
type Versions struct {
	// QEMU version.
	Qemu string `json:"qemu,omitempty"`
	// libvirt version.
	Libvirt string `json:"libvirt,omitempty"`
}

// RecommendedCPU is a CPU setting the platform recommends.
type RecommendedCPU struct {
	// Recommended core fraction.
	CoreFraction string `json:"coreFraction,omitempty"`
}

// RecommendedResources are resource settings the platform recommends.
type RecommendedResources struct {
	// CPU recommendation.
	CPU *RecommendedCPU `json:"cpu,omitempty"`
}

// USBAddress is where a USB device sits in the guest.
type USBAddress struct {
	// Bus number.
	Bus int `json:"bus,omitempty"`
	// Port number.
	Port int `json:"port,omitempty"`
}

// USBDeviceStatusRef reports a USB device of the VM.
type USBDeviceStatusRef struct {
	// Name of the USBDevice.
	Name string `json:"name"`
	// True when attached.
	Attached bool `json:"attached"`
	// True when the device is ready.
	Ready bool `json:"ready"`
	// Address in the guest.
	Address *USBAddress `json:"address,omitempty"`
	// True when attached while the VM was running.
	Hotplugged bool `json:"hotplugged,omitempty"`
}

// NetworksStatus reports a network interface of the VM.
type NetworksStatus struct {
	// Interface number.
	ID *int `json:"id,omitempty"`
	// Kind of network.
	Type NetworksType `json:"type"`
	// Name of the network.
	Name string `json:"name,omitempty"`
	// MAC address.
	MAC string `json:"macAddress,omitempty"`
	// VirtualMachineMACAddress in use.
	VirtualMachineMACAddressName string `json:"virtualMachineMACAddressName,omitempty"`
	// IP address.
	IPAddress string `json:"ipAddress,omitempty"`
}

// GuestOSInfo describes the guest system as reported by its agent.
type GuestOSInfo struct {
	// Name of the system.
	Name string `json:"name,omitempty"`
	// Kernel release.
	KernelRelease string `json:"kernelRelease,omitempty"`
	// System version.
	Version string `json:"version,omitempty"`
	// Readable name.
	PrettyName string `json:"prettyName,omitempty"`
	// Version identifier.
	VersionID string `json:"versionId,omitempty"`
	// Kernel version.
	KernelVersion string `json:"kernelVersion,omitempty"`
	// Machine architecture.
	Machine string `json:"machine,omitempty"`
	// System identifier.
	ID string `json:"id,omitempty"`
}

// VirtualMachineStatus is what the controller observed.
type VirtualMachineStatus struct {
	// Lifecycle phase.
	Phase MachinePhase `json:"phase,omitempty"`
	// Node the VM runs on.
	Node string `json:"nodeName,omitempty"`
	// VirtualMachineIPAddress in use.
	VirtualMachineIPAddress string `json:"virtualMachineIPAddressName,omitempty"`
	// Main IP address.
	IPAddress string `json:"ipAddress,omitempty"`
	// Block devices and their state.
	// +listType=atomic
	BlockDeviceRefs []BlockDeviceStatusRef `json:"blockDeviceRefs,omitempty"`
	// Guest system reported by the agent.
	GuestOSInfo *GuestOSInfo `json:"guestOSInfo,omitempty"`
	// Statistics.
	Stats *VirtualMachineStats `json:"stats,omitempty"`
	// Last live migration.
	MigrationState *VirtualMachineMigrationState `json:"migrationState,omitempty"`
	// Latest observations of the VM state.
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Spec changes that wait for a restart to apply.
	// +listType=atomic
	RestartAwaitingChanges []runtime.RawExtension `json:"restartAwaitingChanges,omitempty"`
	// Generation of the spec the status reflects.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Pods that run the VM.
	// +listType=atomic
	VirtualMachinePods []VirtualMachinePod `json:"virtualMachinePods,omitempty"`
	// Resources the VM runs with.
	Resources *ResourcesStatus `json:"resources,omitempty"`
	// Versions of the hypervisor parts.
	Versions *Versions `json:"versions,omitempty"`
	// Resource settings the platform recommends.
	RecommendedResources *RecommendedResources `json:"recommendedResources,omitempty"`
	// USB devices and their state.
	// +listType=atomic
	USBDevices []USBDeviceStatusRef `json:"usbDevices,omitempty"`
	// Network interfaces and their state.
	// +listType=atomic
	Networks []NetworksStatus `json:"networks,omitempty"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachine is a virtual machine: CPU, memory, block devices and how it runs.
type VirtualMachine struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Desired machine.
	Spec VirtualMachineSpec `json:"spec"`
	// Observed state.
	Status VirtualMachineStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineList is a list of VirtualMachines.
type VirtualMachineList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// +listType=atomic
	Items []VirtualMachine `json:"items"`
}
