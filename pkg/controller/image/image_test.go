package image

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/config"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
	virtfake "github.com/virtplane/virtplane/pkg/generated/clientset/versioned/fake"
	virtinformers "github.com/virtplane/virtplane/pkg/generated/informers/externalversions"
	"github.com/virtplane/virtplane/pkg/importer"
)

// env is a controller on fake clients whose caches the test fills from the clients, the
// way informers would, when it calls refresh.
type env struct {
	t    *testing.T
	c    *Controller
	virt *virtfake.Clientset
	kube *kubefake.Clientset
	inf  Informers
	now  time.Time
}

func newEnv(t *testing.T, objs ...runtime.Object) *env {
	t.Helper()
	var virtObjs, kubeObjs []runtime.Object
	for _, o := range objs {
		switch o.(type) {
		case *virtv1.VirtualImage, *virtv1.ClusterVirtualImage, *virtv1.VirtualDisk, *virtv1.VirtualMachine:
			virtObjs = append(virtObjs, o)
		default:
			kubeObjs = append(kubeObjs, o)
		}
	}
	e := &env{t: t, virt: virtfake.NewSimpleClientset(virtObjs...), kube: kubefake.NewSimpleClientset(kubeObjs...), now: time.Now()}
	// The API server gives every object a fresh UID; the fake does not, so do it here.
	n := 0
	e.kube.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if o, ok := a.(k8stesting.CreateAction).GetObject().(metav1.Object); ok && o.GetUID() == "" {
			n++
			o.SetUID(types.UID(fmt.Sprintf("uid-%d", n)))
		}
		return false, nil, nil
	})
	vf := virtinformers.NewSharedInformerFactory(e.virt, 0).Virtualization().V1alpha2()
	kf := informers.NewSharedInformerFactory(e.kube, 0)
	e.inf = Informers{
		VirtualImages: vf.VirtualImages(), ClusterVirtualImages: vf.ClusterVirtualImages(), VirtualDisks: vf.VirtualDisks(),
		VirtualMachines: vf.VirtualMachines(), Pods: kf.Core().V1().Pods(), PVCs: kf.Core().V1().PersistentVolumeClaims(),
		Secrets: kf.Core().V1().Secrets(), StorageClasses: kf.Storage().V1().StorageClasses(),
	}
	if err := provisioning.AddBlockDeviceIndex(e.inf.VirtualMachines.Informer()); err != nil {
		t.Fatal(err)
	}
	c, err := New(e.virt, e.kube, e.inf, provisioning.Settings{
		Config: &config.Config{DVCR: config.DVCR{Address: "dvcr.test"}, Uploads: config.Uploads{ExternalURL: "https://up.example.com"},
			Importer: config.Importer{Image: "importer:test"}},
		Namespace: "d8-virtualization", Pods: provisioning.PodDefaults{Image: "importer:test", DVCRInsecure: true},
		Now: func() time.Time { return e.now },
	}, record.NewFakeRecorder(100))
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	e.refresh()
	return e
}

// refresh copies the fake clients' objects into the caches.
func (e *env) refresh() {
	ctx := context.Background()
	fill := func(inf cache.SharedIndexInformer, items []runtime.Object) {
		var list []any
		for _, o := range items {
			list = append(list, o)
		}
		if err := inf.GetIndexer().Replace(list, ""); err != nil {
			e.t.Fatal(err)
		}
	}
	vis, _ := e.virt.VirtualizationV1alpha2().VirtualImages("").List(ctx, metav1.ListOptions{})
	cvis, _ := e.virt.VirtualizationV1alpha2().ClusterVirtualImages().List(ctx, metav1.ListOptions{})
	vms, _ := e.virt.VirtualizationV1alpha2().VirtualMachines("").List(ctx, metav1.ListOptions{})
	pods, _ := e.kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	pvcs, _ := e.kube.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	secs, _ := e.kube.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
	scs, _ := e.kube.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
	var o []runtime.Object
	for i := range vis.Items {
		o = append(o, &vis.Items[i])
	}
	fill(e.inf.VirtualImages.Informer(), o)
	o = nil
	for i := range cvis.Items {
		o = append(o, &cvis.Items[i])
	}
	fill(e.inf.ClusterVirtualImages.Informer(), o)
	o = nil
	for i := range vms.Items {
		o = append(o, &vms.Items[i])
	}
	fill(e.inf.VirtualMachines.Informer(), o)
	o = nil
	for i := range pods.Items {
		o = append(o, &pods.Items[i])
		e.c.exp.ObservedCreate(provisioning.ObjKey("pod", pods.Items[i].Namespace, pods.Items[i].Name))
	}
	fill(e.inf.Pods.Informer(), o)
	o = nil
	for i := range pvcs.Items {
		o = append(o, &pvcs.Items[i])
		e.c.exp.ObservedCreate(provisioning.ObjKey("pvc", pvcs.Items[i].Namespace, pvcs.Items[i].Name))
	}
	fill(e.inf.PVCs.Informer(), o)
	o = nil
	for i := range secs.Items {
		o = append(o, &secs.Items[i])
	}
	fill(e.inf.Secrets.Informer(), o)
	o = nil
	for i := range scs.Items {
		o = append(o, &scs.Items[i])
	}
	fill(e.inf.StorageClasses.Informer(), o)
}

