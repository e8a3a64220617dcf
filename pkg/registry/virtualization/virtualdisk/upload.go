package virtualdisk

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
	"github.com/virtplane/virtplane/pkg/subresources/upload"
)

// NewUploadREST serves virtualdisks/upload: the disk's data, forwarded to its importer Pod.
// Objects are read from main.
func NewUploadREST(main *resource.REST, proxy *upload.Proxy) *upload.Connecter {
	return &upload.Connecter{Getter: main, Target: uploadTarget, Proxy: proxy}
}

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
