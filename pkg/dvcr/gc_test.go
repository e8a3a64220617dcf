package dvcr

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// image is one image the test pushes, and whether its object still exists.
type image struct {
	obj  Object
	live bool
}

func TestGarbageCollection(t *testing.T) {
	r := startRegistry(t)
	ctx := context.Background()

	images := []image{
		{Object{Kind: KindCVI, Name: "debian-12", UID: "uid-cvi-old"}, false},
		{Object{Kind: KindCVI, Name: "alpine", UID: "uid-cvi-live"}, true},
		// Re-created VirtualImage: the old UID's image is an orphan, the new one lives.
		{Object{Kind: KindVI, Namespace: "default", Name: "ubuntu-2204", UID: "uid-vi-old"}, false},
		{Object{Kind: KindVI, Namespace: "default", Name: "ubuntu-2204", UID: "uid-vi-new"}, true},
		{Object{Kind: KindVI, Namespace: "prod", Name: "centos", UID: "uid-vi-prod"}, true},
		{Object{Kind: KindVD, Namespace: "default", Name: "debian-10-root", UID: "uid-vd-old"}, false},
		{Object{Kind: KindVD, Namespace: "prod", Name: "data", UID: "uid-vd-live"}, true},
	}
	const layerSize = 256 << 10
	digests := map[Object]string{}
	var live StaticObjects
	for _, im := range images {
		repo := im.obj.Repository()
		d, err := r.push(repo, im.obj.UID, r.token(t, repo, "pull", "push"), layerSize)
		if err != nil {
			t.Fatalf("push %s:%s: %v", repo, im.obj.UID, err)
		}
		digests[im.obj] = d.String()
		if im.live {
			live = append(live, im.obj)
		}
	}
	// The same image under a live and an orphaned repository: sweeping the orphan must keep
	// the blobs the live one shares. (Pushed as a copy: cross-repository mounts are not
	// something the importer relies on.)
	shared, err := random.Image(layerSize, 1)
	if err != nil {
		t.Fatal(err)
	}
	sharedLive := Object{Kind: KindVD, Namespace: "prod", Name: "shared-live", UID: "uid-shared-live"}
	sharedOrphan := Object{Kind: KindVD, Namespace: "prod", Name: "shared-gone", UID: "uid-shared-gone"}
	for _, o := range []Object{sharedLive, sharedOrphan} {
		ref, err := name.ParseReference(r.addr+"/"+o.Repository()+":"+o.UID, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, shared, withToken(r.token(t, o.Repository(), "pull", "push"))); err != nil {
			t.Fatal(err)
		}
		d, _ := shared.Digest()
		digests[o] = d.String()
	}
	live = append(live, sharedLive)
	// Objects whose image was never pushed count as resources, not as manifests.
	live = append(live, Object{Kind: KindVD, Namespace: "prod", Name: "blank", UID: "uid-blank"})

	c := &Collector{StorageDir: r.storage, Objects: live}
	plan, err := c.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteCheck(&out, plan, DiskUsage{Total: 100 << 30, Used: 25 << 30, Avail: 75 << 30}); err != nil {
		t.Fatal(err)
	}
	want := `Found 2 cvi, 3 vi, 4 vd manifests in registry
Found 1 cvi, 2 vi, 3 vd resources in cluster
  Total     Used    Avail     Use%
100.0GiB  25.0GiB  75.0GiB      25%
Images eligible for cleanup:
KIND                   NAMESPACE            NAME
ClusterVirtualImage                         debian-12
VirtualDisk            default              debian-10-root
VirtualDisk            prod                 shared-gone
VirtualImage           default              ubuntu-2204
`
	if out.String() != want {
		t.Fatalf("gc check printed:\n%s\nwant:\n%s", out.String(), want)
	}

	// Run while the server serves, as the scheduled collection does.
	res, err := c.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if IsReadOnly(r.storage) {
		t.Fatal("registry still read-only after gc run")
	}
	if len(res.Orphans) != 4 {
		t.Fatalf("run removed %v", res.Orphans)
	}
	// Three orphans own their layer; each random layer is layerSize bytes of gzip input.
	if res.Freed < 3*layerSize/2 {
		t.Fatalf("run freed only %d bytes", res.Freed)
	}

	for o, d := range digests {
		repo := o.Repository()
		got, err := r.pull(repo, o.UID, r.token(t, repo, "pull"))
		isLive := false
		for _, l := range live {
			isLive = isLive || l == o
		}
		if isLive {
			if err != nil || got.String() != d {
				t.Errorf("live %s:%s after gc: %s, %v (want %s)", repo, o.UID, got, err, d)
			}
			continue
		}
		if s := statusOf(err); s != http.StatusNotFound {
			t.Errorf("orphan %s:%s after gc: status %d (%v), want 404", repo, o.UID, s, err)
		}
	}

	// Emptied repositories are gone from storage, namespaces with them.
	repos := filepath.Join(r.storage, "docker", "registry", "v2", "repositories")
	for _, gone := range []string{"cvi/debian-12", "vd/default", "vd/prod/shared-gone"} {
		if _, err := os.Stat(filepath.Join(repos, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still in storage (%v)", gone, err)
		}
	}
	again, err := c.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Orphans) != 0 || len(again.Images) != 5 {
		t.Fatalf("after run: %d images, orphans %v", len(again.Images), again.Orphans)
	}
	out.Reset()
	if err := WriteCheck(&out, again, DiskUsage{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "No images eligible for cleanup.") {
		t.Fatalf("second check:\n%s", out.String())
	}
}

type failingObjects struct{}

func (failingObjects) ListObjects(context.Context) ([]Object, error) {
	return nil, errors.New("apiserver unavailable")
}

// A collection that cannot list objects removes nothing and leaves the registry writable.
func TestGarbageCollectionListFailure(t *testing.T) {
	r := startRegistry(t)
	const repo = "cvi/keep"
	d, err := r.push(repo, "uid", r.token(t, repo, "pull", "push"), 1024)
	if err != nil {
		t.Fatal(err)
	}
	c := &Collector{StorageDir: r.storage, Objects: failingObjects{}}
	if _, err := c.Run(context.Background()); err == nil {
		t.Fatal("run succeeded without a list of objects")
	}
	if IsReadOnly(r.storage) {
		t.Fatal("registry left read-only after a failed run")
	}
	if got, err := r.pull(repo, "uid", r.token(t, repo, "pull")); err != nil || got != d {
		t.Fatalf("image after failed run: %s, %v", got, err)
	}
}

func TestEmptyStorage(t *testing.T) {
	c := &Collector{StorageDir: t.TempDir(), Objects: StaticObjects{{Kind: KindVI, Namespace: "a", Name: "b", UID: "c"}}}
	plan, err := c.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Images) != 0 || len(plan.Orphans) != 0 || len(plan.Objects) != 1 {
		t.Fatalf("plan = %+v", plan)
	}
	if _, err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A layer whose manifest has not been pushed yet survives a run; once older than the
// grace period, it is garbage.
func TestGarbageCollectionKeepsPushInFlight(t *testing.T) {
	r := startRegistry(t)
	ctx := context.Background()
	const repo = "vi/default/importing"
	layer, err := random.Layer(64<<10, "application/octet-stream")
	if err != nil {
		t.Fatal(err)
	}
	repoRef, err := name.NewRepository(r.addr+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteLayer(repoRef, layer, withToken(r.token(t, repo, "pull", "push"))); err != nil {
		t.Fatal(err)
	}
	// Its object exists: the importer created it before pushing.
	c := &Collector{StorageDir: r.storage, Objects: StaticObjects{{Kind: KindVI, Namespace: "default", Name: "importing", UID: "uid"}}}
	res, err := c.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Blobs != 0 || res.KeptYoung != 1 {
		t.Fatalf("young layer: removed %d blobs, kept %d", res.Blobs, res.KeptYoung)
	}
	d, _ := layer.Digest()
	rc, err := mustLayer(t, r, repo, d.String()).Compressed()
	if err != nil {
		t.Fatalf("young layer after gc: %v", err)
	}
	rc.Close()

	c.BlobGrace = time.Nanosecond
	res, err = c.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Blobs != 1 {
		t.Fatalf("old unreferenced layer: removed %d blobs", res.Blobs)
	}
}

func mustLayer(t *testing.T, r *testRegistry, repo, dgst string) v1.Layer {
	t.Helper()
	ref, err := name.NewDigest(r.addr+"/"+repo+"@"+dgst, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	l, err := remote.Layer(ref, withToken(r.token(t, repo, "pull")))
	if err != nil {
		t.Fatal(err)
	}
	return l
}
