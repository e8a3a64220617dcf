package validation

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/test/corpus"
)

// dsObject is an internal object pointer of one kind.
type dsObject[T any] interface {
	*T
	runtime.Object
	metav1.Object
}

// dsKindValidators adapts the typed validators of one kind to runCorpus. On updates it gives
// both objects the same resourceVersion, as the server does before validating (the corpus
// manifests, like user manifests, carry none).
func dsKindValidators[T any, P dsObject[T]](
	create func(P) field.ErrorList,
	update func(obj, old P) field.ErrorList,
	status func(obj, old P) field.ErrorList,
) kindValidators {
	prep := func(obj, old runtime.Object) (P, P) {
		o, p := obj.(P), old.(P)
		if p.GetResourceVersion() == "" {
			p.SetResourceVersion("1")
		}
		if o.GetResourceVersion() == "" {
			o.SetResourceVersion(p.GetResourceVersion())
		}
		return o, p
	}
	return kindValidators{
		create: func(obj runtime.Object) field.ErrorList { return create(obj.(P)) },
		update: func(obj, old runtime.Object) field.ErrorList { return update(prep(obj, old)) },
		status: func(obj, old runtime.Object) field.ErrorList { return status(prep(obj, old)) },
	}
}

// dsRunCorpus runs the corpus of a kind, then checks that every breaking case breaks only the
// rule it names: each error it gets must be at its expected path.
func dsRunCorpus(t *testing.T, kind string, v kindValidators) {
	t.Helper()
	runCorpus(t, kind, v)
	cases, err := corpus.Load(kind)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if c.Expect == "" {
			continue
		}
		objs := make([]runtime.Object, len(c.Docs))
		for i, doc := range c.Docs {
			objs[i] = decodeInternal(t, doc)
		}
		var errs field.ErrorList
		switch c.Op {
		case corpus.OpCreate:
			errs = v.create(objs[0])
		case corpus.OpUpdate:
			copyStatus(t, objs[0], objs[1])
			errs = v.update(objs[1], objs[0])
		case corpus.OpStatus:
			errs = v.status(objs[1], objs[0])
		}
		for _, e := range errs {
			if e.Field != c.Expect {
				t.Errorf("%s/%s: extra error besides %s: %v", kind, c.Name, c.Expect, e)
			}
		}
	}
}

func TestClusterVirtualImageCorpus(t *testing.T) {
	dsRunCorpus(t, "clustervirtualimage", dsKindValidators(
		ValidateClusterVirtualImage, ValidateClusterVirtualImageUpdate, ValidateClusterVirtualImageStatusUpdate))
}

func TestVirtualImageCorpus(t *testing.T) {
	dsRunCorpus(t, "virtualimage", dsKindValidators(
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