func (e *env) sync(key string) time.Duration {
	e.t.Helper()
	after, err := e.c.Sync(context.Background(), key)
	if err != nil {
		e.t.Fatalf("sync %s: %v", key, err)
	}
	e.refresh()
	return after
}

func (e *env) vi(ns, name string) *virtv1.VirtualImage {
	vi, err := e.virt.VirtualizationV1alpha2().VirtualImages(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return vi
}

func (e *env) pods() []corev1.Pod {
	l, _ := e.kube.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
	return l.Items
}

// setPod changes a Pod's status as the kubelet would.
func (e *env) setPod(p corev1.Pod, mutate func(*corev1.Pod)) {
	mutate(&p)
	if _, err := e.kube.CoreV1().Pods(p.Namespace).UpdateStatus(context.Background(), &p, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.refresh()
}

func httpVI(name string) *virtv1.VirtualImage {
	return &virtv1.VirtualImage{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: "11111111-2222-3333-4444-555555555555", Generation: 1},
		Spec: virtv1.VirtualImageSpec{Storage: virtv1.StorageContainerRegistry, DataSource: virtv1.VirtualImageDataSource{
			Type: virtv1.DataSourceTypeHTTP, HTTP: &virtv1.DataSourceHTTP{URL: "https://example.com/disk.qcow2"},
		}},
	}
}

func envOf(p corev1.Pod) map[string]string {
	m := map[string]string{}
	for _, e := range p.Spec.Containers[0].Env {
		m[e.Name] = e.Value
	}
	return m
}

func cond(conds []metav1.Condition, t ConditionType) metav1.Condition {
	c := meta.FindStatusCondition(conds, string(t))
	if c == nil {
		return metav1.Condition{}
	}
	return *c
}

func TestHTTPImageCreatesOnePod(t *testing.T) {
	e := newEnv(t, httpVI("ubuntu"))
	e.sync("vi/ns/ubuntu")
	// A second sync before the informer shows the Pod must not create another.
	e.sync("vi/ns/ubuntu")
	pods := e.pods()
	if len(pods) != 1 {
		t.Fatalf("want 1 Pod, got %d", len(pods))
	}
	p := pods[0]
	if p.Name != "vi-ubuntu-11111111-g1-import" {
		t.Errorf("Pod name %q", p.Name)
	}
	if p.Labels[provisioning.OwnerUIDLabel] != "11111111-2222-3333-4444-555555555555" || p.Labels[provisioning.StepLabel] != "import" {
		t.Errorf("labels %v", p.Labels)
	}
	if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].Kind != "VirtualImage" {
		t.Errorf("owner refs %v", p.OwnerReferences)
	}
	if p.Spec.RestartPolicy != corev1.RestartPolicyNever || p.Spec.Containers[0].Args[0] != importer.ModeImport {
		t.Errorf("restart policy %s args %v", p.Spec.RestartPolicy, p.Spec.Containers[0].Args)
	}
	ev := envOf(p)
	want := map[string]string{
		importer.EnvSourceType: "http", importer.EnvSourceURL: "https://example.com/disk.qcow2",
		importer.EnvDestImage: "dvcr.test/vi/ns/ubuntu:11111111-2222-3333-4444-555555555555",
		importer.EnvListen:    "$(POD_IP):8080", importer.EnvDVCRInsecure: "true",
	}
	for k, v := range want {
		if ev[k] != v {
			t.Errorf("env %s = %q, want %q", k, ev[k], v)
		}
	}
	vi := e.vi("ns", "ubuntu")
	if vi.Status.Phase != virtv1.ImageProvisioning {
		t.Errorf("phase %s", vi.Status.Phase)
	}
	if !provisioning.HasFinalizer(&vi.ObjectMeta, provisioning.CleanupFinalizer) {
		t.Errorf("finalizers %v", vi.Finalizers)
	}
}

