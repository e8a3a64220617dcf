package disk

import (
	"context"
	"k8s.io/utils/ptr"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/config"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
	virtfake "github.com/virtplane/virtplane/pkg/generated/clientset/versioned/fake"
	virtinformers "github.com/virtplane/virtplane/pkg/generated/informers/externalversions"
)

type env struct {
	t    *testing.T
	c    *Controller
	virt *virtfake.Clientset
	kube *kubefake.Clientset
	inf  Informers
}

func newEnv(t *testing.T, objs ...runtime.Object) *env {
	var v, k []runtime.Object
	for _, o := range objs {
		switch o.(type) {
		case *virtv1.VirtualImage, *virtv1.ClusterVirtualImage, *virtv1.VirtualDisk, *virtv1.VirtualMachine:
			v = append(v, o)
		default:
			k = append(k, o)
		}
	}
	e := &env{t: t, virt: virtfake.NewSimpleClientset(v...), kube: kubefake.NewSimpleClientset(k...)}
	vf := virtinformers.NewSharedInformerFactory(e.virt, 0).Virtualization().V1alpha2()
	kf := informers.NewSharedInformerFactory(e.kube, 0)
	e.inf = Informers{VirtualDisks: vf.VirtualDisks(), VirtualImages: vf.VirtualImages(), ClusterVirtualImages: vf.ClusterVirtualImages(),
		VirtualMachines: vf.VirtualMachines(), Pods: kf.Core().V1().Pods(), PVCs: kf.Core().V1().PersistentVolumeClaims(),
		Secrets: kf.Core().V1().Secrets(), StorageClasses: kf.Storage().V1().StorageClasses()}
	if err := provisioning.AddBlockDeviceIndex(e.inf.VirtualMachines.Informer()); err != nil {
		t.Fatal(err)
	}
	c, err := New(e.virt, e.kube, e.inf, provisioning.Settings{Config: &config.Config{DVCR: config.DVCR{Address: "dvcr.test"}},
		Pods: provisioning.PodDefaults{Image: "importer:test"}, Now: time.Now}, record.NewFakeRecorder(100))
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	e.refresh()
	return e
}

func (e *env) refresh() {
	ctx := context.Background()
	put := func(inf cache.SharedIndexInformer, list []any) {
		if err := inf.GetIndexer().Replace(list, ""); err != nil {
			e.t.Fatal(err)
		}
	}
	var l []any
	vds, _ := e.virt.VirtualizationV1alpha2().VirtualDisks("").List(ctx, metav1.ListOptions{})
	for i := range vds.Items {
		l = append(l, &vds.Items[i])
	}
	put(e.inf.VirtualDisks.Informer(), l)
	l = nil
	vis, _ := e.virt.VirtualizationV1alpha2().VirtualImages("").List(ctx, metav1.ListOptions{})
	for i := range vis.Items {
		l = append(l, &vis.Items[i])
	}
	put(e.inf.VirtualImages.Informer(), l)
	l = nil
	vms, _ := e.virt.VirtualizationV1alpha2().VirtualMachines("").List(ctx, metav1.ListOptions{})
	for i := range vms.Items {
		l = append(l, &vms.Items[i])
	}
	put(e.inf.VirtualMachines.Informer(), l)
	l = nil
	pods, _ := e.kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	for i := range pods.Items {
		l = append(l, &pods.Items[i])
		e.c.exp.ObservedCreate(provisioning.ObjKey("pod", pods.Items[i].Namespace, pods.Items[i].Name))
	}
	put(e.inf.Pods.Informer(), l)
	l = nil
	pvcs, _ := e.kube.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	for i := range pvcs.Items {
		l = append(l, &pvcs.Items[i])
		e.c.exp.ObservedCreate(provisioning.ObjKey("pvc", pvcs.Items[i].Namespace, pvcs.Items[i].Name))
	}
	put(e.inf.PVCs.Informer(), l)
	l = nil
	scs, _ := e.kube.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
	for i := range scs.Items {
		l = append(l, &scs.Items[i])
	}
	put(e.inf.StorageClasses.Informer(), l)
}

func (e *env) sync() {
	e.t.Helper()
	if _, err := e.c.Sync(context.Background(), "ns/d"); err != nil {
		e.t.Fatal(err)
	}
	e.refresh()
}

func (e *env) vd() *virtv1.VirtualDisk {
	vd, err := e.virt.VirtualizationV1alpha2().VirtualDisks("ns").Get(context.Background(), "d", metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return vd
}

func (e *env) pvcs() []corev1.PersistentVolumeClaim {
	l, _ := e.kube.CoreV1().PersistentVolumeClaims("ns").List(context.Background(), metav1.ListOptions{})
	return l.Items
}

func class(name string, def bool, ann map[string]string) *storagev1.StorageClass {
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}}, Provisioner: "x"}
	for k, v := range ann {
		sc.Annotations[k] = v
	}
	if def {
		sc.Annotations[provisioning.DefaultClassAnnotation] = "true"
	}
	return sc
}

