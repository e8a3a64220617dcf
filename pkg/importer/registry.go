package importer

import (
	"archive/tar"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/virtplane/virtplane/pkg/dockerconfig"
	"github.com/virtplane/virtplane/pkg/dvcr"
)

// registryClient holds what it takes to talk to one registry: parsing options (insecure
// DVCR) and remote options (auth, TLS).
type registryClient struct {
	nameOpts []name.Option
	auth     authn.Authenticator
	keychain authn.Keychain
	rt       http.RoundTripper
}

// newDVCRClient authenticates with the Pod's bearer token, scoped by the controller to the
// repositories this Pod needs, or, for an external registry in DVCR's place, with the
// credentials of a dockerconfigjson document.
func newDVCRClient(cfg Config) (*registryClient, error) {
	rt, err := transportWithCA(cfg.DVCRCABundle)
	if err != nil {
		return nil, fmt.Errorf("DVCR CA bundle: %w", err)
	}
	c := &registryClient{rt: rt, auth: authn.Anonymous}
	switch {
	case cfg.DVCRToken != "":
		c.auth = authn.FromConfig(authn.AuthConfig{RegistryToken: cfg.DVCRToken})
	case len(strings.TrimSpace(string(cfg.DVCRDockerJSON))) > 0:
		if c.keychain, err = keychainFromDockerConfig(EnvDVCRDockerConfig, cfg.DVCRDockerJSON); err != nil {
			return nil, err
		}
		c.auth = nil
	}
	if cfg.DVCRInsecure {
		c.nameOpts = append(c.nameOpts, name.Insecure)
	}
	return c, nil
}

// newSourceRegistryClient authenticates with the user's dockerconfigjson, if any.
func newSourceRegistryClient(cfg Config) (*registryClient, error) {
	rt, err := transportWithCA(cfg.SourceCABundle)
	if err != nil {
		return nil, fmt.Errorf("source CA bundle: %w", err)
	}
	c := &registryClient{rt: rt, auth: authn.Anonymous}
	if len(strings.TrimSpace(string(cfg.SourceDockerJSON))) > 0 {
		kc, err := keychainFromDockerConfig(EnvSourceDockerConfig, cfg.SourceDockerJSON)
		if err != nil {
			return nil, err
		}
		c.keychain, c.auth = kc, nil
	}
	return c, nil
}

// authFor returns the credentials for one registry, from the keychain when there is one.
func (c *registryClient) authFor(res authn.Resource) (authn.Authenticator, error) {
	if c.keychain != nil {
		return c.keychain.Resolve(res)
	}
	return c.auth, nil
}

func (c *registryClient) remoteOptions(ctx context.Context, extra ...remote.Option) []remote.Option {
	opts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(c.rt)}
	if c.keychain != nil {
		opts = append(opts, remote.WithAuthFromKeychain(c.keychain))
	} else {
		opts = append(opts, remote.WithAuth(c.auth))
	}
	return append(opts, extra...)
}

func transportWithCA(pemBundle []byte) (http.RoundTripper, error) {
	pool, err := certPool(pemBundle)
	if err != nil {
		return nil, err
	}
	t := remote.DefaultTransport.(*http.Transport).Clone()
	if pool != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return t, nil
}

func keychainFromDockerConfig(env string, doc []byte) (authn.Keychain, error) {
	kc, err := dockerconfig.Parse(doc)
	if err != nil {
		return nil, newError(ReasonConfiguration, false, "parse %s: %v", env, err)
	}
	return kc, nil
}

// imageDisk is the disk file found in an image: its content and size.
type imageDisk struct {
	rc   io.ReadCloser
	size int64
	// annotations of the manifest (DVCR images carry format and sizes there).
	annotations map[string]string
}

