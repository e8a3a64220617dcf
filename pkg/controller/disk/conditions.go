package disk

// Condition types and reasons of VirtualDisk (vdcondition), spelled as the upstream API
// documents them.

// ConditionType is a status.conditions[].type.
type ConditionType string

const (
	DatasourceReadyType   ConditionType = "DatasourceReady"
	ReadyType             ConditionType = "Ready"
	ResizingType          ConditionType = "Resizing"
	StorageClassReadyType ConditionType = "StorageClassReady"
	InUseType             ConditionType = "InUse"
	TerminatingType       ConditionType = "Terminating"
)

// DatasourceReadyReason explains DatasourceReady.
type DatasourceReadyReason string

const (
	DatasourceReady                 DatasourceReadyReason = "DatasourceReady"
	ContainerRegistrySecretNotFound DatasourceReadyReason = "ContainerRegistrySecretNotFound"
	ImageNotReady                   DatasourceReadyReason = "ImageNotReady"
	ClusterImageNotReady            DatasourceReadyReason = "ClusterImageNotReady"
	// VirtualDiskSnapshotNotReady is spelled "VirtualDiskSnapshot" upstream.
	VirtualDiskSnapshotNotReady DatasourceReadyReason = "VirtualDiskSnapshot"
	ImageNotFound               DatasourceReadyReason = "ImageNotFound"
	ClusterImageNotFound        DatasourceReadyReason = "ClusterImageNotFound"
)

// ReadyReason explains Ready.
type ReadyReason string

const (
	WaitForUserUpload            ReadyReason = "WaitForUserUpload"
	WaitForUserUploadTimeout     ReadyReason = "WaitForUserUploadTimeout"
	Provisioning                 ReadyReason = "Provisioning"
	ProvisioningNotStarted       ReadyReason = "ProvisioningNotStarted"
	WaitingForFirstConsumer      ReadyReason = "WaitingForFirstConsumer"
	ProvisioningFailed           ReadyReason = "ProvisioningFailed"
	ProvisioningFailedTerminally ReadyReason = "ProvisioningFailedTerminally"
	Ready                        ReadyReason = "Ready"
	Lost                         ReadyReason = "PVCLost"
	DatasourceIsNotReady         ReadyReason = "DatasourceIsNotReady"
	DatasourceIsNotFound         ReadyReason = "DatasourceIsNotFound"
	StorageClassIsNotReady       ReadyReason = "StorageClassIsNotReady"
)

// ResizedReason explains Resizing.
type ResizedReason string

const (
	InProgress ResizedReason = "InProgress"
)

// StorageClassReadyReason explains StorageClassReady. StorageClassNotFound is the upstream
// string (vdcondition lists it among the migration reasons).
type StorageClassReadyReason string

const (
	StorageClassReady    StorageClassReadyReason = "StorageClassReady"
	StorageClassNotReady StorageClassReadyReason = "StorageClassNotReady"
	StorageClassNotFound StorageClassReadyReason = "StorageClassNotFound"
)

// InUseReason explains InUse.
type InUseReason string

const (
	UsedForImageCreation     InUseReason = "UsedForImageCreation"
	AttachedToVirtualMachine InUseReason = "AttachedToVirtualMachine"
	NotInUse                 InUseReason = "NotInUse"
)

// TerminatingReason explains Terminating.
type TerminatingReason string

const (
	CleanupPending TerminatingReason = "CleanupPending"
)

// Event reasons.
const (
	EventProvisioningStarted = "ProvisioningStarted"
	EventProvisioningRetried = "ProvisioningRetried"
	EventProvisioningFailed  = "ProvisioningFailed"
	EventDiskReady           = "DiskReady"
	EventUploadTimeout       = "UploadTimedOut"
	EventPVCLost             = "PVCLost"
	EventResizing            = "Resizing"
	EventSpecChanged         = "SpecChanged"
)
