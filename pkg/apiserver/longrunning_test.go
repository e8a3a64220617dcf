package apiserver

import (
	"net/http"
	"testing"

	"k8s.io/apiserver/pkg/endpoints/request"
)

// Uploads and the VM streams last for as long as the user needs; the 60 s timeout of ordinary
// requests must not cut them, while status writes and reads stay ordinary.
func TestLongRunning(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/ns/virtualmachines/vm/console", nil)
	for _, tc := range []struct {
		info request.RequestInfo
		want bool
	}{
		{request.RequestInfo{IsResourceRequest: true, Verb: "patch", Resource: "virtualimages", Subresource: "upload"}, true},
		{request.RequestInfo{IsResourceRequest: true, Verb: "create", Resource: "clustervirtualimages", Subresource: "upload"}, true},
		{request.RequestInfo{IsResourceRequest: true, Verb: "get", Resource: "virtualmachines", Subresource: "console"}, true},
		{request.RequestInfo{IsResourceRequest: true, Verb: "get", Resource: "virtualmachines", Subresource: "vnc"}, true},
		{request.RequestInfo{IsResourceRequest: true, Verb: "get", Resource: "virtualmachines", Subresource: "portforward"}, true},
		{request.RequestInfo{IsResourceRequest: true, Verb: "watch", Resource: "virtualimages"}, true},
		{request.RequestInfo{IsResourceRequest: true, Verb: "update", Resource: "virtualimages", Subresource: "status"}, false},
		{request.RequestInfo{IsResourceRequest: true, Verb: "get", Resource: "virtualimages"}, false},
		{request.RequestInfo{IsResourceRequest: true, Verb: "update", Resource: "virtualmachines", Subresource: "freeze"}, false},
	} {
		if got := longRunning(req, &tc.info); got != tc.want {
			t.Errorf("%s %s/%s: long running %v, want %v", tc.info.Verb, tc.info.Resource, tc.info.Subresource, got, tc.want)
		}
	}
}
