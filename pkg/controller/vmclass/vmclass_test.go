package vmclass

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/validation"
	virtfake "github.com/virtplane/virtplane/pkg/generated/clientset/versioned/fake"
	virtinformers "github.com/virtplane/virtplane/pkg/generated/informers/externalversions"
)

type env struct {
	t        *testing.T
	c        *Controller
	virt     *virtfake.Clientset
	kube     *kubefake.Clientset
	inf      Informers
	recorder *record.FakeRecorder
}

func newEnv(t *testing.T, objs ...runtime.Object) *env {
	var v, k []runtime.Object
	for _, o := range objs {
		switch o.(type) {
		case *v1alpha2.VirtualMachineClass, *v1alpha2.VirtualMachine:
			v = append(v, o)
		default:
			k = append(k, o)
		}
	}
	e := &env{t: t, virt: virtfake.NewSimpleClientset(v...), kube: kubefake.NewSimpleClientset(k...), recorder: record.NewFakeRecorder(100)}
	vf := virtinformers.NewSharedInformerFactory(e.virt, 0).Virtualization().V1alpha2()
	kf := informers.NewSharedInformerFactory(e.kube, 0)
	e.inf = Informers{VirtualMachineClasses: vf.VirtualMachineClasses(), VirtualMachines: vf.VirtualMachines(), Nodes: kf.Core().V1().Nodes()}
	c, err := New(e.virt, e.kube, e.inf, e.recorder)
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	e.refresh()
	return e
}

// refresh loads the caches from the fake API, as the informers would.
func (e *env) refresh() {
	ctx := context.Background()
	put := func(inf cache.SharedIndexInformer, list []any) {
		if err := inf.GetIndexer().Replace(list, ""); err != nil {
			e.t.Fatal(err)
		}
	}
	var l []any
	classes, _ := e.virt.VirtualizationV1alpha2().VirtualMachineClasses().List(ctx, metav1.ListOptions{})
	for i := range classes.Items {
		l = append(l, &classes.Items[i])
	}
	put(e.inf.VirtualMachineClasses.Informer(), l)
	l = nil
	vms, _ := e.virt.VirtualizationV1alpha2().VirtualMachines("").List(ctx, metav1.ListOptions{})
	for i := range vms.Items {
		l = append(l, &vms.Items[i])
	}
	put(e.inf.VirtualMachines.Informer(), l)
	l = nil
	nodes, _ := e.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	for i := range nodes.Items {
		l = append(l, &nodes.Items[i])
	}
	put(e.inf.Nodes.Informer(), l)
}

func (e *env) sync(name string) {
	e.t.Helper()
	if _, err := e.c.Sync(context.Background(), name); err != nil {
		e.t.Fatal(err)
	}
	e.refresh()
}

func (e *env) class(name string) *v1alpha2.VirtualMachineClass {
	e.t.Helper()
	c, err := e.virt.VirtualizationV1alpha2().VirtualMachineClasses().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) condition(name string, t ConditionType) *metav1.Condition {
	return meta.FindStatusCondition(e.class(name).Status.Conditions, string(t))
}

// node is a KubeVirt node with the given CPU models and features.
func node(name string, models, features []string, extra map[string]string) *corev1.Node {
	l := map[string]string{kvv1.NodeSchedulable: "true"}
	for _, m := range models {
		l[kvv1.CPUModelLabel+m] = "true"
	}
	for _, f := range features {
		l[kvv1.CPUFeatureLabel+f] = "true"
	}
	for k, v := range extra {
		l[k] = v
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"),
		}},
	}
}

func class(name string, cpu v1alpha2.ClassCPU) *v1alpha2.VirtualMachineClass {
	return &v1alpha2.VirtualMachineClass{ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1}, Spec: v1alpha2.VirtualMachineClassSpec{CPU: cpu}}
}

func vm(ns, name, className string) *v1alpha2.VirtualMachine {
	return &v1alpha2.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha2.VirtualMachineSpec{VirtualMachineClassName: className}}
}

