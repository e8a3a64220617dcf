package virtapi

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/virtplane/virtplane/pkg/kubevirt"
	"github.com/virtplane/virtplane/pkg/localnode/subresources"
)

// dialTimeout bounds connecting to a node's handler endpoint.
const dialTimeout = 10 * time.Second

var (
	vmiResource  = schema.GroupResource{Group: kvv1.GroupVersion.Group, Resource: "virtualmachineinstances"}
	groupVersion = schema.GroupVersion{Group: subresources.Group, Version: subresources.Version}
)

// streamProxy passes an authorized stream request on to the handler endpoint of the node
// that runs the VMI, with the same path. httputil.ReverseProxy carries the websocket upgrade:
// once the handler answers 101, it copies the bytes both ways until either side closes.
type streamProxy struct {
	client    kubernetes.Interface
	kubevirt  kubevirt.Interface
	transport *http.Transport
}

func newStreamProxy(client kubernetes.Interface, kv kubevirt.Interface, handlerTLS *tls.Config) *streamProxy {
	tlsConfig := handlerTLS.Clone()
	// A websocket upgrade needs HTTP/1.1.
	tlsConfig.NextProtos = []string{"http/1.1"}
	return &streamProxy{client: client, kubevirt: kv, transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: dialTimeout}).DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: dialTimeout,
		// Every stream is its own upgraded connection; there is nothing to keep idle.
		DisableKeepAlives: true,
	}}
}

func (p *streamProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	namespace, name := r.PathValue("namespace"), r.PathValue("name")
	node, addr, err := p.handlerOf(r.Context(), namespace, name)
	if err != nil {
		responsewriters.ErrorNegotiated(err, codecs, groupVersion, w, r)
		return
	}
	log := klog.FromContext(r.Context()).WithValues("vmi", klog.KRef(namespace, name), "node", node)
	log.V(2).Info("Passing the stream on to the node's handler", "path", r.URL.Path, "handler", addr)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.Host = "https", addr, addr
		},
		Transport: p.transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Info("The node's handler does not answer", "handler", addr, "err", err)
			responsewriters.ErrorNegotiated(apierrors.NewServiceUnavailable(
				fmt.Sprintf("the handler of node %s, which runs virtualmachineinstance %s/%s, does not answer: %v", node, namespace, name, err)),
				codecs, groupVersion, w, r)
		},
	}
	rp.ServeHTTP(w, r)
}

// handlerOf finds the node of a running VMI and the address of its handler endpoint. Its
// errors are API statuses: 404 without the VMI, 409 while it does not run (clients retry),
// 503 when its node serves no handler.
func (p *streamProxy) handlerOf(ctx context.Context, namespace, name string) (node, addr string, err error) {
	vmi, err := p.kubevirt.VirtualMachineInstances(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", "", err
	}
	if vmi.Status.Phase != kvv1.Running || vmi.Status.NodeName == "" {
		phase := string(vmi.Status.Phase)
		if phase == "" {
			phase = "none yet"
		}
		return "", "", apierrors.NewConflict(vmiResource, name, fmt.Errorf("VMI is not running (phase %s)", phase))
	}
	node = vmi.Status.NodeName
	n, err := p.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", "", apierrors.NewServiceUnavailable(fmt.Sprintf("node %s of virtualmachineinstance %s/%s does not exist", node, namespace, name))
	}
	if err != nil {
		return "", "", err
	}
	addr = n.Annotations[HandlerAddressAnnotation]
	if addr == "" {
		return "", "", apierrors.NewServiceUnavailable(fmt.Sprintf(
			"node %s, which runs virtualmachineinstance %s/%s, publishes no stream handler (annotation %s)", node, namespace, name, HandlerAddressAnnotation))
	}
	return node, addr, nil
}
