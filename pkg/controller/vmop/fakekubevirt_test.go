package vmop

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/virtplane/virtplane/pkg/kubevirt"
)

// fakeKubeVirt answers the VMI requests of the real kubevirt client from memory, through its
// HTTP transport, and records the delete options each DELETE carried.
type fakeKubeVirt struct {
	mu      sync.Mutex
	vmis    map[string]*kvv1.VirtualMachineInstance // by "namespace/name"
	deletes []metav1.DeleteOptions
	patches []string
}

func newFakeKubeVirt(t *testing.T) (*fakeKubeVirt, kubevirt.Interface) {
	f := &fakeKubeVirt{vmis: map[string]*kvv1.VirtualMachineInstance{}}
	client, err := kubevirt.NewForConfig(&rest.Config{Host: "http://kubevirt.test", Transport: f})
	if err != nil {
		t.Fatal(err)
	}
	return f, client
}

func (f *fakeKubeVirt) put(vmi *kvv1.VirtualMachineInstance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.vmis[vmi.Namespace+"/"+vmi.Name] = vmi.DeepCopy()
}

func (f *fakeKubeVirt) remove(namespace, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.vmis, namespace+"/"+name)
}

func (f *fakeKubeVirt) get(namespace, name string) *kvv1.VirtualMachineInstance {
	f.mu.Lock()
	defer f.mu.Unlock()
	if vmi := f.vmis[namespace+"/"+name]; vmi != nil {
		return vmi.DeepCopy()
	}
	return nil
}

func (f *fakeKubeVirt) list() []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []any
	for _, vmi := range f.vmis {
		out = append(out, vmi.DeepCopy())
	}
	return out
}

func (f *fakeKubeVirt) deleteOptions() []metav1.DeleteOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]metav1.DeleteOptions(nil), f.deletes...)
}

// RoundTrip serves /apis/kubevirt.io/v1/namespaces/NS/virtualmachineinstances/NAME.
func (f *fakeKubeVirt) RoundTrip(req *http.Request) (*http.Response, error) {
	parts := strings.Split(strings.TrimPrefix(req.URL.Path, "/apis/kubevirt.io/v1/namespaces/"), "/")
	if len(parts) != 3 || parts[1] != "virtualmachineinstances" {
		return status(http.StatusNotFound, "NotFound", "no route "+req.URL.Path), nil
	}
	key := parts[0] + "/" + parts[2]
	body, _ := io.ReadAll(req.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	vmi := f.vmis[key]
	if vmi == nil {
		return status(http.StatusNotFound, "NotFound", "virtualmachineinstances "+parts[2]+" not found"), nil
	}
	switch req.Method {
	case http.MethodGet:
	case http.MethodPatch:
		f.patches = append(f.patches, string(body))
		if err := json.Unmarshal(body, vmi); err != nil {
			return status(http.StatusBadRequest, "BadRequest", err.Error()), nil
		}
	case http.MethodDelete:
		var opts metav1.DeleteOptions
		if err := json.Unmarshal(body, &opts); err != nil {
			return status(http.StatusBadRequest, "BadRequest", err.Error()), nil
		}
		if p := opts.Preconditions; p != nil && p.UID != nil && *p.UID != vmi.UID {
			return status(http.StatusConflict, "Conflict", "precondition failed: UID"), nil
		}
		f.deletes = append(f.deletes, opts)
		// KubeVirt keeps the VMI (its finalizer) until the guest is down: the test, playing
		// the node, removes it.
		now := metav1.Now()
		vmi.DeletionTimestamp = &now
	default:
		return status(http.StatusMethodNotAllowed, "MethodNotAllowed", req.Method), nil
	}
	out := vmi.DeepCopy()
	out.APIVersion, out.Kind = "kubevirt.io/v1", "VirtualMachineInstance"
	b, _ := json.Marshal(out)
	return response(http.StatusOK, b), nil
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
