package localnode

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"
)

func claim(name string, mode corev1.PersistentVolumeMode, size string, access ...corev1.PersistentVolumeAccessMode) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: access,
			VolumeMode:  &mode,
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
	}
}

func TestProvisionBlockAndFilesystem(t *testing.T) {
	dir := t.TempDir()
	p := &FileProvisioner{Dir: dir}
	class := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local"}, Provisioner: ProvisionerName}
	pv, state, err := p.Provision(context.Background(), controller.ProvisionOptions{
		StorageClass: class, PVName: "pvc-1", PVC: claim("a", corev1.PersistentVolumeBlock, "64Mi", corev1.ReadWriteMany)})
	if err != nil || state != controller.ProvisioningFinished {
		t.Fatal(state, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "pvc-1.img"))
	if err != nil || fi.Size() != 64<<20 {
		t.Fatalf("volume file: %v %v", fi, err)
	}
	if pv.Spec.NodeAffinity != nil || pv.Spec.AccessModes[0] != corev1.ReadWriteMany || *pv.Spec.VolumeMode != corev1.PersistentVolumeBlock ||
		pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete || pv.Spec.CSI.Driver != ProvisionerName {
		t.Fatalf("pv %+v", pv.Spec)
	}
	fsPV, _, err := p.Provision(context.Background(), controller.ProvisionOptions{
		StorageClass: class, PVName: "pvc-2", PVC: claim("b", corev1.PersistentVolumeFilesystem, "1Gi", corev1.ReadOnlyMany)})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "pvc-2")); err != nil || !fi.IsDir() {
		t.Fatalf("volume directory: %v", err)
	}
	for _, v := range []*corev1.PersistentVolume{pv, fsPV} {
		if err := p.Delete(context.Background(), v); err != nil {
			t.Fatal(err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left after delete: %v", entries)
	}
}

func TestResizeGrowsFileThenClaim(t *testing.T) {
	dir := t.TempDir()
	p := &FileProvisioner{Dir: dir}
	pvc := claim("disk", corev1.PersistentVolumeBlock, "10Mi", corev1.ReadWriteOnce)
	pv, _, err := p.Provision(context.Background(), controller.ProvisionOptions{PVName: "pvc-9", PVC: pvc})
	if err != nil {
		t.Fatal(err)
	}
	pv.Annotations = map[string]string{annProvisionedBy: ProvisionerName}
	pvc.Spec.VolumeName = pv.Name
	pvc.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
		Capacity:   corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Mi")},
		Conditions: []corev1.PersistentVolumeClaimCondition{{Type: corev1.PersistentVolumeClaimResizing, Status: corev1.ConditionTrue}}}
	pvc.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("20Mi")
	client := fake.NewClientset(pv, pvc)
	r := &resizer{client: client, dir: dir}
	if err := r.expand(context.Background(), pvc, pv); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "pvc-9.img")); fi.Size() != 20<<20 {
		t.Fatalf("file size %d", fi.Size())
	}
	gotPV, _ := client.CoreV1().PersistentVolumes().Get(context.Background(), "pvc-9", metav1.GetOptions{})
	gotPVC, _ := client.CoreV1().PersistentVolumeClaims("default").Get(context.Background(), "disk", metav1.GetOptions{})
	if q := gotPV.Spec.Capacity[corev1.ResourceStorage]; q.String() != "20Mi" {
		t.Fatalf("pv capacity %s", q.String())
	}
	if q := gotPVC.Status.Capacity[corev1.ResourceStorage]; q.String() != "20Mi" || len(gotPVC.Status.Conditions) != 0 {
		t.Fatalf("claim status %+v", gotPVC.Status)
	}
	// Never down: a smaller request leaves the file as it is.
	if err := growFile(filepath.Join(dir, "pvc-9.img"), 1<<20); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "pvc-9.img")); fi.Size() != 20<<20 {
		t.Fatalf("file shrank to %d", fi.Size())
	}
	// Volumes of other provisioners are not ours to grow.
	other := pv.DeepCopy()
	other.Annotations, other.Spec.CSI = nil, nil
	other.Spec.HostPath = &corev1.HostPathVolumeSource{Path: "/x"}
	if err := r.expand(context.Background(), pvc, other); err != errNotOurs {
		t.Fatalf("foreign volume: %v", err)
	}
}
