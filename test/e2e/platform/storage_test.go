package platform

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestImageOnAPVCAndImagesFromDisks: a VirtualImage stored on a PVC (the guide's
// ubuntu-22-04-pvc), a disk cloned from it, an image made from that disk, and a disk uploaded
// with d8: the raw disk survives every step.
func TestImageOnAPVCAndImagesFromDisks(t *testing.T) {
	ns := namespace(t, "pvc-image")
	mustKubectl(t, fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: ubuntu-22-04-pvc
  namespace: NS
spec:
  storage: PersistentVolumeClaim
  persistentVolumeClaim:
    storageClassName: local
  dataSource:
    type: HTTP
    http:
      url: URL
`, "NS", ns, "URL", fileURL("disk.qcow2.gz")), "apply", "-f", "-")
	st := waitVI(t, ns, "ubuntu-22-04-pvc", 3*time.Minute, "Ready")
	if st.PVC == "" || st.Format != "qcow2" || st.Unpacked != strconv.Itoa(diskSize) {
		t.Fatalf("image on a PVC: pvc %q format %q unpacked %q", st.PVC, st.Format, st.Unpacked)
	}
	if got, err := prefixSHA256(volumeFile(t, ns, st.PVC), diskSize); err != nil || got != fixtures.rawSHA256 {
		t.Errorf("the image's PVC holds sha256 %s (%v), want the raw disk %s", got, err, fixtures.rawSHA256)
	}

	mustKubectl(t, fill(diskFromImage, "NAME", "cloned", "NS", ns, "KIND", "VirtualImage", "SOURCE", "ubuntu-22-04-pvc"), "apply", "-f", "-")
	vd := waitVD(t, ns, "cloned", 3*time.Minute, "Ready")
	if got, err := prefixSHA256(volumeFile(t, ns, vd.Status.Target.PersistentVolumeClaim), diskSize); err != nil || got != fixtures.rawSHA256 {
		t.Errorf("the disk cloned from the image's PVC holds sha256 %s (%v)", got, err)
	}

	// "Creating an image from a disk": the disk is not attached to a VM, so it may be read.
	mustKubectl(t, fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: from-disk
  namespace: NS
spec:
  storage: ContainerRegistry
  dataSource:
    type: ObjectRef
    objectRef:
      kind: VirtualDisk
      name: cloned
`, "NS", ns), "apply", "-f", "-")
	img := waitVI(t, ns, "from-disk", 3*time.Minute, "Ready")
	if img.Format != "raw" || img.Unpacked != strconv.Itoa(diskSize) {
		t.Errorf("image from a disk: format %q unpacked %q, want raw %d", img.Format, img.Unpacked, diskSize)
	}
	if sum, _ := dvcrBlob(t, img.Registry); sum != fixtures.rawSHA256 {
		t.Errorf("the image made from the disk holds sha256 %s, want %s", sum, fixtures.rawSHA256)
	}

	// A disk uploaded through kube-apiserver with d8.
	mustKubectl(t, fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualDisk
metadata:
  name: uploaded
  namespace: NS
spec:
  dataSource:
    type: Upload
`, "NS", ns), "apply", "-f", "-")
	waitVD(t, ns, "uploaded", 2*time.Minute, "WaitForUserUpload")
	out, err := exec.Command(filepath.Join(bin, "d8"), "v", "upload", "uploaded", fixtures.path("disk.vdi"),
		"--kind", "vd", "-n", ns, "--kubeconfig", stack.Kubeconfig, "--wait").CombinedOutput()
	if err != nil {
		t.Fatalf("d8 v upload --kind vd: %v\n%s", err, out)
	}
	vd = waitVD(t, ns, "uploaded", 3*time.Minute, "Ready")
	if got, err := prefixSHA256(volumeFile(t, ns, vd.Status.Target.PersistentVolumeClaim), diskSize); err != nil || got != fixtures.rawSHA256 {
		t.Errorf("the uploaded vdi disk holds sha256 %s (%v), want %s", got, err, fixtures.rawSHA256)
	}
}

// TestImageInUseStaysTerminating: deleting an image a VM uses keeps it Terminating until the
// VM lets go, as the guide warns.
func TestImageInUseStaysTerminating(t *testing.T) {
	ns := namespace(t, "in-use")
	mustKubectl(t, fill(httpImage, "NAME", "used", "NS", ns, "URL", fileURL("cd.iso")), "apply", "-f", "-")
	waitVI(t, ns, "used", 3*time.Minute, "Ready")
	mustKubectl(t, fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: linux-vm
  namespace: NS
spec:
  virtualMachineClassName: host
  cpu:
    cores: 1
  memory:
    size: 1Gi
  blockDeviceRefs:
    - kind: VirtualImage
      name: used
`, "NS", ns), "apply", "-f", "-")
	deadline := time.Now().Add(time.Minute)
	for condition(waitVI(t, ns, "used", time.Minute, "Ready").Conditions, "InUse").Status != "True" {
		if time.Now().After(deadline) {
			t.Fatal("the image never says it is in use")
		}
		time.Sleep(250 * time.Millisecond)
	}
	mustKubectl(t, "", "delete", "vi", "used", "-n", ns, "--wait=false")
	phase := ""
	for deadline := time.Now().Add(30 * time.Second); phase != "Terminating" && time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		phase = jsonPath(t, "{.status.phase}", "get", "vi", "used", "-n", ns)
	}
	if phase != "Terminating" {
		t.Fatalf("an image in use being deleted is %q, want Terminating", phase)
	}
	// It stays: the VM still uses it.
	time.Sleep(2 * time.Second)
	if phase := jsonPath(t, "{.status.phase}", "get", "vi", "used", "-n", ns); phase != "Terminating" {
		t.Errorf("an image in use went from Terminating to %q while its VM exists", phase)
	}
	mustKubectl(t, "", "delete", "vm", "linux-vm", "-n", ns)
	mustKubectl(t, "", "wait", "--for=delete", "vi/used", "-n", ns, "--timeout=60s")
}
