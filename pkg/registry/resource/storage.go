package resource

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// Names are the names and groupings under which a resource is discovered.
type Names struct {
	// Plural is the resource name in URLs, e.g. virtualmachines.
	Plural string
	// Singular is the singular resource name, e.g. virtualmachine.
	Singular string
	// ShortNames are the aliases kubectl accepts, e.g. vm.
	ShortNames []string
	// Categories are the groups kubectl get expands, e.g. virtualization, all.
	Categories []string
}

// REST serves the main resource from etcd.
type REST struct {
	*genericregistry.Store
	names Names
}

var (
	_ rest.ShortNamesProvider = &REST{}
	_ rest.CategoriesProvider = &REST{}
)

// ShortNames implements rest.ShortNamesProvider.
func (r *REST) ShortNames() []string { return r.names.ShortNames }

// Categories implements rest.CategoriesProvider.
func (r *REST) Categories() []string { return r.names.Categories }

// StatusREST serves the /status subresource: get, update and patch of status only.
type StatusREST struct {
	store *genericregistry.Store
}

var _ rest.Patcher = &StatusREST{}

// New returns an empty object of the kind.
func (r *StatusREST) New() runtime.Object { return r.store.New() }

// Destroy does nothing: the main resource owns the storage.
func (r *StatusREST) Destroy() {}

// Get returns the object, for patches of the status.
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update writes the status, leaving the spec as stored.
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	// Status updates never create: the object must exist.
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// GetResetFields returns the fields the status endpoint does not take.
func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// ConvertToTable prints the object as the main resource does.
func (r *StatusREST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}

// NewStorage builds the main and status REST storage of a kind on the generic etcd registry
// (with the watch cache the options getter configures).
func NewStorage[T Object](
	scheme *runtime.Scheme,
	optsGetter generic.RESTOptionsGetter,
	group string,
	names Names,
	kind *Kind[T],
	newObj func() runtime.Object,
	newList func() runtime.Object,
	table rest.TableConvertor,
) (*REST, *StatusREST, error) {
	strategy := NewStrategy(scheme, kind)
	store := &genericregistry.Store{
		NewFunc:                   newObj,
		NewListFunc:               newList,
		PredicateFunc:             strategy.Matcher,
		DefaultQualifiedResource:  schema.GroupResource{Group: group, Resource: names.Plural},
		SingularQualifiedResource: schema.GroupResource{Group: group, Resource: names.Singular},

		CreateStrategy:      strategy,
		UpdateStrategy:      strategy,
		DeleteStrategy:      strategy,
		ResetFieldsStrategy: strategy,

		TableConvertor: table,
	}
	options := &generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: strategy.GetAttrs}
	if err := store.CompleteWithOptions(options); err != nil {
		return nil, nil, err
	}

	statusStore := *store
	statusStrategy := StatusStrategy[T]{strategy}
	statusStore.UpdateStrategy = statusStrategy
	statusStore.ResetFieldsStrategy = statusStrategy

	return &REST{Store: store, names: names}, &StatusREST{store: &statusStore}, nil
}
