package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	acv1alpha2 "github.com/virtplane/virtplane/pkg/generated/applyconfiguration/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
	"github.com/virtplane/virtplane/test/corpus"
)

// allKinds are the twelve kinds the group serves in v1alpha2.
var allKinds = []string{
	"ClusterVirtualImage",
	"VirtualImage",
	"VirtualDisk",
	"VirtualDiskSnapshot",
	"VirtualMachine",
	"VirtualMachineClass",
	"VirtualMachineOperation",
	"VirtualMachineBlockDeviceAttachment",
	"VirtualMachineIPAddress",
	"VirtualMachineIPAddressLease",
	"VirtualMachineSnapshot",
	"VirtualMachineRestore",
}

const groupVersion = "virtualization.deckhouse.io/v1alpha2"

var nameSeq atomic.Int64

// uniqueName gives every object of a run its own name, so tests never see each other's objects.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, nameSeq.Add(1))
}

// ---- typed access to every kind through the generated clientset ----

// apiObject is any object of the group as the typed clients return it.
type apiObject interface {
	metav1.Object
	runtime.Object
}

// typedInterface is the part of every generated typed client the tests use.
type typedInterface[T apiObject, L runtime.Object] interface {
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	UpdateStatus(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error)
}

// kindAPI drives one kind's typed client without knowing its Go type.
type kindAPI interface {
	Kind() string
	Namespaced() bool
	// Decode turns a manifest into the kind's typed object.
	Decode(t *testing.T, o object) apiObject
	Create(ns string, obj apiObject, opts metav1.CreateOptions) (apiObject, error)
	Get(ns, name string) (apiObject, error)
	List(ns string, opts metav1.ListOptions) ([]apiObject, string, error)
	Update(ns string, obj apiObject) (apiObject, error)
	UpdateStatus(ns string, obj apiObject) (apiObject, error)
	Patch(ns, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (apiObject, error)
	Delete(ns, name string, opts metav1.DeleteOptions) error
	Watch(ns string, opts metav1.ListOptions) (watch.Interface, error)
}

type typedKind[T apiObject, L runtime.Object] struct {
	kind       string
	namespaced bool
	client     func(ns string) typedInterface[T, L]
}

func namespacedKind[T apiObject, L runtime.Object, C typedInterface[T, L]](kind string, get func(string) C) kindAPI {
	return typedKind[T, L]{kind: kind, namespaced: true, client: func(ns string) typedInterface[T, L] { return get(ns) }}
}

func clusterKind[T apiObject, L runtime.Object, C typedInterface[T, L]](kind string, get func() C) kindAPI {
	return typedKind[T, L]{kind: kind, client: func(string) typedInterface[T, L] { return get() }}
}

func (k typedKind[T, L]) Kind() string     { return k.kind }
func (k typedKind[T, L]) Namespaced() bool { return k.namespaced }

func (k typedKind[T, L]) Decode(t *testing.T, o object) apiObject {
	t.Helper()
	obj := reflect.New(reflect.TypeFor[T]().Elem()).Interface().(T)
	data, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, obj); err != nil {
		t.Fatalf("decoding a %s manifest: %v", k.kind, err)
	}
	return obj
}

func (k typedKind[T, L]) result(obj T, err error) (apiObject, error) {
	if err != nil {
		return nil, err
	}
	return obj, nil
}

func (k typedKind[T, L]) Create(ns string, obj apiObject, opts metav1.CreateOptions) (apiObject, error) {
	return k.result(k.client(ns).Create(context.Background(), obj.(T), opts))
}

func (k typedKind[T, L]) Get(ns, name string) (apiObject, error) {
	return k.result(k.client(ns).Get(context.Background(), name, metav1.GetOptions{}))
}

func (k typedKind[T, L]) List(ns string, opts metav1.ListOptions) ([]apiObject, string, error) {
	list, err := k.client(ns).List(context.Background(), opts)
	if err != nil {
		return nil, "", err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, "", err
	}
	out := make([]apiObject, 0, len(items))
	for _, item := range items {
		out = append(out, item.(apiObject))
	}
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return nil, "", err
	}
	return out, lm.GetResourceVersion(), nil
}

func (k typedKind[T, L]) Update(ns string, obj apiObject) (apiObject, error) {
	return k.result(k.client(ns).Update(context.Background(), obj.(T), metav1.UpdateOptions{}))
}

func (k typedKind[T, L]) UpdateStatus(ns string, obj apiObject) (apiObject, error) {
	return k.result(k.client(ns).UpdateStatus(context.Background(), obj.(T), metav1.UpdateOptions{}))
}

func (k typedKind[T, L]) Patch(ns, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (apiObject, error) {
	return k.result(k.client(ns).Patch(context.Background(), name, pt, data, opts, subresources...))
}

func (k typedKind[T, L]) Delete(ns, name string, opts metav1.DeleteOptions) error {
	return k.client(ns).Delete(context.Background(), name, opts)
}

func (k typedKind[T, L]) Watch(ns string, opts metav1.ListOptions) (watch.Interface, error) {
	return k.client(ns).Watch(context.Background(), opts)
}

// apiFor returns the typed access to a kind.
func apiFor(t *testing.T, kind string) kindAPI {
	t.Helper()
	c := srv.Client.VirtualizationV1alpha2()
	var k kindAPI
	switch kind {
	case "ClusterVirtualImage":
		k = clusterKind[*v1alpha2.ClusterVirtualImage, *v1alpha2.ClusterVirtualImageList](kind, c.ClusterVirtualImages)
	case "VirtualImage":
		k = namespacedKind[*v1alpha2.VirtualImage, *v1alpha2.VirtualImageList](kind, c.VirtualImages)
	case "VirtualDisk":
		k = namespacedKind[*v1alpha2.VirtualDisk, *v1alpha2.VirtualDiskList](kind, c.VirtualDisks)
	case "VirtualDiskSnapshot":
		k = namespacedKind[*v1alpha2.VirtualDiskSnapshot, *v1alpha2.VirtualDiskSnapshotList](kind, c.VirtualDiskSnapshots)
	case "VirtualMachine":
		k = namespacedKind[*v1alpha2.VirtualMachine, *v1alpha2.VirtualMachineList](kind, c.VirtualMachines)
	case "VirtualMachineClass":
		k = clusterKind[*v1alpha2.VirtualMachineClass, *v1alpha2.VirtualMachineClassList](kind, c.VirtualMachineClasses)
	case "VirtualMachineOperation":
		k = namespacedKind[*v1alpha2.VirtualMachineOperation, *v1alpha2.VirtualMachineOperationList](kind, c.VirtualMachineOperations)
	case "VirtualMachineBlockDeviceAttachment":
		k = namespacedKind[*v1alpha2.VirtualMachineBlockDeviceAttachment, *v1alpha2.VirtualMachineBlockDeviceAttachmentList](kind, c.VirtualMachineBlockDeviceAttachments)
	case "VirtualMachineIPAddress":
		k = namespacedKind[*v1alpha2.VirtualMachineIPAddress, *v1alpha2.VirtualMachineIPAddressList](kind, c.VirtualMachineIPAddresses)
	case "VirtualMachineIPAddressLease":
		k = clusterKind[*v1alpha2.VirtualMachineIPAddressLease, *v1alpha2.VirtualMachineIPAddressLeaseList](kind, c.VirtualMachineIPAddressLeases)
	case "VirtualMachineSnapshot":
		k = namespacedKind[*v1alpha2.VirtualMachineSnapshot, *v1alpha2.VirtualMachineSnapshotList](kind, c.VirtualMachineSnapshots)
	case "VirtualMachineRestore":
		k = namespacedKind[*v1alpha2.VirtualMachineRestore, *v1alpha2.VirtualMachineRestoreList](kind, c.VirtualMachineRestores)
	default:
		t.Fatalf("no typed client for %s", kind)
	}
	if r := resourceFor(t, kind); r.Namespaced != k.Namespaced() {
		t.Fatalf("%s: discovery says namespaced=%v, the test expects %v", kind, r.Namespaced, k.Namespaced())
	}
	return k
}

// ---- manifests ----

// validCreateCases returns the corpus's valid create manifests of a kind, in corpus order.
func validCreateCases(t *testing.T, kind string) []object {
	t.Helper()
	cases, err := corpus.Load(strings.ToLower(kind))
	if err != nil {
		t.Fatal(err)
	}
	var out []object
	for _, c := range cases {
		if c.Op == corpus.OpCreate && c.Expect == "" && !c.Malformed {
			out = append(out, decodeManifest(t, c.Docs[0]))
		}
	}
	if len(out) == 0 {
		t.Fatalf("the corpus has no valid create manifest for %s", kind)
	}
	return out
}

// validCreateManifest is the first valid create manifest of the kind.
func validCreateManifest(t *testing.T, kind string) object {
	t.Helper()
	return validCreateCases(t, kind)[0]
}

// validStatusCase returns the object and the status of the corpus's first valid status case.
func validStatusCase(t *testing.T, kind string) (object, map[string]interface{}) {
	t.Helper()
	cases, err := corpus.Load(strings.ToLower(kind))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if c.Op == corpus.OpStatus && c.Expect == "" && !c.Malformed {
			next := decodeManifest(t, c.Docs[1])
			status, _ := next["status"].(map[string]interface{})
			if len(status) == 0 {
				continue
			}
			return decodeManifest(t, c.Docs[0]), status
		}
	}
	t.Fatalf("the corpus has no valid status case for %s", kind)
	return nil, nil
}

