package vm

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/record"
	kvv1 "kubevirt.io/api/core/v1"

	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/controllertest"
	"github.com/virtplane/virtplane/pkg/controller/powerstate"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
	virtinformers "github.com/virtplane/virtplane/pkg/generated/informers/externalversions"
	"github.com/virtplane/virtplane/pkg/kubevirt"
)

const ns = "ns"

// pullAuth is the registry credentials the controller copies into a VM's pull Secret.
var pullAuth = []byte(`{"auths":{"dvcr.test":{"auth":"dXNlcjpwYXNz"}}}`)

// env is the VM controller on fake clients. The test plays the user, the other controllers
// (disks, images, IPAM, classes are ready from the start) and KubeVirt.
type env struct {
	t      *testing.T
	c      *Controller
	cl     *controllertest.Clients
	inf    Informers
	events *record.FakeRecorder
	// vmisFilled is whether the VMI cache has synced (false: KubeVirt not served yet).
	vmisFilled bool
}

func newEnv(t *testing.T, objs ...runtime.Object) *env {
	t.Helper()
	e := &env{t: t, cl: controllertest.NewClients(t, objs...), events: record.NewFakeRecorder(100), vmisFilled: true}
	vf := virtinformers.NewSharedInformerFactory(e.cl.Virt, 0).Virtualization().V1alpha2()
	kf := informers.NewSharedInformerFactory(e.cl.Kube, 0)
	e.inf = Informers{VirtualMachines: vf.VirtualMachines(), VirtualDisks: vf.VirtualDisks(), VirtualImages: vf.VirtualImages(),
		ClusterVirtualImages: vf.ClusterVirtualImages(), VirtualMachineClasses: vf.VirtualMachineClasses(),
		VirtualMachineIPAddresses: vf.VirtualMachineIPAddresses(), Secrets: kf.Core().V1().Secrets(),
		VMIs: kubevirt.NewVMIInformer(e.cl.KubeVirtClient, "", 0, nil)}
	if err := provisioning.AddBlockDeviceIndex(e.inf.VirtualMachines.Informer()); err != nil {
		t.Fatal(err)
	}
	c, err := New(e.cl.Virt, e.cl.KubeVirtClient, e.cl.Kube, e.inf, Registry{Auth: pullAuth}, e.events)
	if err != nil {
		t.Fatal(err)
	}
	// The caches are loaded by refresh, not by running informers.
	c.vmisSynced = func() bool { return e.vmisFilled }
	e.c = c
	e.refresh()
	return e
}

// refresh loads the caches from the fake clients, as the informers would.
func (e *env) refresh() {
	e.t.Helper()
	ctx, v := context.Background(), e.cl.Virt.VirtualizationV1alpha2()
	vms, _ := v.VirtualMachines("").List(ctx, metav1.ListOptions{})
	controllertest.Replace(e.t, e.inf.VirtualMachines.Informer(), vms.Items)
	vds, _ := v.VirtualDisks("").List(ctx, metav1.ListOptions{})
	controllertest.Replace(e.t, e.inf.VirtualDisks.Informer(), vds.Items)
	vis, _ := v.VirtualImages("").List(ctx, metav1.ListOptions{})
	controllertest.Replace(e.t, e.inf.VirtualImages.Informer(), vis.Items)
	cvis, _ := v.ClusterVirtualImages().List(ctx, metav1.ListOptions{})
	controllertest.Replace(e.t, e.inf.ClusterVirtualImages.Informer(), cvis.Items)
	classes, _ := v.VirtualMachineClasses().List(ctx, metav1.ListOptions{})
	controllertest.Replace(e.t, e.inf.VirtualMachineClasses.Informer(), classes.Items)
	ips, _ := v.VirtualMachineIPAddresses("").List(ctx, metav1.ListOptions{})
	controllertest.Replace(e.t, e.inf.VirtualMachineIPAddresses.Informer(), ips.Items)
	secrets, _ := e.cl.Kube.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
	controllertest.Replace(e.t, e.inf.Secrets.Informer(), secrets.Items)
	if e.vmisFilled {
		controllertest.ReplaceObjects(e.t, e.inf.VMIs.Informer, e.cl.KubeVirt.List())
	}
}

// sync runs the controller on a VM and loads what it wrote into the caches.
func (e *env) sync(name string) (time.Duration, error) {
	e.t.Helper()
	after, err := e.c.Sync(context.Background(), ns+"/"+name)
	e.refresh()
	return after, err
}

