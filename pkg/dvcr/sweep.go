package dvcr

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/opencontainers/go-digest"
)

// DefaultBlobGrace protects blobs nothing references yet because their push is still going:
// an importer uploads layers first and the manifest last, so a sweep between the two would
// remove layers its manifest then fails to find. Blobs of manifests a run deletes are
// swept at any age.
const DefaultBlobGrace = time.Hour

// sweepResult counts what a sweep removed.
type sweepResult struct {
	blobs, layerLinks, kept int
}

// referencesOf returns the manifest's own digest and every blob it references, children of
// an index included. The run calls it before deleting a manifest, so the sweep knows those
// blobs are garbage however young they are.
func (s *store) referencesOf(ctx context.Context, img Object) ([]digest.Digest, error) {
	r, err := s.repository(ctx, img.Repository())
	if err != nil {
		return nil, err
	}
	desc, err := r.Tags(ctx).Get(ctx, img.UID)
	if err != nil {
		return nil, fmt.Errorf("read tag %s:%s: %w", img.Repository(), img.UID, err)
	}
	ms, err := r.Manifests(ctx)
	if err != nil {
		return nil, fmt.Errorf("open manifests of %s: %w", img.Repository(), err)
	}
	seen := map[digest.Digest]bool{}
	if err := markManifest(ctx, ms, desc.Digest, seen); err != nil {
		return nil, fmt.Errorf("read manifest %s@%s: %w", img.Repository(), desc.Digest, err)
	}
	out := make([]digest.Digest, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	return out, nil
}

// markManifest marks dgst and what it references, descending into index children.
func markManifest(ctx context.Context, ms distribution.ManifestService, dgst digest.Digest, marked map[digest.Digest]bool) error {
	marked[dgst] = true
	m, err := ms.Get(ctx, dgst)
	if err != nil {
		return err
	}
	for _, ref := range m.References() {
		if marked[ref.Digest] {
			continue
		}
		marked[ref.Digest] = true
		if ok, _ := ms.Exists(ctx, ref.Digest); ok {
			if err := markManifest(ctx, ms, ref.Digest, marked); err != nil {
				return err
			}
		}
	}
	return nil
}

// sweep is distribution's mark and sweep (storage.MarkAndSweep) with one difference: an
// unreferenced blob younger than grace survives unless it is in doomed. Mark: every
// manifest revision of every repository and what it references. Sweep: unmarked blobs,
// then the repositories' links to blobs that no longer exist.
func (s *store) sweep(ctx context.Context, doomed map[digest.Digest]bool, grace time.Duration) (sweepResult, error) {
	var res sweepResult
	enum, ok := s.registry.(distribution.RepositoryEnumerator)
	if !ok {
		return res, errors.New("registry storage cannot enumerate repositories")
	}
	marked := map[digest.Digest]bool{}
	layerLinks := map[string][]digest.Digest{}
	err := enum.Enumerate(ctx, func(repo string) error {
		r, err := s.repository(ctx, repo)
		if err != nil {
			return err
		}
		ms, err := r.Manifests(ctx)
		if err != nil {
			return fmt.Errorf("open manifests of %s: %w", repo, err)
		}
		me, ok := ms.(distribution.ManifestEnumerator)
		if !ok {
			return errors.New("registry storage cannot enumerate manifests")
		}
		err = me.Enumerate(ctx, func(d digest.Digest) error {
			if err := markManifest(ctx, ms, d, marked); err != nil {
				return fmt.Errorf("mark %s@%s: %w", repo, d, err)
			}
			return nil
		})
		if err != nil && !isNotFound(err) {
			return err
		}
		le, ok := r.Blobs(ctx).(distribution.BlobEnumerator)
		if !ok {
			return errors.New("registry storage cannot enumerate layer links")
		}
		err = le.Enumerate(ctx, func(d digest.Digest) error {
			layerLinks[repo] = append(layerLinks[repo], d)
			return nil
		})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("list layer links of %s: %w", repo, err)
		}
		return nil
	})
	if err != nil && !isNotFound(err) {
		return res, fmt.Errorf("mark referenced blobs: %w", err)
	}

	cutoff := time.Now().Add(-grace)
	vacuum := storage.NewVacuum(ctx, s.driver)
	removed := map[digest.Digest]bool{}
	var candidates []digest.Digest
	err = s.registry.Blobs().Enumerate(ctx, func(d digest.Digest) error {
		if !marked[d] {
			candidates = append(candidates, d)
		}
		return nil
	})
	if err != nil && !isNotFound(err) {
		return res, fmt.Errorf("list blobs: %w", err)
	}
	for _, d := range candidates {
		if !doomed[d] {
			fi, err := s.driver.Stat(ctx, blobDataPath(d))
			if err != nil {
				if isNotFound(err) {
					continue
				}
				return res, fmt.Errorf("stat blob %s: %w", d, err)
			}
			if fi.ModTime().After(cutoff) {
				res.kept++
				continue
			}
		}
		if err := vacuum.RemoveBlob(d.String()); err != nil && !isNotFound(err) {
			return res, fmt.Errorf("delete blob %s: %w", d, err)
		}
		removed[d] = true
		res.blobs++
	}
	for repo, links := range layerLinks {
		for _, d := range links {
			if !removed[d] {
				continue
			}
			if err := vacuum.RemoveLayer(repo, d); err != nil && !isNotFound(err) {
				return res, fmt.Errorf("delete layer link %s@%s: %w", repo, d, err)
			}
			res.layerLinks++
		}
	}
	return res, nil
}

// blobDataPath is where distribution's storage layout keeps a blob's content.
func blobDataPath(d digest.Digest) string {
	return path.Join("/docker/registry/v2/blobs", d.Algorithm().String(), d.Encoded()[:2], d.Encoded(), "data")
}