// place renames the manifest and puts it in ns when the kind is namespaced; it returns the
// namespace to address the object with ("" for cluster-scoped kinds).
func place(k kindAPI, o object, name, ns string, labels map[string]string) string {
	m := o.meta()
	m["name"] = name
	delete(m, "namespace")
	if k.Namespaced() {
		m["namespace"] = ns
	} else {
		ns = ""
	}
	if len(labels) > 0 {
		l, _ := m["labels"].(map[string]interface{})
		if l == nil {
			l = map[string]interface{}{}
		}
		for key, v := range labels {
			l[key] = v
		}
		m["labels"] = l
	}
	return ns
}

// toMap returns the object as generic JSON.
func toMap(t *testing.T, v interface{}) object {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var o object
	if err := json.Unmarshal(data, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

// statusIsEmpty reports whether the typed object's status is the zero value.
func statusIsEmpty(obj apiObject) bool {
	return reflect.ValueOf(obj).Elem().FieldByName("Status").IsZero()
}

// lookup follows a dotted path (a field label is the JSON path of the field) in generic JSON.
func lookup(o map[string]interface{}, path string) (interface{}, bool) {
	var cur interface{} = o
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]interface{})
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// contains reports where got lacks something of want (maps: every key of want; lists: same
// length, element-wise; scalars: equal). It returns "" when got contains want.
func contains(want, got interface{}, path string) string {
	switch w := want.(type) {
	case map[string]interface{}:
		g, ok := got.(map[string]interface{})
		if !ok {
			return fmt.Sprintf("%s: want an object, got %v", path, got)
		}
		for key, wv := range w {
			if diff := contains(wv, g[key], path+"."+key); diff != "" {
				return diff
			}
		}
		return ""
	case []interface{}:
		g, ok := got.([]interface{})
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: want %v, got %v", path, w, got)
		}
		for i := range w {
			if diff := contains(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); diff != "" {
				return diff
			}
		}
		return ""
	default:
		if got == nil && (want == false || want == "" || want == float64(0)) {
			return "" // omitempty drops zero values
		}
		if !reflect.DeepEqual(want, got) {
			return fmt.Sprintf("%s: want %v, got %v", path, want, got)
		}
		return ""
	}
}

func names(objs []apiObject) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.GetName())
	}
	sort.Strings(out)
	return out
}

// statusCode returns the HTTP code of an API error, 0 when err is not one.
func statusCode(err error) int32 {
	if s, ok := err.(apierrors.APIStatus); ok {
		return s.Status().Code
	}
	return 0
}

// managedEntry finds the managedFields entry of a manager, operation and subresource.
func managedEntry(obj metav1.Object, manager string, op metav1.ManagedFieldsOperationType, subresource string) *metav1.ManagedFieldsEntry {
	for _, e := range obj.GetManagedFields() {
		if e.Manager == manager && e.Operation == op && e.Subresource == subresource {
			e := e
			return &e
		}
	}
	return nil
}

// owns reports whether a managedFields entry owns the field at path, given as fieldsV1 keys
// such as "f:metadata", "f:labels", "f:app".
func owns(e *metav1.ManagedFieldsEntry, path ...string) bool {
	if e == nil || e.FieldsV1 == nil {
		return false
	}
	var cur interface{}
	if err := json.Unmarshal(e.FieldsV1.Raw, &cur); err != nil {
		return false
	}
	for _, p := range path {
		m, ok := cur.(map[string]interface{})
		if !ok {
			return false
		}
		if cur, ok = m[p]; !ok {
			return false
		}
	}
	return true
}

func managers(obj metav1.Object) string {
	var out []string
	for _, e := range obj.GetManagedFields() {
		out = append(out, fmt.Sprintf("%s/%s/%s", e.Manager, e.Operation, e.Subresource))
	}
	return strings.Join(out, ", ")
}

// newVM is a small valid VirtualMachine.
func newVM(name, ns, class string, cores int, coreFraction, memory string) *v1alpha2.VirtualMachine {
	return &v1alpha2.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha2.VirtualMachineSpec{
			VirtualMachineClassName: class,
			CPU:                     v1alpha2.CPUSpec{Cores: cores, CoreFraction: coreFraction},
			Memory:                  v1alpha2.MemorySpec{Size: memory},
			BlockDeviceRefs:         []v1alpha2.BlockDeviceSpecRef{{Kind: v1alpha2.DiskDevice, Name: name + "-root"}},
		},
	}
}

// newClass is a small valid VirtualMachineClass.
func newClass(name string) *v1alpha2.VirtualMachineClass {
	return &v1alpha2.VirtualMachineClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha2.VirtualMachineClassSpec{
			CPU:          v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeDiscovery, Discovery: &v1alpha2.CPUDiscovery{}},
			NodeSelector: v1alpha2.NodeSelector{MatchLabels: map[string]string{"node.deckhouse.io/group": "worker"}},
		},
	}
}

// ---- discovery ----

func TestDiscoveryServesEveryKind(t *testing.T) {
	for _, kind := range allKinds {
		r := resourceFor(t, kind)
		verbs := map[string]bool{}
		for _, v := range r.Verbs {
			verbs[v] = true
		}
		for _, v := range []string{"create", "get", "list", "watch", "update", "patch", "delete"} {
			if !verbs[v] {
				t.Errorf("%s (%s) does not offer the verb %s: %v", kind, r.Name, v, r.Verbs)
			}
		}
	}
}

// ---- create / get / list / update / delete ----

func TestCRUDEveryKind(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind, func(t *testing.T) {
			k := apiFor(t, kind)
			o := validCreateManifest(t, kind)
			name, run := uniqueName("crud"), uniqueName("run")
			ns := place(k, o, name, "api-crud", map[string]string{"test-run": run})
			sentSpec := o["spec"]

			created, err := k.Create(ns, k.Decode(t, o), metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if created.GetName() != name || created.GetNamespace() != ns {
				t.Errorf("created %s/%s, want %s/%s", created.GetNamespace(), created.GetName(), ns, name)
			}
			if ts := created.GetCreationTimestamp(); created.GetUID() == "" || created.GetResourceVersion() == "" || ts.IsZero() {
				t.Errorf("created object lacks uid, resourceVersion or creationTimestamp: %+v", created)
			}
			if g := created.GetGeneration(); g != 1 {
				t.Errorf("generation after create = %d, want 1", g)
			}
			if sentSpec != nil {
				if diff := contains(sentSpec, toMap(t, created)["spec"], "spec"); diff != "" {
					t.Errorf("the stored spec differs from the manifest: %s", diff)
				}
			}

			got, err := k.Get(ns, name)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if !reflect.DeepEqual(toMap(t, got), toMap(t, created)) {
				t.Errorf("get returns\n%v\nwant what create returned\n%v", toMap(t, got), toMap(t, created))
			}

			items, listRV, err := k.List(ns, metav1.ListOptions{LabelSelector: "test-run=" + run})
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if n := names(items); !reflect.DeepEqual(n, []string{name}) {
				t.Errorf("list returns %v, want [%s]", n, name)
			}
			if listRV == "" {
				t.Errorf("the list has no resourceVersion")
			}

			changed := got.DeepCopyObject().(apiObject)
			labels := changed.GetLabels()
			labels["stage"] = "updated"
			changed.SetLabels(labels)
			changed.SetAnnotations(map[string]string{"example.com/note": "updated by the test"})
			updated, err := k.Update(ns, changed)
			if err != nil {
				t.Fatalf("update: %v", err)
			}
			if updated.GetLabels()["stage"] != "updated" || updated.GetAnnotations()["example.com/note"] == "" {
				t.Errorf("update lost the new label or annotation: %v %v", updated.GetLabels(), updated.GetAnnotations())
			}
			if updated.GetResourceVersion() == created.GetResourceVersion() {
				t.Errorf("update kept resourceVersion %s", updated.GetResourceVersion())
			}
			if updated.GetUID() != created.GetUID() {
				t.Errorf("update changed the uid")
			}
			if diff := contains(toMap(t, created)["spec"], toMap(t, updated)["spec"], "spec"); diff != "" {
				t.Errorf("a metadata update changed the spec: %s", diff)
			}

			// An update based on the object as created is stale now.
			stale := created.DeepCopyObject().(apiObject)
			labels = stale.GetLabels()
			labels["stage"] = "stale"
			stale.SetLabels(labels)
			if _, err := k.Update(ns, stale); !apierrors.IsConflict(err) {
				t.Errorf("update with the stale resourceVersion %s: want 409 Conflict, got %v", created.GetResourceVersion(), err)
			}
			cur, err := k.Get(ns, name)
			if err != nil {
				t.Fatal(err)
			}
			if cur.GetResourceVersion() != updated.GetResourceVersion() || cur.GetLabels()["stage"] != "updated" {
				t.Errorf("after the refused update the object is rv=%s labels=%v, want rv=%s stage=updated",
					cur.GetResourceVersion(), cur.GetLabels(), updated.GetResourceVersion())
			}

			staleRV := created.GetResourceVersion()
			err = k.Delete(ns, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &staleRV}})
			if !apierrors.IsConflict(err) {
				t.Errorf("delete with a stale resourceVersion precondition: want 409 Conflict, got %v", err)
			}
			if err := k.Delete(ns, name, metav1.DeleteOptions{}); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if _, err := k.Get(ns, name); !apierrors.IsNotFound(err) {
				t.Errorf("get after delete: want 404 NotFound, got %v", err)
			}
			items, _, err = k.List(ns, metav1.ListOptions{LabelSelector: "test-run=" + run})
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != 0 {
				t.Errorf("list after delete returns %v", names(items))
			}
			if err := k.Delete(ns, name, metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("second delete: want 404 NotFound, got %v", err)
			}
		})
	}
}

