package dvcr

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/sirupsen/logrus"
	"k8s.io/klog/v2"

	// The storage driver and the access controller register themselves with distribution's
	// factories; the configuration below names them.
	_ "github.com/distribution/distribution/v3/registry/auth/token"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// tokenRealmPath is the realm in the registry's Bearer challenge. Every client of this
// registry presents a token the platform minted, so nothing issues tokens here; the path
// answers with an explanation for the occasional human with docker login.
const tokenRealmPath = "/auth/token"

// ServerOptions configure the registry server.
type ServerOptions struct {
	// StorageDir is the filesystem storage root (and where the read-only marker lives).
	StorageDir string
	// Listen is host:port; TLS is served when both TLSCertFile and TLSKeyFile are set.
	Listen      string
	TLSCertFile string
	TLSKeyFile  string
	// TokenCertFile is the PEM certificate (bundle) of the keys that sign access tokens.
	TokenCertFile string
	// LogLevel is distribution's log level (error, warn, info, debug).
	LogLevel string
}

// Server is the DVCR registry: distribution's registry application on filesystem storage
// with token auth, behind the read-only guard, plus /healthz.
type Server struct {
	opts    ServerOptions
	app     *handlers.App
	handler http.Handler
}

// NewServer builds the registry from opts; it does not listen yet.
func NewServer(ctx context.Context, opts ServerOptions) (*Server, error) {
	if opts.StorageDir == "" {
		return nil, errors.New("registry storage directory is required")
	}
	if opts.TokenCertFile == "" {
		// Without it distribution would serve anonymous pushes; users must never write here.
		return nil, errors.New("registry token certificate is required")
	}
	if _, err := os.Stat(opts.TokenCertFile); err != nil {
		return nil, fmt.Errorf("registry token certificate: %w", err)
	}
	if err := os.MkdirAll(opts.StorageDir, 0o755); err != nil {
		return nil, fmt.Errorf("create registry storage: %w", err)
	}
	if cleared, err := clearStaleReadOnly(opts.StorageDir); err != nil {
		return nil, err
	} else if cleared {
		klog.InfoS("Removed the read-only marker of a garbage collection that no longer runs", "storage", opts.StorageDir)
	} else if IsReadOnly(opts.StorageDir) {
		klog.InfoS("Registry starts read-only: a garbage collection holds the marker", "marker", ReadOnlyMarker)
	}
	if err := configureDistributionLogging(opts.LogLevel); err != nil {
		return nil, err
	}
	cfg, err := registryConfig(opts)
	if err != nil {
		return nil, err
	}
	app, err := newApp(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, app: app}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.healthz)
	mux.HandleFunc(tokenRealmPath, func(w http.ResponseWriter, _ *http.Request) {
		// 401: the caller has no credentials this registry could exchange for a token.
		http.Error(w, "DVCR tokens are issued by the virtualization platform, not by the registry", http.StatusUnauthorized)
	})
	mux.Handle("/", readOnlyGuard(opts.StorageDir, forwardedProto(app)))
	s.handler = mux
	return s, nil
}

// forwardedProto tells distribution the scheme of a plain-HTTP request: it assumes https
// for the realm in its challenge otherwise. A proxy in front keeps the header it sets.
func forwardedProto(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil && r.Header.Get("X-Forwarded-Proto") == "" {
			r.Header.Set("X-Forwarded-Proto", "http")
		}
		next.ServeHTTP(w, r)
	})
}

// registryConfig is the distribution configuration the options describe.
func registryConfig(opts ServerOptions) (*configuration.Configuration, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("generate upload state secret: %w", err)
	}
	cfg := &configuration.Configuration{
		Version: configuration.CurrentVersion,
		Storage: configuration.Storage{
			"filesystem": configuration.Parameters{"rootdirectory": opts.StorageDir},
			// Garbage collection deletes manifests through the storage API, which refuses
			// unless deletes are enabled. No blob descriptor cache: it would outlive the
			// blobs a collection removes.
			"delete": configuration.Parameters{"enabled": true},
		},
		Auth: configuration.Auth{
			"token": configuration.Parameters{
				"realm":            tokenRealmPath,
				"autoredirect":     true,
				"autoredirectpath": tokenRealmPath,
				"issuer":           TokenIssuer,
				"service":          TokenService,
				"rootcertbundle":   opts.TokenCertFile,
			},
		},
	}
	// One replica holds upload state, so a per-process secret suffices.
	cfg.HTTP.Secret = string(secret)
	cfg.HTTP.Addr = opts.Listen
	return cfg, nil
}

// newApp turns distribution's panics on bad configuration into errors.
func newApp(ctx context.Context, cfg *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("configure registry: %v", r)
		}
	}()
	return handlers.NewApp(ctx, cfg), nil
}

// configureDistributionLogging sets distribution's logrus output: text on stderr at level.
// Its request logs carry method, URI and user name, never the Authorization header.
func configureDistributionLogging(level string) error {
	if level == "" {
		level = "info"
	}
	l, err := logrus.ParseLevel(level)
	if err != nil {
		return fmt.Errorf("registry log level: %w", err)
	}
	logrus.SetLevel(l)
	logrus.SetOutput(os.Stderr)
	return nil
}

// Handler is the server's HTTP handler (for tests that run it on their own listener).
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	if _, err := os.Stat(s.opts.StorageDir); err != nil {
		http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
		return
	}
	if IsReadOnly(s.opts.StorageDir) {
		// Still healthy: reads are served and writers are told to come back.
		_, _ = w.Write([]byte("ok (read-only: garbage collection running)\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// Serve listens on opts.Listen (TLS if configured) until ctx ends, then shuts down
// gracefully.
func (s *Server) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.opts.Listen, err)
	}
	return s.ServeListener(ctx, ln)
}

// ServeListener serves on ln until ctx ends.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	tlsOn := s.opts.TLSCertFile != "" && s.opts.TLSKeyFile != ""
	if tlsOn {
		cert, err := tls.LoadX509KeyPair(s.opts.TLSCertFile, s.opts.TLSKeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("load registry TLS certificate: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	klog.InfoS("DVCR serving", "address", ln.Addr().String(), "tls", tlsOn, "storage", s.opts.StorageDir)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		s.app.Shutdown()
		return fmt.Errorf("serve registry: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if appErr := s.app.Shutdown(); err == nil {
		err = appErr
	}
	if err != nil {
		return fmt.Errorf("shut down registry: %w", err)
	}
	return nil
}
