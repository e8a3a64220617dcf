package clustervirtualimage

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
	"github.com/virtplane/virtplane/pkg/subresources/upload"
)

// UploadREST serves clustervirtualimages/upload: the image's data, forwarded to its importer Pod.
type UploadREST struct {
	upload.Connecter
}

var _ rest.Connecter = &UploadREST{}

// NewUploadREST returns the upload subresource reading images from main.
func NewUploadREST(main *resource.REST, proxy *upload.Proxy) *UploadREST {
	return &UploadREST{upload.Connecter{Getter: main, Target: uploadTarget, Proxy: proxy}}
}

// New returns an empty cluster image: the kind the subresource belongs to, for discovery.
func (r *UploadREST) New() runtime.Object { return &virtualization.ClusterVirtualImage{} }

// Destroy does nothing: the main resource owns the storage.
func (r *UploadREST) Destroy() {}

func uploadTarget(obj runtime.Object) (upload.Target, error) {
	vi, ok := obj.(*virtualization.ClusterVirtualImage)
	if !ok {
		return upload.Target{}, upload.WrongType("ClusterVirtualImage", obj)
	}
	t := upload.Target{
		Resource:   schema.GroupResource{Group: virtualization.GroupName, Resource: Names.Plural},
		Namespace:  vi.Namespace,
		Name:       vi.Name,
		Noun:       "image",
		SourceType: string(vi.Spec.DataSource.Type),
		Phase:      string(vi.Status.Phase),
	}
	if vi.Status.ImageUploadURLs != nil {
		t.InCluster = vi.Status.ImageUploadURLs.InCluster
	}
	return t, nil
}
