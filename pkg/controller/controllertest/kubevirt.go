package controllertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/virtplane/virtplane/pkg/kubevirt"
)

// KubeVirt answers the requests of the real kubevirt client from memory, through its HTTP
// transport, for VirtualMachineInstances and VirtualMachineInstanceMigrations: get, list,
// create, delete, and merge patches that set fields. A VMI delete marks the VMI as
// terminating, as KubeVirt's finalizer keeps it until the guest is down; the test, playing
// the node, removes it with Remove. A migration delete removes it at once.
type KubeVirt struct {
	mu         sync.Mutex
	vmis       map[string]*kvv1.VirtualMachineInstance          // by "namespace/name"
	migrations map[string]*kvv1.VirtualMachineInstanceMigration // by "namespace/name"
	requests   []string
	deletes    []metav1.DeleteOptions
	uid        int
	unserved   bool
}

// NewKubeVirt returns the fake and a kubevirt client that talks to it.
func NewKubeVirt(t testing.TB, vmis ...*kvv1.VirtualMachineInstance) (*KubeVirt, kubevirt.Interface) {
	t.Helper()
	f := &KubeVirt{vmis: map[string]*kvv1.VirtualMachineInstance{}, migrations: map[string]*kvv1.VirtualMachineInstanceMigration{}}
	for _, vmi := range vmis {
		f.Put(vmi)
	}
	client, err := kubevirt.NewForConfig(&rest.Config{Host: "http://kubevirt.test", Transport: f})
	if err != nil {
		t.Fatal(err)
	}
	return f, client
}

// Unserve makes the fake answer as a cluster without KubeVirt: 404 for every request.
func (f *KubeVirt) Unserve() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unserved = true
}

// Put stores a VMI as it is, as KubeVirt or the node would have written it.
func (f *KubeVirt) Put(vmi *kvv1.VirtualMachineInstance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.vmis[vmi.Namespace+"/"+vmi.Name] = vmi.DeepCopy()
}

// Remove drops a VMI, as KubeVirt does once its guest is down.
func (f *KubeVirt) Remove(namespace, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.vmis, namespace+"/"+name)
}

// Get returns a copy of a VMI, nil when there is none.
func (f *KubeVirt) Get(namespace, name string) *kvv1.VirtualMachineInstance {
	f.mu.Lock()
	defer f.mu.Unlock()
	if vmi := f.vmis[namespace+"/"+name]; vmi != nil {
		return vmi.DeepCopy()
	}
	return nil
}

// List returns copies of all VMIs, ordered by namespace and name; the elements are
// *kvv1.VirtualMachineInstance, ready for an informer's store.
func (f *KubeVirt) List() []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []any
	for _, k := range sortedKeys(f.vmis) {
		out = append(out, f.vmis[k].DeepCopy())
	}
	return out
}

// PutMigration stores a migration as it is, as KubeVirt would have written it (a phase,
// a migration state).
func (f *KubeVirt) PutMigration(m *kvv1.VirtualMachineInstanceMigration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.migrations[m.Namespace+"/"+m.Name] = m.DeepCopy()
}

// Migration returns a copy of a migration, nil when there is none.
func (f *KubeVirt) Migration(namespace, name string) *kvv1.VirtualMachineInstanceMigration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m := f.migrations[namespace+"/"+name]; m != nil {
		return m.DeepCopy()
	}
	return nil
}

// Migrations returns copies of all migrations, ordered by namespace and name, ready for an
// informer's store.
func (f *KubeVirt) Migrations() []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []any
	for _, k := range sortedKeys(f.migrations) {
		out = append(out, f.migrations[k].DeepCopy())
	}
	return out
}

// Requests lists the requests served so far as "METHOD path".
func (f *KubeVirt) Requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// DeleteOptions lists the options each accepted VMI DELETE carried.
func (f *KubeVirt) DeleteOptions() []metav1.DeleteOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]metav1.DeleteOptions(nil), f.deletes...)
}