var (
	blue  = []string{"aes", "avx", "sse4.2"}
	green = []string{"aes", "avx", "avx2", "sse4.2", "vmx"}
)

func TestDefaultClassesCreatedOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for range 2 {
		if err := e.c.ensureDefaults(ctx); err != nil {
			t.Fatal(err)
		}
		e.refresh()
	}
	creates := 0
	for _, a := range e.virt.Actions() {
		if a.GetVerb() == "create" {
			creates++
		}
	}
	if creates != 3 {
		t.Errorf("%d creates for two start-ups, want 3", creates)
	}
	want := map[string]v1alpha2.ClassCPU{
		"host":             {Type: v1alpha2.CPUTypeHost},
		"host-passthrough": {Type: v1alpha2.CPUTypeHostPassthrough},
		"generic":          {Type: v1alpha2.CPUTypeModel, Model: "Nehalem"},
	}
	for name, cpu := range want {
		c := e.class(name)
		if c.Spec.CPU.Type != cpu.Type || c.Spec.CPU.Model != cpu.Model {
			t.Errorf("%s cpu = %+v, want %+v", name, c.Spec.CPU, cpu)
		}
		if _, ok := c.Annotations[v1alpha2.DefaultClassAnnotation]; ok {
			t.Errorf("%s is marked default; the guide makes the class mandatory", name)
		}
	}
}

// The default classes pass the API's validation and accept the VMs of the guide: the quick
// start's (1 core, no coreFraction, 1Gi) and those with 10% and 5%.
func TestDefaultClassesAcceptGuideVMs(t *testing.T) {
	vms := []virtualization.VirtualMachineSpec{
		{CPU: virtualization.CPUSpec{Cores: 1}, Memory: virtualization.MemorySpec{Size: "1Gi"}},
		{CPU: virtualization.CPUSpec{Cores: 1, CoreFraction: "10%"}, Memory: virtualization.MemorySpec{Size: "1Gi"}},
		{CPU: virtualization.CPUSpec{Cores: 6, CoreFraction: "5%"}, Memory: virtualization.MemorySpec{Size: "8000Mi"}},
	}
	for _, def := range DefaultClasses() {
		internal := &virtualization.VirtualMachineClass{}
		if err := v1alpha2.Convert_v1alpha2_VirtualMachineClass_To_virtualization_VirtualMachineClass(def, internal, nil); err != nil {
			t.Fatal(err)
		}
		if errs := validation.ValidateVirtualMachineClass(internal); len(errs) > 0 {
			t.Errorf("default class %s is invalid: %v", def.Name, errs)
		}
		for i := range vms {
			if errs := validation.ValidateVirtualMachineSizing(&vms[i], internal); len(errs) > 0 {
				t.Errorf("class %s refuses %+v: %v", def.Name, vms[i].CPU, errs)
			}
		}
		bad := virtualization.VirtualMachineSpec{CPU: virtualization.CPUSpec{Cores: 1, CoreFraction: "7%"}, Memory: virtualization.MemorySpec{Size: "1Gi"}}
		if errs := validation.ValidateVirtualMachineSizing(&bad, internal); len(errs) == 0 {
			t.Errorf("class %s accepts coreFraction 7%%, outside the guide's values", def.Name)
		}
	}
}

func TestModifiedDefaultClassNotOverwritten(t *testing.T) {
	mine := class("host", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeHost})
	mine.Spec.NodeSelector.MatchLabels = map[string]string{"group": "blue"}
	mine.Spec.SizingPolicies = []v1alpha2.SizingPolicy{{Cores: &v1alpha2.SizingPolicyCores{Min: 1, Max: 4}, DefaultCoreFraction: ptrIntOrString(50)}}
	e := newEnv(t, mine)
	if err := e.c.ensureDefaults(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := e.class("host")
	if got.Spec.NodeSelector.MatchLabels["group"] != "blue" || len(got.Spec.SizingPolicies) != 1 || got.Spec.SizingPolicies[0].Cores.Max != 4 {
		t.Errorf("the administrator's host class was changed: %+v", got.Spec)
	}
	e.class("generic")
	e.class("host-passthrough")
}

