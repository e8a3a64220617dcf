package vmop

import "time"

// Condition types and reasons of VirtualMachineOperation (vmopcondition), spelled as the
// upstream API spells them; the few this project adds are marked.

// ConditionType is a status.conditions[].type.
type ConditionType string

const (
	// CompletedType is True once the operation has done what it was asked.
	CompletedType ConditionType = "Completed"
	// SignalSentType is True once the VM has been told to start, stop or restart.
	SignalSentType ConditionType = "SignalSent"
)

// CompletedReason explains Completed.
type CompletedReason string

const (
	VirtualMachineNotFound    CompletedReason = "VirtualMachineNotFound"
	NotApplicableForRunPolicy CompletedReason = "NotApplicableForVirtualMachineRunPolicy"
	NotApplicableForVMPhase   CompletedReason = "NotApplicableForVirtualMachinePhase"
	NotReadyToBeExecuted      CompletedReason = "NotReadyToBeExecuted"
	Superseded                CompletedReason = "Superseded"
	StartInProgress           CompletedReason = "StartInProgress"
	StopInProgress            CompletedReason = "StopInProgress"
	RestartInProgress         CompletedReason = "RestartInProgress"
	OperationFailed           CompletedReason = "OperationFailed"
	OperationCompleted        CompletedReason = "OperationCompleted"
	// Evict and Migrate: refusals, then the stages of KubeVirt's migration.
	NotApplicableForLiveMigrationPolicy CompletedReason = "NotApplicableForLiveMigrationPolicy"
	OtherMigrationInProgress            CompletedReason = "OtherMigrationInProgress"
	MigrationPending                    CompletedReason = "MigrationPending"
	TargetScheduling                    CompletedReason = "TargetScheduling"
	MigrationPrepareTarget              CompletedReason = "MigrationPrepareTarget"
	MigrationTargetReady                CompletedReason = "MigrationTargetReady"
	MigrationRunning                    CompletedReason = "MigrationRunning"
	// OperationNotAvailable (this project) keeps Restore and Clone Pending until they are
	// implemented.
	OperationNotAvailable CompletedReason = "OperationNotAvailable"
)

// SignalSentReason explains SignalSent.
type SignalSentReason string

const (
	SignalSentSuccess SignalSentReason = "SignalSentSuccess"
	SignalSentError   SignalSentReason = "SignalSentError"
)

// Event reasons, as upstream names them.
const (
	EventInProgress = "VirtualMachineOperationInProgress"
	EventSucceeded  = "VirtualMachineOperationSucceeded"
	EventFailed     = "VirtualMachineOperationFailed"
	// Events on the VirtualMachine, so `kubectl describe vm` tells who started or stopped it.
	EventStartRequested   = "StartRequested"
	EventStopRequested    = "StopRequested"
	EventRestartRequested = "RestartRequested"
	EventEvictRequested   = "EvictRequested"
	EventMigrateRequested = "MigrateRequested"
	// EventMigrationAborted: an operation that ended without success deleted its migration.
	EventMigrationAborted = "MigrationAborted"
)

// CleanupFinalizer is on an operation while it acts on its VM, so its deletion is seen (the
// phase becomes Terminating) before it goes.
const CleanupFinalizer = "virtualization.deckhouse.io/vmop-cleanup"

// RestartVMIUIDAnnotation on a Restart operation records the UID of the VMI it stops; the
// restart is complete when the VM runs a VMI with another UID. It is written before the VMI
// is deleted, so a retried sync never deletes the VMI the restart created.
const RestartVMIUIDAnnotation = "virtualization.deckhouse.io/restart-vmi-uid"

// MigrationNamePrefix starts the name of the VirtualMachineInstanceMigration an Evict or
// Migrate operation creates: vmop-<operation name>.
const MigrationNamePrefix = "vmop-"

// DefaultTimeout bounds an operation from the moment it starts acting on the VM.
const DefaultTimeout = 10 * time.Minute
