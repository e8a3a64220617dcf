package vmstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/coder/websocket"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/httpstream"
	registryrest "k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
)

// Proxy opens the streams of VMs on KubeVirt's side and holds the sessions open in this
// server. One Proxy serves both groups, so a console session opened through one group takes
// over a session opened through the other.
type Proxy struct {
	upstream *upstream
	sessions *sessions
	// events tells a VM's users that a session was taken over (kubectl events); nil without a
	// kube-apiserver.
	events      record.EventRecorder
	broadcaster record.EventBroadcaster
}

// NewProxy returns a proxy that reaches KubeVirt through the kube-apiserver of cfg, the
// server's own client config (--kubeconfig). With a nil cfg (a standalone server) every stream
// is refused with 503 ServiceUnavailable.
func NewProxy(cfg *rest.Config) (*Proxy, error) {
	p := &Proxy{sessions: newSessions()}
	if cfg != nil {
		u, err := newUpstream(cfg)
		if err != nil {
			return nil, err
		}
		p.upstream = u
		kube, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		p.broadcaster = record.NewBroadcaster()
		p.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
		p.events = p.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "virtualization-apiserver"})
	}
	return p, nil
}

// Stop closes every open stream with status 1012 (service restart) and every later one at once.
// The server calls it when it shuts down: hijacked connections outlive the HTTP server.
func (p *Proxy) Stop() {
	p.sessions.stop()
	if p.broadcaster != nil {
		p.broadcaster.Shutdown()
	}
}

// SessionTakenOverReason is the reason of the Event a VM gets when a new console or VNC
// session disconnects the previous user.
const SessionTakenOverReason = "SessionTakenOver"

// recordTakeover puts an Event on the VM saying who took its console or VNC from whom, so
// the disconnected user can find out (`kubectl events --for vm/NAME`).
func (p *Proxy) recordTakeover(vm *corev1.ObjectReference, s Stream, from, by string) {
	if p.events == nil || vm == nil {
		return
	}
	p.events.Eventf(vm, corev1.EventTypeNormal, SessionTakenOverReason,
		"The %s of the virtual machine was taken over by %s; the session of %s was disconnected.", s.noun(), by, from)
}

// acceptedSubprotocols are offered to clients, the upstream CLI's first; a client that offers
// none gets the same raw byte stream.
var acceptedSubprotocols = []string{Subprotocol, KubeVirtSubprotocol}

// serve opens the stream of key for user: it takes over an exclusive stream, opens KubeVirt's
// side, and only then upgrades the client, so that a refusal reaches the client as a
// metav1.Status with KubeVirt's code rather than as a websocket that closes at once.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, responder registryrest.Responder, vm *corev1.ObjectReference, key sessionKey, subpath, user string) {
	if !httpstream.IsUpgradeRequest(r) {
		responder.Error(apierrors.NewBadRequest(fmt.Sprintf(
			"virtualmachines/%s is a websocket stream: connect with Upgrade: websocket (subprotocol %s or %s)%s",
			key.stream, Subprotocol, KubeVirtSubprotocol, probeHint(key.stream))))
		return
	}
	log := klog.FromContext(r.Context()).WithValues("vm", klog.KRef(key.namespace, key.name), "stream", subpath, "user", user)

	sess, replaced := p.sessions.start(key, user)
	defer p.sessions.end(sess)
	if replaced != "" {
		p.recordTakeover(vm, key.stream, replaced, user)
	}

	// Dialing ends early when the client goes away or a newer session takes over.
	dialCtx, cancel := context.WithCancel(sess.ctx)
	stop := context.AfterFunc(r.Context(), cancel)
	up, err := p.upstream.dial(dialCtx, key.namespace, key.name, subpath, key.stream)
	stop()
	cancel()
	if err != nil {
		if cause := context.Cause(sess.ctx); cause != nil {
			err = endedError(key.name, cause)
		}
		log.V(2).Info("Opening KubeVirt's side of a stream failed", "err", err)
		responder.Error(err)
		return
	}
	if cause := context.Cause(sess.ctx); cause != nil {
		_ = up.Close(websocket.StatusNormalClosure, truncate(cause.Error()))
		responder.Error(endedError(key.name, cause))
		return
	}
	client, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: acceptedSubprotocols,
		// Clients authenticate to kube-apiserver with their own credentials, and requests
		// reach this server only through it: there is no cookie session for another origin to
		// ride on, and browser clients (noVNC) live on other origins.
		InsecureSkipVerify: true,
	})
	if err != nil {
		// Accept has answered the request.
		log.V(2).Info("Websocket upgrade failed", "err", err)
		_ = up.Close(websocket.StatusNormalClosure, "the client's upgrade failed")
		return
	}
	client.SetReadLimit(-1)
	log.V(2).Info("Stream opened")
	bridge(sess.ctx, client, up, sess.release)
	log.V(2).Info("Stream closed", "reason", context.Cause(sess.ctx))
}

// serveProbe answers who holds an exclusive stream.
func (p *Proxy) serveProbe(w http.ResponseWriter, key sessionKey) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(p.sessions.status(key))
}

func probeHint(s Stream) string {
	if !s.exclusive() {
		return ""
	}
	return ", or GET ?probe=true to see who holds it"
}

// endedError is the answer to a session that ended before its upgrade: 409 when a newer one
// took over, 503 when the server stops.
func endedError(name string, cause error) error {
	if errors.Is(cause, errShutdown) {
		return apierrors.NewServiceUnavailable(cause.Error())
	}
	return conflict(name, cause.Error())
}
