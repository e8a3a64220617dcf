package virt

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/virtplane/virtplane/pkg/dvcr"
)

// The layout constants repeat pkg/dvcr's; they must not drift.
func TestDiskLayoutMatchesDVCR(t *testing.T) {
	if diskLayerMediaType != dvcr.DiskLayerMediaType || diskDir != dvcr.DiskDir || formatAnnotation != dvcr.AnnotationFormat {
		t.Fatal("the containerDisk layout differs from pkg/dvcr's")
	}
}

// TestPullContainerDisks pulls both image layouts the platform knows from a registry that
// wants the credentials of the VMI's pull Secret, and pulls each only once.
func TestPullContainerDisks(t *testing.T) {
	var blobGets atomic.Int32
	reg := registry.New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "puller" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet {
			blobGets.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	auth := base64.StdEncoding.EncodeToString([]byte("puller:s3cret"))

	qcow2 := append([]byte("QFI\xfb\x00\x00\x00\x03"), bytes.Repeat([]byte{7}, 4096)...)
	dvcrImage := push(t, host, "vi/prod/ubuntu:uid1", mutate.Annotations(mustAppend(t, static.NewLayer(qcow2, types.MediaType(diskLayerMediaType))),
		map[string]string{formatAnnotation: "qcow2"}).(v1.Image))
	iso := bytes.Repeat([]byte("CD001"), 1000)
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	for _, f := range []struct {
		name string
		data []byte
	}{{"README", []byte("not the disk")}, {"disk/alpine.iso", iso}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	userImage := push(t, host, "users/alpine:3.20", mustAppend(t, static.NewLayer(tarball.Bytes(), types.OCIUncompressedLayer)))

	client := fake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: "prod"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: fmt.Appendf(nil, `{"auths":{"http://%s/v2/":{"auth":%q}}}`, host, auth)},
	})
	p, err := newPuller(Host{Client: client}, RegistryOptions{Insecure: true}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		image, format string
		data          []byte
	}{{dvcrImage, FormatQcow2, qcow2}, {userImage, FormatRaw, iso}} {
		file, format, err := p.pull(ctx, "prod", tc.image, "pull")
		if err != nil {
			t.Fatalf("pull %s: %v", tc.image, err)
		}
		got, err := os.ReadFile(file)
		if err != nil || !bytes.Equal(got, tc.data) || format != tc.format {
			t.Errorf("pull %s: %d bytes in %s, format %s, %v", tc.image, len(got), file, format, err)
		}
		if fi, _ := os.Stat(file); fi.Mode().Perm()&0o222 != 0 {
			t.Errorf("cached disk %s is writable: %v", file, fi.Mode())
		}
	}
	before := blobGets.Load()
	if _, _, err := p.pull(ctx, "prod", dvcrImage, "pull"); err != nil {
		t.Fatal(err)
	}
	if blobGets.Load() != before {
		t.Errorf("a cached image was downloaded again")
	}
	if _, _, err := p.pull(ctx, "prod", dvcrImage, ""); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("pull without the secret: %v", err)
	}
}

func mustAppend(t *testing.T, l v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: l, MediaType: func() types.MediaType { mt, _ := l.MediaType(); return mt }()})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func push(t *testing.T, host, repoTag string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "puller", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}
	return ref.String()
}
