package upload

import (
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// TokenIndex is the name of the informer index that maps upload tokens to objects.
const TokenIndex = "uploadToken"

// IndexByToken indexes VirtualImages, ClusterVirtualImages and VirtualDisks by the token of
// status.imageUploadURLs.inCluster.
func IndexByToken(obj interface{}) ([]string, error) {
	t, ok := targetOf(obj)
	if !ok {
		return nil, nil
	}
	if token := TokenOf(t.InCluster); token != "" {
		return []string{token}, nil
	}
	return nil, nil
}

// targetOf converts the served (v1alpha2) types the informers hold.
func targetOf(obj interface{}) (Target, bool) {
	var t Target
	var urls *v1alpha2.ImageUploadURLs
	switch o := obj.(type) {
	case *v1alpha2.VirtualImage:
		t = Target{Resource: v1alpha2.Resource("virtualimages"), Namespace: o.Namespace, Name: o.Name, Noun: "image",
			SourceType: string(o.Spec.DataSource.Type), Phase: string(o.Status.Phase)}
		urls = o.Status.ImageUploadURLs
	case *v1alpha2.ClusterVirtualImage:
		t = Target{Resource: v1alpha2.Resource("clustervirtualimages"), Name: o.Name, Noun: "image",
			SourceType: string(o.Spec.DataSource.Type), Phase: string(o.Status.Phase)}
		urls = o.Status.ImageUploadURLs
	case *v1alpha2.VirtualDisk:
		t = Target{Resource: v1alpha2.Resource("virtualdisks"), Namespace: o.Namespace, Name: o.Name, Noun: "disk",
			Phase: string(o.Status.Phase)}
		if o.Spec.DataSource != nil {
			t.SourceType = string(o.Spec.DataSource.Type)
		}
		urls = o.Status.ImageUploadURLs
	default:
		return Target{}, false
	}
	if urls != nil {
		t.InCluster = urls.InCluster
	}
	return t, true
}

// Tokens finds the object an upload token belongs to, in the indexers of informers on
// virtualimages, clustervirtualimages and virtualdisks.
type Tokens struct {
	informers []cache.SharedIndexInformer
}

// NewTokens adds the token index to the informers; call it before they start.
func NewTokens(informers ...cache.SharedIndexInformer) (*Tokens, error) {
	for _, inf := range informers {
		if err := inf.AddIndexers(cache.Indexers{TokenIndex: IndexByToken}); err != nil {
			return nil, fmt.Errorf("adding the upload token index: %w", err)
		}
	}
	return &Tokens{informers: informers}, nil
}

// HasSynced tells whether every informer has listed its objects once.
func (s *Tokens) HasSynced() bool {
	for _, inf := range s.informers {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}

// Lookup returns the object whose upload URL ends with /upload/<token>.
func (s *Tokens) Lookup(token string) (Target, bool) {
	if token == "" {
		return Target{}, false
	}
	var found []Target
	for _, inf := range s.informers {
		objs, err := inf.GetIndexer().ByIndex(TokenIndex, token)
		if err != nil {
			continue
		}
		for _, o := range objs {
			if t, ok := targetOf(o); ok {
				found = append(found, t)
			}
		}
	}
	if len(found) != 1 {
		if len(found) > 1 {
			// Tokens are random; two objects with one token is a controller bug, and
			// guessing which one the client means could write one user's data into another's.
			klog.ErrorS(nil, "Upload token shared by several objects; refusing it", "first", found[0].String(), "second", found[1].String())
		}
		return Target{}, false
	}
	return found[0], true
}

// TokenServer serves the upload URLs of status.imageUploadURLs.external: /upload/<token>
// with no authentication (the unguessable token is the credential, and it dies with the
// importer Pod), forwarded to the object's importer like the upload subresource.
type TokenServer struct {
	tokens *Tokens
	proxy  *Proxy
}

// NewTokenServer returns the handler of the token endpoint.
func NewTokenServer(tokens *Tokens, proxy *Proxy) *TokenServer {
	return &TokenServer{tokens: tokens, proxy: proxy}
}

func (s *TokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.URL.Path, pathUpload+"/")
	if !ok || token == "" || strings.Contains(token, "/") {
		http.Error(w, "not found: uploads go to /upload/<token> from status.imageUploadURLs.external", http.StatusNotFound)
		return
	}
	if !s.tokens.HasSynced() {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "the upload server is starting, try again", http.StatusServiceUnavailable)
		return
	}
	t, ok := s.tokens.Lookup(token)
	if !ok {
		http.Error(w, "unknown upload token: the object is gone or no longer waits for an upload", http.StatusNotFound)
		return
	}
	backend, err := t.Backend()
	if err != nil {
		writeStatusError(w, err)
		return
	}
	klog.V(2).InfoS("Upload through the token endpoint", "object", t.String(), "method", r.Method, "remote", r.RemoteAddr)
	s.proxy.Handler(t, backend, PlainError).ServeHTTP(w, r)
}

// writeStatusError answers with the code and message of an API status error as plain text:
// the token endpoint's clients are curl and tus clients, not kubectl.
func writeStatusError(w http.ResponseWriter, err error) {
	code, msg := http.StatusInternalServerError, err.Error()
	if s, ok := err.(apierrors.APIStatus); ok {
		code, msg = int(s.Status().Code), s.Status().Message
	}
	http.Error(w, msg, code)
}