func ptrIntOrString(v int) *intstr.IntOrString {
	x := intstr.FromInt(v)
	return &x
}

func TestHostClassReadyOnKubeVirtNodes(t *testing.T) {
	small := node("node-a", []string{"kvm64"}, blue, nil)
	big := node("node-b", []string{"kvm64"}, green, nil)
	big.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16"), corev1.ResourceMemory: resource.MustParse("4Gi")}
	noKubeVirt := node("control-plane", nil, green, nil)
	delete(noKubeVirt.Labels, kvv1.NodeSchedulable)
	e := newEnv(t, class("host", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeHost}), small, big, noKubeVirt)
	e.sync("host")

	c := e.class("host")
	if c.Status.Phase != v1alpha2.ClassPhaseReady || !slices.Equal(c.Status.AvailableNodes, []string{"node-a", "node-b"}) {
		t.Fatalf("phase %s, available %v; want Ready on node-a, node-b", c.Status.Phase, c.Status.AvailableNodes)
	}
	cpu, mem := c.Status.MaxAllocatableResources[corev1.ResourceCPU], c.Status.MaxAllocatableResources[corev1.ResourceMemory]
	if cpu.String() != "16" || mem.String() != "8Gi" {
		t.Errorf("maxAllocatableResources cpu %s memory %s, want 16 and 8Gi", cpu.String(), mem.String())
	}
	if d := e.condition("host", DiscoveredType); d == nil || d.Reason != string(DiscoverySkip) {
		t.Errorf("Discovered = %+v, want DiscoverySkip", d)
	}
	if c.Status.ObservedGeneration != 1 || !slices.Contains(c.Finalizers, Finalizer) {
		t.Errorf("observedGeneration %d, finalizers %v", c.Status.ObservedGeneration, c.Finalizers)
	}

	// Running again changes nothing.
	before := len(e.virt.Actions())
	e.sync("host")
	for _, a := range e.virt.Actions()[before:] {
		if a.GetVerb() == "update" {
			t.Errorf("second sync wrote %s %s", a.GetVerb(), a.GetSubresource())
		}
	}
}