func (e *env) mustSync(name string) {
	e.t.Helper()
	if _, err := e.sync(name); err != nil {
		e.t.Fatalf("sync %s: %v", name, err)
	}
}

func (e *env) vm(name string) *v1alpha2.VirtualMachine {
	e.t.Helper()
	vm, err := e.cl.Virt.VirtualizationV1alpha2().VirtualMachines(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return vm
}

// editVM changes a VM as a user (or an operation) would.
func (e *env) editVM(name string, edit func(*v1alpha2.VirtualMachine)) {
	e.t.Helper()
	vm := e.vm(name)
	edit(vm)
	if _, err := e.cl.Virt.VirtualizationV1alpha2().VirtualMachines(ns).Update(context.Background(), vm, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.refresh()
}

func (e *env) secret(name string) *corev1.Secret {
	e.t.Helper()
	s, err := e.cl.Kube.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// runVMI moves a VMI to Running on a node, as KubeVirt does.
func (e *env) runVMI(name string) {
	e.t.Helper()
	vmi := e.cl.KubeVirt.Get(ns, name)
	if vmi == nil {
		e.t.Fatalf("no VMI %s", name)
	}
	vmi.Status.Phase, vmi.Status.NodeName = kvv1.Running, "node-1"
	e.cl.KubeVirt.Put(vmi)
	e.refresh()
}

// vmiCreates counts the VMI creations KubeVirt was asked for.
func (e *env) vmiCreates() int {
	n := 0
	for _, r := range e.cl.KubeVirt.Requests() {
		if strings.HasPrefix(r, "POST ") {
			n++
		}
	}
	return n
}

// expectPhase checks the VM's phase and its Running condition, as kubectl get/describe show them.
func (e *env) expectPhase(name string, phase v1alpha2.MachinePhase, running metav1.ConditionStatus, reason Reason) *metav1.Condition {
	e.t.Helper()
	vm := e.vm(name)
	cond := meta.FindStatusCondition(vm.Status.Conditions, string(RunningType))
	if vm.Status.Phase != phase || cond == nil || cond.Status != running || cond.Reason != string(reason) {
		e.t.Fatalf("%s: phase %q, Running %+v; want phase %s, Running %s %s", name, vm.Status.Phase, cond, phase, running, reason)
	}
	return cond
}

// warnings returns the Warning events recorded since the last call.
func (e *env) warnings() []controllertest.Event {
	var out []controllertest.Event
	for _, ev := range controllertest.Events(e.events) {
		if ev.Type == corev1.EventTypeWarning {
			out = append(out, ev)
		}
	}
	return out
}

func readyClass(name string, policies ...v1alpha2.SizingPolicy) *v1alpha2.VirtualMachineClass {
	return &v1alpha2.VirtualMachineClass{
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1},
		Spec: v1alpha2.VirtualMachineClassSpec{CPU: v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeModel, Model: "Nehalem"},
			SizingPolicies: policies},
		Status: v1alpha2.VirtualMachineClassStatus{Phase: v1alpha2.ClassPhaseReady},
	}
}

func policy(minCores, maxCores int, def intstr.IntOrString) v1alpha2.SizingPolicy {
	return v1alpha2.SizingPolicy{Cores: &v1alpha2.SizingPolicyCores{Min: minCores, Max: maxCores}, DefaultCoreFraction: &def}
}

func readyDisk(name string) *v1alpha2.VirtualDisk {
	return &v1alpha2.VirtualDisk{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Status: v1alpha2.VirtualDiskStatus{Phase: v1alpha2.DiskReady, Capacity: "1Gi",
			Target: v1alpha2.DiskTarget{PersistentVolumeClaim: "vd-" + name + "-pvc"}},
	}
}

// dvcrImage is a ready VirtualImage stored in DVCR, as the image controller leaves it.
func dvcrImage(name string) *v1alpha2.VirtualImage {
	return &v1alpha2.VirtualImage{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1alpha2.VirtualImageSpec{Storage: v1alpha2.StorageContainerRegistry},
		Status: v1alpha2.VirtualImageStatus{Phase: v1alpha2.ImageReady, CDROM: true,
			Target: v1alpha2.VirtualImageStatusTarget{RegistryURL: "dvcr.test/vi/" + ns + "/" + name + ":latest"}},
	}
}

// address is the VirtualMachineIPAddress IPAM makes for a VM and binds.
func address(vm *v1alpha2.VirtualMachine, ip string) *v1alpha2.VirtualMachineIPAddress {
	return &v1alpha2.VirtualMachineIPAddress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: vm.Name + "-ip", Labels: map[string]string{powerstate.VMNameLabel: vm.Name},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(vm, v1alpha2.SchemeGroupVersion.WithKind("VirtualMachine"))}},
		Status: v1alpha2.VirtualMachineIPAddressStatus{Address: ip, Phase: v1alpha2.VirtualMachineIPAddressPhaseAttached, VirtualMachine: vm.Name},
	}
}

