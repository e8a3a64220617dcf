package dvcr

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// Collector finds the images in DVCR storage that no object refers to and removes them.
// It works on the storage directory directly, so it needs no registry credentials and
// runs next to the server (dvcr-cleaner in the registry's container) or inside it
// (scheduled collection).
type Collector struct {
	// StorageDir is the registry's filesystem storage root.
	StorageDir string
	// Objects lists the objects that exist.
	Objects ObjectLister
	// BlobGrace keeps unreferenced blobs younger than this (default DefaultBlobGrace): they
	// may belong to a push whose manifest has not arrived yet.
	BlobGrace time.Duration
}

// Plan is what a collection found: the images in storage, the objects in the cluster and
// the images eligible for cleanup.
type Plan struct {
	// Images are the tagged images of cvi/vi/vd repositories, one per tag.
	Images []Object
	// Objects are the cluster's ClusterVirtualImages, VirtualImages and VirtualDisks.
	Objects []Object
	// Orphans are the Images whose object (kind, namespace, name, UID) does not exist,
	// sorted by kind name, namespace, name, UID.
	Orphans []Object
}

// Result is what a run removed.
type Result struct {
	Plan
	// Freed is how many bytes the storage shrank by.
	Freed int64
	// Blobs is how many blobs (layers, configs, manifests) the sweep removed.
	Blobs int
	// KeptYoung is how many unreferenced blobs the sweep kept because they are younger
	// than the grace period (pushes in flight, or garbage for the next run).
	KeptYoung int
}

// Check lists storage and cluster and returns the plan; it changes nothing.
func (c *Collector) Check(ctx context.Context) (*Plan, error) {
	st, err := openStorage(ctx, c.StorageDir)
	if err != nil {
		return nil, err
	}
	return c.plan(ctx, st)
}

// Run makes the registry read-only, removes the orphaned images, sweeps the blobs nothing
// references any more, and makes the registry writable again, also when it fails.
//
// Writes already under way when the marker appears finish; the ones after it get 503 and
// retry later, so the grace period of the sweep, not the read-only mode, is what keeps
// a half-pushed image's layers.
func (c *Collector) Run(ctx context.Context) (res *Result, err error) {
	if err := SetReadOnly(c.StorageDir, "garbage collection"); err != nil {
		return nil, err
	}
	defer func() {
		if clearErr := ClearReadOnly(c.StorageDir); clearErr != nil && err == nil {
			err = clearErr
		}
	}()
	st, err := openStorage(ctx, c.StorageDir)
	if err != nil {
		return nil, err
	}
	before, err := dirSize(c.StorageDir)
	if err != nil {
		return nil, err
	}
	plan, err := c.plan(ctx, st)
	if err != nil {
		return nil, err
	}
	doomed := map[digest.Digest]bool{}
	for _, img := range plan.Orphans {
		refs, err := st.referencesOf(ctx, img)
		if err != nil {
			return nil, err
		}
		for _, d := range refs {
			doomed[d] = true
		}
	}
	for _, img := range plan.Orphans {
		if err := st.untag(ctx, img); err != nil {
			return nil, err
		}
	}
	if err := st.removeEmptyRepositories(ctx, plan.Orphans); err != nil {
		return nil, err
	}
	grace := c.BlobGrace
	if grace == 0 {
		grace = DefaultBlobGrace
	}
	swept, err := st.sweep(ctx, doomed, grace)
	if err != nil {
		return nil, err
	}
	after, err := dirSize(c.StorageDir)
	if err != nil {
		return nil, err
	}
	return &Result{Plan: *plan, Freed: max(before-after, 0), Blobs: swept.blobs, KeptYoung: swept.kept}, nil
}

// plan reads storage first and the cluster second. An importer creates its object before
// it pushes, so any tag seen in storage belongs to an object the later list sees, unless
// that object is really gone.
func (c *Collector) plan(ctx context.Context, st *store) (*Plan, error) {
	images, err := st.images(ctx)
	if err != nil {
		return nil, err
	}
	objects, err := c.Objects.ListObjects(ctx)
	if err != nil {
		return nil, fmt.Errorf("list objects that own images: %w", err)
	}
	exists := make(map[Object]bool, len(objects))
	for _, o := range objects {
		exists[o] = true
	}
	p := &Plan{Images: images, Objects: objects}
	for _, img := range images {
		if !exists[img] {
			p.Orphans = append(p.Orphans, img)
		}
	}
	sortObjects(p.Orphans)
	return p, nil
}