// The guide's cpuX and cpuY: Discovery on the blue nodes and on the green nodes.
func TestDiscoveryCommonFeatures(t *testing.T) {
	nodes := []runtime.Object{
		node("blue-1", []string{"kvm64"}, append([]string{"pdpe1gb"}, blue...), map[string]string{"group": "blue"}),
		node("blue-2", []string{"kvm64"}, blue, map[string]string{"group": "blue"}),
		node("green-1", []string{"kvm64"}, green, map[string]string{"group": "green"}),
		node("green-2", []string{"kvm64"}, append([]string{"avx512f"}, green...), map[string]string{"group": "green"}),
	}
	universal := class("universal", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeDiscovery, Discovery: &v1alpha2.CPUDiscovery{}})
	cpuX := class("cpux", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeDiscovery, Discovery: &v1alpha2.CPUDiscovery{}})
	cpuX.Spec.NodeSelector.MatchExpressions = []corev1.NodeSelectorRequirement{{Key: "group", Operator: corev1.NodeSelectorOpIn, Values: []string{"blue"}}}
	cpuY := class("cpuy", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeDiscovery, Discovery: &v1alpha2.CPUDiscovery{
		NodeSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "group", Operator: metav1.LabelSelectorOpIn, Values: []string{"green"}}}},
	}})
	e := newEnv(t, append(nodes, universal, cpuX, cpuY)...)
	for _, n := range []string{"universal", "cpux", "cpuy"} {
		e.sync(n)
	}

	cases := []struct {
		name             string
		enabled, nodes   []string
		notEnabledCommon []string
	}{
		{"universal", blue, []string{"blue-1", "blue-2", "green-1", "green-2"}, nil},
		{"cpux", blue, []string{"blue-1", "blue-2"}, nil},
		{"cpuy", green, []string{"green-1", "green-2"}, nil},
	}
	for _, tc := range cases {
		c := e.class(tc.name)
		if !slices.Equal(c.Status.CPUFeatures.Enabled, tc.enabled) || !slices.Equal(c.Status.AvailableNodes, tc.nodes) {
			t.Errorf("%s: enabled %v on %v, want %v on %v", tc.name, c.Status.CPUFeatures.Enabled, c.Status.AvailableNodes, tc.enabled, tc.nodes)
		}
		if c.Status.Phase != v1alpha2.ClassPhaseReady {
			t.Errorf("%s: phase %s, want Ready", tc.name, c.Status.Phase)
		}
		if d := e.condition(tc.name, DiscoveredType); d == nil || d.Status != metav1.ConditionTrue || d.Reason != string(DiscoverySucceeded) {
			t.Errorf("%s: Discovered = %+v", tc.name, d)
		}
	}
	cpu := DomainCPU(e.class("cpuy"))
	var names []string
	for _, f := range cpu.Features {
		if f.Policy != "require" {
			t.Errorf("feature %s has policy %q, want require", f.Name, f.Policy)
		}
		names = append(names, f.Name)
	}
	if cpu.Model != BaselineModel || !slices.Equal(names, green) {
		t.Errorf("cpuy DomainCPU = %s %v, want %s %v", cpu.Model, names, BaselineModel, green)
	}

	// A node with an older CPU joins: the discovered CPU stays, and the node is not one the
	// class can use.
	if _, err := e.kube.CoreV1().Nodes().Create(context.Background(), node("old-1", []string{"kvm64"}, []string{"aes"}, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.sync("universal")
	c := e.class("universal")
	if !slices.Equal(c.Status.CPUFeatures.Enabled, blue) || slices.Contains(c.Status.AvailableNodes, "old-1") {
		t.Errorf("after old-1 joined: enabled %v on %v", c.Status.CPUFeatures.Enabled, c.Status.AvailableNodes)
	}
}

func TestFeaturesClassReportsUnusedCommonFeatures(t *testing.T) {
	e := newEnv(t,
		node("green-1", []string{"kvm64"}, green, nil),
		node("green-2", []string{"kvm64"}, green, nil),
		node("blue-1", []string{"kvm64"}, blue, nil),
		class("avx2", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeFeatures, Features: []string{"avx2", "avx"}}))
	e.sync("avx2")
	c := e.class("avx2")
	if c.Status.Phase != v1alpha2.ClassPhaseReady || !slices.Equal(c.Status.AvailableNodes, []string{"green-1", "green-2"}) {
		t.Fatalf("phase %s on %v, want Ready on green-1, green-2", c.Status.Phase, c.Status.AvailableNodes)
	}
	if !slices.Equal(c.Status.CPUFeatures.Enabled, []string{"avx2", "avx"}) {
		t.Errorf("enabled %v, want the listed avx2, avx", c.Status.CPUFeatures.Enabled)
	}
	if want := []string{"aes", "sse4.2", "vmx"}; !slices.Equal(c.Status.CPUFeatures.NotEnabledCommon, want) {
		t.Errorf("notEnabledCommon %v, want %v", c.Status.CPUFeatures.NotEnabledCommon, want)
	}
}