func newVM(name string, policy v1alpha2.RunPolicy, devices ...v1alpha2.BlockDeviceSpecRef) *v1alpha2.VirtualMachine {
	return &v1alpha2.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), Generation: 1},
		Spec: v1alpha2.VirtualMachineSpec{RunPolicy: policy, VirtualMachineClassName: "generic",
			CPU: v1alpha2.CPUSpec{Cores: 2}, Memory: v1alpha2.MemorySpec{Size: "1Gi"}, BlockDeviceRefs: devices},
	}
}

func diskRef(name string) v1alpha2.BlockDeviceSpecRef {
	return v1alpha2.BlockDeviceSpecRef{Kind: v1alpha2.DiskDevice, Name: name}
}

func imageRef(name string) v1alpha2.BlockDeviceSpecRef {
	return v1alpha2.BlockDeviceSpecRef{Kind: v1alpha2.ImageDevice, Name: name}
}

// webEnv holds the guide's VM "web": a root disk, an installer ISO from DVCR, two cores of a class
// whose policy gives them 50% by default.
func webEnv(t *testing.T, policy v1alpha2.RunPolicy, extra ...runtime.Object) *env {
	vm := newVM("web", policy, diskRef("root"), imageRef("iso"))
	objs := append([]runtime.Object{vm, readyClass("generic", policyFor(intstr.FromInt32(50))), readyDisk("root"), dvcrImage("iso"),
		address(vm, "10.66.10.14")}, extra...)
	return newEnv(t, objs...)
}

func policyFor(def intstr.IntOrString) v1alpha2.SizingPolicy { return policy(1, 4, def) }

// start takes a VM from nothing to a created VMI: the first sync adds the finalizer, the
// second creates the VMI.
func (e *env) start(name string) *kvv1.VirtualMachineInstance {
	e.t.Helper()
	e.mustSync(name)
	if !provisioning.HasFinalizer(&e.vm(name).ObjectMeta, Finalizer) {
		e.t.Fatalf("%s has no finalizer %s", name, Finalizer)
	}
	e.mustSync(name)
	vmi := e.cl.KubeVirt.Get(ns, name)
	if vmi == nil {
		e.t.Fatalf("no VMI for %s; KubeVirt saw %v", name, e.cl.KubeVirt.Requests())
	}
	return vmi
}

