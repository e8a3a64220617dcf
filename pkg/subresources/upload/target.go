// Package upload serves uploads of image and disk data: the `upload` subresource of
// virtualimages, clustervirtualimages and virtualdisks (behind kube-apiserver) and the token
// endpoint (/upload/<token>, without kube-apiserver in the path). Both forward the request to
// the importer Pod that the controller started for the object, which speaks the upload
// contract of pkg/importer: a whole body by PUT/POST, or tus 1.0 on the same URL.
package upload

import (
	"fmt"
	"net/url"
	"path"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Methods are the HTTP methods the upload subresource takes: a whole body (POST, PUT) and the
// tus requests (POST create, HEAD offset, PATCH append). Not OPTIONS: RBAC has no verb for it,
// and tus clients do not need discovery here.
var Methods = []string{"POST", "PUT", "PATCH", "HEAD"}

// Phases in which an object takes an upload. Images and disks spell them alike: before the
// first byte the controller reports WaitForUserUpload, while the importer receives, Provisioning
// (a resumed tus upload arrives in that phase).
const (
	phaseWaitForUserUpload = "WaitForUserUpload"
	phaseProvisioning      = "Provisioning"
	sourceUpload           = "Upload"
)

// pathUpload is importer.PathUpload of the importer contract. It is repeated rather than
// imported so the API server does not link the importer and its image libraries.
const pathUpload = "/upload"

// Target is the object an upload is for, reduced to what the proxy needs. Each kind converts
// its own type into a Target, so the checks and the proxy are the same for all of them.
type Target struct {
	// Resource is e.g. virtualimages.virtualization.deckhouse.io, for API errors.
	Resource schema.GroupResource
	// Namespace is empty for cluster-scoped kinds.
	Namespace string
	Name      string
	// Noun names the kind in messages: "image" or "disk".
	Noun string
	// SourceType is spec.dataSource.type ("" for a blank disk).
	SourceType string
	// Phase is status.phase.
	Phase string
	// InCluster is status.imageUploadURLs.inCluster: http://<podIP>:8080/upload/<token>.
	InCluster string
}

// String names the object for logs and messages; it never contains the token.
func (t Target) String() string {
	if t.Namespace == "" {
		return fmt.Sprintf("%s %s", t.Resource, t.Name)
	}
	return fmt.Sprintf("%s %s/%s", t.Resource, t.Namespace, t.Name)
}

// Backend checks that the object is waiting for an upload now and returns the importer's
// upload URL. The errors are API status errors with a message a user can act on.
func (t Target) Backend() (*url.URL, error) {
	if t.SourceType != sourceUpload {
		source := t.SourceType
		if source == "" {
			source = "no data source"
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf(
			"%s %q takes its data from %s, not from an upload (spec.dataSource.type must be Upload)", t.Noun, t.Name, source))
	}
	if t.Phase != phaseWaitForUserUpload && t.Phase != phaseProvisioning {
		return nil, t.conflict(fmt.Sprintf("the %s is not waiting for an upload (phase %s)", t.Noun, phaseOrNone(t.Phase)))
	}
	if t.InCluster == "" {
		// The controller has not started the importer yet, or the upload is over.
		return nil, t.conflict(fmt.Sprintf("the %s is not waiting for an upload yet (phase %s, no status.imageUploadURLs.inCluster)", t.Noun, phaseOrNone(t.Phase)))
	}
	u, err := url.Parse(t.InCluster)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Do not quote the URL: it holds the token.
		return nil, apierrors.NewInternalError(fmt.Errorf("%s has a malformed status.imageUploadURLs.inCluster", t))
	}
	return u, nil
}

func (t Target) conflict(msg string) error {
	return apierrors.NewConflict(t.Resource, t.Name, fmt.Errorf("%s", msg))
}

func phaseOrNone(p string) string {
	if p == "" {
		return "none"
	}
	return p
}

// TokenOf returns the token of an upload URL (http://host/upload/<token>, or any URL whose
// last two path elements are "upload" and the token), or "" when the URL has none.
func TokenOf(uploadURL string) string {
	if uploadURL == "" {
		return ""
	}
	u, err := url.Parse(uploadURL)
	if err != nil {
		return ""
	}
	dir, token := path.Split(strings.TrimSuffix(u.Path, "/"))
	if token == "" || !strings.HasSuffix(path.Clean(dir), pathUpload) {
		return ""
	}
	return token
}