func TestProgressAndSuccess(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(importer.Progress{Stage: "Transferring", Percent: 28.24, AvgSpeed: 12_900_000, CurrentSpeed: 1 << 20})
	}))
	defer srv.Close()
	e := newEnv(t, httpVI("ubuntu"))
	e.c.poller.URL = func(string) string { return srv.URL }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.c.poller.Run(ctx)
	e.sync("vi/ns/ubuntu")
	e.setPod(e.pods()[0], func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning; p.Status.PodIP = "10.0.0.5" })
	e.sync("vi/ns/ubuntu")
	// The poller enqueues when the value arrives.
	key, _ := e.c.queue.Get()
	e.c.queue.Done(key)
	e.sync(key)
	vi := e.vi("ns", "ubuntu")
	if vi.Status.Progress != "28.2%" || vi.Status.DownloadSpeed == nil || vi.Status.DownloadSpeed.Avg != "12.3Mi/s" || vi.Status.DownloadSpeed.CurrentBytes != "1048576" {
		t.Fatalf("progress %q speed %+v", vi.Status.Progress, vi.Status.DownloadSpeed)
	}
	res, _ := json.Marshal(importer.Result{Format: "qcow2", StoredBytes: 299_800_000, UnpackedBytes: 2_684_354_560})
	e.setPod(e.pods()[0], func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodSucceeded
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "importer", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: string(res)}}}}
	})
	e.sync("vi/ns/ubuntu")
	vi = e.vi("ns", "ubuntu")
	if vi.Status.Phase != virtv1.ImageReady || vi.Status.Size.Stored != "285.9Mi" || vi.Status.Size.Unpacked != "2.5Gi" || vi.Status.Size.UnpackedBytes != "2684354560" {
		t.Fatalf("status %+v", vi.Status)
	}
	if vi.Status.Target.RegistryURL != "dvcr.test/vi/ns/ubuntu:11111111-2222-3333-4444-555555555555" || vi.Status.Progress != "100%" || vi.Status.ObservedGeneration != 1 {
		t.Fatalf("status %+v", vi.Status)
	}
	if c := cond(vi.Status.Conditions, ReadyType); c.Status != metav1.ConditionTrue {
		t.Fatalf("Ready %+v", c)
	}
	// The Pod goes on the sync that reads the Ready status back, not before it is stored.
	if len(e.pods()) != 1 {
		t.Fatalf("the Pod was deleted before the Ready status was stored")
	}
	e.sync("vi/ns/ubuntu")
	if len(e.pods()) != 0 {
		t.Fatalf("Pod not deleted")
	}
}

func TestFailureAndRetry(t *testing.T) {
	e := newEnv(t, httpVI("ubuntu"))
	e.sync("vi/ns/ubuntu")
	end := func(r importer.Result) {
		b, _ := json.Marshal(r)
		e.setPod(e.pods()[0], func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodFailed
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "importer", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: string(b)}}}}
		})
	}
	end(importer.Result{Error: "The server answered 503.", Retryable: true})
	if after := e.sync("vi/ns/ubuntu"); after <= 0 {
		t.Fatalf("retry must requeue with backoff, got %s", after)
	}
	if len(e.pods()) != 0 {
		t.Fatalf("failed Pod not deleted for the retry")
	}
	e.sync("vi/ns/ubuntu") // within backoff: no Pod
	if len(e.pods()) != 0 {
		t.Fatalf("Pod re-created before backoff")
	}
	e.now = e.now.Add(time.Minute)
	e.sync("vi/ns/ubuntu")
	if len(e.pods()) != 1 {
		t.Fatalf("Pod not re-created after backoff")
	}
	end(importer.Result{Error: "The checksum does not match.", Reason: "ChecksumMismatch"})
	e.sync("vi/ns/ubuntu")
	vi := e.vi("ns", "ubuntu")
	c := cond(vi.Status.Conditions, ReadyType)
	if vi.Status.Phase != virtv1.ImageFailed || c.Reason != string(ProvisioningFailed) || c.Message != "The checksum does not match." {
		t.Fatalf("phase %s Ready %+v", vi.Status.Phase, c)
	}
}