func blank(size string) *virtv1.VirtualDisk {
	q := resource.MustParse(size)
	return &virtv1.VirtualDisk{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "ns", UID: "abcdef12-0000-0000-0000-000000000000", Generation: 1},
		Spec: virtv1.VirtualDiskSpec{PersistentVolumeClaim: virtv1.VirtualDiskPersistentVolumeClaim{Size: &q}}}
}

func reason(vd *virtv1.VirtualDisk, t ConditionType) string {
	if c := meta.FindStatusCondition(vd.Status.Conditions, string(t)); c != nil {
		return c.Reason
	}
	return ""
}

func TestBlankDiskReadyWhenBound(t *testing.T) {
	e := newEnv(t, blank("100Mi"), class("local", true, map[string]string{
		provisioning.VolumeModesAnnotation: "Filesystem,Block", provisioning.AccessModesAnnotation: "ReadWriteOnce,ReadWriteMany"}))
	e.sync()
	e.sync()
	pvcs := e.pvcs()
	if len(pvcs) != 1 {
		t.Fatalf("want 1 PVC, got %d", len(pvcs))
	}
	pvc := pvcs[0]
	if pvc.Name != "vd-d-abcdef12-0000-0000-0000-000000000000" || *pvc.Spec.VolumeMode != corev1.PersistentVolumeBlock ||
		pvc.Spec.AccessModes[0] != corev1.ReadWriteMany || *pvc.Spec.StorageClassName != "local" || pvc.OwnerReferences[0].Kind != "VirtualDisk" {
		t.Fatalf("PVC %+v", pvc)
	}
	pvc.Status.Phase = corev1.ClaimBound
	pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("100Mi")}
	if _, err := e.kube.CoreV1().PersistentVolumeClaims("ns").UpdateStatus(context.Background(), &pvc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.sync()
	vd := e.vd()
	if vd.Status.Phase != virtv1.DiskReady || vd.Status.Capacity != "100Mi" || vd.Status.Target.PersistentVolumeClaim != pvc.Name || vd.Status.StorageClassName != "local" {
		t.Fatalf("status %+v", vd.Status)
	}

	// Resizing: a larger spec grows the PVC; Resizing until the capacity follows.
	vd.Spec.PersistentVolumeClaim.Size = new(resource.MustParse("200Mi"))
	if _, err := e.virt.VirtualizationV1alpha2().VirtualDisks("ns").Update(context.Background(), vd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.sync()
	got, _ := e.kube.CoreV1().PersistentVolumeClaims("ns").Get(context.Background(), pvc.Name, metav1.GetOptions{})
	if q := got.Spec.Resources.Requests[corev1.ResourceStorage]; q.String() != "200Mi" {
		t.Fatalf("PVC request %s", q.String())
	}
	if vd = e.vd(); vd.Status.Phase != virtv1.DiskResizing || reason(vd, ResizingType) != string(InProgress) {
		t.Fatalf("phase %s", vd.Status.Phase)
	}
	got.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("200Mi")}
	if _, err := e.kube.CoreV1().PersistentVolumeClaims("ns").UpdateStatus(context.Background(), got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.sync()
	if vd = e.vd(); vd.Status.Phase != virtv1.DiskReady || vd.Status.Capacity != "200Mi" {
		t.Fatalf("status %+v", vd.Status)
	}

	// PVCLost.
	if err := e.kube.CoreV1().PersistentVolumeClaims("ns").Delete(context.Background(), pvc.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.sync()
	if vd = e.vd(); vd.Status.Phase != virtv1.DiskLost || reason(vd, ReadyType) != string(Lost) {
		t.Fatalf("status %+v", vd.Status)
	}
}

func TestStorageClassNotFound(t *testing.T) {
	e := newEnv(t, blank("1Gi"))
	e.sync()
	vd := e.vd()
	if vd.Status.Phase != virtv1.DiskPending || reason(vd, StorageClassReadyType) != string(StorageClassNotFound) {
		t.Fatalf("status %+v", vd.Status)
	}
}

func TestSizeSmallerThanImageFails(t *testing.T) {
	vd := blank("1Gi")
	vd.Spec.DataSource = &virtv1.VirtualDiskDataSource{Type: virtv1.DataSourceTypeObjectRef,
		ObjectRef: &virtv1.VirtualDiskObjectRef{Kind: virtv1.VirtualDiskObjectRefKindVirtualImage, Name: "img"}}
	vi := &virtv1.VirtualImage{ObjectMeta: metav1.ObjectMeta{Name: "img", Namespace: "ns", UID: "u1"},
		Status: virtv1.VirtualImageStatus{Phase: virtv1.ImageReady, Format: "qcow2", Size: virtv1.ImageStatusSize{UnpackedBytes: "2684354560"},
			Target: virtv1.VirtualImageStatusTarget{RegistryURL: "dvcr.test/vi/ns/img:u1"}}}
	e := newEnv(t, vd, vi, class("local", true, nil))
	e.sync()
	got := e.vd()
	c := meta.FindStatusCondition(got.Status.Conditions, string(ReadyType))
	if got.Status.Phase != virtv1.DiskFailed || c == nil || c.Reason != string(ProvisioningFailed) {
		t.Fatalf("status %+v", got.Status)
	}
	if want := "the requested size 1Gi is smaller than the unpacked image size 2.5Gi"; len(c.Message) < len(want) || c.Message[:len(want)] != want {
		t.Fatalf("message %q", c.Message)
	}
}

func TestFillFromImage(t *testing.T) {
	vd := blank("10Gi")
	vd.Spec.DataSource = &virtv1.VirtualDiskDataSource{Type: virtv1.DataSourceTypeObjectRef,
		ObjectRef: &virtv1.VirtualDiskObjectRef{Kind: virtv1.VirtualDiskObjectRefKindVirtualImage, Name: "img"}}
	vi := &virtv1.VirtualImage{ObjectMeta: metav1.ObjectMeta{Name: "img", Namespace: "ns", UID: "u1"},
		Status: virtv1.VirtualImageStatus{Phase: virtv1.ImageReady, Format: "qcow2", Size: virtv1.ImageStatusSize{UnpackedBytes: "2684354560"},
			Target: virtv1.VirtualImageStatusTarget{RegistryURL: "dvcr.test/vi/ns/img:u1"}}}
	e := newEnv(t, vd, vi, class("local", true, nil))
	e.sync()
	e.sync()
	pods, _ := e.kube.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	if len(pods.Items) != 1 || len(e.pvcs()) != 1 {
		t.Fatalf("pods %d pvcs %d", len(pods.Items), len(e.pvcs()))
	}
	p := pods.Items[0]
	envs := map[string]string{}
	for _, v := range p.Spec.Containers[0].Env {
		envs[v.Name] = v.Value
	}
	if p.Spec.Containers[0].Args[0] != "fill" || envs["IMPORTER_SOURCE_URL"] != "dvcr.test/vi/ns/img:u1" ||
		envs["IMPORTER_DEST_PATH"] != "/data/disk.img" || envs["IMPORTER_SCRATCH_DIR"] != "/scratch" {
		t.Fatalf("pod %+v env %v", p.Spec.Containers[0].Args, envs)
	}
	if got := e.vd(); got.Status.SourceUID != "u1" || got.Status.Phase != virtv1.DiskProvisioning {
		t.Fatalf("status %+v", got.Status)
	}
}

// A spec change before Ready starts over: the PVC made for the older spec (smaller here)
// goes, and the new one has the new size.
func TestSpecChangeBeforeReadyReplacesThePVC(t *testing.T) {
	vd := blank("100Mi")
	e := newEnv(t, vd, class("local", true, nil))
	e.sync()
	e.sync()
	if pvcs := e.pvcs(); len(pvcs) != 1 || pvcs[0].Labels[provisioning.GenerationLabel] != "1" {
		t.Fatalf("PVCs of generation 1: %+v", pvcs)
	}
	// Still Pending (not bound): the user asks for more.
	cur := e.vd()
	cur.Spec.PersistentVolumeClaim.Size = ptr.To(resource.MustParse("200Mi"))
	cur.Generation = 2
	if _, err := e.virt.VirtualizationV1alpha2().VirtualDisks("ns").Update(context.Background(), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.sync()
	if pvcs := e.pvcs(); len(pvcs) != 0 {
		t.Fatalf("the PVC of the older spec is still there: %+v", pvcs)
	}
	e.refresh()
	e.sync()
	pvcs := e.pvcs()
	if len(pvcs) != 1 || pvcs[0].Labels[provisioning.GenerationLabel] != "2" {
		t.Fatalf("PVCs after the change: %+v", pvcs)
	}
	if q := pvcs[0].Spec.Resources.Requests[corev1.ResourceStorage]; q.Cmp(resource.MustParse("200Mi")) != 0 {
		t.Errorf("new PVC asks for %s, want 200Mi", q.String())
	}
}
