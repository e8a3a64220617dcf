package platform

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"

	"github.com/virtplane/virtplane/pkg/dvcr"
)

const httpImage = `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: NAME
  namespace: NS
spec:
  storage: ContainerRegistry
  dataSource:
    type: HTTP
    http:
      url: "URL"
`

const diskFromImage = `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualDisk
metadata:
  name: NAME
  namespace: NS
spec:
  dataSource:
    type: ObjectRef
    objectRef:
      kind: KIND
      name: SOURCE
`

// TestQuickStartImageToDisk is the first two steps of the user guide's Quick start: a
// VirtualImage from an HTTP URL goes Provisioning (with progress) to Ready with its bytes in
// DVCR, and a VirtualDisk made from it goes Ready on a volume holding exactly the disk.
func TestQuickStartImageToDisk(t *testing.T) {
	ns := namespace(t, "quickstart")
	// Importer Pods meet the restricted Pod Security Standard, as a hardened cluster wants.
	mustKubectl(t, "", "label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
	// Watch the phases a user sees with `kubectl get vi -w`: a watch from the list's
	// resourceVersion gets every status the controller writes, however fast it goes.
	list, err := client.VirtualizationV1alpha2().VirtualImages(ns).List(ctx(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := client.VirtualizationV1alpha2().VirtualImages(ns).Watch(ctx(t), metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	phases := make(chan []string, 1)
	go func() {
		var seen []string
		for ev := range w.ResultChan() {
			if vi, ok := ev.Object.(*v1alpha2.VirtualImage); ok && vi.Name == "ubuntu" {
				if p := string(vi.Status.Phase); len(seen) == 0 || seen[len(seen)-1] != p {
					seen = append(seen, p)
				}
				if vi.Status.Phase == v1alpha2.ImageReady {
					break
				}
			}
		}
		phases <- seen
	}()
	mustKubectl(t, fill(httpImage, "NAME", "ubuntu", "NS", ns, "URL", fileURL("disk.qcow2")), "apply", "-f", "-")
	st := waitVI(t, ns, "ubuntu", 3*time.Minute, "Ready")

	if st.Format != "qcow2" || st.CDROM || st.Unpacked != strconv.Itoa(diskSize) || st.Progress != "100%" {
		t.Errorf("ready image: format %q cdrom %v unpackedBytes %q progress %q, want qcow2 false %d 100%%",
			st.Format, st.CDROM, st.Unpacked, st.Progress, diskSize)
	}
	if c := condition(st.Conditions, "Ready"); c.Status != "True" {
		t.Errorf("Ready condition: %+v", c)
	}
	wantRef := dvcr.Repository(dvcr.KindVI, ns, "ubuntu")
	if !strings.Contains(st.Registry, "/"+wantRef+":") {
		t.Errorf("registryURL %q does not name repository %s", st.Registry, wantRef)
	}
	sum, ann := dvcrBlob(t, st.Registry)
	if sum != fixtures.sums["disk.qcow2"] {
		t.Errorf("DVCR holds sha256 %s, the served file is %s", sum, fixtures.sums["disk.qcow2"])
	}
	if ann[dvcr.AnnotationFormat] != "qcow2" || ann[dvcr.AnnotationUnpackedSize] != strconv.Itoa(diskSize) {
		t.Errorf("manifest annotations %v", ann)
	}
	out := mustKubectl(t, "", "get", "vi", "ubuntu", "-n", ns)
	if f := strings.Fields(strings.Split(out, "\n")[1]); len(f) < 4 || f[1] != "Ready" || f[2] != "false" || f[3] != "100%" {
		t.Errorf("kubectl get vi:\n%s", out)
	}
	select {
	case seen := <-phases:
		if !slices.Contains(seen, "Provisioning") {
			t.Errorf("the watch never saw the image Provisioning; phases: %q", seen)
		}
	case <-time.After(30 * time.Second):
		t.Error("the watch did not see the image Ready")
	}
	wide := mustKubectl(t, "", "get", "vi", "ubuntu", "-n", ns, "-o", "wide")
	if !strings.Contains(wide, "32Mi") || !strings.Contains(wide, st.Registry) {
		t.Errorf("kubectl get vi -o wide shows neither the unpacked size 32Mi nor %s:\n%s", st.Registry, wide)
	}

	mustKubectl(t, fill(diskFromImage, "NAME", "linux-disk", "NS", ns, "KIND", "VirtualImage", "SOURCE", "ubuntu"), "apply", "-f", "-")
	vd := waitVD(t, ns, "linux-disk", 3*time.Minute, "Ready")
	if vd.Status.Capacity != "32Mi" {
		t.Errorf("disk capacity %q, want 32Mi (the image's unpacked size)", vd.Status.Capacity)
	}
	file := volumeFile(t, ns, vd.Status.Target.PersistentVolumeClaim)
	got, err := prefixSHA256(file, diskSize)
	if err != nil {
		t.Fatal(err)
	}
	if got != fixtures.rawSHA256 {
		t.Errorf("the volume holds sha256 %s, the raw disk is %s", got, fixtures.rawSHA256)
	}
	out = mustKubectl(t, "", "get", "vi,vd", "-n", ns)
	if !strings.Contains(out, "virtualdisk.virtualization.deckhouse.io/linux-disk") || !strings.Contains(out, "Ready") {
		t.Errorf("kubectl get vi,vd:\n%s", out)
	}
}

// TestImageFormats imports every supported format, plain and compressed, and checks what was
// detected from the content (never from the name).
func TestImageFormats(t *testing.T) {
	ns := namespace(t, "formats")
	cases := []struct {
		file, format string
		cdrom        bool
		size         int64 // unpacked bytes; 0: diskSize
	}{
		{"disk.raw", "raw", false, 0},
		{"disk.vmdk", "vmdk", false, 0},
		{"disk.vdi", "vdi", false, 0},
		{"disk.qcow2.gz", "qcow2", false, 0},
		{"disk.raw.xz", "raw", false, 0},
		{"image-without-extension", "qcow2", false, 0},
		{"cd.iso", "iso", true, -1},
		{"flaky/disk.qcow2", "qcow2", false, 0},
		{"redirect/disk.qcow2", "qcow2", false, 0},
	}
	for i, c := range cases {
		mustKubectl(t, fill(httpImage, "NAME", fmt.Sprintf("img-%d", i), "NS", ns, "URL", fileURL(c.file)), "apply", "-f", "-")
	}
	for i, c := range cases {
		st := waitVI(t, ns, fmt.Sprintf("img-%d", i), 3*time.Minute, "Ready")
		want := strconv.Itoa(diskSize)
		if c.size < 0 {
			want = st.Unpacked // an ISO's size is its length
		}
		if st.Format != c.format || st.CDROM != c.cdrom || st.Unpacked != want {
			t.Errorf("%s: format %q cdrom %v unpacked %q, want %s %v %s", c.file, st.Format, st.CDROM, st.Unpacked, c.format, c.cdrom, want)
		}
	}
}

// TestImageFailures: every bad source ends Failed with a reason that says what is wrong.
func TestImageFailures(t *testing.T) {
	ns := namespace(t, "failures")
	wrong := strings.Repeat("0", 64)
	cases := []struct {
		name, url, checksum string
		want                []string // words the Ready condition's message must contain
	}{
		{"missing", fileURL("no-such-file.qcow2"), "", []string{"404"}},
		{"checksum", fileURL("disk.qcow2"), wrong, []string{"sha256"}},
		{"truncated", fileURL("truncated.qcow2.gz"), "", []string{"gzip"}},
		{"text", fileURL("page.img"), "", []string{"text"}},
	}
	for _, c := range cases {
		m := fill(httpImage, "NAME", c.name, "NS", ns, "URL", c.url)
		if c.checksum != "" {
			m += "      checksum:\n        sha256: \"" + c.checksum + "\"\n"
		}
		mustKubectl(t, m, "apply", "-f", "-")
	}
	for _, c := range cases {
		st := waitVI(t, ns, c.name, 3*time.Minute, "Failed")
		msg := strings.ToLower(condition(st.Conditions, "Ready").Message)
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: the Ready condition says %q, want it to mention %q", c.name, msg, w)
			}
		}
		if st.Registry != "" {
			t.Errorf("%s: a failed image names a registry URL %q", c.name, st.Registry)
		}
	}
}

// TestObjectRefChain makes a VirtualImage, a ClusterVirtualImage from it, and a disk from the
// cluster image: the bytes survive every step.
func TestObjectRefChain(t *testing.T) {
	ns := namespace(t, "chain")
	mustKubectl(t, fill(httpImage, "NAME", "base", "NS", ns, "URL", fileURL("disk.vmdk")), "apply", "-f", "-")
	waitVI(t, ns, "base", 3*time.Minute, "Ready")
	cvi := fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: ClusterVirtualImage
metadata:
  name: e2e-chain-NS
spec:
  dataSource:
    type: ObjectRef
    objectRef:
      kind: VirtualImage
      name: base
      namespace: NS
`, "NS", ns)
	mustKubectl(t, cvi, "apply", "-f", "-")
	t.Cleanup(func() { _, _ = kubectl(t, "", "delete", "cvi", "e2e-chain-"+ns, "--wait=false") })
	st := waitCVI(t, "e2e-chain-"+ns, 3*time.Minute, "Ready")
	if st.Format != "vmdk" || st.Unpacked != strconv.Itoa(diskSize) {
		t.Errorf("cvi from vi: format %q unpacked %q", st.Format, st.Unpacked)
	}
	mustKubectl(t, fill(diskFromImage, "NAME", "from-cvi", "NS", ns, "KIND", "ClusterVirtualImage", "SOURCE", "e2e-chain-"+ns), "apply", "-f", "-")
	vd := waitVD(t, ns, "from-cvi", 3*time.Minute, "Ready")
	got, err := prefixSHA256(volumeFile(t, ns, vd.Status.Target.PersistentVolumeClaim), diskSize)
	if err != nil {
		t.Fatal(err)
	}
	if got != fixtures.rawSHA256 {
		t.Errorf("vi → cvi → vd: the volume holds sha256 %s, want %s", got, fixtures.rawSHA256)
	}
}
