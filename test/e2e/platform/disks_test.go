package platform

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const blankDisk = `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualDisk
metadata:
  name: NAME
  namespace: NS
spec:
  persistentVolumeClaim:
    storageClassName: CLASS
    size: SIZE
`

// TestBlankDisksAndResizing: an empty disk on an Immediate class is Ready with its capacity;
// on a WaitForFirstConsumer class it waits for its consumer; growing a disk grows the volume.
func TestBlankDisksAndResizing(t *testing.T) {
	ns := namespace(t, "blank")
	mustKubectl(t, fill(blankDisk, "NAME", "blank-disk", "NS", ns, "CLASS", "local", "SIZE", "100Mi"), "apply", "-f", "-")
	mustKubectl(t, fill(blankDisk, "NAME", "wffc-disk", "NS", ns, "CLASS", "local-wffc", "SIZE", "100Mi"), "apply", "-f", "-")
	vd := waitVD(t, ns, "blank-disk", 2*time.Minute, "Ready")
	if vd.Status.Capacity != "100Mi" || vd.Status.StorageClassName != "local" {
		t.Errorf("blank disk: capacity %q class %q, want 100Mi local", vd.Status.Capacity, vd.Status.StorageClassName)
	}
	out := mustKubectl(t, "", "get", "vd", "blank-disk", "-n", ns)
	if f := strings.Fields(strings.Split(out, "\n")[1]); len(f) < 3 || f[1] != "Ready" || f[2] != "100Mi" {
		t.Errorf("kubectl get vd blank-disk:\n%s", out)
	}
	waitVD(t, ns, "wffc-disk", 2*time.Minute, "WaitForFirstConsumer")

	// The seed's resize: patch the size, the capacity follows and the file grows.
	mustKubectl(t, "", "patch", "vd", "blank-disk", "-n", ns, "--type", "merge", "-p", `{"spec":{"persistentVolumeClaim":{"size":"120Mi"}}}`)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		vd, err := client.VirtualizationV1alpha2().VirtualDisks(ns).Get(context.Background(), "blank-disk", metav1.GetOptions{})
		if err == nil && vd.Status.Phase == "Ready" && vd.Status.Capacity == "120Mi" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after resizing to 120Mi the disk is %s with capacity %q", vd.Status.Phase, vd.Status.Capacity)
		}
		time.Sleep(250 * time.Millisecond)
	}
	vd, _ = client.VirtualizationV1alpha2().VirtualDisks(ns).Get(context.Background(), "blank-disk", metav1.GetOptions{})
	fi, err := os.Stat(volumeFile(t, ns, vd.Status.Target.PersistentVolumeClaim))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < 120<<20 {
		t.Errorf("the volume file has %d bytes after the resize, want at least %d", fi.Size(), 120<<20)
	}
	if out, err := kubectl(t, "", "patch", "vd", "blank-disk", "-n", ns, "--type", "merge", "-p", `{"spec":{"persistentVolumeClaim":{"size":"50Mi"}}}`); err == nil {
		t.Errorf("shrinking a disk was accepted:\n%s", out)
	}
}

