package apiserver

import "testing"

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
