package importer

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// tarLayer is a layer holding files (path → content), as `COPY x /disk/x` makes.
func tarLayer(t *testing.T, files map[string][]byte) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for p, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: p, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(content); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// basicAuth lets only user:pass through, as a private registry does.
func basicAuth(user, pass string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// TestImportFromContainerImage: a user's image with the disk under /disk/ in a private
// registry; the later layer's disk wins.
func TestImportFromContainerImage(t *testing.T) {
	f := getFixtures(t)
	qcow2 := readFile(t, f.image(t, FormatQCOW2))
	userRegistry := dvcrServer(t, basicAuth("alice", "s3cret"))
	ref := userRegistry + "/team/ubuntu:22.04"
	img, err := mutate.AppendLayers(empty.Image,
		tarLayer(t, map[string][]byte{"disk/old.img": bytes.Repeat([]byte("stale "), 1000)}),
		tarLayer(t, map[string][]byte{"etc/motd": []byte("hi\n"), "disk/disk.qcow2": qcow2}),
	)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})); err != nil {
		t.Fatalf("push the user's image: %v", err)
	}

	host := dvcrServer(t, nil)
	cfg := testConfig(host)
	cfg.SourceType, cfg.SourceURL = SourceRegistry, ref
	expectFailure(t, runMode(t, ModeImport, cfg), ReasonSourceError, "credentials")

	cfg.SourceDockerJSON = []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, userRegistry,
		base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))))
	cfg.Checksums = map[string]string{"sha256": sha256Hex(qcow2)}
	res := runMode(t, ModeImport, cfg)
	if res.Error != "" {
		t.Fatalf("import: %s (%s)", res.Error, res.Reason)
	}
	if res.Format != FormatQCOW2 || res.UnpackedBytes != diskSize {
		t.Errorf("result %+v, want qcow2 of %d bytes", res, diskSize)
	}
	stored, err := readStored(t, cfg.DestImage)
	if err != nil || stored.blobSHA256 != sha256Hex(qcow2) {
		t.Errorf("DVCR blob %s (%v), want the qcow2 file %s", stored.blobSHA256, err, sha256Hex(qcow2))
	}

	// A DVCR image read as a registry source (the disk layer is the file itself).
	again := testConfig(host)
	again.SourceType, again.SourceURL = SourceRegistry, cfg.DestImage
	if res := runMode(t, ModeImport, again); res.Error != "" || res.Format != FormatQCOW2 {
		t.Fatalf("import of a DVCR image: %+v", res)
	}

	missing := testConfig(host)
	missing.SourceType, missing.SourceURL = SourceDVCR, host+"/vi/ns/absent:uid"
	expectFailure(t, runMode(t, ModeImport, missing), ReasonSourceNotFound)

	noDisk := userRegistry + "/team/nodisk:1"
	img2, _ := mutate.AppendLayers(empty.Image, tarLayer(t, map[string][]byte{"etc/motd": []byte("hi\n")}))
	r2, _ := name.ParseReference(noDisk)
	if err := remote.Write(r2, img2, remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}
	cfg.SourceURL = noDisk
	expectFailure(t, runMode(t, ModeImport, cfg), ReasonUnsupportedFormat, "/disk/")
}
