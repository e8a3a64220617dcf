package dvcr

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// testRegistry is a real DVCR server on a loopback port with its own storage and signer.
type testRegistry struct {
	addr    string
	storage string
	signer  *Signer
}

func startRegistry(t *testing.T) *testRegistry {
	t.Helper()
	dir := t.TempDir()
	keyPEM, certPEM, err := GenerateTokenKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "token.crt")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	storage := filepath.Join(dir, "storage")
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := NewServer(ctx, ServerOptions{StorageDir: storage, Listen: "127.0.0.1:0", TokenCertFile: certFile, LogLevel: "fatal"})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("registry: %v", err)
		}
	})
	return &testRegistry{addr: ln.Addr().String(), storage: storage, signer: NewSigner(key)}
}

// token mints a token for repo with the given actions.
func (r *testRegistry) token(t *testing.T, repo string, actions ...string) string {
	t.Helper()
	tok, err := r.signer.Token("test", []Access{{Type: "repository", Name: repo, Actions: actions}}, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (r *testRegistry) ref(t *testing.T, repo, tag string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(r.addr+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func withToken(tok string) remote.Option {
	if tok == "" {
		return remote.WithAuth(authn.Anonymous)
	}
	return remote.WithAuth(authn.FromConfig(authn.AuthConfig{RegistryToken: tok}))
}

// push writes a random image of one layer of size bytes and returns its digest.
func (r *testRegistry) push(repo, tag, tok string, size int64) (v1.Hash, error) {
	img, err := random.Image(size, 1)
	if err != nil {
		return v1.Hash{}, err
	}
	ref, err := name.ParseReference(r.addr+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.Write(ref, img, withToken(tok), remote.WithRetryBackoff(remote.Backoff{Steps: 1})); err != nil {
		return v1.Hash{}, err
	}
	return img.Digest()
}

// pull fetches the image's manifest and layers and returns its digest.
func (r *testRegistry) pull(repo, tag, tok string) (v1.Hash, error) {
	ref, err := name.ParseReference(r.addr+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		return v1.Hash{}, err
	}
	img, err := remote.Image(ref, withToken(tok), remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
	if err != nil {
		return v1.Hash{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return v1.Hash{}, err
		}
		rc.Close()
	}
	return img.Digest()
}

// statusOf returns the HTTP status of a registry error (0 if it is not one).
func statusOf(err error) int {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode
	}
	return 0
}
