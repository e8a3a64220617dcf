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
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/virtplane/virtplane/pkg/dvcr"
)

// hashingReader computes the blob's digest and size while it streams to DVCR.
type hashingReader struct {
	r    io.Reader
	h    hash.Hash
	size int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.size += int64(n)
	return n, err
}

func (h *hashingReader) digest() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.h.Sum(nil))}
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

// pushOptions disable go-containerregistry's own retries for the config and manifest: a 503
// from DVCR means "read-only for garbage collection", which whileUnavailable waits out
// with its own, much longer, patience.
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
	digest, size, err := p.uploadBlob(ctx, repo, r)
	if err != nil {
		return "", err
	}

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