const prefix = "/apis/kubevirt.io/v1/"

// RoundTrip serves [/apis/kubevirt.io/v1/][namespaces/NS/]RESOURCE[/NAME] for
// virtualmachineinstances and virtualmachineinstancemigrations.
func (f *KubeVirt) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, req.Method+" "+req.URL.Path)
	if f.unserved {
		return status(http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource"), nil
	}
	var ns, name string
	parts := strings.Split(strings.TrimPrefix(req.URL.Path, prefix), "/")
	if len(parts) >= 2 && parts[0] == "namespaces" {
		ns, parts = parts[1], parts[2:]
	}
	if !strings.HasPrefix(req.URL.Path, prefix) || len(parts) == 0 || len(parts) > 2 {
		return status(http.StatusNotFound, metav1.StatusReasonNotFound, "no route "+req.URL.Path), nil
	}
	if len(parts) == 2 {
		name = parts[1]
	}
	var s store
	switch parts[0] {
	case kubevirt.VMIResource.Resource:
		s = vmiStore{f}
	case kubevirt.MigrationResource.Resource:
		s = migrationStore{f}
	default:
		return status(http.StatusNotFound, metav1.StatusReasonNotFound, "no route "+req.URL.Path), nil
	}
	switch {
	case req.Method == http.MethodGet && name == "":
		return s.list(ns), nil
	case req.Method == http.MethodPost && name == "":
		return f.create(s, ns, body), nil
	case name == "":
		return status(http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, req.Method), nil
	}
	obj := s.get(ns + "/" + name)
	if obj == nil {
		return status(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("%s.kubevirt.io %q not found", parts[0], name)), nil
	}
	switch req.Method {
	case http.MethodGet:
	case http.MethodPatch:
		// A merge patch that sets fields is the object's JSON laid over it.
		if err := json.Unmarshal(body, obj); err != nil {
			return status(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error()), nil
		}
	case http.MethodDelete:
		var opts metav1.DeleteOptions
		if len(body) > 0 {
			if err := json.Unmarshal(body, &opts); err != nil {
				return status(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error()), nil
			}
		}
		if p := opts.Preconditions; p != nil && p.UID != nil && *p.UID != obj.GetUID() {
			return status(http.StatusConflict, metav1.StatusReasonConflict, "precondition failed: UID"), nil
		}
		s.delete(ns+"/"+name, opts)
	default:
		return status(http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, req.Method), nil
	}
	return s.response(http.StatusOK, obj), nil
}