func TestStartBuildsVMIWithPullSecret(t *testing.T) {
	e := webEnv(t, v1alpha2.AlwaysOnPolicy)
	vmi := e.start("web")
	vm := e.vm("web")

	if !metav1.IsControlledBy(vmi, vm) || vmi.Name != "web" || vmi.Labels[powerstate.VMNameLabel] != "web" {
		t.Fatalf("VMI %s owners %+v labels %v: want one controlled by VM web", vmi.Name, vmi.OwnerReferences, vmi.Labels)
	}
	cpu := vmi.Spec.Domain.CPU
	if cpu == nil || cpu.Model != "Nehalem" || cpu.Sockets != 1 || cpu.Cores != 2 || cpu.Threads != 1 {
		t.Fatalf("VMI CPU %+v: want Nehalem, 1 socket of 2 cores", cpu)
	}
	res := vmi.Spec.Domain.Resources
	if got := res.Requests[corev1.ResourceCPU]; got.Cmp(resource.MustParse("1")) != 0 {
		t.Errorf("CPU request %s: want 1 (2 cores at the class's default 50%%)", got.String())
	}
	if got := res.Limits[corev1.ResourceCPU]; got.Cmp(resource.MustParse("2")) != 0 {
		t.Errorf("CPU limit %s: want 2", got.String())
	}
	if m := vmi.Spec.Domain.Memory; m == nil || m.Guest == nil || m.Guest.Cmp(resource.MustParse("1Gi")) != 0 {
		t.Errorf("guest memory %+v: want 1Gi", m)
	}
	if got := res.Requests[corev1.ResourceMemory]; got.Cmp(resource.MustParse("1Gi")) != 0 {
		t.Errorf("memory request %s: want 1Gi", got.String())
	}
	if got := vmi.Annotations[powerstate.IPAddressAnnotation]; got != "10.66.10.14" {
		t.Errorf("address annotation %q: want the VM's address", got)
	}
	vols := map[string]kvv1.Volume{}
	for _, v := range vmi.Spec.Volumes {
		vols[v.Name] = v
	}
	if v := vols["vd-root"]; v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "vd-root-pvc" {
		t.Errorf("volume vd-root %+v: want the disk's PVC", v)
	}
	iso := vols["vi-iso"].ContainerDisk
	if iso == nil || iso.Image != "dvcr.test/vi/ns/iso:latest" || iso.ImagePullSecret != PullSecretName("web") {
		t.Fatalf("volume vi-iso %+v: want the DVCR image pulled with Secret %s", iso, PullSecretName("web"))
	}

	s := e.secret(PullSecretName("web"))
	if s.Type != corev1.SecretTypeDockerConfigJson || string(s.Data[corev1.DockerConfigJsonKey]) != string(pullAuth) || !metav1.IsControlledBy(s, vm) {
		t.Fatalf("pull Secret type %s data %q owners %+v: want the registry auth, owned by the VM", s.Type, s.Data[corev1.DockerConfigJsonKey], s.OwnerReferences)
	}
	e.expectPhase("web", v1alpha2.MachinePending, metav1.ConditionFalse, NotRunning)
	if w := e.warnings(); len(w) != 0 {
		t.Errorf("warnings %v on a VM that starts", w)
	}

	// Syncing again, with the VMI in the cache, creates nothing more.
	e.mustSync("web")
	if n := e.vmiCreates(); n != 1 {
		t.Fatalf("%d VMI creations after two syncs: want 1", n)
	}
	e.expectPhase("web", v1alpha2.MachineStarting, metav1.ConditionFalse, PodNotStarted)

	e.runVMI("web")
	e.mustSync("web")
	e.expectPhase("web", v1alpha2.MachineRunning, metav1.ConditionTrue, Running)
	if got := e.vm("web").Status.Node; got != "node-1" {
		t.Errorf("status.nodeName %q: want node-1", got)
	}
}

func TestForeignPullSecretStopsStartAndSaysWhy(t *testing.T) {
	foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: PullSecretName("web")},
		Data: map[string][]byte{"password": []byte("someone else's")}}
	e := webEnv(t, v1alpha2.AlwaysOnPolicy, foreign)
	e.mustSync("web") // finalizer
	if _, err := e.sync("web"); err == nil {
		t.Fatal("sync succeeded with someone else's Secret in the way: want an error, to be retried")
	}

	cond := e.expectPhase("web", v1alpha2.MachinePending, metav1.ConditionFalse, InternalVirtualMachineError)
	for _, want := range []string{`Secret "web-dvcr-pull"`, "does not belong to this VM", "Delete or rename"} {
		if !strings.Contains(cond.Message, want) {
			t.Errorf("Running message %q does not say %q", cond.Message, want)
		}
	}
	if w := e.warnings(); len(w) != 1 || w[0].Reason != FailedCreateReason || w[0].Message != cond.Message {
		t.Errorf("warnings %+v: want one %s with the condition's message", w, FailedCreateReason)
	}
	if vmi := e.cl.KubeVirt.Get(ns, "web"); vmi != nil || e.vmiCreates() != 0 {
		t.Fatalf("a VMI was created without its pull Secret: %v", e.cl.KubeVirt.Requests())
	}
	if s := e.secret(PullSecretName("web")); string(s.Data["password"]) != "someone else's" || len(s.OwnerReferences) != 0 {
		t.Fatalf("the foreign Secret was changed: %+v", s)
	}

	// The user removes the Secret: the next retry starts the VM and the error is gone.
	if err := e.cl.Kube.CoreV1().Secrets(ns).Delete(context.Background(), PullSecretName("web"), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.mustSync("web")
	if e.cl.KubeVirt.Get(ns, "web") == nil {
		t.Fatal("no VMI once the Secret is gone")
	}
	e.expectPhase("web", v1alpha2.MachinePending, metav1.ConditionFalse, NotRunning)
	if !metav1.IsControlledBy(e.secret(PullSecretName("web")), e.vm("web")) {
		t.Fatal("the new pull Secret is not the VM's")
	}
}

