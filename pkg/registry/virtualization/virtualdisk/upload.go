package virtualdisk

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
	"github.com/virtplane/virtplane/pkg/subresources/upload"
)

// UploadREST serves virtualdisks/upload: the disk's data, forwarded to its importer Pod.
type UploadREST struct {
	upload.Connecter
}

var _ rest.Connecter = &UploadREST{}

// NewUploadREST returns the upload subresource reading disks from main.
func NewUploadREST(main *resource.REST, proxy *upload.Proxy) *UploadREST {
	return &UploadREST{upload.Connecter{Getter: main, Target: uploadTarget, Proxy: proxy}}
}

// New returns an empty disk: the kind the subresource belongs to, for discovery.
func (r *UploadREST) New() runtime.Object { return &virtualization.VirtualDisk{} }

// Destroy does nothing: the main resource owns the storage.
func (r *UploadREST) Destroy() {}

func uploadTarget(obj runtime.Object) (upload.Target, error) {
	vd, ok := obj.(*virtualization.VirtualDisk)
	if !ok {
		return upload.Target{}, upload.WrongType("VirtualDisk", obj)
	}
	t := upload.Target{
		Resource:  schema.GroupResource{Group: virtualization.GroupName, Resource: Names.Plural},
		Namespace: vd.Namespace,
		Name:      vd.Name,
		Noun:      "disk",
		Phase:     string(vd.Status.Phase),
	}
	if vd.Spec.DataSource != nil {
		t.SourceType = string(vd.Spec.DataSource.Type)
	}
	if vd.Status.ImageUploadURLs != nil {
		t.InCluster = vd.Status.ImageUploadURLs.InCluster
	}
	return t, nil
}
