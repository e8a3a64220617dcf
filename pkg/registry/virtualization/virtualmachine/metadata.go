package virtualmachine

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/virtplane/virtplane/pkg/apis/subresources"
	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

// MetadataREST serves virtualmachines of subresources.virtualization.deckhouse.io: get returns
// the metadata of the VM of virtualization.deckhouse.io, nothing else. The group stores
// nothing; the resource is there as the parent of its subresources.
type MetadataREST struct {
	main rest.Getter
	rest.TableConvertor
}

var (
	_ rest.Getter               = &MetadataREST{}
	_ rest.Scoper               = &MetadataREST{}
	_ rest.SingularNameProvider = &MetadataREST{}
)

// NewMetadataREST returns the storage; VMs are read from main.
func NewMetadataREST(main rest.Getter) *MetadataREST {
	return &MetadataREST{
		main:           main,
		TableConvertor: rest.NewDefaultTableConvertor(subresources.Resource(Names.Plural)),
	}
}

// New implements rest.Storage.
func (r *MetadataREST) New() runtime.Object { return &subresources.VirtualMachine{} }

// Destroy implements rest.Storage; the main resource owns the storage.
func (r *MetadataREST) Destroy() {}

// NamespaceScoped implements rest.Scoper.
func (r *MetadataREST) NamespaceScoped() bool { return true }

// GetSingularName implements rest.SingularNameProvider.
func (r *MetadataREST) GetSingularName() string { return Names.Singular }

// Get implements rest.Getter.
func (r *MetadataREST) Get(ctx context.Context, name string, opts *metav1.GetOptions) (runtime.Object, error) {
	obj, err := r.main.Get(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	vm, ok := obj.(*virtualization.VirtualMachine)
	if !ok {
		return nil, apierrors.NewInternalError(fmt.Errorf("expected a VirtualMachine, got %T", obj))
	}
	out := &subresources.VirtualMachine{ObjectMeta: *vm.ObjectMeta.DeepCopy()}
	// They record who set which field of the other group's object; nothing here has them.
	out.ManagedFields = nil
	return out, nil
}
