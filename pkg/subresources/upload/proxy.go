package upload

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"time"

	"k8s.io/klog/v2"
)

// forwardedRequestHeaders are the only request headers the importer gets. The rest stays
// behind on purpose: above all the identity kube-apiserver adds (X-Remote-User,
// X-Remote-Group, X-Remote-Extra-*), Authorization and cookies, which the importer has no
// business seeing.
var forwardedRequestHeaders = canonical(
	"Content-Type",
	"Accept",
	"User-Agent",
	// tus 1.0 core, creation, checksum and concatenation. Not X-HTTP-Method-Override: the
	// importer would act on it as another method than the one RBAC authorized.
	"Tus-Resumable",
	"Upload-Offset",
	"Upload-Length",
	"Upload-Defer-Length",
	"Upload-Metadata",
	"Upload-Checksum",
	"Upload-Concat",
)

func canonical(keys ...string) []string {
	for i, k := range keys {
		keys[i] = http.CanonicalHeaderKey(k)
	}
	return keys
}

// Proxy forwards upload requests to importer Pods, streaming both ways.
type Proxy struct {
	transport http.RoundTripper
}

// NewProxy returns a proxy that reaches importers through transport, or through a transport
// of its own when nil.
func NewProxy(transport http.RoundTripper) *Proxy {
	if transport == nil {
		transport = &http.Transport{
			// Importer Pods are reached on their Pod IP, never through an HTTP proxy from the
			// environment of the API server.
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
			// No ResponseHeaderTimeout: after the last byte of a whole-body upload the
			// importer may take a while to finish writing to DVCR before it answers; the
			// client's context ends the request if the client gives up.
		}
	}
	return &Proxy{transport: transport}
}

// ErrorWriter writes the response when the importer cannot be reached; err never holds the
// upload URL.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// PlainError answers with a short text, for clients outside the API (the token endpoint).
func PlainError(w http.ResponseWriter, _ *http.Request, err error) {
	http.Error(w, err.Error(), http.StatusBadGateway)
}

// Handler forwards each request to backend (the importer's upload URL of t) and rewrites a
// Location in the answer to the URL the client used, so a tus client sends its HEAD and
// PATCH requests to the same subresource or token URL rather than to the Pod. The Location is
// a relative reference (the last path segment, which resolves to the request's own URL):
// kube-apiserver's proxy turns an absolute path into an absolute URL of our server, which
// a client behind kube-apiserver cannot reach, and leaves relative references alone.
func (p *Proxy) Handler(t Target, backend *url.URL, onError ErrorWriter) http.Handler {
	logger := log.New(logWriter{target: t}, "", 0)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		public := path.Base(r.URL.EscapedPath())
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.Out.URL = &url.URL{Scheme: backend.Scheme, Host: backend.Host, Path: backend.Path, RawPath: backend.RawPath}
				pr.Out.Host = ""
				h := http.Header{}
				for _, k := range forwardedRequestHeaders {
					if v, ok := pr.In.Header[k]; ok {
						h[k] = v
					}
				}
				pr.Out.Header = h
			},
			Transport: p.transport,
			// Flush every write: tus and progress answers are small and a client waits for
			// them; nothing is buffered in the API server.
			FlushInterval: -1,
			ModifyResponse: func(resp *http.Response) error {
				if resp.Header.Get("Location") != "" {
					resp.Header.Set("Location", public)
				}
				return nil
			},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				err = withoutURL(err)
				if r.Context().Err() != nil {
					// The client went away; there is nobody to answer.
					klog.V(4).InfoS("Upload request ended by the client", "object", t.String(), "err", err)
					return
				}
				klog.InfoS("Importer not reachable for upload", "object", t.String(), "err", err)
				onError(w, r, fmt.Errorf("the importer of %s is not reachable: %w", t, err))
			},
			ErrorLog: logger,
		}
		rp.ServeHTTP(w, r)
	})
}

// withoutURL drops the URL from a transport error: it holds the upload token, which must not
// reach logs or other clients.
func withoutURL(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// logWriter sends the reverse proxy's own messages (body copy errors) to klog, naming the object.
type logWriter struct{ target Target }

func (l logWriter) Write(p []byte) (int, error) {
	klog.InfoS("Upload proxy", "object", l.target.String(), "message", string(p))
	return len(p), nil
}
