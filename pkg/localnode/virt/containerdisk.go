package virt

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/virtplane/virtplane/pkg/dockerconfig"
)

// The layout of the platform's disk images (pkg/dvcr writes them; repeated here so the node,
// a KubeVirt stand-in, does not link the registry): either one layer whose blob is the disk
// itself, or ordinary tar layers with the disk as the one file under disk/.
const (
	diskLayerMediaType = "application/vnd.virtplane.disk.layer.v1"
	diskDir            = "disk"
	formatAnnotation   = "virtualization.deckhouse.io/format"
)

// RegistryOptions say how the node reaches registries for containerDisk volumes.
type RegistryOptions struct {
	// Insecure allows plain HTTP and TLS without verification (a local DVCR).
	Insecure bool
	// CABundle (PEM) is trusted in addition to the system's roots.
	CABundle []byte
}

// puller fetches containerDisk images into a cache of disk files named by image digest, so a
// VM started twice from one image pulls it once. Files are never modified: VMs use them
// read-only.
type puller struct {
	host      Host
	dir       string
	nameOpts  []name.Option
	transport http.RoundTripper

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func newPuller(host Host, o RegistryOptions, dir string) (*puller, error) {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	p := &puller{host: host, dir: dir, transport: t, locks: map[string]*sync.Mutex{}}
	if o.Insecure {
		p.nameOpts = append(p.nameOpts, name.Insecure)
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for by --registry-insecure
	}
	if len(o.CABundle) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(o.CABundle) {
			return nil, errors.New("the registry CA bundle holds no PEM certificate")
		}
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		t.TLSClientConfig.RootCAs = pool
	}
	return p, nil
}

// lock serializes pulls of one image digest.
func (p *puller) lock(digest string) func() {
	p.mu.Lock()
	l := p.locks[digest]
	if l == nil {
		l = &sync.Mutex{}
		p.locks[digest] = l
	}
	p.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// pull returns the cached disk file of image and its format, pulling it first if needed
// with the credentials of pullSecret (a kubernetes.io/dockerconfigjson Secret).
func (p *puller) pull(ctx context.Context, namespace, image, pullSecret string) (string, string, error) {
	ref, err := name.ParseReference(image, p.nameOpts...)
	if err != nil {
		return "", "", unsupported("containerDisk image %q: %v", image, err)
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(p.transport)}
	if pullSecret != "" {
		kc, err := p.keychain(ctx, namespace, pullSecret)
		if err != nil {
			return "", "", err
		}
		opts = append(opts, remote.WithAuthFromKeychain(kc))
	}
	img, err := remote.Image(ref, opts...)
	if err != nil {
		return "", "", fmt.Errorf("pulling %s: %w", image, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return "", "", fmt.Errorf("pulling %s: %w", image, err)
	}
	defer p.lock(digest.Hex)()
	file := filepath.Join(p.dir, digest.Hex)
	if _, err := os.Stat(file); err == nil {
		format, err := detectFormat(file)
		return file, format, err
	}
	manifest, err := img.Manifest()
	if err != nil {
		return "", "", fmt.Errorf("pulling %s: %w", image, err)
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return "", "", fmt.Errorf("creating the image cache: %w", err)
	}
	if err := p.fetchDisk(img, file); err != nil {
		return "", "", fmt.Errorf("pulling %s: %w", image, err)
	}
	switch f := manifest.Annotations[formatAnnotation]; f {
	case FormatQcow2, FormatRaw, FormatVMDK, FormatVDI:
		return file, f, nil
	case "iso":
		return file, FormatRaw, nil
	}
	format, err := detectFormat(file)
	return file, format, err
}

// fetchDisk writes the image's disk to file (through a temporary file, so a cut pull
// leaves nothing behind).
func (p *puller) fetchDisk(img v1.Image, file string) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(p.dir, ".pull-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	found := false
	// Later layers win, as in the image's file system.
	for i := len(layers) - 1; i >= 0 && !found; i-- {
		if found, err = copyDisk(layers[i], tmp); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
	}
	if !found {
		return unsupported("the image has no disk: put the disk as a file under /%s/ (COPY disk.qcow2 /%s/)", diskDir, diskDir)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o444); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// copyDisk copies the disk of one layer to w: the blob itself for a disk layer, else the
// file under disk/ in the tar. It says whether the layer had one.
func copyDisk(l v1.Layer, w io.Writer) (bool, error) {
	mt, err := l.MediaType()
	if err != nil {
		return false, err
	}
	if mt == types.MediaType(diskLayerMediaType) {
		rc, err := l.Compressed()
		if err != nil {
			return false, err
		}
		defer rc.Close()
		_, err = io.Copy(w, rc)
		return true, err
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return false, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("reading the tar: %w", err)
		}
		p := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if h.Typeflag == tar.TypeReg && path.Dir(p) == diskDir {
			_, err := io.Copy(w, tr)
			return true, err
		}
	}
}

// detectFormat reads a disk file's header: qcow2, vmdk and vdi have magic numbers,
// anything else (raw, ISO) is raw to qemu.
func detectFormat(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 0x48)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("QFI\xfb")):
		return FormatQcow2, nil
	case bytes.HasPrefix(head, []byte("KDMV")):
		return FormatVMDK, nil
	case len(head) >= 0x44 && binary.LittleEndian.Uint32(head[0x40:]) == 0xbeda107f:
		return FormatVDI, nil
	}
	return FormatRaw, nil
}

// keychain reads registry credentials from a dockerconfigjson Secret of the VMI's namespace.
func (p *puller) keychain(ctx context.Context, namespace, secret string) (authn.Keychain, error) {
	s, err := p.host.Client.CoreV1().Secrets(namespace).Get(ctx, secret, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading image pull secret %s/%s: %w", namespace, secret, err)
	}
	doc, ok := s.Data[corev1.DockerConfigJsonKey]
	if !ok {
		return nil, unsupported("image pull secret %s/%s has no %s (type %s expected)", namespace, secret, corev1.DockerConfigJsonKey, corev1.SecretTypeDockerConfigJson)
	}
	kc, err := dockerconfig.Parse(doc)
	if err != nil {
		return nil, unsupported("image pull secret %s/%s: %v", namespace, secret, err)
	}
	return kc, nil
}
