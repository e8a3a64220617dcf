// Package resource holds what every resource of the virtualization group shares: a
// create/update/status strategy driven by a few per-kind functions, the etcd-backed store, and
// the table writer. Each folder under pkg/registry/virtualization fills a Kind with its own
// validation, selectable fields and printer columns.
package resource

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// Object is an internal API object with metadata.
type Object interface {
	runtime.Object
	metav1.Object
}

// Kind tells the shared strategy how to handle one kind. All functions are required.
type Kind[T Object] struct {
	// Namespaced is false for cluster-scoped kinds.
	Namespaced bool
	// ResetStatus clears the status of a new object: clients cannot create status.
	ResetStatus func(obj T)
	// KeepStatus copies old's status into obj: the main resource ignores status changes.
	KeepStatus func(obj, old T)
	// KeepSpec copies old's spec into obj: the status subresource ignores spec changes.
	KeepSpec func(obj, old T)
	// SpecEqual reports whether the specs are equal; metadata.generation grows when not.
	SpecEqual func(obj, old T) bool

	Validate             func(obj T) field.ErrorList
	ValidateUpdate       func(obj, old T) field.ErrorList
	ValidateStatusUpdate func(obj, old T) field.ErrorList

	// Fields returns the kind's selectable fields besides metadata.name and metadata.namespace.
	// Keep it in step with the field label conversion of the served version.
	Fields func(obj T) fields.Set
}

// resetFields are owned by the other endpoint: apply through the main resource never takes
// status, and apply through /status never takes spec.
var (
	mainResetFields = map[fieldpath.APIVersion]*fieldpath.Set{
		"virtualization.deckhouse.io/v1alpha2": fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
	statusResetFields = map[fieldpath.APIVersion]*fieldpath.Set{
		"virtualization.deckhouse.io/v1alpha2": fieldpath.NewSet(fieldpath.MakePathOrDie("spec")),
	}
)

// Strategy is the create and update strategy of the main resource.
type Strategy[T Object] struct {
	runtime.ObjectTyper
	names.NameGenerator
	kind *Kind[T]
}

// NewStrategy returns the strategy for a kind.
func NewStrategy[T Object](typer runtime.ObjectTyper, kind *Kind[T]) Strategy[T] {
	return Strategy[T]{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator, kind: kind}
}

func (s Strategy[T]) NamespaceScoped() bool { return s.kind.Namespaced }

func (s Strategy[T]) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return mainResetFields
}

func (s Strategy[T]) PrepareForCreate(_ context.Context, obj runtime.Object) {
	o := obj.(T)
	s.kind.ResetStatus(o)
	o.SetGeneration(1)
}

func (s Strategy[T]) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	o, prev := obj.(T), old.(T)
	s.kind.KeepStatus(o, prev)
	if s.kind.SpecEqual(o, prev) {
		o.SetGeneration(prev.GetGeneration())
	} else {
		o.SetGeneration(prev.GetGeneration() + 1)
	}
}

func (s Strategy[T]) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return s.kind.Validate(obj.(T))
}

func (s Strategy[T]) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (s Strategy[T]) Canonicalize(runtime.Object) {}

func (s Strategy[T]) AllowCreateOnUpdate() bool { return false }

func (s Strategy[T]) AllowUnconditionalUpdate() bool { return true }

func (s Strategy[T]) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return s.kind.ValidateUpdate(obj.(T), old.(T))
}

func (s Strategy[T]) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// StatusStrategy is the update strategy of the /status subresource.
type StatusStrategy[T Object] struct {
	Strategy[T]
}

func (s StatusStrategy[T]) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return statusResetFields
}

func (s StatusStrategy[T]) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	o, prev := obj.(T), old.(T)
	s.kind.KeepSpec(o, prev)
	o.SetGeneration(prev.GetGeneration())
}

func (s StatusStrategy[T]) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return s.kind.ValidateStatusUpdate(obj.(T), old.(T))
}

// GetAttrs returns the labels and selectable fields of an object.
func (s Strategy[T]) GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	o := obj.(T)
	set := s.kind.Fields(o)
	set["metadata.name"] = o.GetName()
	if s.kind.Namespaced {
		set["metadata.namespace"] = o.GetNamespace()
	}
	return o.GetLabels(), set, nil
}

// Matcher returns the storage predicate for label and field selectors.
func (s Strategy[T]) Matcher(label labels.Selector, fld fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: fld, GetAttrs: s.GetAttrs}
}