// ---- patches and server-side apply ----

func TestPatchEveryKind(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind, func(t *testing.T) {
			k := apiFor(t, kind)
			o := validCreateManifest(t, kind)
			name := uniqueName("patch")
			ns := place(k, o, name, "api-patch", map[string]string{"origin": "create"})
			if _, err := k.Create(ns, k.Decode(t, o), metav1.CreateOptions{}); err != nil {
				t.Fatalf("create: %v", err)
			}
			t.Cleanup(func() { _ = k.Delete(ns, name, metav1.DeleteOptions{}) })

			got, err := k.Patch(ns, name, types.MergePatchType, []byte(`{"metadata":{"labels":{"merge":"yes"}}}`), metav1.PatchOptions{})
			if err != nil {
				t.Fatalf("merge patch: %v", err)
			}
			if l := got.GetLabels(); l["merge"] != "yes" || l["origin"] != "create" {
				t.Errorf("labels after the merge patch: %v", l)
			}

			got, err = k.Patch(ns, name, types.JSONPatchType,
				[]byte(`[{"op":"add","path":"/metadata/labels/json","value":"yes"},{"op":"remove","path":"/metadata/labels/merge"}]`),
				metav1.PatchOptions{})
			if err != nil {
				t.Fatalf("json patch: %v", err)
			}
			if l := got.GetLabels(); l["json"] != "yes" || l["merge"] != "" || l["origin"] != "create" {
				t.Errorf("labels after the json patch: %v", l)
			}
			updater := got.GetManagedFields()

			apply := func(labels map[string]string) apiObject {
				t.Helper()
				meta := map[string]interface{}{"name": name, "labels": labels}
				if ns != "" {
					meta["namespace"] = ns
				}
				body, _ := json.Marshal(map[string]interface{}{"apiVersion": groupVersion, "kind": kind, "metadata": meta})
				res, err := k.Patch(ns, name, types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "label-applier"})
				if err != nil {
					t.Fatalf("server-side apply: %v", err)
				}
				return res
			}
			got = apply(map[string]string{"applied": "one"})
			if l := got.GetLabels(); l["applied"] != "one" || l["json"] != "yes" || l["origin"] != "create" {
				t.Errorf("labels after apply: %v", l)
			}
			e := managedEntry(got, "label-applier", metav1.ManagedFieldsOperationApply, "")
			if e == nil {
				t.Fatalf("no Apply entry for label-applier in managedFields: %s", managers(got))
			}
			if !owns(e, "f:metadata", "f:labels", "f:applied") || owns(e, "f:metadata", "f:labels", "f:json") {
				t.Errorf("label-applier should own exactly its label: %s", e.FieldsV1.Raw)
			}
			if len(updater) == 0 || updater[0].Operation != metav1.ManagedFieldsOperationUpdate {
				t.Errorf("create and patches should be recorded as Update entries: %+v", updater)
			}

			// Applying a configuration without the label removes what only the applier owned.
			got = apply(map[string]string{"applied": "two", "second": "yes"})
			got = apply(map[string]string{"second": "yes"})
			if l := got.GetLabels(); l["applied"] != "" || l["second"] != "yes" || l["json"] != "yes" {
				t.Errorf("labels after applying without 'applied': %v", l)
			}
			if got.GetGeneration() != 1 {
				t.Errorf("metadata patches changed the generation to %d", got.GetGeneration())
			}
		})
	}
}

