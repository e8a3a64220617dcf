package importer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/stream"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/virtplane/virtplane/pkg/dvcr"
)

// diskLayer is a v1.Layer whose blob is the disk file itself, read once from a stream: the
// digest and size are computed while go-containerregistry uploads it (it sees
// stream.ErrNotComputed before and does a streaming blob upload). It is not compressed: a
// disk is read back with ranges, and gzip while pushing costs more than half the throughput.
type diskLayer struct {
	mu       sync.Mutex
	r        io.Reader
	opened   bool
	read     int64
	h        hash.Hash
	digest   *v1.Hash
	consumed bool
}

var _ v1.Layer = (*diskLayer)(nil)

func newDiskLayer(r io.Reader) *diskLayer { return &diskLayer{r: r, h: sha256.New()} }

func (l *diskLayer) Digest() (v1.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.digest == nil {
		return v1.Hash{}, stream.ErrNotComputed
	}
	return *l.digest, nil
}

func (l *diskLayer) DiffID() (v1.Hash, error) { return l.Digest() }

func (l *diskLayer) Size() (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.digest == nil {
		return 0, stream.ErrNotComputed
	}
	return l.read, nil
}

func (l *diskLayer) MediaType() (types.MediaType, error) {
	return types.MediaType(dvcr.DiskLayerMediaType), nil
}

func (l *diskLayer) Uncompressed() (io.ReadCloser, error) { return l.Compressed() }

// Compressed hands out the stream; a second call (a retry of a failed upload) cannot be
// served, the data is gone.
func (l *diskLayer) Compressed() (io.ReadCloser, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.opened {
		return nil, errors.New("the disk stream was already sent once and cannot be replayed")
	}
	l.opened = true
	return io.NopCloser(l), nil
}

func (l *diskLayer) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.mu.Lock()
	defer l.mu.Unlock()
	if n > 0 {
		l.consumed = true
		l.h.Write(p[:n])
		l.read += int64(n)
	}
	if err == io.EOF {
		d := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(l.h.Sum(nil))}
		l.digest = &d
	}
	return n, err
}

// untouched says whether no byte has left the stream, so a failed upload can start over.
func (l *diskLayer) untouched() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.consumed
}

// rearm lets an untouched layer be handed out again.
func (l *diskLayer) rearm() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.opened = false
}

// rawManifest is a remote.Taggable for a manifest built here.
type rawManifest struct {
	body      []byte
	mediaType types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.body, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }

// pusher writes disk images into DVCR.
type pusher struct {
	client *registryClient
	cfg    Config
}

// pushOptions disable go-containerregistry's own retries: a streamed blob cannot be resent,
// and a 503 from DVCR means "read-only for garbage collection", which we wait out ourselves.
func (p *pusher) pushOptions(ctx context.Context) []remote.Option {
	return p.client.remoteOptions(ctx, remote.WithRetryBackoff(remote.Backoff{Steps: 1}), remote.WithRetryStatusCodes())
}

// pushDisk streams r as the disk blob of ref, then writes the config and, last, the manifest
// with the annotations annotate returns (called after the stream ended and was verified).
// The image is tagged only if every byte arrived and checked out.
func (p *pusher) pushDisk(ctx context.Context, ref string, r io.Reader, annotate func(storedBytes int64) map[string]string) (string, error) {
	tag, err := name.ParseReference(ref, p.client.nameOpts...)
	if err != nil {
		return "", newError(ReasonConfiguration, false, "parse %s %q: %v", EnvDestImage, ref, err)
	}
	repo := tag.Context()
	layer := newDiskLayer(r)
	err = p.whileUnavailable(ctx, "upload the disk", func() (bool, error) {
		err := remote.WriteLayer(repo, layer, p.pushOptions(ctx)...)
		if err != nil && layer.untouched() {
			layer.rearm()
			return true, err
		}
		return false, err
	})
	if err != nil {
		return "", err
	}
	digest, _ := layer.Digest()
	size, _ := layer.Size()

	cfgBlob, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{digest.String()}},
	})
	if err != nil {
		return "", fmt.Errorf("encode image config: %w", err)
	}
	cfgLayer := static.NewLayer(cfgBlob, types.OCIConfigJSON)
	if err := p.whileUnavailable(ctx, "upload the image config", func() (bool, error) {
		return true, remote.WriteLayer(repo, cfgLayer, p.pushOptions(ctx)...)
	}); err != nil {
		return "", err
	}
	cfgDigest, _ := cfgLayer.Digest()

	manifest := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(cfgBlob)), Digest: cfgDigest},
		Layers:        []v1.Descriptor{{MediaType: types.MediaType(dvcr.DiskLayerMediaType), Size: size, Digest: digest}},
		Annotations:   annotate(size),
	}
	body, err := json.Marshal(manifest)
	if err != nil {
		return "", fmt.Errorf("encode manifest: %w", err)
	}
	if err := p.whileUnavailable(ctx, "write the manifest", func() (bool, error) {
		return true, remote.Put(tag, rawManifest{body: body, mediaType: types.OCIManifestSchema1}, p.pushOptions(ctx)...)
	}); err != nil {
		return "", err
	}
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// diskAnnotations are the facts the controller and the fill step read from a DVCR manifest.
func diskAnnotations(format string, virtualSize, storedSize int64) map[string]string {
	return map[string]string{
		dvcr.AnnotationFormat:       format,
		dvcr.AnnotationUnpackedSize: strconv.FormatInt(virtualSize, 10),
		dvcr.AnnotationStoredSize:   strconv.FormatInt(storedSize, 10),
	}
}

// whileUnavailable runs op, and again after a pause while DVCR answers 503 Service
// Unavailable (it is read-only during garbage collection) and op says it can be repeated,
// up to Config.DVCRUnavailableWait.
func (p *pusher) whileUnavailable(ctx context.Context, what string, op func() (repeatable bool, err error)) error {
	deadline := time.Now().Add(p.cfg.DVCRUnavailableWait)
	for {
		repeatable, err := op()
		if err == nil {
			return nil
		}
		var te *transport.Error
		unavailable := errors.As(err, &te) && te.StatusCode == http.StatusServiceUnavailable
		if !unavailable || !repeatable || time.Now().After(deadline) {
			return classifyDVCRError(what, err)
		}
		log.Printf("DVCR is unavailable (read-only for garbage collection?) to %s; retrying in %s", what, p.cfg.DVCRUnavailablePoll)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(p.cfg.DVCRUnavailablePoll):
		}
	}
}

// classifyDVCRError keeps a classified cause (the source's, seen through the upload) and
// makes anything else a retryable destination error.
func classifyDVCRError(what string, err error) error {
	var ie *Error
	if errors.As(err, &ie) {
		// The source's failure seen through the blob upload request: report the cause,
		// not the request it broke.
		return ie
	}
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return newError(ReasonDestinationError, false, "DVCR refused to %s: %v", what, err)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return newError(ReasonDestinationError, true, "DVCR: %s: %v", what, err)
}