func TestUnusableClassCoreFractionSaysWhy(t *testing.T) {
	// A class may default to "Auto", which this controller cannot turn into a CPU request.
	vm := newVM("web", v1alpha2.AlwaysOnPolicy, diskRef("root"))
	e := newEnv(t, vm, readyClass("generic", policy(1, 4, intstr.FromInt32(50)), policy(1, 8, intstr.FromString("Auto"))),
		readyDisk("root"), address(vm, "10.66.10.14"))
	e.editVM("web", func(vm *v1alpha2.VirtualMachine) { vm.Spec.CPU.Cores = 6 })
	e.mustSync("web")
	if _, err := e.sync("web"); err == nil {
		t.Fatal("sync succeeded with an unusable coreFraction")
	}
	cond := e.expectPhase("web", v1alpha2.MachinePending, metav1.ConditionFalse, InternalVirtualMachineError)
	want := `VirtualMachineClass "generic" spec.sizingPolicies[1].defaultCoreFraction is "Auto"`
	if !strings.Contains(cond.Message, want) || !strings.Contains(cond.Message, "1% to 100%") {
		t.Errorf("Running message %q: want it to name %s and the values it takes", cond.Message, want)
	}
	if w := e.warnings(); len(w) != 1 || w[0].Message != cond.Message {
		t.Errorf("warnings %+v: want one with the condition's message", w)
	}
	if e.vmiCreates() != 0 {
		t.Fatal("a VMI was created")
	}
	if got := e.vm("web").Status.Resources.CPU.CoreFraction; got != "Auto" {
		t.Errorf("status.resources.cpu.coreFraction %q: want the class's Auto", got)
	}

	// The user sets the VM's own fraction: it starts with it.
	e.editVM("web", func(vm *v1alpha2.VirtualMachine) { vm.Spec.CPU.CoreFraction = "25%" })
	e.mustSync("web")
	vmi := e.cl.KubeVirt.Get(ns, "web")
	if vmi == nil {
		t.Fatal("no VMI after the user set spec.cpu.coreFraction")
	}
	if got := vmi.Spec.Domain.Resources.Requests[corev1.ResourceCPU]; got.Cmp(resource.MustParse("1500m")) != 0 {
		t.Errorf("CPU request %s: want 1500m (6 cores at 25%%)", got.String())
	}
	e.expectPhase("web", v1alpha2.MachinePending, metav1.ConditionFalse, NotRunning)
}

func TestStopDeletesVMI(t *testing.T) {
	e := webEnv(t, v1alpha2.ManualPolicy)
	e.editVM("web", func(vm *v1alpha2.VirtualMachine) {
		vm.Annotations = map[string]string{powerstate.Annotation: powerstate.Running}
	})
	vmi := e.start("web")
	e.runVMI("web")
	e.mustSync("web")
	e.expectPhase("web", v1alpha2.MachineRunning, metav1.ConditionTrue, Running)

	// A Stop operation records the intent on the VM.
	e.editVM("web", func(vm *v1alpha2.VirtualMachine) { vm.Annotations[powerstate.Annotation] = powerstate.Stopped })
	e.mustSync("web")
	// The next sync sees the terminating VMI (its informer event) and deletes nothing more.
	e.mustSync("web")
	opts := e.cl.KubeVirt.DeleteOptions()
	if len(opts) != 1 || opts[0].Preconditions == nil || opts[0].Preconditions.UID == nil || *opts[0].Preconditions.UID != vmi.UID {
		t.Fatalf("VMI deletes %+v: want one, for the VMI's UID %s", opts, vmi.UID)
	}
	e.expectPhase("web", v1alpha2.MachineStopping, metav1.ConditionFalse, PodTerminating)

	// KubeVirt removes the VMI once the guest is down.
	e.cl.KubeVirt.Remove(ns, "web")
	e.refresh()
	e.mustSync("web")
	e.expectPhase("web", v1alpha2.MachineStopped, metav1.ConditionFalse, NotRunning)
	if e.cl.KubeVirt.Get(ns, "web") != nil || e.vmiCreates() != 1 {
		t.Fatalf("a stopped VM got a new VMI: %v", e.cl.KubeVirt.Requests())
	}
}

