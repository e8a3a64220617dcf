package upload

import (
	"context"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

// Connecter is the part of a kind's upload subresource REST that is the same for every kind:
// read the object, check it waits for an upload, forward the request to its importer. The
// generic server has already authorized the request by its HTTP method (POST create, PUT
// update, PATCH patch, HEAD get) on <resource>/upload.
type Connecter struct {
	// Getter reads the object from the kind's storage.
	Getter rest.Getter
	// Target converts the kind's (internal) object.
	Target func(runtime.Object) (Target, error)
	Proxy  *Proxy
}

var _ rest.Connecter = &Connecter{}

// New implements rest.Storage. The subresource's kind is UploadOptions, not its parent's:
// see the type's comment.
func (c *Connecter) New() runtime.Object { return &virtualization.UploadOptions{} }

// Destroy implements rest.Storage; the main resource owns the storage.
func (c *Connecter) Destroy() {}

// ConnectMethods implements rest.Connecter. PATCH here is a route of its own with
// Consumes("*/*") (installer.go registers one route per connect method), not the patch
// handler of the main resource, so application/offset+octet-stream reaches Connect.
func (c *Connecter) ConnectMethods() []string { return Methods }

// NewConnectOptions implements rest.Connecter: the subresource takes no query options and no
// subpath, so the upload URL stays the one a tus client was given.
func (c *Connecter) NewConnectOptions() (runtime.Object, bool, string) { return nil, false, "" }

// Connect implements rest.Connecter.
func (c *Connecter) Connect(ctx context.Context, name string, _ runtime.Object, responder rest.Responder) (http.Handler, error) {
	obj, err := c.Getter.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	t, err := c.Target(obj)
	if err != nil {
		return nil, err
	}
	backend, err := t.Backend()
	if err != nil {
		return nil, err
	}
	return c.Proxy.Handler(t, backend, func(_ http.ResponseWriter, _ *http.Request, err error) {
		responder.Error(apierrors.NewServiceUnavailable(err.Error()))
	}), nil
}

// WrongType is the error of a Target function handed an object of another kind.
func WrongType(want string, obj runtime.Object) error {
	return apierrors.NewInternalError(fmt.Errorf("upload: expected a %s, got %T", want, obj))
}
