package vm

import (
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// FailedCreateReason is the reason of the Warning Event a VM gets when its
// VirtualMachineInstance cannot be made (as KubeVirt and the ReplicaSet controller name it).
const FailedCreateReason = "FailedCreate"

// startFailure is why the controller cannot start a VM, in words a user can act on. Sync
// puts it in the VM's Running condition (InternalVirtualMachineError) and a Warning Event,
// then returns it so the queue retries with back-off: the user may fix the cause.
type startFailure struct{ msg string }

func (f *startFailure) Error() string { return f.msg }

func cannotStart(format string, args ...any) error {
	return &startFailure{msg: fmt.Sprintf(format, args...)}
}

// asStartFailure reports whether err says why the VM cannot start (as opposed to a failed
// API call worth only a retry).
func asStartFailure(err error) (*startFailure, bool) {
	var f *startFailure
	ok := errors.As(err, &f)
	return f, ok
}

// kubevirtMissingMessage is the Running condition of a VM on a cluster without KubeVirt.
const kubevirtMissingMessage = "KubeVirt's API (virtualmachineinstances.kubevirt.io/v1) is not served in this cluster: the VM cannot start until KubeVirt is installed."

// createRefused turns a refused VMI create into a start failure when retrying as it is
// cannot help; other errors (timeouts, conflicts, server errors) stay plain.
func createRefused(err error) error {
	switch {
	case apierrors.IsNotFound(err):
		return cannotStart("%s", kubevirtMissingMessage)
	case apierrors.IsInvalid(err), apierrors.IsForbidden(err), apierrors.IsBadRequest(err):
		return cannotStart("KubeVirt did not accept the VM's VirtualMachineInstance: %v.", err)
	}
	return err
}