func TestUploadURLsAndTimeout(t *testing.T) {
	vi := httpVI("up")
	vi.Spec.DataSource = virtv1.VirtualImageDataSource{Type: virtv1.DataSourceTypeUpload}
	e := newEnv(t, vi)
	e.sync("vi/ns/up")
	p := e.pods()[0]
	token := envOf(p)[importer.EnvUploadToken]
	if len(token) < 40 || p.Spec.Containers[0].Args[0] != importer.ModeUpload {
		t.Fatalf("token %q args %v", token, p.Spec.Containers[0].Args)
	}
	start := metav1.NewTime(e.now)
	e.setPod(p, func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIP = "10.0.0.7"
		p.Status.StartTime = &start
	})
	e.sync("vi/ns/up")
	got := e.vi("ns", "up")
	if got.Status.Phase != virtv1.ImageWaitForUserUpload || got.Status.ImageUploadURLs == nil ||
		got.Status.ImageUploadURLs.InCluster != "http://10.0.0.7:8080/upload/"+token ||
		got.Status.ImageUploadURLs.External != "https://up.example.com/upload/"+token ||
		!strings.Contains(got.Status.UploadCommand, "curl") {
		t.Fatalf("status %+v", got.Status)
	}
	e.now = e.now.Add(11 * time.Minute)
	e.sync("vi/ns/up")
	got = e.vi("ns", "up")
	if c := cond(got.Status.Conditions, ReadyType); got.Status.Phase != virtv1.ImageFailed || c.Reason != string(WaitForUserUploadTimeout) || got.Status.ImageUploadURLs != nil {
		t.Fatalf("phase %s Ready %+v urls %+v", got.Status.Phase, c, got.Status.ImageUploadURLs)
	}
}

func TestInUseKeepsImageTerminating(t *testing.T) {
	vi := httpVI("ubuntu")
	vi.Status.Phase, vi.Status.ObservedGeneration = virtv1.ImageReady, 1
	vm := &virtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "vm1", Namespace: "ns"},
		Spec: virtv1.VirtualMachineSpec{BlockDeviceRefs: []virtv1.BlockDeviceSpecRef{{Kind: virtv1.ImageDevice, Name: "ubuntu"}}}}
	e := newEnv(t, vi, vm)
	e.sync("vi/ns/ubuntu")
	got := e.vi("ns", "ubuntu")
	if !provisioning.HasFinalizer(&got.ObjectMeta, provisioning.ProtectionFinalizer) || cond(got.Status.Conditions, InUseType).Status != metav1.ConditionTrue {
		t.Fatalf("finalizers %v conditions %v", got.Finalizers, got.Status.Conditions)
	}
	now := metav1.Now()
	got.DeletionTimestamp = &now
	if _, err := e.virt.VirtualizationV1alpha2().VirtualImages("ns").Update(context.Background(), got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.sync("vi/ns/ubuntu")
	if got = e.vi("ns", "ubuntu"); got.Status.Phase != virtv1.ImageTerminating || len(got.Finalizers) != 2 {
		t.Fatalf("phase %s finalizers %v", got.Status.Phase, got.Finalizers)
	}
	if err := e.virt.VirtualizationV1alpha2().VirtualMachines("ns").Delete(context.Background(), "vm1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.sync("vi/ns/ubuntu")
	if got = e.vi("ns", "ubuntu"); len(got.Finalizers) != 0 {
		t.Fatalf("finalizers %v", got.Finalizers)
	}
}

func TestSnapshotSourceWaits(t *testing.T) {
	vi := httpVI("snap")
	vi.Spec.DataSource = virtv1.VirtualImageDataSource{Type: virtv1.DataSourceTypeObjectRef,
		ObjectRef: &virtv1.VirtualImageObjectRef{Kind: virtv1.VirtualImageObjectRefKindVirtualDiskSnapshot, Name: "s"}}
	e := newEnv(t, vi)
	e.sync("vi/ns/snap")
	got := e.vi("ns", "snap")
	if c := cond(got.Status.Conditions, DatasourceReadyType); got.Status.Phase != virtv1.ImagePending || c.Reason != string(VirtualDiskSnapshotNotReady) {
		t.Fatalf("phase %s %+v", got.Status.Phase, c)
	}
	if len(e.pods()) != 0 {
		t.Fatal("no Pod expected")
	}
}

func TestPVCStorageNames(t *testing.T) {
	for storage, want := range map[virtv1.StorageType]bool{
		virtv1.StorageContainerRegistry:     false,
		virtv1.StoragePersistentVolumeClaim: true,
		virtv1.StorageKubernetes:            true, // the older name of the same storage
	} {
		img := &image{vi: &virtv1.VirtualImage{Spec: virtv1.VirtualImageSpec{Storage: storage}}}
		if got := img.pvcStorage(); got != want {
			t.Errorf("storage %s: on a PVC %v, want %v", storage, got, want)
		}
	}
}
