package validation

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/install"
	"github.com/virtplane/virtplane/test/corpus"
)

var (
	scheme = runtime.NewScheme()
	codecs = serializer.NewCodecFactory(scheme, serializer.EnableStrict)
)

func init() { install.Install(scheme) }

// kindValidators are the validation entry points of one kind, on internal objects.
type kindValidators struct {
	create func(obj runtime.Object) field.ErrorList
	update func(obj, old runtime.Object) field.ErrorList
	status func(obj, old runtime.Object) field.ErrorList
}

// typedObject is a pointer to an internal object of one kind.
type typedObject[T any] interface {
	*T
	runtime.Object
	metav1.Object
}

// validatorsOf adapts the typed validators of one kind to runCorpus. Updates get the
// resourceVersion of a stored object, as the server fills it in before it validates.
func validatorsOf[T any, P typedObject[T]](
	create func(P) field.ErrorList,
	update func(obj, old P) field.ErrorList,
	status func(obj, old P) field.ErrorList,
) kindValidators {
	stored := func(obj, old runtime.Object) (P, P) {
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
		update: func(obj, old runtime.Object) field.ErrorList { return update(stored(obj, old)) },
		status: func(obj, old runtime.Object) field.ErrorList { return status(stored(obj, old)) },
	}
}

// runCorpus checks every case of a kind in test/corpus/validation/<kind> against v: a valid
// case has no error, a broken case has errors at its expected path and nowhere else (it
// breaks one rule), a malformed case does not decode. The same files drive the server's
// integration tests, so a rule is proven in both places.
func runCorpus(t *testing.T, kind string, v kindValidators) {
	t.Helper()
	cases, err := corpus.Load(kind)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("no corpus cases for %s", kind)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if c.Malformed {
				last := c.Docs[len(c.Docs)-1]
				if _, err := decode(last); err == nil {
					t.Fatal("expected the manifest not to decode")
				}
				return
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
				old, obj := objs[0], objs[1]
				copyStatus(t, old, obj) // the server keeps status on a main-resource update
				errs = v.update(obj, old)
			case corpus.OpStatus:
				old, obj := objs[0], objs[1]
				errs = v.status(obj, old)
			}
			checkErrors(t, c, errs)
		})
	}
}

func checkErrors(t *testing.T, c corpus.Case, errs field.ErrorList) {
	t.Helper()
	if c.Expect == "" {
		if len(errs) > 0 {
			t.Fatalf("expected valid, got %v", errs)
		}
		return
	}
	if len(errs) == 0 {
		t.Fatalf("expected an error at %s, got none", c.Expect)
	}
	for _, e := range errs {
		if e.Field != c.Expect {
			t.Errorf("expected errors only at %s, got %v", c.Expect, e)
		}
	}
}

// decodeInternal decodes a v1alpha2 manifest strictly, defaults it as the server does and
// converts it to the internal version.
func decodeInternal(t *testing.T, doc []byte) runtime.Object {
	t.Helper()
	obj, err := decode(doc)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	scheme.Default(obj)
	internal, err := scheme.ConvertToVersion(obj, virtualization.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	return internal
}

// decode decodes a YAML manifest strictly into its v1alpha2 object.
func decode(doc []byte) (runtime.Object, error) {
	js, err := yaml.ToJSON(doc)
	if err != nil {
		return nil, err
	}
	obj, _, err := codecs.UniversalDeserializer().Decode(js, nil, nil)
	return obj, err
}

// copyStatus sets to.Status = from.Status, as the server does before validating an update.
func copyStatus(t *testing.T, from, to runtime.Object) {
	t.Helper()
	src := reflect.ValueOf(from).Elem().FieldByName("Status")
	reflect.ValueOf(to).Elem().FieldByName("Status").Set(src)
}
