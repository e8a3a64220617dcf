package subresources

import (
	"context"
	"net/http"

	"github.com/coder/websocket"
	"k8s.io/klog/v2"

	"github.com/virtplane/virtplane/pkg/localnode/virt"
)

// Group and Version are KubeVirt's subresource API the handler serves.
const (
	Group   = "subresources.kubevirt.io"
	Version = "v1"
)

// PlainSubprotocol is KubeVirt's websocket subprotocol for raw byte streams.
const PlainSubprotocol = "plain.kubevirt.io"

const groupVersionPath = "/apis/" + Group + "/" + Version

// LookupFunc returns the sockets of a running VM of the VMI namespace/name, false when this
// machine runs no such VM. (*localnode.Node).VMSockets is one.
type LookupFunc func(namespace, name string) (virt.Sockets, bool)

// Option configures the handler.
type Option func(*handler)

// WithMonitor sets how the handler reaches a VM's QEMU monitor for port-forward hostfwd
// rules. The default dials the VM's QMP socket for every command, which only works while no
// one else holds that socket: QEMU's QMP chardev takes one client at a time, and a running
// qemu.Machine holds it, so the node passes a MonitorFunc backed by (*qemu.Machine).QMP.
func WithMonitor(f MonitorFunc) Option {
	return func(h *handler) { h.monitor = f }
}

type handler struct {
	lookup   LookupFunc
	monitor  MonitorFunc
	consoles *consoleSessions
	mux      *http.ServeMux
}

// New returns the handler of the subresources.kubevirt.io/v1 API for the VMs lookup finds.
func New(lookup LookupFunc, opts ...Option) http.Handler {
	h := &handler{
		lookup:   lookup,
		monitor:  SocketMonitor,
		consoles: newConsoleSessions(),
		mux:      http.NewServeMux(),
	}
	for _, o := range opts {
		o(h)
	}
	const vmi = groupVersionPath + "/namespaces/{namespace}/virtualmachineinstances/{name}"
	registerDiscovery(h.mux)
	h.mux.HandleFunc("GET "+vmi+"/console", h.serveConsole)
	h.mux.HandleFunc("GET "+vmi+"/vnc", h.serveVNC)
	h.mux.HandleFunc("GET "+vmi+"/portforward/{port}", h.servePortForward)
	h.mux.HandleFunc("GET "+vmi+"/portforward/{port}/{protocol}", h.servePortForward)
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// vmSockets finds the VM of the request's VMI, answering 404 when this machine runs none.
func (h *handler) vmSockets(w http.ResponseWriter, r *http.Request) (namespace, name string, s virt.Sockets, ok bool) {
	namespace, name = r.PathValue("namespace"), r.PathValue("name")
	s, ok = h.lookup(namespace, name)
	if !ok {
		writeStatus(w, http.StatusNotFound, "NotFound",
			"virtualmachineinstance "+namespace+"/"+name+" has no running VM on this machine")
	}
	return namespace, name, s, ok
}

// accept upgrades the request to a websocket of raw binary messages.
func accept(w http.ResponseWriter, r *http.Request) (*websocket.Conn, bool) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: []string{PlainSubprotocol},
		// Requests come through kube-apiserver, which authenticated and authorized them;
		// there is no browser session here that a foreign origin could ride on.
		InsecureSkipVerify: true,
	})
	if err != nil {
		// Accept has answered the request already.
		klog.FromContext(r.Context()).V(2).Info("Websocket upgrade failed", "path", r.URL.Path, "err", err)
		return nil, false
	}
	return ws, true
}

// logger is the request's logger with the VMI it concerns.
func logger(ctx context.Context, namespace, name, stream string) klog.Logger {
	return klog.FromContext(ctx).WithValues("vmi", klog.KRef(namespace, name), "stream", stream)
}