func TestVirtualMachinePatchAndApply(t *testing.T) {
	ctx := context.Background()
	ns := "api-vm-patch"
	vms := srv.Client.VirtualizationV1alpha2().VirtualMachines(ns)
	name := uniqueName("vm")

	// Create through the typed Apply: the applier owns what it set.
	cfg := acv1alpha2.VirtualMachine(name, ns).
		WithLabels(map[string]string{"app": "db"}).
		WithSpec(acv1alpha2.VirtualMachineSpec().
			WithVirtualMachineClassName("generic").
			WithRunPolicy(v1alpha2.ManualPolicy).
			WithCPU(acv1alpha2.CPUSpec().WithCores(1).WithCoreFraction("10%")).
			WithMemory(acv1alpha2.MemorySpec().WithSize("1Gi")).
			WithBlockDeviceRefs(acv1alpha2.BlockDeviceSpecRef().WithKind(v1alpha2.DiskDevice).WithName(name + "-root")))
	vm, err := vms.Apply(ctx, cfg, metav1.ApplyOptions{FieldManager: "typed-applier"})
	if err != nil {
		t.Fatalf("apply (create): %v", err)
	}
	t.Cleanup(func() { _ = vms.Delete(ctx, name, metav1.DeleteOptions{}) })
	if vm.Generation != 1 || vm.Spec.CPU.Cores != 1 || vm.Spec.RunPolicy != v1alpha2.ManualPolicy || vm.Labels["app"] != "db" {
		t.Fatalf("applied VM: generation=%d cores=%d runPolicy=%s labels=%v", vm.Generation, vm.Spec.CPU.Cores, vm.Spec.RunPolicy, vm.Labels)
	}
	// Defaults are filled on create even through apply.
	if vm.Spec.LiveMigrationPolicy != v1alpha2.PreferSafeMigrationPolicy || vm.Spec.OsType != v1alpha2.GenericOs {
		t.Errorf("defaults not applied: liveMigrationPolicy=%q osType=%q", vm.Spec.LiveMigrationPolicy, vm.Spec.OsType)
	}
	e := managedEntry(vm, "typed-applier", metav1.ManagedFieldsOperationApply, "")
	if e == nil || len(vm.ManagedFields) != 1 {
		t.Fatalf("managedFields after apply-create: %s", managers(vm))
	}
	for _, path := range [][]string{
		{"f:metadata", "f:labels", "f:app"},
		{"f:spec", "f:cpu", "f:cores"},
		{"f:spec", "f:runPolicy"},
		{"f:spec", "f:memory", "f:size"},
	} {
		if !owns(e, path...) {
			t.Errorf("typed-applier should own %v: %s", path, e.FieldsV1.Raw)
		}
	}

	// Merge patch: a spec change bumps the generation and leaves other fields alone.
	vm, err = vms.Patch(ctx, name, types.MergePatchType, []byte(`{"spec":{"cpu":{"cores":2}}}`), metav1.PatchOptions{FieldManager: "merge-patcher"})
	if err != nil {
		t.Fatalf("merge patch: %v", err)
	}
	if vm.Spec.CPU.Cores != 2 || vm.Spec.CPU.CoreFraction != "10%" || vm.Spec.Memory.Size != "1Gi" || vm.Generation != 2 {
		t.Errorf("after the merge patch: cores=%d coreFraction=%s memory=%s generation=%d", vm.Spec.CPU.Cores, vm.Spec.CPU.CoreFraction, vm.Spec.Memory.Size, vm.Generation)
	}
	mp := managedEntry(vm, "merge-patcher", metav1.ManagedFieldsOperationUpdate, "")
	if mp == nil || !owns(mp, "f:spec", "f:cpu", "f:cores") {
		t.Errorf("merge-patcher should own spec.cpu.cores: %s", managers(vm))
	}
	if owns(managedEntry(vm, "typed-applier", metav1.ManagedFieldsOperationApply, ""), "f:spec", "f:cpu", "f:cores") {
		t.Errorf("typed-applier still owns spec.cpu.cores after another manager changed it")
	}

	// JSON patch: replace and append.
	vm, err = vms.Patch(ctx, name, types.JSONPatchType, []byte(`[
		{"op":"test","path":"/spec/memory/size","value":"1Gi"},
		{"op":"replace","path":"/spec/memory/size","value":"2Gi"},
		{"op":"add","path":"/spec/blockDeviceRefs/-","value":{"kind":"VirtualImage","name":"tools-iso"}}]`),
		metav1.PatchOptions{FieldManager: "json-patcher"})
	if err != nil {
		t.Fatalf("json patch: %v", err)
	}
	if vm.Spec.Memory.Size != "2Gi" || len(vm.Spec.BlockDeviceRefs) != 2 || vm.Spec.BlockDeviceRefs[1].Name != "tools-iso" || vm.Generation != 3 {
		t.Errorf("after the json patch: memory=%s blockDeviceRefs=%v generation=%d", vm.Spec.Memory.Size, vm.Spec.BlockDeviceRefs, vm.Generation)
	}
	if managedEntry(vm, "json-patcher", metav1.ManagedFieldsOperationUpdate, "") == nil {
		t.Errorf("no managedFields entry for json-patcher: %s", managers(vm))
	}
	// A failing test operation refuses the whole patch.
	_, err = vms.Patch(ctx, name, types.JSONPatchType, []byte(`[
		{"op":"test","path":"/spec/memory/size","value":"1Gi"},
		{"op":"replace","path":"/spec/memory/size","value":"4Gi"}]`), metav1.PatchOptions{})
	if err == nil {
		t.Errorf("a json patch whose test operation fails was applied")
	}
	if cur, _ := vms.Get(ctx, name, metav1.GetOptions{}); cur == nil || cur.Spec.Memory.Size != "2Gi" {
		t.Errorf("the refused json patch changed the VM")
	}

	// Raw server-side apply (YAML body) by a second manager of a field the typed applier owns.
	raw := []byte(fmt.Sprintf(`apiVersion: %s
kind: VirtualMachine
metadata:
  name: %s
  namespace: %s
spec:
  runPolicy: AlwaysOn
`, groupVersion, name, ns))
	_, err = vms.Patch(ctx, name, types.ApplyPatchType, raw, metav1.PatchOptions{FieldManager: "raw-applier"})
	if !apierrors.IsConflict(err) {
		t.Fatalf("apply of a field owned by another applier: want 409 Conflict, got %v", err)
	}
	if !strings.Contains(err.Error(), "typed-applier") || !strings.Contains(err.Error(), ".spec.runPolicy") {
		t.Errorf("the conflict should name the owner and the field: %v", err)
	}
	vm, err = vms.Patch(ctx, name, types.ApplyPatchType, raw, metav1.PatchOptions{FieldManager: "raw-applier", Force: ptr.To(true)})
	if err != nil {
		t.Fatalf("forced apply: %v", err)
	}
	if vm.Spec.RunPolicy != v1alpha2.AlwaysOnPolicy || vm.Generation != 4 {
		t.Errorf("after the forced apply: runPolicy=%s generation=%d", vm.Spec.RunPolicy, vm.Generation)
	}
	if !owns(managedEntry(vm, "raw-applier", metav1.ManagedFieldsOperationApply, ""), "f:spec", "f:runPolicy") ||
		owns(managedEntry(vm, "typed-applier", metav1.ManagedFieldsOperationApply, ""), "f:spec", "f:runPolicy") {
		t.Errorf("the forced apply should move spec.runPolicy to raw-applier: %s", managers(vm))
	}

	// Status in an apply to the main resource is dropped; ApplyStatus writes it.
	withStatus := acv1alpha2.VirtualMachine(name, ns).
		WithLabels(map[string]string{"status-try": "yes"}).
		WithStatus(acv1alpha2.VirtualMachineStatus().WithPhase(v1alpha2.MachineRunning))
	vm, err = vms.Apply(ctx, withStatus, metav1.ApplyOptions{FieldManager: "status-in-main-applier"})
	if err != nil {
		t.Fatalf("apply with a status: %v", err)
	}
	if vm.Status.Phase != "" || vm.Labels["status-try"] != "yes" {
		t.Errorf("an apply to the main resource stored status.phase=%q (labels %v)", vm.Status.Phase, vm.Labels)
	}
	if owns(managedEntry(vm, "status-in-main-applier", metav1.ManagedFieldsOperationApply, ""), "f:status") {
		t.Errorf("the main resource recorded ownership of status: %s", managers(vm))
	}
	statusCfg := acv1alpha2.VirtualMachine(name, ns).
		WithStatus(acv1alpha2.VirtualMachineStatus().WithPhase(v1alpha2.MachineRunning).WithNode("node-3").WithIPAddress("10.66.10.3"))
	vm, err = vms.ApplyStatus(ctx, statusCfg, metav1.ApplyOptions{FieldManager: "vm-controller"})
	if err != nil {
		t.Fatalf("apply status: %v", err)
	}
	if vm.Status.Phase != v1alpha2.MachineRunning || vm.Status.Node != "node-3" || vm.Status.IPAddress != "10.66.10.3" {
		t.Errorf("status after ApplyStatus: %+v", vm.Status)
	}
	se := managedEntry(vm, "vm-controller", metav1.ManagedFieldsOperationApply, "status")
	if se == nil || !owns(se, "f:status", "f:nodeName") || owns(se, "f:spec") {
		t.Errorf("vm-controller should own status fields through the status subresource: %s", managers(vm))
	}
	if vm.Generation != 4 {
		t.Errorf("status apply changed the generation to %d", vm.Generation)
	}
	if vm.Spec.Memory.Size != "2Gi" || vm.Spec.RunPolicy != v1alpha2.AlwaysOnPolicy {
		t.Errorf("status apply changed the spec: %+v", vm.Spec)
	}
}

