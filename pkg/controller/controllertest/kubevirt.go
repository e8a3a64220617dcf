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

// KubeVirt answers the VirtualMachineInstance requests of the real kubevirt client from
// memory, through its HTTP transport: get, list, create and delete. A delete marks the VMI
// as terminating, as KubeVirt's finalizer keeps it until the guest is down; the test, playing
// the node, removes it with Remove.
type KubeVirt struct {
	mu       sync.Mutex
	vmis     map[string]*kvv1.VirtualMachineInstance // by "namespace/name"
	requests []string
	deletes  []metav1.DeleteOptions
	uid      int
	unserved bool
}

// NewKubeVirt returns the fake and a kubevirt client that talks to it.
func NewKubeVirt(t testing.TB, vmis ...*kvv1.VirtualMachineInstance) (*KubeVirt, kubevirt.Interface) {
	t.Helper()
	f := &KubeVirt{vmis: map[string]*kvv1.VirtualMachineInstance{}}
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
	for _, vmi := range f.listLocked() {
		out = append(out, vmi)
	}
	return out
}

// Requests lists the requests served so far as "METHOD path".
func (f *KubeVirt) Requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// DeleteOptions lists the options each accepted DELETE carried.
func (f *KubeVirt) DeleteOptions() []metav1.DeleteOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]metav1.DeleteOptions(nil), f.deletes...)
}

const prefix = "/apis/kubevirt.io/v1/"

// RoundTrip serves [/apis/kubevirt.io/v1/][namespaces/NS/]virtualmachineinstances[/NAME].
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
	if !strings.HasPrefix(req.URL.Path, prefix) || len(parts) == 0 || len(parts) > 2 || parts[0] != "virtualmachineinstances" {
		return status(http.StatusNotFound, metav1.StatusReasonNotFound, "no route "+req.URL.Path), nil
	}
	if len(parts) == 2 {
		name = parts[1]
	}
	switch {
	case req.Method == http.MethodGet && name == "":
		return f.list(ns), nil
	case req.Method == http.MethodPost && name == "":
		return f.create(ns, body), nil
	case name == "":
		return status(http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, req.Method), nil
	}
	vmi := f.vmis[ns+"/"+name]
	if vmi == nil {
		return status(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("virtualmachineinstances.kubevirt.io %q not found", name)), nil
	}
	switch req.Method {
	case http.MethodGet:
	case http.MethodDelete:
		var opts metav1.DeleteOptions
		if len(body) > 0 {
			if err := json.Unmarshal(body, &opts); err != nil {
				return status(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error()), nil
			}
		}
		if p := opts.Preconditions; p != nil && p.UID != nil && *p.UID != vmi.UID {
			return status(http.StatusConflict, metav1.StatusReasonConflict, "precondition failed: UID"), nil
		}
		f.deletes = append(f.deletes, opts)
		if vmi.DeletionTimestamp == nil {
			now := metav1.Now()
			vmi.DeletionTimestamp = &now
		}
	default:
		return status(http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, req.Method), nil
	}
	return object(http.StatusOK, vmi), nil
}

func (f *KubeVirt) list(ns string) *http.Response {
	out := &kvv1.VirtualMachineInstanceList{TypeMeta: metav1.TypeMeta{APIVersion: kvv1.SchemeGroupVersion.String(), Kind: "VirtualMachineInstanceList"}}
	for _, o := range f.listLocked() {
		if ns == "" || o.Namespace == ns {
			out.Items = append(out.Items, *o)
		}
	}
	b, _ := json.Marshal(out)
	return response(http.StatusOK, b)
}

func (f *KubeVirt) listLocked() []*kvv1.VirtualMachineInstance {
	keys := make([]string, 0, len(f.vmis))
	for k := range f.vmis {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*kvv1.VirtualMachineInstance, 0, len(keys))
	for _, k := range keys {
		out = append(out, f.vmis[k].DeepCopy())
	}
	return out
}

func (f *KubeVirt) create(ns string, body []byte) *http.Response {
	vmi := &kvv1.VirtualMachineInstance{}
	if err := json.Unmarshal(body, vmi); err != nil {
		return status(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
	}
	if vmi.Namespace == "" {
		vmi.Namespace = ns
	}
	if vmi.Name == "" || vmi.Namespace != ns {
		return status(http.StatusBadRequest, metav1.StatusReasonBadRequest, "name and namespace must be set and match the path")
	}
	key := ns + "/" + vmi.Name
	if f.vmis[key] != nil {
		return status(http.StatusConflict, metav1.StatusReasonAlreadyExists, fmt.Sprintf("virtualmachineinstances.kubevirt.io %q already exists", vmi.Name))
	}
	f.uid++
	vmi.UID = types.UID(fmt.Sprintf("vmi-uid-%d", f.uid))
	vmi.ResourceVersion = "1"
	vmi.CreationTimestamp = metav1.Now()
	f.vmis[key] = vmi.DeepCopy()
	return object(http.StatusCreated, vmi)
}

func object(code int, vmi *kvv1.VirtualMachineInstance) *http.Response {
	out := vmi.DeepCopy()
	out.APIVersion, out.Kind = kvv1.SchemeGroupVersion.String(), "VirtualMachineInstance"
	b, _ := json.Marshal(out)
	return response(code, b)
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