func TestPendingWhenNoNodeFits(t *testing.T) {
	tainted := node("tainted", []string{"kvm64", "Nehalem"}, green, nil)
	tainted.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}
	objs := []runtime.Object{
		node("node-a", []string{"kvm64", "Nehalem"}, blue, map[string]string{"group": "blue"}),
		tainted,
		class("vmx", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeFeatures, Features: []string{"vmx", "avx512f"}}),
		class("cascade", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeModel, Model: "Cascadelake-Server"}),
		class("red", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeHost}),
		class("empty", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeDiscovery, Discovery: &v1alpha2.CPUDiscovery{
			NodeSelector: metav1.LabelSelector{MatchLabels: map[string]string{"group": "none"}},
		}}),
	}
	objs[4].(*v1alpha2.VirtualMachineClass).Spec.NodeSelector.MatchLabels = map[string]string{"group": "red"}
	e := newEnv(t, objs...)

	cases := []struct {
		name   string
		reason ReadyReason
		says   []string
	}{
		// vmx is on the tainted node only, which the class does not tolerate.
		{"vmx", NoSuitableNodesFound, []string{"avx512f", "vmx", "node-a"}},
		{"cascade", NoSuitableNodesFound, []string{"Cascadelake-Server"}},
		{"red", NoSuitableNodesFound, []string{"nodeSelector"}},
		{"empty", NoCPUFeaturesEnabled, []string{"discovery.nodeSelector"}},
	}
	for _, tc := range cases {
		e.sync(tc.name)
		c := e.class(tc.name)
		r := e.condition(tc.name, ReadyType)
		if c.Status.Phase != v1alpha2.ClassPhasePending || r == nil || r.Status != metav1.ConditionFalse || r.Reason != string(tc.reason) {
			t.Errorf("%s: phase %s, Ready %+v; want Pending, %s", tc.name, c.Status.Phase, r, tc.reason)
			continue
		}
		for _, s := range tc.says {
			if !strings.Contains(r.Message, s) {
				t.Errorf("%s: message %q does not name %q", tc.name, r.Message, s)
			}
		}
		if len(c.Status.AvailableNodes) != 0 {
			t.Errorf("%s: availableNodes %v, want none", tc.name, c.Status.AvailableNodes)
		}
		ok, reason, msg := Ready(c)
		if ok || reason != VMClassNotReady || !strings.Contains(msg, r.Message) {
			t.Errorf("%s: Ready() = %v %s %q", tc.name, ok, reason, msg)
		}
	}

	// Tolerating the taint makes vmx's features available... except avx512f, still missing.
	vmx := e.class("vmx")
	vmx.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
	vmx.Generation = 2
	if _, err := e.virt.VirtualizationV1alpha2().VirtualMachineClasses().Update(context.Background(), vmx, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.sync("vmx")
	if r := e.condition("vmx", ReadyType); !strings.Contains(r.Message, "avx512f") || strings.Contains(r.Message, "vmx,") {
		t.Errorf("with the toleration, message %q should name avx512f only", r.Message)
	}
}

// Status follows the nodes: a node labelled with the model makes the class Ready.
func TestStatusFollowsNodeLabels(t *testing.T) {
	n := node("node-a", []string{"kvm64"}, blue, nil)
	e := newEnv(t, n, class("ivy", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeModel, Model: "IvyBridge"}))
	e.sync("ivy")
	if p := e.class("ivy").Status.Phase; p != v1alpha2.ClassPhasePending {
		t.Fatalf("phase %s before the node can run IvyBridge, want Pending", p)
	}
	n.Labels[kvv1.CPUModelLabel+"IvyBridge"] = "true"
	if _, err := e.kube.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.sync("ivy")
	if c := e.class("ivy"); c.Status.Phase != v1alpha2.ClassPhaseReady || !slices.Equal(c.Status.AvailableNodes, []string{"node-a"}) {
		t.Errorf("phase %s on %v after labelling, want Ready on node-a", c.Status.Phase, c.Status.AvailableNodes)
	}
	if ok, reason, _ := Ready(e.class("ivy")); !ok || reason != VMClassReady {
		t.Errorf("Ready() = %v %s, want true VirtualMachineClassReady", ok, reason)
	}
}

func deleting(c *v1alpha2.VirtualMachineClass) *v1alpha2.VirtualMachineClass {
	now := metav1.Now()
	c.DeletionTimestamp = &now
	c.Finalizers = []string{Finalizer}
	return c
}