func TestVirtualMachineClassPatchAndApply(t *testing.T) {
	ctx := context.Background()
	classes := srv.Client.VirtualizationV1alpha2().VirtualMachineClasses()
	name := uniqueName("class")

	raw := []byte(fmt.Sprintf(`apiVersion: %s
kind: VirtualMachineClass
metadata:
  name: %s
spec:
  cpu:
    type: Discovery
    discovery: {}
  nodeSelector:
    matchLabels:
      node.deckhouse.io/group: worker
`, groupVersion, name))
	class, err := classes.Patch(ctx, name, types.ApplyPatchType, raw, metav1.PatchOptions{FieldManager: "class-admin"})
	if err != nil {
		t.Fatalf("server-side apply create: %v", err)
	}
	t.Cleanup(func() { _ = classes.Delete(ctx, name, metav1.DeleteOptions{}) })
	if class.Generation != 1 || class.Spec.CPU.Type != v1alpha2.CPUTypeDiscovery || class.Spec.NodeSelector.MatchLabels["node.deckhouse.io/group"] != "worker" {
		t.Fatalf("applied class: %+v", class)
	}
	if e := managedEntry(class, "class-admin", metav1.ManagedFieldsOperationApply, ""); !owns(e, "f:spec", "f:cpu", "f:type") {
		t.Errorf("class-admin should own spec.cpu.type: %s", managers(class))
	}

	class, err = classes.Patch(ctx, name, types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"virtualmachineclass.virtualization.deckhouse.io/is-default-class":"true"}},"spec":{"nodeSelector":{"matchLabels":{"zone":"a"}}}}`),
		metav1.PatchOptions{FieldManager: "merge-patcher"})
	if err != nil {
		t.Fatalf("merge patch: %v", err)
	}
	if ml := class.Spec.NodeSelector.MatchLabels; ml["zone"] != "a" || ml["node.deckhouse.io/group"] != "worker" {
		t.Errorf("matchLabels after the merge patch: %v", ml)
	}
	if class.Generation != 2 || class.Annotations[v1alpha2.DefaultClassAnnotation] != "true" {
		t.Errorf("after the merge patch: generation=%d annotations=%v", class.Generation, class.Annotations)
	}

	class, err = classes.Patch(ctx, name, types.JSONPatchType,
		[]byte(`[{"op":"add","path":"/spec/sizingPolicies","value":[{"cores":{"min":1,"max":4},"memory":{"min":"1Gi","max":"8Gi"},"coreFractions":[50,100]}]}]`),
		metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("json patch: %v", err)
	}
	if len(class.Spec.SizingPolicies) != 1 || class.Spec.SizingPolicies[0].Cores == nil || class.Spec.SizingPolicies[0].Cores.Max != 4 || class.Generation != 3 {
		t.Errorf("after the json patch: sizingPolicies=%+v generation=%d", class.Spec.SizingPolicies, class.Generation)
	}

	// The CPU of a class cannot change, whatever the patch type.
	_, err = classes.Patch(ctx, name, types.MergePatchType, []byte(`{"spec":{"cpu":{"type":"Host","discovery":null}}}`), metav1.PatchOptions{})
	expectInvalid(t, err, "spec.cpu")

	// Typed apply by another manager of the label set.
	cfg := acv1alpha2.VirtualMachineClass(name).
		WithLabels(map[string]string{"tier": "gold"}).
		WithSpec(acv1alpha2.VirtualMachineClassSpec().
			WithNodeSelector(acv1alpha2.NodeSelector().WithMatchLabels(map[string]string{"node.deckhouse.io/group": "gpu"})))
	_, err = classes.Apply(ctx, cfg, metav1.ApplyOptions{FieldManager: "typed-applier"})
	if !apierrors.IsConflict(err) {
		t.Fatalf("typed apply of a field owned by class-admin: want 409 Conflict, got %v", err)
	}
	class, err = classes.Apply(ctx, cfg, metav1.ApplyOptions{FieldManager: "typed-applier", Force: true})
	if err != nil {
		t.Fatalf("forced typed apply: %v", err)
	}
	if ml := class.Spec.NodeSelector.MatchLabels; ml["node.deckhouse.io/group"] != "gpu" || ml["zone"] != "a" || class.Labels["tier"] != "gold" {
		t.Errorf("after the typed apply: matchLabels=%v labels=%v", ml, class.Labels)
	}
	if class.Spec.CPU.Type != v1alpha2.CPUTypeDiscovery {
		t.Errorf("the typed apply changed the CPU: %+v", class.Spec.CPU)
	}
	e := managedEntry(class, "typed-applier", metav1.ManagedFieldsOperationApply, "")
	if !owns(e, "f:spec", "f:nodeSelector", "f:matchLabels", "f:node.deckhouse.io/group") || !owns(e, "f:metadata", "f:labels", "f:tier") {
		t.Errorf("typed-applier ownership: %s", managers(class))
	}
}

// ---- status isolation and generation ----

func TestVirtualMachineStatusIsolation(t *testing.T) {
	ctx := context.Background()
	ns := "api-vm-status"
	vms := srv.Client.VirtualizationV1alpha2().VirtualMachines(ns)
	name := uniqueName("vm")

	vm := newVM(name, ns, "generic", 1, "10%", "1Gi")
	vm.Status = v1alpha2.VirtualMachineStatus{Phase: v1alpha2.MachineRunning, Node: "node-1", IPAddress: "10.66.10.1"}
	created, err := vms.Create(ctx, vm, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = vms.Delete(ctx, name, metav1.DeleteOptions{}) })
	if !reflect.DeepEqual(created.Status, v1alpha2.VirtualMachineStatus{}) {
		t.Errorf("create stored the client's status: %+v", created.Status)
	}
	if created.Generation != 1 {
		t.Errorf("generation after create = %d, want 1", created.Generation)
	}

	// A label-only update keeps the generation.
	created.Labels = map[string]string{"team": "db"}
	labelled, err := vms.Update(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("label update: %v", err)
	}
	if labelled.Generation != 1 {
		t.Errorf("generation after a label-only update = %d, want 1", labelled.Generation)
	}

	// The main resource ignores status.
	labelled.Status = v1alpha2.VirtualMachineStatus{Phase: v1alpha2.MachineStopped, Node: "node-9"}
	sameSpec, err := vms.Update(ctx, labelled, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update carrying a status: %v", err)
	}
	if !reflect.DeepEqual(sameSpec.Status, v1alpha2.VirtualMachineStatus{}) || sameSpec.Generation != 1 {
		t.Errorf("update of the main resource changed status=%+v generation=%d", sameSpec.Status, sameSpec.Generation)
	}

	// The status subresource takes status and ignores spec.
	withStatus := sameSpec.DeepCopy()
	withStatus.Spec.CPU.Cores = 4
	withStatus.Spec.Memory.Size = "8Gi"
	withStatus.Status = v1alpha2.VirtualMachineStatus{Phase: v1alpha2.MachineRunning, Node: "node-2", IPAddress: "10.66.10.2"}
	statused, err := vms.UpdateStatus(ctx, withStatus, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update status: %v", err)
	}
	if statused.Status.Phase != v1alpha2.MachineRunning || statused.Status.Node != "node-2" || statused.Status.IPAddress != "10.66.10.2" {
		t.Errorf("status not stored: %+v", statused.Status)
	}
	if statused.Spec.CPU.Cores != 1 || statused.Spec.Memory.Size != "1Gi" {
		t.Errorf("the status subresource changed the spec: cores=%d memory=%s", statused.Spec.CPU.Cores, statused.Spec.Memory.Size)
	}
	if statused.Generation != 1 {
		t.Errorf("generation after a status update = %d, want 1", statused.Generation)
	}
	stored, err := vms.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if stored.Spec.CPU.Cores != 1 || stored.Status.Node != "node-2" {
		t.Errorf("stored object: cores=%d node=%s", stored.Spec.CPU.Cores, stored.Status.Node)
	}

	// A spec change bumps the generation by one and keeps the status, even when the client
	// sends an empty status.
	stored.Spec.CPU.Cores = 2
	stored.Status = v1alpha2.VirtualMachineStatus{}
	specChanged, err := vms.Update(ctx, stored, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("spec update: %v", err)
	}
	if specChanged.Generation != 2 {
		t.Errorf("generation after a spec change = %d, want 2", specChanged.Generation)
	}
	if specChanged.Status.Node != "node-2" || specChanged.Status.Phase != v1alpha2.MachineRunning {
		t.Errorf("a spec update dropped the status: %+v", specChanged.Status)
	}

	// Patches follow the same split.
	patched, err := vms.Patch(ctx, name, types.MergePatchType, []byte(`{"status":{"phase":"Stopped"},"metadata":{"labels":{"p":"1"}}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("merge patch with status: %v", err)
	}
	if patched.Status.Phase != v1alpha2.MachineRunning || patched.Labels["p"] != "1" {
		t.Errorf("merge patch of the main resource: phase=%s labels=%v", patched.Status.Phase, patched.Labels)
	}
	patched, err = vms.Patch(ctx, name, types.MergePatchType, []byte(`{"status":{"phase":"Stopped"},"spec":{"cpu":{"cores":8}}}`), metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatalf("merge patch of status: %v", err)
	}
	if patched.Status.Phase != v1alpha2.MachineStopped || patched.Spec.CPU.Cores != 2 || patched.Generation != 2 {
		t.Errorf("merge patch of /status: phase=%s cores=%d generation=%d", patched.Status.Phase, patched.Spec.CPU.Cores, patched.Generation)
	}

	// A status update with a stale resourceVersion is refused.
	stale := statused.DeepCopy()
	stale.Status.Phase = v1alpha2.MachineDegraded
	if _, err := vms.UpdateStatus(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("status update with a stale resourceVersion: want 409 Conflict, got %v", err)
	}
}

func TestVirtualMachineClassStatusIsolation(t *testing.T) {
	ctx := context.Background()
	classes := srv.Client.VirtualizationV1alpha2().VirtualMachineClasses()
	name := uniqueName("class")

	class := newClass(name)
	class.Status = v1alpha2.VirtualMachineClassStatus{Phase: v1alpha2.ClassPhaseReady, AvailableNodes: []string{"node-1"}}
	created, err := classes.Create(ctx, class, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = classes.Delete(ctx, name, metav1.DeleteOptions{}) })
	if !reflect.DeepEqual(created.Status, v1alpha2.VirtualMachineClassStatus{}) || created.Generation != 1 {
		t.Errorf("after create: status=%+v generation=%d", created.Status, created.Generation)
	}

	created.Annotations = map[string]string{v1alpha2.DefaultClassAnnotation: "true"}
	created.Status.Phase = v1alpha2.ClassPhaseTerminating
	labelled, err := classes.Update(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("annotation update: %v", err)
	}
	if labelled.Generation != 1 || labelled.Status.Phase != "" {
		t.Errorf("after a metadata update carrying a status: generation=%d phase=%q", labelled.Generation, labelled.Status.Phase)
	}

	labelled.Status = v1alpha2.VirtualMachineClassStatus{Phase: v1alpha2.ClassPhaseReady, AvailableNodes: []string{"node-1", "node-2"}}
	labelled.Spec.NodeSelector.MatchLabels = map[string]string{"changed": "through-status"}
	statused, err := classes.UpdateStatus(ctx, labelled, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update status: %v", err)
	}
	if statused.Status.Phase != v1alpha2.ClassPhaseReady || len(statused.Status.AvailableNodes) != 2 {
		t.Errorf("status not stored: %+v", statused.Status)
	}
	if statused.Spec.NodeSelector.MatchLabels["node.deckhouse.io/group"] != "worker" || statused.Spec.NodeSelector.MatchLabels["changed"] != "" {
		t.Errorf("the status subresource changed the spec: %+v", statused.Spec.NodeSelector)
	}
	if statused.Generation != 1 {
		t.Errorf("generation after a status update = %d, want 1", statused.Generation)
	}

	statused.Spec.SizingPolicies = []v1alpha2.SizingPolicy{{Cores: &v1alpha2.SizingPolicyCores{Min: 1, Max: 8}}}
	specChanged, err := classes.Update(ctx, statused, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("spec update: %v", err)
	}
	if specChanged.Generation != 2 || specChanged.Status.Phase != v1alpha2.ClassPhaseReady {
		t.Errorf("after a spec change: generation=%d phase=%s", specChanged.Generation, specChanged.Status.Phase)
	}

	if _, err := classes.Update(ctx, statused, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("update with a stale resourceVersion: want 409 Conflict, got %v", err)
	}
	cur, err := classes.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cur.ResourceVersion != specChanged.ResourceVersion || cur.Generation != 2 {
		t.Errorf("the refused update changed the class: rv %s->%s generation %d", specChanged.ResourceVersion, cur.ResourceVersion, cur.Generation)
	}
}

