package apiserver

import (
	"net/http"
	"testing"

	"k8s.io/apiserver/pkg/endpoints/request"
)

// Uploads stream for as long as the file needs; the 60 s timeout of ordinary requests must
// not cut them, while status writes stay ordinary.
func TestUploadIsLongRunning(t *testing.T) {
	req, _ := http.NewRequest(http.MethodPatch, "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/ns/virtualimages/img/upload", nil)
	for _, tc := range []struct {
		info request.RequestInfo
		want bool
	}{
		{request.RequestInfo{IsResourceRequest: true, Verb: "patch", Resource: "virtualimages", Subresource: "upload"}, true},
		{request.RequestInfo{IsResourceRequest: true, Verb: "create", Resource: "clustervirtualimages", Subresource: "upload"}, true},
		{request.RequestInfo{IsResourceRequest: true, Verb: "watch", Resource: "virtualimages"}, true},
		{request.RequestInfo{IsResourceRequest: true, Verb: "update", Resource: "virtualimages", Subresource: "status"}, false},
		{request.RequestInfo{IsResourceRequest: true, Verb: "get", Resource: "virtualimages"}, false},
	} {
		if got := longRunning(req, &tc.info); got != tc.want {
			t.Errorf("%s %s/%s: long running %v, want %v", tc.info.Verb, tc.info.Resource, tc.info.Subresource, got, tc.want)
		}
	}
}

func TestUploadOptionsValidate(t *testing.T) {
	o := UploadOptions{BindAddress: "127.0.0.1:8081", TLSCertFile: "cert.pem"}
	if errs := o.Validate(); len(errs) == 0 {
		t.Error("a certificate without a key was accepted")
	}
	o = UploadOptions{BindAddress: "no-port"}
	if errs := o.Validate(); len(errs) == 0 {
		t.Error("an address without a port was accepted")
	}
	o = UploadOptions{BindAddress: "127.0.0.1:8081"}
	if errs := o.Validate(); len(errs) != 0 {
		t.Errorf("plain HTTP endpoint refused: %v", errs)
	}
}