func sortObjects(objs []Object) {
	sort.Slice(objs, func(i, j int) bool {
		a, b := objs[i], objs[j]
		if ka, kb := KindName(a.Kind), KindName(b.Kind); ka != kb {
			return ka < kb
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.UID < b.UID
	})
}

// store is distribution's storage API over the filesystem driver.
type store struct {
	dir      string
	driver   storagedriver.StorageDriver
	registry distribution.Namespace
}

func openStorage(ctx context.Context, dir string) (*store, error) {
	if dir == "" {
		return nil, errors.New("registry storage directory is required")
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("registry storage: %w", err)
	}
	d := filesystem.New(filesystem.DriverParameters{RootDirectory: dir, MaxThreads: 100})
	reg, err := storage.NewRegistry(ctx, d, storage.EnableDelete)
	if err != nil {
		return nil, fmt.Errorf("open registry storage %s: %w", dir, err)
	}
	return &store{dir: dir, driver: d, registry: reg}, nil
}

// parseRepository maps cvi/<name>, vi/<ns>/<name>, vd/<ns>/<name> to an Object without
// UID; other repositories are not the platform's and are left alone.
func parseRepository(repo string) (Object, bool) {
	parts := strings.Split(repo, "/")
	switch {
	case len(parts) == 2 && parts[0] == KindCVI:
		return Object{Kind: KindCVI, Name: parts[1]}, true
	case len(parts) == 3 && (parts[0] == KindVI || parts[0] == KindVD):
		return Object{Kind: parts[0], Namespace: parts[1], Name: parts[2]}, true
	}
	return Object{}, false
}

// images lists every tag of the platform's repositories as an Object.
func (s *store) images(ctx context.Context) ([]Object, error) {
	enum, ok := s.registry.(distribution.RepositoryEnumerator)
	if !ok {
		return nil, errors.New("registry storage cannot enumerate repositories")
	}
	var out []Object
	err := enum.Enumerate(ctx, func(repo string) error {
		obj, ok := parseRepository(repo)
		if !ok {
			return nil
		}
		tags, err := s.tags(ctx, repo)
		if err != nil {
			return err
		}
		for _, tag := range tags {
			img := obj
			img.UID = tag
			out = append(out, img)
		}
		return nil
	})
	if err != nil && !isNotFound(err) {
		return nil, fmt.Errorf("list registry repositories: %w", err)
	}
	return out, nil
}

func (s *store) repository(ctx context.Context, repo string) (distribution.Repository, error) {
	named, err := reference.WithName(repo)
	if err != nil {
		return nil, fmt.Errorf("repository name %q: %w", repo, err)
	}
	r, err := s.registry.Repository(ctx, named)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", repo, err)
	}
	return r, nil
}

func (s *store) tags(ctx context.Context, repo string) ([]string, error) {
	r, err := s.repository(ctx, repo)
	if err != nil {
		return nil, err
	}
	tags, err := r.Tags(ctx).All(ctx)
	if err != nil {
		// A repository with uploads but no tag yet has no tags directory.
		var unknown distribution.ErrRepositoryUnknown
		if errors.As(err, &unknown) || isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list tags of %s: %w", repo, err)
	}
	return tags, nil
}

// untag removes the image's tag and, when no other tag points at it, its manifest, so the
// sweep that follows can reclaim the manifest and layer blobs.
func (s *store) untag(ctx context.Context, img Object) error {
	repo := img.Repository()
	r, err := s.repository(ctx, repo)
	if err != nil {
		return err
	}
	tagSvc := r.Tags(ctx)
	desc, err := tagSvc.Get(ctx, img.UID)
	if err != nil {
		return fmt.Errorf("read tag %s:%s: %w", repo, img.UID, err)
	}
	if err := tagSvc.Untag(ctx, img.UID); err != nil {
		return fmt.Errorf("delete tag %s:%s: %w", repo, img.UID, err)
	}
	others, err := tagSvc.Lookup(ctx, desc)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("find other tags of %s@%s: %w", repo, desc.Digest, err)
	}
	if len(others) > 0 {
		return nil
	}
	ms, err := r.Manifests(ctx)
	if err != nil {
		return fmt.Errorf("open manifests of %s: %w", repo, err)
	}
	if err := ms.Delete(ctx, desc.Digest); err != nil && !isNotFound(err) && !errors.Is(err, distribution.ErrBlobUnknown) {
		return fmt.Errorf("delete manifest %s@%s: %w", repo, desc.Digest, err)
	}
	return nil
}

// removeEmptyRepositories deletes the repositories of the removed images that have no tag
// left, including their layer links and unfinished uploads, and then the namespace
// directories that became empty, so "gc check" does not keep finding husks.
func (s *store) removeEmptyRepositories(ctx context.Context, removed []Object) error {
	remover, ok := s.registry.(distribution.RepositoryRemover)
	if !ok {
		return errors.New("registry storage cannot remove repositories")
	}
	seen := map[string]bool{}
	for _, img := range removed {
		repo := img.Repository()
		if seen[repo] {
			continue
		}
		seen[repo] = true
		tags, err := s.tags(ctx, repo)
		if err != nil {
			return err
		}
		if len(tags) > 0 {
			continue
		}
		named, err := reference.WithName(repo)
		if err != nil {
			return fmt.Errorf("repository name %q: %w", repo, err)
		}
		if err := remover.Remove(ctx, named); err != nil && !isNotFound(err) {
			return fmt.Errorf("remove repository %s: %w", repo, err)
		}
		if img.Kind != KindCVI {
			// os.Remove only removes an empty directory: exactly the namespace left behind.
			_ = os.Remove(filepath.Join(s.repositoriesRoot(), img.Kind, img.Namespace))
		}
	}
	return nil
}

// repositoriesRoot is where distribution's filesystem layout keeps repositories.
func (s *store) repositoriesRoot() string {
	return filepath.Join(s.dir, "docker", "registry", "v2", "repositories")
}

func isNotFound(err error) bool {
	var pnf storagedriver.PathNotFoundError
	return errors.As(err, &pnf)
}

// dirSize is the bytes of regular files under dir, the registry's share of its disk.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("measure registry storage: %w", err)
	}
	return total, nil
}