func TestStatusIsolationEveryKind(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind, func(t *testing.T) {
			k := apiFor(t, kind)
			o, status := validStatusCase(t, kind)
			name := uniqueName("status")
			ns := place(k, o, name, "api-status", nil)
			origSpec := o["spec"]
			o["status"] = status

			created, err := k.Create(ns, k.Decode(t, o), metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			t.Cleanup(func() { _ = k.Delete(ns, name, metav1.DeleteOptions{}) })
			if !statusIsEmpty(created) {
				t.Errorf("create stored the client's status: %v", toMap(t, created)["status"])
			}
			if created.GetGeneration() != 1 {
				t.Errorf("generation after create = %d", created.GetGeneration())
			}

			// Label-only update, carrying the status: generation and status stay.
			m := toMap(t, created)
			m.meta()["labels"] = map[string]interface{}{"touched": "yes"}
			m["status"] = status
			updated, err := k.Update(ns, k.Decode(t, m))
			if err != nil {
				t.Fatalf("update: %v", err)
			}
			if !statusIsEmpty(updated) {
				t.Errorf("an update of the main resource stored status: %v", toMap(t, updated)["status"])
			}
			if updated.GetGeneration() != 1 || updated.GetLabels()["touched"] != "yes" {
				t.Errorf("after a label-only update: generation=%d labels=%v", updated.GetGeneration(), updated.GetLabels())
			}

			// The status subresource stores status and ignores a different spec.
			m = toMap(t, updated)
			specBefore := m["spec"]
			var otherSpec interface{}
			for _, c := range validCreateCases(t, kind) {
				if c["spec"] != nil && !reflect.DeepEqual(c["spec"], origSpec) {
					otherSpec = c["spec"]
					break
				}
			}
			if otherSpec != nil {
				m["spec"] = otherSpec
			}
			m["status"] = status
			statused, err := k.UpdateStatus(ns, k.Decode(t, m))
			if err != nil {
				t.Fatalf("update status: %v", err)
			}
			after := toMap(t, statused)
			if diff := contains(status, after["status"], "status"); diff != "" {
				t.Errorf("the status was not stored as sent: %s", diff)
			}
			if !reflect.DeepEqual(after["spec"], specBefore) {
				t.Errorf("the status subresource changed the spec:\n%v\nwant\n%v", after["spec"], specBefore)
			}
			if statused.GetGeneration() != 1 {
				t.Errorf("generation after a status update = %d", statused.GetGeneration())
			}
			if statused.GetResourceVersion() == updated.GetResourceVersion() {
				t.Errorf("the status update kept resourceVersion %s", updated.GetResourceVersion())
			}
			stored, err := k.Get(ns, name)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(toMap(t, stored), after) {
				t.Errorf("get differs from the status update's answer")
			}

			// A later metadata update through the main resource keeps the status.
			m = toMap(t, stored)
			delete(m, "status")
			m.meta()["labels"] = map[string]interface{}{"touched": "twice"}
			again, err := k.Update(ns, k.Decode(t, m))
			if err != nil {
				t.Fatalf("second update: %v", err)
			}
			if diff := contains(status, toMap(t, again)["status"], "status"); diff != "" {
				t.Errorf("an update without status dropped the stored status: %s", diff)
			}
		})
	}
}

// ---- watch ----

func TestWatchEveryKind(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind, func(t *testing.T) {
			k := apiFor(t, kind)
			run := uniqueName("watch")
			sel := metav1.ListOptions{LabelSelector: "test-run=" + run}
			ns := "api-watch"
			if !k.Namespaced() {
				ns = ""
			}
			_, rv0, err := k.List(ns, sel)
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			opts := sel
			opts.ResourceVersion = rv0
			w, err := k.Watch(ns, opts)
			if err != nil {
				t.Fatalf("watch: %v", err)
			}
			defer w.Stop()

			// An object outside the selector must never show up.
			other := validCreateManifest(t, kind)
			otherName := uniqueName("unwatched")
			place(k, other, otherName, "api-watch", map[string]string{"test-run": "someone-else"})
			if _, err := k.Create(ns, k.Decode(t, other), metav1.CreateOptions{}); err != nil {
				t.Fatalf("create: %v", err)
			}
			defer func() { _ = k.Delete(ns, otherName, metav1.DeleteOptions{}) }()

			o := validCreateManifest(t, kind)
			name := uniqueName("watched")
			place(k, o, name, "api-watch", map[string]string{"test-run": run})
			created, err := k.Create(ns, k.Decode(t, o), metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			changed := created.DeepCopyObject().(apiObject)
			labels := changed.GetLabels()
			labels["stage"] = "modified"
			changed.SetLabels(labels)
			updated, err := k.Update(ns, changed)
			if err != nil {
				t.Fatalf("update: %v", err)
			}
			if err := k.Delete(ns, name, metav1.DeleteOptions{}); err != nil {
				t.Fatalf("delete: %v", err)
			}

			want := []expectedEvent{
				{watch.Added, name, created.GetResourceVersion(), ""},
				{watch.Modified, name, updated.GetResourceVersion(), "modified"},
				{watch.Deleted, name, "", "modified"},
			}
			deletedRV := checkEvents(t, w, want)

			// A watch from the old resourceVersion replays the same changes.
			replay, err := k.Watch(ns, opts)
			if err != nil {
				t.Fatalf("watch from %s: %v", rv0, err)
			}
			defer replay.Stop()
			want[2].rv = deletedRV
			checkEvents(t, replay, want)

			// From the creation's resourceVersion only the later changes come.
			from := sel
			from.ResourceVersion = created.GetResourceVersion()
			later, err := k.Watch(ns, from)
			if err != nil {
				t.Fatalf("watch from %s: %v", from.ResourceVersion, err)
			}
			defer later.Stop()
			checkEvents(t, later, want[1:])
		})
	}
}

type expectedEvent struct {
	typ   watch.EventType
	name  string
	rv    string // "" for any resourceVersion
	stage string // the value of the "stage" label
}

// checkEvents reads len(want) events and checks them in order; it returns the
// resourceVersion of the last one.
func checkEvents(t *testing.T, w watch.Interface, want []expectedEvent) string {
	t.Helper()
	var lastRV string
	timeout := time.After(10 * time.Second)
	for i, exp := range want {
		var ev watch.Event
		select {
		case e, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("the watch closed before event %d (%s)", i, exp.typ)
			}
			ev = e
		case <-timeout:
			t.Fatalf("no event %d (%s %s) within 10s", i, exp.typ, exp.name)
		}
		if ev.Type != exp.typ {
			t.Fatalf("event %d: type %s (%v), want %s", i, ev.Type, ev.Object, exp.typ)
		}
		obj, ok := ev.Object.(apiObject)
		if !ok {
			t.Fatalf("event %d carries %T", i, ev.Object)
		}
		if obj.GetName() != exp.name {
			t.Errorf("event %d (%s): object %s, want %s", i, ev.Type, obj.GetName(), exp.name)
		}
		if exp.rv != "" && obj.GetResourceVersion() != exp.rv {
			t.Errorf("event %d (%s): resourceVersion %s, want %s", i, ev.Type, obj.GetResourceVersion(), exp.rv)
		}
		if obj.GetLabels()["stage"] != exp.stage {
			t.Errorf("event %d (%s): stage label %q, want %q", i, ev.Type, obj.GetLabels()["stage"], exp.stage)
		}
		if obj.GetResourceVersion() == lastRV {
			t.Errorf("event %d repeats resourceVersion %s", i, lastRV)
		}
		lastRV = obj.GetResourceVersion()
	}
	return lastRV
}

// ---- field selectors ----

