package upload

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/klog/v2"
)

// Serve runs handler on ln until ctx ends. With certFile and keyFile it serves TLS and picks up
// a renewed certificate from the files without a restart.
func Serve(ctx context.Context, ln net.Listener, handler http.Handler, certFile, keyFile string) error {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 30 * time.Second,
		// No ReadTimeout or WriteTimeout: a whole-body upload of a large image takes as long
		// as the network needs. Idle keep-alive connections are closed.
		IdleTimeout: 2 * time.Minute,
	}
	if certFile != "" {
		certs, err := dynamiccertificates.NewDynamicServingContentFromFiles("upload-serving-cert", certFile, keyFile)
		if err != nil {
			return fmt.Errorf("loading the upload serving certificate: %w", err)
		}
		go certs.Run(ctx, 1)
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: (&certCache{source: certs}).get}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		_ = srv.Close()
	}()
	klog.InfoS("Serving uploads by token", "address", ln.Addr().String(), "tls", certFile != "")
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving uploads on %s: %w", ln.Addr(), err)
	}
	return nil
}

// certCache parses the serving certificate again only when the files changed.
type certCache struct {
	source          dynamiccertificates.CertKeyContentProvider
	mu              sync.Mutex
	certPEM, keyPEM []byte
	cert            *tls.Certificate
}

func (c *certCache) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	certPEM, keyPEM := c.source.CurrentCertKeyContent()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert != nil && bytes.Equal(certPEM, c.certPEM) && bytes.Equal(keyPEM, c.keyPEM) {
		return c.cert, nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parsing the upload serving certificate: %w", err)
	}
	c.certPEM, c.keyPEM, c.cert = certPEM, keyPEM, &cert
	return c.cert, nil
}
