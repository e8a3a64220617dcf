// Package testserver starts virtualization-apiserver in the current process on embedded etcd
// and loopback, for integration tests and benchmarks. It runs standalone: no kube-apiserver,
// every request is allowed.
package testserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/virtplane/virtplane/pkg/apiserver"
	"github.com/virtplane/virtplane/pkg/config"
	"github.com/virtplane/virtplane/pkg/embeddedetcd"
	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
)

// Server is a running test server.
type Server struct {
	// Config reaches the server as its loopback client (full access).
	Config *rest.Config
	// Client is the generated clientset on Config.
	Client versioned.Interface
	stop   func()
}

// Stop shuts the server and its etcd down.
func (s *Server) Stop() { s.stop() }

// Start runs a server with its etcd data in dir and the given platform configuration;
// tune, when given, adjusts the server's options (e.g. audit) before it starts.
func Start(dir string, platform *config.Config, tune ...func(*apiserver.Options)) (*Server, error) {
	etcd, err := embeddedetcd.Start(filepath.Join(dir, "etcd"), time.Minute)
	if err != nil {
		return nil, err
	}
	s, err := start(dir, etcd.Endpoint, platform, tune)
	if err != nil {
		etcd.Stop()
		return nil, err
	}
	stopServer := s.stop
	s.stop = func() { stopServer(); etcd.Stop() }
	return s, nil
}

func start(dir, etcdEndpoint string, platform *config.Config, tune []func(*apiserver.Options)) (*Server, error) {
	o := apiserver.NewOptions()
	o.Standalone = true
	for _, f := range tune {
		f(o)
	}
	if platform != nil {
		data, err := yaml.Marshal(platform)
		if err != nil {
			return nil, err
		}
		o.ConfigFile = filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(o.ConfigFile, data, 0o600); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	o.Recommended.SecureServing.Listener = ln
	o.Recommended.SecureServing.BindAddress = net.ParseIP("127.0.0.1")
	o.Recommended.SecureServing.BindPort = ln.Addr().(*net.TCPAddr).Port
	o.Recommended.Etcd.StorageConfig.Transport.ServerList = []string{etcdEndpoint}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	cfg, err := o.Config()
	if err != nil {
		return nil, err
	}
	srv, err := apiserver.New(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.PrepareRun().RunWithContext(ctx) }()

	restConfig := rest.CopyConfig(cfg.Generic.LoopbackClientConfig)
	restConfig.QPS, restConfig.Burst = -1, 0 // no client-side throttling in tests
	client, err := versioned.NewForConfig(restConfig)
	if err != nil {
		cancel()
		return nil, err
	}
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
	}
	if err := waitReady(client, done); err != nil {
		stop()
		return nil, err
	}
	return &Server{Config: restConfig, Client: client, stop: stop}, nil
}

func waitReady(client versioned.Interface, done <-chan error) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			return fmt.Errorf("server stopped while starting: %v", err)
		default:
		}
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		if err == nil && string(body) == "ok" {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("server not ready after a minute")
}
