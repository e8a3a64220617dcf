package localnode

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"k8s.io/klog/v2"

	"github.com/virtplane/virtplane/pkg/localnode/subresources"
	"github.com/virtplane/virtplane/pkg/localnode/virt"
	"github.com/virtplane/virtplane/pkg/localnode/virtapi"
)

// HandlerConfig is the node's handler endpoint, KubeVirt's virt-handler side of the stream
// subresources: package subresources for the VMs this node runs, behind mutual TLS. Its
// address is published in the Node's virtapi.HandlerAddressAnnotation.
type HandlerConfig struct {
	// BindAddress is host:port on loopback; port 0 picks a free one.
	BindAddress string
	// CertFile and KeyFile are the node's certificate: the handler serves it, and the virt-api
	// role presents it to the handlers of other nodes. It needs both server and client usage.
	CertFile, KeyFile string
	// CAFile signs the certificates of all handlers: a handler requires a client certificate
	// it signed, and virt-api verifies the handlers with it.
	CAFile string
}

// VirtAPIConfig makes the node serve KubeVirt's subresources.kubevirt.io/v1 to
// kube-apiserver's aggregation (package virtapi); one node of the machine does.
type VirtAPIConfig struct {
	// BindAddress is the host:port the APIService's Service points at.
	BindAddress string
	// CertFile and KeyFile are the serving certificate the APIService's caBundle signs.
	CertFile, KeyFile string
	// Kubeconfig is used for delegated authentication and authorization.
	Kubeconfig string
}

// handlerTLS returns the handler endpoint's server and client TLS configurations.
func (c *HandlerConfig) handlerTLS() (serverTLS, clientTLS *tls.Config, err error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("the handler certificate: %w", err)
	}
	caPEM, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, nil, fmt.Errorf("the handler CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, nil, fmt.Errorf("the handler CA %s holds no PEM certificate", c.CAFile)
	}
	serverTLS = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		NextProtos:   []string{"http/1.1"},
	}
	clientTLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, RootCAs: pool}
	return serverTLS, clientTLS, nil
}

// streamServers are the listeners Run binds before registering the Node, so that the
// handler's address can be published at registration and a taken port fails the start.
type streamServers struct {
	handler     net.Listener
	handlerTLS  *tls.Config
	handlerAddr string
	virtAPI     *virtapi.Server
}

// listenStreams binds the handler endpoint and virt-api as configured.
func (n *Node) listenStreams() (*streamServers, error) {
	s := &streamServers{}
	if n.cfg.KubeVirt == nil || n.cfg.Handler == nil {
		if n.cfg.VirtAPI != nil {
			return nil, errors.New("virt-api needs the KubeVirt stand-in and the handler's certificates")
		}
		return s, nil
	}
	serverTLS, clientTLS, err := n.cfg.Handler.handlerTLS()
	if err != nil {
		return nil, err
	}
	if v := n.cfg.VirtAPI; v != nil {
		if s.virtAPI, err = virtapi.New(virtapi.Config{BindAddress: v.BindAddress, CertFile: v.CertFile, KeyFile: v.KeyFile,
			Kubeconfig: v.Kubeconfig, Client: n.client, KubeVirt: n.cfg.KubeVirt, HandlerTLS: clientTLS}); err != nil {
			return nil, err
		}
	}
	l, err := net.Listen("tcp", n.cfg.Handler.BindAddress)
	if err != nil {
		return nil, fmt.Errorf("the handler endpoint listening on %s: %w", n.cfg.Handler.BindAddress, err)
	}
	s.handler, s.handlerTLS, s.handlerAddr = l, serverTLS, l.Addr().String()
	return s, nil
}

// close releases what listenStreams bound when the node does not start.
func (s *streamServers) close() {
	if s.handler != nil {
		s.handler.Close()
	}
}

// serveHandler serves the streams of this node's VMs until ctx ends; requests, and so the
// streams, end with it.
func (n *Node) serveHandler(ctx context.Context, l net.Listener, tlsConfig *tls.Config) {
	logger := klog.FromContext(ctx)
	srv := &http.Server{
		Handler:           subresources.New(n.VMSockets, subresources.WithMonitor(n.vmMonitor)),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	stop := context.AfterFunc(ctx, func() { _ = srv.Close() })
	defer stop()
	logger.Info("Serving the streams of this node's VMs (virt-handler stand-in)", "address", l.Addr().String())
	if err := srv.Serve(tls.NewListener(l, tlsConfig)); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error(err, "The handler endpoint stopped")
	}
}

// vmMonitor reaches a VM's QEMU monitor through the QMP connection its machine holds; QMP
// takes one client and the machine is it. A VM without (a test's runtime) gets the socket.
func (n *Node) vmMonitor(namespace, name string, sockets virt.Sockets) subresources.Monitor {
	if kv := n.virt.Load(); kv != nil {
		if q, ok := kv.QMP(namespace, name); ok {
			return subresources.QMPMonitor(q)
		}
	}
	return subresources.SocketMonitor(namespace, name, sockets)
}