// TestDiskFromHTTPAndSizeRules: a disk straight from a URL, and a size smaller than the image.
func TestDiskFromHTTPAndSizeRules(t *testing.T) {
	ns := namespace(t, "disk-http")
	mustKubectl(t, fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualDisk
metadata:
  name: NAME
  namespace: NS
spec:
  persistentVolumeClaim:
    size: 40Mi
  dataSource:
    type: HTTP
    http:
      url: URL
`, "NAME", "from-url", "NS", ns, "URL", fileURL("disk.vdi")), "apply", "-f", "-")
	mustKubectl(t, fill(httpImage, "NAME", "src", "NS", ns, "URL", fileURL("disk.qcow2")), "apply", "-f", "-")
	vd := waitVD(t, ns, "from-url", 3*time.Minute, "Ready")
	if vd.Status.Capacity != "40Mi" {
		t.Errorf("capacity %q, want 40Mi", vd.Status.Capacity)
	}
	got, err := prefixSHA256(volumeFile(t, ns, vd.Status.Target.PersistentVolumeClaim), diskSize)
	if err != nil {
		t.Fatal(err)
	}
	if got != fixtures.rawSHA256 {
		t.Errorf("disk from a vdi URL holds sha256 %s, want %s", got, fixtures.rawSHA256)
	}

	// Without a size the data goes through DVCR first to learn it; with one it is written
	// straight to the volume. An ISO is refused either way.
	for name, url := range map[string]string{"no-size": fileURL("disk.qcow2.gz"), "iso": fileURL("cd.iso")} {
		m := fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualDisk
metadata:
  name: NAME
  namespace: NS
spec:
  dataSource:
    type: HTTP
    http:
      url: URL
`, "NAME", name, "NS", ns, "URL", url)
		if name == "iso" {
			m += "  persistentVolumeClaim:\n    size: 40Mi\n"
		}
		mustKubectl(t, m, "apply", "-f", "-")
	}
	vd = waitVD(t, ns, "no-size", 3*time.Minute, "Ready")
	if vd.Status.Capacity != "32Mi" {
		t.Errorf("a disk from a URL without a size has capacity %q, want the image's 32Mi", vd.Status.Capacity)
	}
	if got, err := prefixSHA256(volumeFile(t, ns, vd.Status.Target.PersistentVolumeClaim), diskSize); err != nil || got != fixtures.rawSHA256 {
		t.Errorf("the disk from a qcow2.gz URL holds sha256 %s (%v), want %s", got, err, fixtures.rawSHA256)
	}
	vd = waitVD(t, ns, "iso", 3*time.Minute, "Failed")
	if msg := condition(vd.Status.Conditions, "Ready").Message; !strings.Contains(msg, "ISO") {
		t.Errorf("a disk from an ISO URL: Ready says %q", msg)
	}

	waitVI(t, ns, "src", 3*time.Minute, "Ready")
	mustKubectl(t, fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualDisk
metadata:
  name: too-small
  namespace: NS
spec:
  persistentVolumeClaim:
    size: 16Mi
  dataSource:
    type: ObjectRef
    objectRef:
      kind: VirtualImage
      name: src
`, "NS", ns), "apply", "-f", "-")
	vd = waitVD(t, ns, "too-small", 2*time.Minute, "Failed")
	if msg := condition(vd.Status.Conditions, "Ready").Message; !strings.Contains(msg, "16Mi") || !strings.Contains(msg, "32Mi") {
		t.Errorf("a disk smaller than its image: Ready says %q, want both sizes", msg)
	}
}

// TestContainerImageSource builds the seed's image (FROM scratch, COPY x /disk/x), pushes it
// to a registry that wants a password, and imports it with an imagePullSecret.
func TestContainerImageSource(t *testing.T) {
	ns := namespace(t, "container-image")
	reg := httptest.NewServer(basicAuth("puller", "s3cret", registry.New(registry.Logger(log.New(io.Discard, "", 0)))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	ref := host + "/e2e/ubuntu2204:latest"
	pushDiskImage(t, ref, "disk/ubuntu2204.img", fixtures.path("disk.qcow2"), authn.FromConfig(authn.AuthConfig{Username: "puller", Password: "s3cret"}))

	mustKubectl(t, "", "create", "secret", "docker-registry", "pull", "-n", ns,
		"--docker-server="+host, "--docker-username=puller", "--docker-password=s3cret")
	mustKubectl(t, fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: ubuntu-2204
  namespace: NS
spec:
  storage: ContainerRegistry
  dataSource:
    type: ContainerImage
    containerImage:
      image: REF
      imagePullSecret:
        name: pull
`, "NS", ns, "REF", ref), "apply", "-f", "-")
	st := waitVI(t, ns, "ubuntu-2204", 3*time.Minute, "Ready")
	if st.Format != "qcow2" || st.Unpacked != strconv.Itoa(diskSize) {
		t.Errorf("image from a container image: format %q unpacked %q", st.Format, st.Unpacked)
	}
	if sum, _ := dvcrBlob(t, st.Registry); sum != fixtures.sums["disk.qcow2"] {
		t.Errorf("DVCR holds sha256 %s, the file under /disk/ is %s", sum, fixtures.sums["disk.qcow2"])
	}
}

func basicAuth(user, pass string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="e2e"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// pushDiskImage pushes an image with one tar layer holding file at path inTar.
func pushDiskImage(t *testing.T, ref, inTar, file string, auth authn.Authenticator) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "disk/", Typeflag: tar.TypeDir, Mode: 0o755})
	_ = tw.WriteHeader(&tar.Header{Name: inTar, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))})
	_, _ = tw.Write(data)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithAuth(auth)); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}