func TestDeleteClassInUse(t *testing.T) {
	e := newEnv(t, deleting(class("host", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeHost})),
		vm("ns1", "web", "host"), vm("ns2", "db", "host"), vm("ns1", "other", "generic"))
	e.sync("host")
	c := e.class("host")
	inUse := e.condition("host", InUseType)
	if c.Status.Phase != v1alpha2.ClassPhaseTerminating || !slices.Contains(c.Finalizers, Finalizer) {
		t.Fatalf("phase %s, finalizers %v; want Terminating and kept", c.Status.Phase, c.Finalizers)
	}
	if inUse == nil || inUse.Reason != string(VirtualMachineClassInUse) || !strings.Contains(inUse.Message, "ns1/web, ns2/db") || strings.Contains(inUse.Message, "other") {
		t.Errorf("InUse = %+v, want the two VMs of the class", inUse)
	}
	if ok, _, _ := Ready(c); ok {
		t.Error("Ready() of a class being deleted is true")
	}

	for _, v := range []struct{ ns, name string }{{"ns1", "web"}, {"ns2", "db"}} {
		if err := e.virt.VirtualizationV1alpha2().VirtualMachines(v.ns).Delete(context.Background(), v.name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.refresh()
	e.sync("host")
	if c := e.class("host"); slices.Contains(c.Finalizers, Finalizer) {
		t.Errorf("finalizers %v after the VMs are gone, want %s removed", c.Finalizers, Finalizer)
	}
}

func TestDeleteUnusedClass(t *testing.T) {
	e := newEnv(t, deleting(class("spare", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeHost})), vm("ns1", "web", "host"))
	e.sync("spare")
	if c := e.class("spare"); len(c.Finalizers) != 0 {
		t.Errorf("finalizers %v, want none", c.Finalizers)
	}
}

func TestInUseWhileLive(t *testing.T) {
	e := newEnv(t, class("host", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeHost}), node("node-a", nil, nil, nil), vm("ns1", "web", "host"))
	e.sync("host")
	if c := e.condition("host", InUseType); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("InUse = %+v, want True", c)
	}
	if err := e.virt.VirtualizationV1alpha2().VirtualMachines("ns1").Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.sync("host")
	if c := e.condition("host", InUseType); c != nil {
		t.Errorf("InUse = %+v with no VM, want no condition", c)
	}
}

// Run on informers: the default classes appear and become Ready on a KubeVirt node, and a
// generic class follows the node losing its Nehalem label.
func TestRunCreatesDefaultsAndFollowsNodes(t *testing.T) {
	n := node("node-a", []string{"kvm64", "Nehalem"}, blue, nil)
	virt, kube := virtfake.NewSimpleClientset(), kubefake.NewSimpleClientset(n)
	vf := virtinformers.NewSharedInformerFactory(virt, 0)
	kf := informers.NewSharedInformerFactory(kube, 0)
	c, err := New(virt, kube, Informers{
		VirtualMachineClasses: vf.Virtualization().V1alpha2().VirtualMachineClasses(),
		VirtualMachines:       vf.Virtualization().V1alpha2().VirtualMachines(),
		Nodes:                 kf.Core().V1().Nodes(),
	}, record.NewFakeRecorder(100))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		vf.Shutdown()
		kf.Shutdown()
	}()
	vf.Start(ctx.Done())
	kf.Start(ctx.Done())
	go func() { done <- c.Run(ctx, 2) }()

	phase := func(name string) v1alpha2.VirtualMachineClassPhase {
		got, err := virt.VirtualizationV1alpha2().VirtualMachineClasses().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return ""
		}
		return got.Status.Phase
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if ok() {
				return
			}
		}
		t.Fatalf("gave up waiting: %s", what)
	}
	waitFor("host, host-passthrough and generic Ready", func() bool {
		return phase("host") == v1alpha2.ClassPhaseReady && phase("host-passthrough") == v1alpha2.ClassPhaseReady && phase("generic") == v1alpha2.ClassPhaseReady
	})

	n = n.DeepCopy()
	delete(n.Labels, kvv1.CPUModelLabel+"Nehalem")
	if _, err := kube.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("generic Pending once no node runs Nehalem", func() bool { return phase("generic") == v1alpha2.ClassPhasePending })
	if phase("host") != v1alpha2.ClassPhaseReady {
		t.Errorf("host is %s, want Ready", phase("host"))
	}
}
