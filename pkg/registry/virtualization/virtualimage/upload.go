package virtualimage

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
	"github.com/virtplane/virtplane/pkg/subresources/upload"
)

// NewUploadREST serves virtualimages/upload: the image's data, forwarded to its importer Pod.
// Objects are read from main.
func NewUploadREST(main *resource.REST, proxy *upload.Proxy) *upload.Connecter {
	return &upload.Connecter{Getter: main, Target: uploadTarget, Proxy: proxy}
}

func uploadTarget(obj runtime.Object) (upload.Target, error) {
	vi, ok := obj.(*virtualization.VirtualImage)
	if !ok {
		return upload.Target{}, upload.WrongType("VirtualImage", obj)
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
