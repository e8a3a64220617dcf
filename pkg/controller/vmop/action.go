package vmop

import (
	"context"

	"k8s.io/utils/ptr"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// action is what one operation type does to a VM.
type action struct {
	// verb names the action in messages ("start").
	verb string
	// inProgress is the Completed reason while the operation runs, unless check says better.
	inProgress CompletedReason
	// vmEvent is the reason of the event on the VM when the signal is sent.
	vmEvent string
	// allowed says whether the runPolicy lets the operation have an effect.
	allowed func(virtv1.RunPolicy) bool
	// refuse says why the VM's state rules the operation out, with the Completed reason;
	// "" when it does not.
	refuse func(c *Controller, op *virtv1.VirtualMachineOperation, vm *virtv1.VirtualMachine) (CompletedReason, string)
	// send makes the VM do it; it is idempotent and runs on every sync until the end.
	send func(c *Controller, ctx context.Context, op *virtv1.VirtualMachineOperation, vm *virtv1.VirtualMachine) error
	// check looks for the result.
	check func(c *Controller, ctx context.Context, op *virtv1.VirtualMachineOperation, vm *virtv1.VirtualMachine) (result, error)
	// abandon undoes what an operation that ended without success left running (it runs on
	// deletion too); nil when there is nothing to undo.
	abandon func(c *Controller, ctx context.Context, op *virtv1.VirtualMachineOperation) error
}

var actions = map[virtv1.VMOPType]*action{
	virtv1.VMOPTypeStart: {
		verb: "start", inProgress: StartInProgress, vmEvent: EventStartRequested,
		allowed: userControlled, refuse: byPhase(refuseStart), send: (*Controller).sendStart, check: (*Controller).started,
	},
	virtv1.VMOPTypeStop: {
		verb: "stop", inProgress: StopInProgress, vmEvent: EventStopRequested,
		allowed: userControlled, refuse: byPhase(refuseStop), send: (*Controller).sendStop, check: (*Controller).stopped,
	},
	virtv1.VMOPTypeRestart: {
		verb: "restart", inProgress: RestartInProgress, vmEvent: EventRestartRequested,
		allowed: func(p virtv1.RunPolicy) bool { return p != virtv1.AlwaysOffPolicy }, refuse: byPhase(refuseRestart),
		send: (*Controller).sendRestart, check: (*Controller).restarted,
	},
	// Evict and Migrate are the same live migration (KubeVirt evicts by migrating); Migrate
	// may narrow the target nodes.
	virtv1.VMOPTypeEvict: {
		verb: "evict", inProgress: MigrationPending, vmEvent: EventEvictRequested,
		allowed: anyPolicy, refuse: (*Controller).refuseMigration, send: (*Controller).sendMigration,
		check: (*Controller).migrated, abandon: (*Controller).abortMigration,
	},
	virtv1.VMOPTypeMigrate: {
		verb: "migrate", inProgress: MigrationPending, vmEvent: EventMigrateRequested,
		allowed: anyPolicy, refuse: (*Controller).refuseMigration, send: (*Controller).sendMigration,
		check: (*Controller).migrated, abandon: (*Controller).abortMigration,
	},
}

// resultState is where an operation stands.
type resultState int

const (
	waiting resultState = iota
	succeeded
	failed
)

// result is what check found: the state, the Completed reason (while waiting, "" keeps the
// action's inProgress; when failed, why) and a message for the user.
type result struct {
	state  resultState
	reason CompletedReason
	msg    string
}

func waitingFor(msg string) result { return result{state: waiting, msg: msg} }

func waitingAs(reason CompletedReason, msg string) result {
	return result{state: waiting, reason: reason, msg: msg}
}

func success(msg string) result { return result{state: succeeded, msg: msg} }

func failure(reason CompletedReason, msg string) result {
	return result{state: failed, reason: reason, msg: msg}
}

// anyPolicy: an operation that leaves the power state alone suits every runPolicy.
func anyPolicy(virtv1.RunPolicy) bool { return true }

func forced(op *virtv1.VirtualMachineOperation) bool { return ptr.Deref(op.Spec.Force, false) }

// byPhase turns a check of the VM's phase into a refusal with NotApplicableForVMPhase.
func byPhase(refuse func(vm *virtv1.VirtualMachine, force bool) string) func(*Controller, *virtv1.VirtualMachineOperation, *virtv1.VirtualMachine) (CompletedReason, string) {
	return func(_ *Controller, op *virtv1.VirtualMachineOperation, vm *virtv1.VirtualMachine) (CompletedReason, string) {
		if why := refuse(vm, forced(op)); why != "" {
			return NotApplicableForVMPhase, why
		}
		return "", ""
	}
}