func TestFinalizerStaysUntilVMIGone(t *testing.T) {
	e := webEnv(t, v1alpha2.AlwaysOnPolicy)
	e.start("web")
	e.runVMI("web")
	e.mustSync("web")

	// kubectl delete: the API server sets deletionTimestamp and keeps the VM for its finalizer.
	e.editVM("web", func(vm *v1alpha2.VirtualMachine) { now := metav1.Now(); vm.DeletionTimestamp = &now })
	for range 2 {
		e.mustSync("web")
		if !provisioning.HasFinalizer(&e.vm("web").ObjectMeta, Finalizer) {
			t.Fatal("finalizer removed while the VMI exists")
		}
	}
	if got := e.cl.KubeVirt.Get(ns, "web"); got == nil || got.DeletionTimestamp == nil {
		t.Fatalf("VMI %+v: want it being deleted", got)
	}
	if n := len(e.cl.KubeVirt.DeleteOptions()); n != 1 {
		t.Errorf("%d VMI deletes: want 1", n)
	}
	if got := e.vm("web").Status.Phase; got != v1alpha2.MachineTerminating {
		t.Errorf("phase %s: want Terminating", got)
	}

	e.cl.KubeVirt.Remove(ns, "web")
	e.refresh()
	e.mustSync("web")
	if provisioning.HasFinalizer(&e.vm("web").ObjectMeta, Finalizer) {
		t.Fatal("finalizer kept after the VMI is gone")
	}
	if e.vmiCreates() != 1 {
		t.Fatalf("a deleted VM got a new VMI: %v", e.cl.KubeVirt.Requests())
	}
}

func TestWithoutKubeVirtVMsSayWhy(t *testing.T) {
	stopped := newVM("off", v1alpha2.AlwaysOffPolicy, diskRef("root"))
	e := webEnv(t, v1alpha2.AlwaysOnPolicy, stopped, address(stopped, "10.66.10.15"))
	e.cl.UnserveKubeVirt()
	e.vmisFilled = false

	e.mustSync("web")
	if _, err := e.sync("web"); err == nil {
		t.Fatal("sync succeeded without KubeVirt")
	}
	cond := e.expectPhase("web", v1alpha2.MachinePending, metav1.ConditionFalse, InternalVirtualMachineError)
	if !strings.Contains(cond.Message, "virtualmachineinstances.kubevirt.io/v1") || !strings.Contains(cond.Message, "KubeVirt is installed") {
		t.Errorf("Running message %q: want it to name KubeVirt's missing API", cond.Message)
	}
	if w := e.warnings(); len(w) != 1 || w[0].Message != cond.Message {
		t.Errorf("warnings %+v: want one with the condition's message", w)
	}
	if r := e.cl.KubeVirt.Requests(); len(r) != 0 {
		t.Errorf("requests to the missing KubeVirt API: %v", r)
	}

	// A VM that should not run is simply stopped.
	e.mustSync("off")
	e.mustSync("off")
	e.expectPhase("off", v1alpha2.MachineStopped, metav1.ConditionFalse, NotRunning)

	// A deleted VM has no VMI to wait for.
	e.editVM("web", func(vm *v1alpha2.VirtualMachine) { now := metav1.Now(); vm.DeletionTimestamp = &now })
	e.mustSync("web")
	if provisioning.HasFinalizer(&e.vm("web").ObjectMeta, Finalizer) {
		t.Fatal("finalizer kept on a deleted VM in a cluster without KubeVirt")
	}
}

func TestWaitsForVMICacheWhileKubeVirtServed(t *testing.T) {
	e := webEnv(t, v1alpha2.AlwaysOnPolicy)
	e.vmisFilled = false
	after, err := e.sync("web")
	if err != nil || after <= 0 {
		t.Fatalf("sync: after %s, err %v; want a later look and no error", after, err)
	}
	vm := e.vm("web")
	if len(vm.Finalizers) != 0 || vm.Status.Phase != "" || len(e.cl.KubeVirt.Requests()) != 0 {
		t.Fatalf("the VM was touched before the VMI cache filled: finalizers %v, phase %q, KubeVirt requests %v",
			vm.Finalizers, vm.Status.Phase, e.cl.KubeVirt.Requests())
	}
}
