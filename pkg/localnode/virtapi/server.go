package virtapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapifilters "k8s.io/apiserver/pkg/endpoints/filters"
	apirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/options"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/virtplane/virtplane/pkg/kubevirt"
	"github.com/virtplane/virtplane/pkg/localnode/subresources"
)

// shutdownTimeout bounds the wait for requests in flight when the server stops; upgraded
// streams are not waited for.
const shutdownTimeout = 5 * time.Second

// Config is what virt-api needs.
type Config struct {
	// BindAddress is the host:port kube-apiserver reaches it on.
	BindAddress string
	// CertFile and KeyFile are its serving certificate (the APIService's caBundle signs it).
	CertFile, KeyFile string
	// Kubeconfig is the kubeconfig of the delegated authentication and authorization: it
	// reads kube-apiserver's extension-apiserver-authentication ConfigMap (front-proxy CA and
	// headers) and creates TokenReviews and SubjectAccessReviews.
	Kubeconfig string
	// Client reads Nodes; KubeVirt reads VMIs.
	Client   kubernetes.Interface
	KubeVirt kubevirt.Interface
	// HandlerTLS is the client side of the mutual TLS to the nodes' handler endpoints: a
	// client certificate and the CA that signed the handlers' certificates.
	HandlerTLS *tls.Config
}

// Server is a prepared virt-api; Run serves it.
type Server struct {
	serving *server.SecureServingInfo
	handler http.Handler
}

// codecs encode the metav1.Status answers of failed requests.
var codecs = func() serializer.CodecFactory {
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	return serializer.NewCodecFactory(scheme)
}()

// New binds the listener and sets up authentication and authorization; it fails when the
// address is taken or kube-apiserver's authentication configuration cannot be read.
func New(cfg Config) (*Server, error) {
	if cfg.BindAddress == "" || cfg.CertFile == "" || cfg.KeyFile == "" || cfg.Kubeconfig == "" ||
		cfg.Client == nil || cfg.KubeVirt == nil || cfg.HandlerTLS == nil {
		return nil, errors.New("virt-api needs a bind address, a serving certificate, a kubeconfig, clients and the handlers' TLS")
	}
	l, err := net.Listen("tcp", cfg.BindAddress)
	if err != nil {
		return nil, fmt.Errorf("virt-api listening on %s: %w", cfg.BindAddress, err)
	}
	s, err := newServer(cfg, l)
	if err != nil {
		l.Close()
		return nil, err
	}
	return s, nil
}

func newServer(cfg Config, l net.Listener) (*Server, error) {
	serving := options.NewSecureServingOptions()
	serving.Listener = l
	serving.ServerCert.CertKey = options.CertKey{CertFile: cfg.CertFile, KeyFile: cfg.KeyFile}
	var servingInfo *server.SecureServingInfo
	if err := serving.ApplyTo(&servingInfo); err != nil {
		return nil, fmt.Errorf("virt-api serving: %w", err)
	}

	authn := options.NewDelegatingAuthenticationOptions()
	authn.RemoteKubeConfigFile = cfg.Kubeconfig
	var authnInfo server.AuthenticationInfo
	if err := authn.ApplyTo(&authnInfo, servingInfo, nil); err != nil {
		return nil, fmt.Errorf("virt-api authentication: %w", err)
	}
	authz := options.NewDelegatingAuthorizationOptions()
	authz.RemoteKubeConfigFile = cfg.Kubeconfig
	var authzInfo server.AuthorizationInfo
	if err := authz.ApplyTo(&authzInfo); err != nil {
		return nil, fmt.Errorf("virt-api authorization: %w", err)
	}

	mux := http.NewServeMux()
	mux.Handle("/", subresources.Discovery())
	proxy := newStreamProxy(cfg.Client, cfg.KubeVirt, cfg.HandlerTLS)
	const vmi = "GET /apis/" + subresources.Group + "/" + subresources.Version + "/namespaces/{namespace}/virtualmachineinstances/{name}"
	for _, stream := range []string{"/console", "/vnc", "/portforward/{port}", "/portforward/{port}/{protocol}"} {
		mux.Handle(vmi+stream, proxy)
	}

	// The order of k8s.io/apiserver's own chain: request info, then who, then whether.
	var h http.Handler = mux
	h = genericapifilters.WithAuthorization(h, authzInfo.Authorizer, codecs)
	h = genericapifilters.WithAuthentication(h, requireIdentity(authnInfo.Authenticator, sets.New(authz.AlwaysAllowPaths...)),
		genericapifilters.Unauthorized(codecs), nil, authnInfo.RequestHeaderConfig)
	h = genericapifilters.WithRequestInfo(h, &apirequest.RequestInfoFactory{
		APIPrefixes: sets.NewString("api", "apis"), GrouplessAPIPrefixes: sets.NewString("api"),
	})
	return &Server{serving: servingInfo, handler: h}, nil
}

// requireIdentity refuses the anonymous user that the delegating authenticator falls back to
// (it always allows anonymous requests), except on the health checks: a stream needs a
// caller, and an unauthenticated one gets 401 rather than a 403 of system:anonymous.
func requireIdentity(auth authenticator.Request, openPaths sets.Set[string]) authenticator.Request {
	return authenticator.RequestFunc(func(req *http.Request) (*authenticator.Response, bool, error) {
		resp, ok, err := auth.AuthenticateRequest(req)
		if ok && resp.User.GetName() == user.Anonymous && !openPaths.Has(req.URL.Path) {
			return nil, false, nil
		}
		return resp, ok, err
	})
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.serving.Listener.Addr() }

// Run serves until ctx ends, then waits a bounded time for requests in flight.
func (s *Server) Run(ctx context.Context) error {
	stopped, _, err := s.serving.Serve(s.handler, shutdownTimeout, ctx.Done())
	if err != nil {
		return fmt.Errorf("virt-api: %w", err)
	}
	klog.FromContext(ctx).Info("Serving KubeVirt's subresource API (virt-api stand-in)", "address", s.Addr().String())
	<-ctx.Done()
	<-stopped
	return nil
}