// selectorVariants gives per kind two objects (spec and status) that differ in every selectable
// field of the kind.
var selectorVariants = map[string][2]string{
	"ClusterVirtualImage": {
		`{spec: {dataSource: {type: HTTP, http: {url: "https://example.com/images/a.qcow2"}}}, status: {phase: Ready}}`,
		`{spec: {dataSource: {type: ContainerImage, containerImage: {image: "registry.example.com/images/b:1"}}}, status: {phase: Provisioning}}`,
	},
	"VirtualImage": {
		`{spec: {storage: ContainerRegistry, dataSource: {type: HTTP, http: {url: "https://example.com/images/a.qcow2"}}}, status: {phase: Ready}}`,
		`{spec: {storage: PersistentVolumeClaim, persistentVolumeClaim: {storageClassName: fast}, dataSource: {type: ContainerImage, containerImage: {image: "registry.example.com/images/b:1"}}}, status: {phase: Pending}}`,
	},
	"VirtualDisk": {
		`{spec: {persistentVolumeClaim: {size: 1Gi, storageClassName: local-thin}}, status: {phase: Ready, storageClassName: local-thin}}`,
		`{spec: {persistentVolumeClaim: {size: 2Gi, storageClassName: fast}}, status: {phase: Provisioning, storageClassName: fast}}`,
	},
	"VirtualDiskSnapshot": {
		`{spec: {virtualDiskName: disk-a}, status: {phase: Ready}}`,
		`{spec: {virtualDiskName: disk-b}, status: {phase: InProgress}}`,
	},
	"VirtualMachine": {
		`{spec: {virtualMachineClassName: fs-class-a, cpu: {cores: 1}, memory: {size: 1Gi}, blockDeviceRefs: [{kind: VirtualDisk, name: root-a}]}, status: {phase: Running, nodeName: node-a}}`,
		`{spec: {virtualMachineClassName: fs-class-b, cpu: {cores: 2}, memory: {size: 2Gi}, blockDeviceRefs: [{kind: VirtualDisk, name: root-b}]}, status: {phase: Stopped, nodeName: node-b}}`,
	},
	"VirtualMachineClass": {
		`{spec: {cpu: {type: Host}}, status: {phase: Ready}}`,
		`{spec: {cpu: {type: Host}}, status: {phase: Pending}}`,
	},
	"VirtualMachineOperation": {
		`{spec: {type: Restart, virtualMachineName: vm-a}, status: {phase: InProgress}}`,
		`{spec: {type: Evict, virtualMachineName: vm-b}, status: {phase: Completed}}`,
	},
	"VirtualMachineBlockDeviceAttachment": {
		`{spec: {virtualMachineName: vm-a, blockDeviceRef: {kind: VirtualDisk, name: disk-a}}, status: {phase: Attached}}`,
		`{spec: {virtualMachineName: vm-b, blockDeviceRef: {kind: VirtualImage, name: image-b}}, status: {phase: Pending}}`,
	},
	"VirtualMachineIPAddress": {
		`{spec: {type: Auto}, status: {phase: Bound, address: 10.66.10.21, virtualMachineName: vm-a}}`,
		`{spec: {type: Static, staticIP: 10.66.10.22}, status: {phase: Attached, address: 10.66.10.22, virtualMachineName: vm-b}}`,
	},
	"VirtualMachineIPAddressLease": {
		`{spec: {virtualMachineIPAddressRef: {name: ip-a, namespace: ns-a}}, status: {phase: Bound}}`,
		`{spec: {virtualMachineIPAddressRef: {name: ip-b, namespace: ns-b}}, status: {phase: Released}}`,
	},
	"VirtualMachineSnapshot": {
		`{spec: {virtualMachineName: vm-a, keepIPAddress: Always, requiredConsistency: true}, status: {phase: Ready}}`,
		`{spec: {virtualMachineName: vm-b, keepIPAddress: Never, requiredConsistency: false}, status: {phase: InProgress}}`,
	},
	"VirtualMachineRestore": {
		`{spec: {virtualMachineSnapshotName: snap-a}, status: {phase: Ready}}`,
		`{spec: {virtualMachineSnapshotName: snap-b}, status: {phase: Pending}}`,
	},
}

func TestFieldSelectorsEveryKind(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind, func(t *testing.T) {
			k := apiFor(t, kind)
			variants, ok := selectorVariants[kind]
			if !ok {
				t.Fatalf("no selector variants for %s", kind)
			}
			run := uniqueName("fs")
			nsA, nsB := run+"-a", run+"-b"
			var stored [2]object
			for i, doc := range variants {
				js, err := sigsyaml.YAMLToJSON([]byte(doc))
				if err != nil {
					t.Fatal(err)
				}
				var v object
				if err := json.Unmarshal(js, &v); err != nil {
					t.Fatal(err)
				}
				o := object{"apiVersion": groupVersion, "kind": kind, "spec": v["spec"]}
				ns := place(k, o, fmt.Sprintf("%s-%c", run, 'a'+i), []string{nsA, nsB}[i], map[string]string{"test-run": run})
				created, err := k.Create(ns, k.Decode(t, o), metav1.CreateOptions{})
				if err != nil {
					t.Fatalf("create variant %d: %v", i, err)
				}
				t.Cleanup(func() { _ = k.Delete(ns, created.GetName(), metav1.DeleteOptions{}) })
				m := toMap(t, created)
				m["status"] = v["status"]
				withStatus, err := k.UpdateStatus(ns, k.Decode(t, m))
				if err != nil {
					t.Fatalf("status of variant %d: %v", i, err)
				}
				stored[i] = toMap(t, withStatus)
			}
			nameA, nameB := stored[0].name(), stored[1].name()

			list := func(selector string) ([]string, error) {
				items, _, err := k.List("", metav1.ListOptions{LabelSelector: "test-run=" + run, FieldSelector: selector})
				return names(items), err
			}
			expect := func(selector string, want ...string) {
				t.Helper()
				got, err := list(selector)
				if err != nil {
					t.Errorf("list with %q: %v", selector, err)
					return
				}
				if want == nil {
					want = []string{}
				}
				sort.Strings(want)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("list with %q returns %v, want %v", selector, got, want)
				}
			}

			labels := append(v1alpha2.SelectableFields(kind), "metadata.name")
			if k.Namespaced() {
				labels = append(labels, "metadata.namespace")
			}
			for _, label := range labels {
				va, okA := lookup(stored[0], label)
				vb, okB := lookup(stored[1], label)
				sa, sb := fmt.Sprint(va), fmt.Sprint(vb)
				if !okA || !okB || sa == sb || sa == "" || sb == "" {
					t.Fatalf("test data: %s must be set and differ in the two objects, got %q and %q", label, sa, sb)
				}
				expect(label+"="+sa, nameA)
				expect(label+"="+sb, nameB)
				expect(label+"!="+sa, nameB)
				expect(label + "=" + sa + "," + label + "=" + sb)
			}
			if !k.Namespaced() {
				// Cluster-scoped objects have no namespace.
				expect("metadata.namespace=" + nsA)
				expect("metadata.namespace!="+nsA, nameA, nameB)
			}
			// Selectable fields combine.
			firstLabel := v1alpha2.SelectableFields(kind)[0]
			va, _ := lookup(stored[0], firstLabel)
			expect(fmt.Sprintf("metadata.name=%s,%s=%v", nameA, firstLabel, va), nameA)
			expect(fmt.Sprintf("metadata.name=%s,%s=%v", nameB, firstLabel, va))

			// Labels of other kinds, and made-up ones, are refused.
			own := map[string]bool{"metadata.name": true, "metadata.namespace": true}
			for _, l := range v1alpha2.SelectableFields(kind) {
				own[l] = true
			}
			unsupported := []string{"spec.bogus", "metadata.labels", "status"}
			for _, other := range allKinds {
				for _, l := range v1alpha2.SelectableFields(other) {
					if !own[l] {
						own[l] = true
						unsupported = append(unsupported, l)
					}
				}
			}
			for _, label := range unsupported {
				_, err := list(label + "=x")
				if !apierrors.IsBadRequest(err) {
					t.Errorf("list with the unsupported field %q: want 400 BadRequest, got %v", label, err)
				} else if !strings.Contains(err.Error(), label) {
					t.Errorf("the refusal should name %q: %v", label, err)
				}
			}
			_, err := k.Watch("", metav1.ListOptions{FieldSelector: "spec.bogus=x"})
			if !apierrors.IsBadRequest(err) {
				t.Errorf("watch with an unsupported field: want 400 BadRequest, got %v", err)
			}
		})
	}
}

