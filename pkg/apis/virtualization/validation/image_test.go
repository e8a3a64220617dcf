package validation

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

func TestClusterVirtualImageCorpus(t *testing.T) {
	runCorpus(t, "clustervirtualimage", validatorsOf(
		ValidateClusterVirtualImage, ValidateClusterVirtualImageUpdate, ValidateClusterVirtualImageStatusUpdate))
}

func TestVirtualImageCorpus(t *testing.T) {
	runCorpus(t, "virtualimage", validatorsOf(
		ValidateVirtualImage, ValidateVirtualImageUpdate, ValidateVirtualImageStatusUpdate))
}

// Checks that do not fit a manifest: the regexes of the shared data sources.
func TestContainerImagePattern(t *testing.T) {
	for _, tc := range []struct {
		image string
		ok    bool
	}{
		{"registry.example.com/images/ubuntu:22.04", true},
		{"ubuntu", true},
		{"localhost:5000/ubuntu:latest", true},
		{"docker.io/library/alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true},
		{"Registry.Example.com/UPPER:tag", false},
		{"docker.io/<username>/ubuntu2204:latest", false},
		{"ubuntu:", false},
	} {
		errs := validateContainerImageRef(tc.image, field.NewPath("image"))
		if (len(errs) == 0) != tc.ok {
			t.Errorf("%q: ok=%v, got %v", tc.image, tc.ok, errs)
		}
	}
}

func TestHTTPURLPattern(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img", true},
		{"http://10.0.0.1:8080/a%20b.iso?x=1&y=2", true},
		{"ftp://example.com/disk.img", false},
		{"https://example.com/my disk.img", false},
		{"https://", false},
	} {
		errs := validateHTTPSource(&virtualization.DataSourceHTTP{URL: tc.url}, field.NewPath("http"))
		if (len(errs) == 0) != tc.ok {
			t.Errorf("%q: ok=%v, got %v", tc.url, tc.ok, errs)
		}
	}
}
