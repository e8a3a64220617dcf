package image

// Condition types and reasons of VirtualImage (vicondition) and ClusterVirtualImage
// (cvicondition), spelled as the upstream API documents them. ClusterVirtualImages use the
// same strings; StorageClassReady and the PVC reasons apply to VirtualImages only.

// ConditionType is a status.conditions[].type.
type ConditionType string

const (
	DatasourceReadyType   ConditionType = "DatasourceReady"
	ReadyType             ConditionType = "Ready"
	StorageClassReadyType ConditionType = "StorageClassReady"
	InUseType             ConditionType = "InUse"
	TerminatingType       ConditionType = "Terminating"
)

// DatasourceReadyReason explains DatasourceReady.
type DatasourceReadyReason string

const (
	DatasourceReady                     DatasourceReadyReason = "DatasourceReady"
	ContainerRegistrySecretNotFound     DatasourceReadyReason = "ContainerRegistrySecretNotFound"
	ImageNotReady                       DatasourceReadyReason = "ImageNotReady"
	ClusterImageNotReady                DatasourceReadyReason = "ClusterImageNotReady"
	VirtualDiskNotReady                 DatasourceReadyReason = "VirtualDiskNotReady"
	VirtualDiskNotReadyForUse           DatasourceReadyReason = "VirtualDiskNotReadyForUse"
	VirtualDiskAttachedToVirtualMachine DatasourceReadyReason = "VirtualDiskAttachedToVirtualMachine"
	VirtualDiskSnapshotNotReady         DatasourceReadyReason = "VirtualDiskSnapshotNotReady"
)

// ReadyReason explains Ready.
type ReadyReason string

const (
	WaitForUserUpload            ReadyReason = "WaitForUserUpload"
	WaitForUserUploadTimeout     ReadyReason = "WaitForUserUploadTimeout"
	Provisioning                 ReadyReason = "Provisioning"
	ProvisioningNotStarted       ReadyReason = "ProvisioningNotStarted"
	ProvisioningFailed           ReadyReason = "ProvisioningFailed"
	ProvisioningFailedTerminally ReadyReason = "ProvisioningFailedTerminally"
	StorageClassNotReady         ReadyReason = "StorageClassNotReady"
	Ready                        ReadyReason = "Ready"
	DatasourceNotReady           ReadyReason = "DatasourceNotReady"
	ImageLost                    ReadyReason = "ImageLost"
	PVCLost                      ReadyReason = "PVCLost"
)

// StorageClassReadyReason explains StorageClassReady.
type StorageClassReadyReason string

const (
	StorageClassReady    StorageClassReadyReason = "StorageClassReady"
	StorageClassNotFound StorageClassReadyReason = "StorageClassNotFound"
	DVCRTypeUsed         StorageClassReadyReason = "DVCRTypeUsed"
)

// InUseReason explains InUse.
type InUseReason string

const (
	AttachedToVirtualMachine InUseReason = "AttachedToVirtualMachine"
	NotInUse                 InUseReason = "NotInUse"
)

// TerminatingReason explains Terminating.
type TerminatingReason string

const (
	CleanupPending TerminatingReason = "CleanupPending"
)

// Event reasons (CamelCase, shown by kubectl describe).
const (
	EventProvisioningStarted = "ProvisioningStarted"
	EventProvisioningRetried = "ProvisioningRetried"
	EventProvisioningFailed  = "ProvisioningFailed"
	EventProvisioningDone    = "ImageReady"
	EventUploadTimeout       = "UploadTimedOut"
	EventPVCLost             = "PVCLost"
	EventSpecChanged         = "SpecChanged"
)
