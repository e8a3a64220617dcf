package vmstream

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/virtplane/virtplane/pkg/apis/subresources"
	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// Connecter is the REST of one stream subresource of virtualmachines, in either group. The
// generic server has authorized the request (verb get on virtualmachines/<stream>) and
// decoded the query into the stream's options.
//
// A GET with ?probe=true and no upgrade (console and vnc) answers 200 with a SessionStatus
// instead of opening a session.
type Connecter struct {
	// Getter reads VMs from the storage of virtualization.deckhouse.io.
	Getter rest.Getter
	// Stream is the subresource served.
	Stream Stream
	// Proxy opens KubeVirt's side and holds the sessions.
	Proxy *Proxy
}

var _ rest.Connecter = &Connecter{}

// New implements rest.Storage: the subresource's kind is its options kind
// (VirtualMachineConsole, VirtualMachineVNC, VirtualMachinePortForward), not the VM's.
func (c *Connecter) New() runtime.Object { return c.Stream.options() }

// Destroy implements rest.Storage; the main resource owns the storage.
func (c *Connecter) Destroy() {}

// ConnectMethods implements rest.Connecter: a websocket opens with a GET.
func (c *Connecter) ConnectMethods() []string { return []string{http.MethodGet} }

// NewConnectOptions implements rest.Connecter: the options come from the query, no subpath.
func (c *Connecter) NewConnectOptions() (runtime.Object, bool, string) {
	return c.Stream.options(), false, ""
}

// Connect implements rest.Connecter. The checks that need no upgrade happen here and fail
// as ordinary API errors: bad options 400, no such VM 404, a VM that is not running 409.
func (c *Connecter) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	subpath, probe, err := c.target(opts)
	if err != nil {
		return nil, err
	}
	namespace, _ := genericapirequest.NamespaceFrom(ctx)
	obj, err := c.Getter.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	vm, ok := obj.(*virtualization.VirtualMachine)
	if !ok {
		return nil, apierrors.NewInternalError(fmt.Errorf("vmstream: expected a VirtualMachine, got %T", obj))
	}
	key := sessionKey{stream: c.Stream, namespace: namespace, name: name}
	if probe {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { c.Proxy.serveProbe(w, key) }), nil
	}
	if err := streamable(vm); err != nil {
		return nil, err
	}
	user := "an unknown user"
	if u, ok := genericapirequest.UserFrom(ctx); ok && u.GetName() != "" {
		user = u.GetName()
	}
	ref := &corev1.ObjectReference{
		APIVersion: v1alpha2.SchemeGroupVersion.String(), Kind: "VirtualMachine",
		Namespace: vm.Namespace, Name: vm.Name, UID: vm.UID, ResourceVersion: vm.ResourceVersion,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.Proxy.serve(w, r, responder, ref, key, subpath, user)
	}), nil
}

// target checks the options and returns the path of KubeVirt's subresource and whether the
// request is a probe.
func (c *Connecter) target(opts runtime.Object) (subpath string, probe bool, err error) {
	switch o := opts.(type) {
	case *subresources.VirtualMachineConsole:
		return string(Console), o.Probe, nil
	case *subresources.VirtualMachineVNC:
		return string(VNC), o.Probe, nil
	case *subresources.VirtualMachinePortForward:
		if o.Port < 1 || o.Port > 65535 {
			if o.Port == 0 {
				return "", false, apierrors.NewBadRequest("portforward needs the guest's port: ?port=1-65535")
			}
			return "", false, apierrors.NewBadRequest(fmt.Sprintf("port %d is not a port number (1-65535)", o.Port))
		}
		protocol := o.Protocol
		switch protocol {
		case "":
			protocol = "tcp"
		case "tcp", "udp":
		default:
			return "", false, apierrors.NewBadRequest(fmt.Sprintf("protocol %q is not supported: use tcp or udp", o.Protocol))
		}
		return string(PortForward) + "/" + strconv.Itoa(o.Port) + "/" + protocol, false, nil
	}
	return "", false, apierrors.NewInternalError(fmt.Errorf("vmstream: unexpected options %T for %s", opts, c.Stream))
}

// streamable refuses a VM whose VMI does not run: KubeVirt has no stream before it starts or
// after it stops. Clients wait while the VM starts: our d8 retries on 409, the upstream d8 on a
// message that says "not Running".
func streamable(vm *virtualization.VirtualMachine) error {
	switch vm.Status.Phase {
	case virtualization.MachineRunning, virtualization.MachineMigrating:
		return nil
	case "":
		return conflict(vm.Name, fmt.Sprintf("virtual machine %s has no phase yet, not Running", vm.Name))
	}
	return conflict(vm.Name, fmt.Sprintf("virtual machine %s is %s, not Running", vm.Name, vm.Status.Phase))
}

// conflict is a 409 whose message is only the reason, which d8 prints while it waits.
func conflict(name, message string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusConflict,
		Reason:  metav1.StatusReasonConflict,
		Message: message,
		Details: &metav1.StatusDetails{Name: name, Kind: "virtualmachines"},
	}}
}