func (f *KubeVirt) create(s store, ns string, body []byte) *http.Response {
	obj := s.new()
	if err := json.Unmarshal(body, obj); err != nil {
		return status(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
	}
	if obj.GetNamespace() == "" {
		obj.SetNamespace(ns)
	}
	if obj.GetName() == "" || obj.GetNamespace() != ns {
		return status(http.StatusBadRequest, metav1.StatusReasonBadRequest, "name and namespace must be set and match the path")
	}
	key := ns + "/" + obj.GetName()
	if s.get(key) != nil {
		return status(http.StatusConflict, metav1.StatusReasonAlreadyExists, fmt.Sprintf("%s.kubevirt.io %q already exists", s.resource(), obj.GetName()))
	}
	f.uid++
	obj.SetUID(types.UID(fmt.Sprintf("%s-uid-%d", s.short(), f.uid)))
	obj.SetResourceVersion("1")
	obj.SetCreationTimestamp(metav1.Now())
	s.put(key, obj)
	return s.response(http.StatusCreated, obj)
}

// store is one resource's map, behind the lock of KubeVirt.
type store interface {
	resource() string
	short() string
	new() metav1.Object
	get(key string) metav1.Object // the stored object itself, nil when absent
	put(key string, obj metav1.Object)
	delete(key string, opts metav1.DeleteOptions)
	list(ns string) *http.Response
	response(code int, obj metav1.Object) *http.Response
}

type vmiStore struct{ f *KubeVirt }

func (vmiStore) resource() string   { return kubevirt.VMIResource.Resource }
func (vmiStore) short() string      { return "vmi" }
func (vmiStore) new() metav1.Object { return &kvv1.VirtualMachineInstance{} }
func (s vmiStore) put(key string, obj metav1.Object) {
	s.f.vmis[key] = obj.(*kvv1.VirtualMachineInstance).DeepCopy()
}

func (s vmiStore) get(key string) metav1.Object {
	if vmi := s.f.vmis[key]; vmi != nil {
		return vmi
	}
	return nil
}

func (s vmiStore) delete(key string, opts metav1.DeleteOptions) {
	s.f.deletes = append(s.f.deletes, opts)
	if vmi := s.f.vmis[key]; vmi.DeletionTimestamp == nil {
		now := metav1.Now()
		vmi.DeletionTimestamp = &now
	}
}

func (s vmiStore) list(ns string) *http.Response {
	out := &kvv1.VirtualMachineInstanceList{TypeMeta: metav1.TypeMeta{APIVersion: kvv1.SchemeGroupVersion.String(), Kind: "VirtualMachineInstanceList"}}
	for _, k := range sortedKeys(s.f.vmis) {
		if o := s.f.vmis[k]; ns == "" || o.Namespace == ns {
			out.Items = append(out.Items, *o.DeepCopy())
		}
	}
	b, _ := json.Marshal(out)
	return response(http.StatusOK, b)
}

func (vmiStore) response(code int, obj metav1.Object) *http.Response {
	out := obj.(*kvv1.VirtualMachineInstance).DeepCopy()
	out.APIVersion, out.Kind = kvv1.SchemeGroupVersion.String(), "VirtualMachineInstance"
	b, _ := json.Marshal(out)
	return response(code, b)
}

type migrationStore struct{ f *KubeVirt }

func (migrationStore) resource() string   { return kubevirt.MigrationResource.Resource }
func (migrationStore) short() string      { return "vmim" }
func (migrationStore) new() metav1.Object { return &kvv1.VirtualMachineInstanceMigration{} }
func (s migrationStore) put(key string, obj metav1.Object) {
	s.f.migrations[key] = obj.(*kvv1.VirtualMachineInstanceMigration).DeepCopy()
}

func (s migrationStore) get(key string) metav1.Object {
	if m := s.f.migrations[key]; m != nil {
		return m
	}
	return nil
}

func (s migrationStore) delete(key string, _ metav1.DeleteOptions) { delete(s.f.migrations, key) }

func (s migrationStore) list(ns string) *http.Response {
	out := &kvv1.VirtualMachineInstanceMigrationList{TypeMeta: metav1.TypeMeta{APIVersion: kvv1.SchemeGroupVersion.String(), Kind: "VirtualMachineInstanceMigrationList"}}
	for _, k := range sortedKeys(s.f.migrations) {
		if o := s.f.migrations[k]; ns == "" || o.Namespace == ns {
			out.Items = append(out.Items, *o.DeepCopy())
		}
	}
	b, _ := json.Marshal(out)
	return response(http.StatusOK, b)
}

func (migrationStore) response(code int, obj metav1.Object) *http.Response {
	out := obj.(*kvv1.VirtualMachineInstanceMigration).DeepCopy()
	out.APIVersion, out.Kind = kvv1.SchemeGroupVersion.String(), "VirtualMachineInstanceMigration"
	b, _ := json.Marshal(out)
	return response(code, b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func status(code int, reason metav1.StatusReason, msg string) *http.Response {
	b, _ := json.Marshal(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status: metav1.StatusFailure, Code: int32(code), Reason: reason, Message: msg})
	return response(code, b)
}

func response(code int, body []byte) *http.Response {
	return &http.Response{StatusCode: code, Header: http.Header{"Content-Type": []string{"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body))}
}
