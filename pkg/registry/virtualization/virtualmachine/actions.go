package virtualmachine

import (
	"context"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/virtplane/virtplane/pkg/apis/subresources"
)

// StatusReasonNotImplemented is the reason of an action this server does not perform yet
// (HTTP 501). kubectl shows it as "Error from server (NotImplemented): <message>".
const StatusReasonNotImplemented metav1.StatusReason = "NotImplemented"

// ActionREST serves one of the actions of subresources.virtualization.deckhouse.io (PUT
// virtualmachines/<action>). None is implemented yet: after the usual 404 for a missing VM
// and 400 for malformed options, each answers 501 with a message that says so.
type ActionREST struct {
	main rest.Getter
	// kind is the subresource's kind; options, when set, its query options.
	kind, options func() runtime.Object
	// doing names the action in the message, e.g. "freezing the file systems of".
	doing string
	// instead is what a user can do meanwhile, if anything.
	instead string
}

var _ rest.Connecter = &ActionREST{}

// NewActionsREST returns the actions by subresource name: freeze, unfreeze, addvolume,
// removevolume and cancelevacuation. VMs are read from main.
func NewActionsREST(main rest.Getter) map[string]*ActionREST {
	return map[string]*ActionREST{
		// The request body is a VirtualMachineFreeze ({"unfreezeTimeout":"<duration>"}).
		"freeze": {main: main, kind: func() runtime.Object { return &subresources.VirtualMachineFreeze{} },
			doing: "freezing the file systems of"},
		"unfreeze": {main: main, kind: func() runtime.Object { return &subresources.VirtualMachineUnfreeze{} },
			doing: "thawing the file systems of"},
		"addvolume": {main: main, kind: func() runtime.Object { return &subresources.VirtualMachineAddVolume{} },
			options: func() runtime.Object { return &subresources.VirtualMachineAddVolume{} },
			doing:   "hot-plugging a volume into", instead: "create a VirtualMachineBlockDeviceAttachment instead"},
		"removevolume": {main: main, kind: func() runtime.Object { return &subresources.VirtualMachineRemoveVolume{} },
			options: func() runtime.Object { return &subresources.VirtualMachineRemoveVolume{} },
			doing:   "unplugging a volume from", instead: "delete its VirtualMachineBlockDeviceAttachment instead"},
		"cancelevacuation": {main: main, kind: func() runtime.Object { return &subresources.VirtualMachineCancelEvacuation{} },
			doing: "cancelling the evacuation of"},
	}
}

// New implements rest.Storage.
func (r *ActionREST) New() runtime.Object { return r.kind() }

// Destroy implements rest.Storage.
func (r *ActionREST) Destroy() {}

// ConnectMethods implements rest.Connecter: actions are PUTs, authorized as update.
func (r *ActionREST) ConnectMethods() []string { return []string{http.MethodPut} }

// NewConnectOptions implements rest.Connecter.
func (r *ActionREST) NewConnectOptions() (runtime.Object, bool, string) {
	if r.options == nil {
		return nil, false, ""
	}
	return r.options(), false, ""
}

// Connect implements rest.Connecter.
func (r *ActionREST) Connect(ctx context.Context, name string, _ runtime.Object, _ rest.Responder) (http.Handler, error) {
	if _, err := r.main.Get(ctx, name, &metav1.GetOptions{}); err != nil {
		return nil, err
	}
	message := fmt.Sprintf("%s virtual machine %s is not implemented yet in this virtualization-apiserver", r.doing, name)
	if r.instead != "" {
		message += ": " + r.instead
	}
	return nil, &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusNotImplemented,
		Reason:  StatusReasonNotImplemented,
		Message: message,
		Details: &metav1.StatusDetails{Name: name, Group: subresources.GroupName, Kind: Names.Plural},
	}}
}