func TestFieldSelectorWatchVirtualMachine(t *testing.T) {
	ns := "api-watch-fields"
	k := apiFor(t, "VirtualMachine")
	vms := srv.Client.VirtualizationV1alpha2().VirtualMachines(ns)
	ctx := context.Background()
	nameA, nameB := uniqueName("vm"), uniqueName("vm")
	list, err := vms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := k.Watch(ns, metav1.ListOptions{ResourceVersion: list.ResourceVersion, FieldSelector: "status.nodeName=node-watched"})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()
	for _, name := range []string{nameA, nameB} {
		if _, err := vms.Create(ctx, newVM(name, ns, "generic", 1, "", "1Gi"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = vms.Delete(ctx, name, metav1.DeleteOptions{}) })
	}
	// B lands on another node first, then A on the watched node: only A enters the selection.
	setNode := func(name, node string) *v1alpha2.VirtualMachine {
		vm, err := vms.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		vm.Status.Phase, vm.Status.Node = v1alpha2.MachineRunning, node
		vm, err = vms.UpdateStatus(ctx, vm, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return vm
	}
	setNode(nameB, "node-other")
	a := setNode(nameA, "node-watched")
	moved := setNode(nameA, "node-other")
	checkEvents(t, w, []expectedEvent{
		{watch.Added, nameA, a.ResourceVersion, ""},
		{watch.Deleted, nameA, moved.ResourceVersion, ""},
	})
}

// ---- malformed requests and field validation ----

func TestMalformedBodies(t *testing.T) {
	ctx := context.Background()
	for _, kind := range allKinds {
		t.Run(kind, func(t *testing.T) {
			k := apiFor(t, kind)
			o := validCreateManifest(t, kind)
			name := uniqueName("body")
			ns := place(k, o, name, "api-body", nil)
			good, _ := json.Marshal(o)
			broken := good[:len(good)-7]

			err := request(t, "POST", kind, ns, "").SetHeader("Content-Type", "application/json").Body(broken).Do(ctx).Error()
			if !apierrors.IsBadRequest(err) {
				t.Errorf("create with invalid JSON: want 400 BadRequest, got %v", err)
			}
			if _, err := k.Get(ns, name); !apierrors.IsNotFound(err) {
				t.Errorf("the invalid create stored something: %v", err)
			}

			if _, err := k.Create(ns, k.Decode(t, o), metav1.CreateOptions{}); err != nil {
				t.Fatalf("create: %v", err)
			}
			t.Cleanup(func() { _ = k.Delete(ns, name, metav1.DeleteOptions{}) })
			before, _ := k.Get(ns, name)

			err = request(t, "PUT", kind, ns, name).SetHeader("Content-Type", "application/json").Body(broken).Do(ctx).Error()
			if !apierrors.IsBadRequest(err) {
				t.Errorf("update with invalid JSON: want 400 BadRequest, got %v", err)
			}
			err = request(t, "PATCH", kind, ns, name).SetHeader("Content-Type", string(types.MergePatchType)).Body([]byte(`{"metadata":`)).Do(ctx).Error()
			if !apierrors.IsBadRequest(err) {
				t.Errorf("merge patch with invalid JSON: want 400 BadRequest, got %v", err)
			}
			err = request(t, "PATCH", kind, ns, name).SetHeader("Content-Type", string(types.JSONPatchType)).Body([]byte(`{"op":"add"}`)).Do(ctx).Error()
			if !apierrors.IsBadRequest(err) {
				t.Errorf("json patch that is not a list: want 400 BadRequest, got %v", err)
			}
			after, _ := k.Get(ns, name)
			if before == nil || after == nil || before.GetResourceVersion() != after.GetResourceVersion() {
				t.Errorf("refused requests changed the object")
			}

			// An unknown field with strict validation is refused and named.
			strict := toMap(t, k.Decode(t, o))
			strict.meta()["name"] = uniqueName("strict")
			spec, _ := strict["spec"].(map[string]interface{})
			if spec == nil {
				spec = map[string]interface{}{}
				strict["spec"] = spec
			}
			spec["bogusField"] = "x"
			body, _ := json.Marshal(strict)
			err = request(t, "POST", kind, ns, "").Param("fieldValidation", "Strict").
				SetHeader("Content-Type", "application/json").Body(body).Do(ctx).Error()
			if !apierrors.IsBadRequest(err) {
				t.Fatalf("create with an unknown field and fieldValidation=Strict: want 400 BadRequest, got %v", err)
			}
			if !strings.Contains(err.Error(), `unknown field "spec.bogusField"`) {
				t.Errorf("the refusal should name spec.bogusField: %v", err)
			}
			cur := toMap(t, before)
			curSpec, _ := cur["spec"].(map[string]interface{})
			if curSpec == nil {
				curSpec = map[string]interface{}{}
				cur["spec"] = curSpec
			}
			curSpec["bogusField"] = "x"
			body, _ = json.Marshal(cur)
			err = request(t, "PUT", kind, ns, name).Param("fieldValidation", "Strict").
				SetHeader("Content-Type", "application/json").Body(body).Do(ctx).Error()
			if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), `unknown field "spec.bogusField"`) {
				t.Errorf("update with an unknown field and fieldValidation=Strict: want 400 naming spec.bogusField, got %v", err)
			}
			// For patches the apiserver library reports the strict decoding error as 422 on "patch".
			err = request(t, "PATCH", kind, ns, name).Param("fieldValidation", "Strict").
				SetHeader("Content-Type", string(types.MergePatchType)).Body([]byte(`{"spec":{"bogusField":"x"}}`)).Do(ctx).Error()
			if code := statusCode(err); (code != 400 && code != 422) || !strings.Contains(err.Error(), `unknown field "spec.bogusField"`) {
				t.Errorf("merge patch with an unknown field and fieldValidation=Strict: want a refusal naming spec.bogusField, got %v", err)
			}
			if after, _ := k.Get(ns, name); after == nil || after.GetResourceVersion() != before.GetResourceVersion() {
				t.Errorf("refused strict requests changed the object")
			}
		})
	}
}

func TestFieldValidationVirtualMachine(t *testing.T) {
	ctx := context.Background()
	ns := "api-field-validation"
	vms := srv.Client.VirtualizationV1alpha2().VirtualMachines(ns)
	post := func(client *versioned.Clientset, mode string, body string) error {
		req := client.VirtualizationV1alpha2().RESTClient().Post().Namespace(ns).Resource("virtualmachines").
			SetHeader("Content-Type", "application/json").Body([]byte(body))
		if mode != "" {
			req = req.Param("fieldValidation", mode)
		}
		return req.Do(ctx).Error()
	}
	vmJSON := func(name, extra string) string {
		return fmt.Sprintf(`{"apiVersion":%q,"kind":"VirtualMachine","metadata":{"name":%q},
			"spec":{"virtualMachineClassName":"generic","cpu":{"cores":1%s},"memory":{"size":"1Gi"},
			"blockDeviceRefs":[{"kind":"VirtualDisk","name":"root"}]}}`, groupVersion, name, extra)
	}
	client := versioned.NewForConfigOrDie(srv.Config)

	name := uniqueName("vm")
	err := post(client, "Strict", vmJSON(name, `,"sockets":2`))
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), `unknown field "spec.cpu.sockets"`) {
		t.Errorf("Strict with spec.cpu.sockets: want 400 naming the field, got %v", err)
	}
	err = post(client, "Strict", vmJSON(name, `,"cores":2`))
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "spec.cpu.cores") {
		t.Errorf("Strict with a duplicate field: want 400 naming spec.cpu.cores, got %v", err)
	}
	if _, err := vms.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a refused strict create stored the VM: %v", err)
	}

	// Ignore stores the object without the unknown field.
	if err := post(client, "Ignore", vmJSON(name, `,"sockets":2`)); err != nil {
		t.Fatalf("Ignore with an unknown field: %v", err)
	}
	t.Cleanup(func() { _ = vms.Delete(ctx, name, metav1.DeleteOptions{}) })
	raw := get(t, "VirtualMachine", ns, name)
	if cpu, _ := lookup(raw, "spec.cpu"); !reflect.DeepEqual(cpu, map[string]interface{}{"cores": float64(1)}) {
		t.Errorf("spec.cpu stored as %v", cpu)
	}

	// Warn stores it and says so in a warning.
	warnings := &warningRecorder{}
	cfg := rest.CopyConfig(srv.Config)
	cfg.WarningHandler = warnings
	warnClient := versioned.NewForConfigOrDie(cfg)
	warned := uniqueName("vm")
	if err := post(warnClient, "Warn", vmJSON(warned, `,"sockets":2`)); err != nil {
		t.Fatalf("Warn with an unknown field: %v", err)
	}
	t.Cleanup(func() { _ = vms.Delete(ctx, warned, metav1.DeleteOptions{}) })
	if !warnings.has(`unknown field "spec.cpu.sockets"`) {
		t.Errorf("no warning about spec.cpu.sockets: %v", warnings.messages)
	}

	// A value of the wrong type does not decode.
	err = post(client, "Strict", vmJSON(uniqueName("vm"), `,"coreFraction":10`))
	if !apierrors.IsBadRequest(err) {
		t.Errorf("a number for the string spec.cpu.coreFraction: want 400 BadRequest, got %v", err)
	}
}

type warningRecorder struct{ messages []string }

func (w *warningRecorder) HandleWarningHeader(_ int, _ string, message string) {
	w.messages = append(w.messages, message)
}

func (w *warningRecorder) has(s string) bool {
	for _, m := range w.messages {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}