// openImageDisk finds the disk in the image ref: a layer of media type
// dvcr.DiskLayerMediaType (written by this importer) is the disk itself; otherwise the
// regular file under disk/ in the last layer that has one (later layers win, as in the
// image's filesystem) is streamed out of the tar without being stored anywhere.
func openImageDisk(ctx context.Context, c *registryClient, ref string) (*imageDisk, error) {
	r, err := name.ParseReference(ref, c.nameOpts...)
	if err != nil {
		return nil, newError(ReasonConfiguration, false, "parse image reference %q: %v", ref, err)
	}
	img, err := remote.Image(r, c.remoteOptions(ctx)...)
	if err != nil {
		return nil, classifyRegistryError(fmt.Sprintf("read image %s", ref), err)
	}
	manifest, err := img.Manifest()
	if err != nil {
		return nil, classifyRegistryError(fmt.Sprintf("read manifest of %s", ref), err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, classifyRegistryError(fmt.Sprintf("read layers of %s", ref), err)
	}
	for i := len(layers) - 1; i >= 0; i-- {
		mt, err := layers[i].MediaType()
		if err != nil {
			return nil, classifyRegistryError(fmt.Sprintf("read layer %d of %s", i, ref), err)
		}
		if mt == types.MediaType(dvcr.DiskLayerMediaType) {
			size, err := layers[i].Size()
			if err != nil {
				return nil, classifyRegistryError(fmt.Sprintf("read layer %d of %s", i, ref), err)
			}
			rc, err := layers[i].Compressed()
			if err != nil {
				return nil, classifyRegistryError(fmt.Sprintf("read disk layer of %s", ref), err)
			}
			return &imageDisk{rc: rc, size: size, annotations: manifest.Annotations}, nil
		}
		d, err := diskInTarLayer(layers[i])
		if err != nil {
			return nil, classifyRegistryError(fmt.Sprintf("read layer %d of %s", i, ref), err)
		}
		if d != nil {
			d.annotations = manifest.Annotations
			return d, nil
		}
	}
	return nil, newError(ReasonUnsupportedFormat, false, "image %s has no disk: put the disk image as a file under /%s/ (COPY disk.qcow2 /%s/)", ref, dvcr.DiskDir, dvcr.DiskDir)
}

// diskInTarLayer returns the first regular file under disk/ in the layer, positioned at its
// content, or nil if the layer has none.
func diskInTarLayer(l v1.Layer) (*imageDisk, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			_ = rc.Close()
			return nil, nil
		}
		if err != nil {
			_ = rc.Close()
			return nil, fmt.Errorf("read tar: %w", err)
		}
		p := path.Clean(strings.TrimPrefix(h.Name, "./"))
		p = strings.TrimPrefix(p, "/")
		if h.Typeflag == tar.TypeReg && path.Dir(p) == dvcr.DiskDir {
			return &imageDisk{rc: readCloser{Reader: tr, Closer: rc}, size: h.Size}, nil
		}
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}

// classifyRegistryError gives registry failures their reason: a missing image or repository
// is SourceNotFound, authentication problems are terminal, server trouble is retryable.
func classifyRegistryError(what string, err error) error {
	var ie *Error
	if errors.As(err, &ie) {
		return fmt.Errorf("%s: %w", what, err)
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusNotFound:
			return newError(ReasonSourceNotFound, false, "%s: not found: %v", what, err)
		case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden:
			return newError(ReasonSourceError, false, "%s: access denied (check the registry credentials): %v", what, err)
		case te.StatusCode >= 500 || te.StatusCode == http.StatusTooManyRequests:
			return newError(ReasonSourceError, true, "%s: %v", what, err)
		default:
			for _, d := range te.Errors {
				if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode || d.Code == transport.BlobUnknownErrorCode {
					return newError(ReasonSourceNotFound, false, "%s: not found: %v", what, err)
				}
			}
			return newError(ReasonSourceError, false, "%s: %v", what, err)
		}
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return newError(ReasonSourceError, true, "%s: %v", what, err)
}
