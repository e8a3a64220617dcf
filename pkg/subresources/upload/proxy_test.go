package upload

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// patternReader yields n deterministic, non-repeating-looking bytes without holding them.
type patternReader struct {
	n, off int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n-r.off {
		p = p[:r.n-r.off]
	}
	for i := range p {
		x := uint64(r.off + int64(i))
		p[i] = byte(x*2654435761>>13) ^ byte(x>>7)
	}
	r.off += int64(len(p))
	return len(p), nil
}

// recorder stands in for the importer's upload endpoint: it hashes the body it receives and
// remembers the last request's headers.
type recorder struct {
	sum      string
	n        int64
	method   string
	header   http.Header
	response func(w http.ResponseWriter)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rec.sum, rec.n, rec.method, rec.header = hex.EncodeToString(h.Sum(nil)), n, r.Method, r.Header.Clone()
	if rec.response != nil {
		rec.response(w)
		return
	}
	w.WriteHeader(http.StatusOK)
}

const testToken = "g2OuLgRhdAWqlJsCMyNvcdt4o5ERIwmm"

// importerAt starts the stand-in importer and returns the target pointing at it.
func importerAt(t *testing.T, h http.Handler) Target {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return Target{
		Resource: v1alpha2.Resource("virtualimages"), Namespace: "ns", Name: "some-image", Noun: "image",
		SourceType: "Upload", Phase: "WaitForUserUpload", InCluster: srv.URL + "/upload/" + testToken,
	}
}

// frontOf serves the proxy for target at the path the client uses, as the API server would.
func frontOf(t *testing.T, target Target) *httptest.Server {
	t.Helper()
	backend, err := target.Backend()
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(NewProxy(nil).Handler(target, backend, PlainError))
	t.Cleanup(front.Close)
	return front
}

const subresourcePath = "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/ns/virtualimages/some-image/upload"

func TestProxyStreamsLargeBody(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB through two local servers")
	}
	rec := &recorder{}
	front := frontOf(t, importerAt(t, rec))

	const size = 64 << 20
	want := sha256.New()
	body := io.TeeReader(&patternReader{n: size}, want)
	req, err := http.NewRequest(http.MethodPut, front.URL+subresourcePath, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if rec.n != size || rec.sum != hex.EncodeToString(want.Sum(nil)) {
		t.Fatalf("importer got %d bytes with sha256 %s, sent %d with %x", rec.n, rec.sum, int64(size), want.Sum(nil))
	}
}

func TestProxyPassesTusHeadersAndRewritesLocation(t *testing.T) {
	rec := &recorder{response: func(w http.ResponseWriter) {
		w.Header().Set("Tus-Resumable", "1.0.0")
		w.Header().Set("Upload-Offset", "0")
		// What an importer answers: its own address, which the client cannot reach.
		w.Header().Set("Location", "http://10.222.165.239:8080/upload/"+testToken)
		w.WriteHeader(http.StatusCreated)
	}}
	front := frontOf(t, importerAt(t, rec))

	req, _ := http.NewRequest(http.MethodPost, front.URL+subresourcePath, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", "12345")
	req.Header.Set("Upload-Metadata", "filename Y2lycm9zLmltZw==")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	// What kube-apiserver adds to a request for an aggregated server: none of it may reach
	// the importer.
	req.Header.Set("X-Remote-User", "alice")
	req.Header.Set("X-Remote-Group", "system:authenticated")
	req.Header.Set("Authorization", "Bearer secret")
	// tusd would act on it as another method than the one RBAC authorized (POST → PATCH).
	req.Header.Set("X-HTTP-Method-Override", "PATCH")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Location"); got != path.Base(subresourcePath) {
		t.Errorf("Location %q, want %q, which resolves to the subresource path %q", got, path.Base(subresourcePath), subresourcePath)
	}
	if resp.Header.Get("Tus-Resumable") != "1.0.0" || resp.Header.Get("Upload-Offset") != "0" {
		t.Errorf("tus response headers lost: %v", resp.Header)
	}
	for k, want := range map[string]string{
		"Tus-Resumable": "1.0.0", "Upload-Length": "12345", "Upload-Metadata": "filename Y2lycm9zLmltZw==",
		"Content-Type":  "application/offset+octet-stream",
		"X-Remote-User": "", "X-Remote-Group": "", "Authorization": "", "X-Http-Method-Override": "",
	} {
		if got := rec.header.Get(k); got != want {
			t.Errorf("importer got %s %q, want %q", k, got, want)
		}
	}
	if rec.method != http.MethodPost {
		t.Errorf("importer got %s", rec.method)
	}
}

func TestProxyPatchAndHead(t *testing.T) {
	var offset int64
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Tus-Resumable", "1.0.0")
		switch r.Method {
		case http.MethodHead:
			w.Header().Set("Upload-Offset", "5")
			w.Header().Set("Cache-Control", "no-store")
		case http.MethodPatch:
			if r.Header.Get("Upload-Offset") != "5" || r.Header.Get("Content-Type") != "application/offset+octet-stream" {
				http.Error(w, "bad tus request", http.StatusBadRequest)
				return
			}
			n, _ := io.Copy(io.Discard, r.Body)
			offset = 5 + n
			w.Header().Set("Upload-Offset", "10")
			w.WriteHeader(http.StatusNoContent)
		}
	})
	front := frontOf(t, importerAt(t, backend))

	head, _ := http.NewRequest(http.MethodHead, front.URL+subresourcePath, nil)
	head.Header.Set("Tus-Resumable", "1.0.0")
	resp, err := http.DefaultClient.Do(head)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Upload-Offset") != "5" {
		t.Fatalf("HEAD: offset %q", resp.Header.Get("Upload-Offset"))
	}

	patch, _ := http.NewRequest(http.MethodPatch, front.URL+subresourcePath, strings.NewReader("world"))
	patch.Header.Set("Tus-Resumable", "1.0.0")
	patch.Header.Set("Upload-Offset", "5")
	patch.Header.Set("Content-Type", "application/offset+octet-stream")
	resp, err = http.DefaultClient.Do(patch)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != "10" || offset != 10 {
		t.Fatalf("PATCH: status %d, offset %q, importer at %d", resp.StatusCode, resp.Header.Get("Upload-Offset"), offset)
	}
}

func TestProxyImporterGone(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	gone := srv.URL
	srv.Close()
	target := Target{Resource: v1alpha2.Resource("virtualimages"), Namespace: "ns", Name: "img", Noun: "image",
		SourceType: "Upload", Phase: "Provisioning", InCluster: gone + "/upload/" + testToken}
	front := frontOf(t, target)
	resp, err := http.Post(front.URL+subresourcePath, "application/octet-stream", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d: %s", resp.StatusCode, msg)
	}
	if strings.Contains(string(msg), testToken) {
		t.Fatalf("the error shows the token: %s", msg)
	}
}

func TestBackendChecksTheObject(t *testing.T) {
	base := Target{Resource: v1alpha2.Resource("virtualimages"), Namespace: "ns", Name: "img", Noun: "image",
		SourceType: "Upload", Phase: "WaitForUserUpload", InCluster: "http://10.0.0.7:8080/upload/" + testToken}
	for _, tc := range []struct {
		name   string
		change func(*Target)
		check  func(error) bool
		msg    string
	}{
		{"waiting", func(*Target) {}, func(err error) bool { return err == nil }, ""},
		{"provisioning", func(t *Target) { t.Phase = "Provisioning" }, func(err error) bool { return err == nil }, ""},
		{"ready", func(t *Target) { t.Phase = "Ready" }, apierrors.IsConflict, "the image is not waiting for an upload (phase Ready)"},
		{"no URL yet", func(t *Target) { t.InCluster = "" }, apierrors.IsConflict, "not waiting for an upload yet"},
		{"HTTP source", func(t *Target) { t.SourceType = "HTTP" }, apierrors.IsBadRequest, "takes its data from HTTP, not from an upload"},
		{"blank disk", func(t *Target) { t.SourceType, t.Noun = "", "disk" }, apierrors.IsBadRequest, "disk \"img\" takes its data from no data source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := base
			tc.change(&target)
			u, err := target.Backend()
			if !tc.check(err) {
				t.Fatalf("error %v", err)
			}
			if err != nil && !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("message %q does not say %q", err, tc.msg)
			}
			if err == nil && u.String() != target.InCluster {
				t.Fatalf("backend %s", u)
			}
		})
	}
}

func TestTokenOf(t *testing.T) {
	for in, want := range map[string]string{
		"http://10.0.0.7:8080/upload/abc":               "abc",
		"http://10.0.0.7:8080/upload/abc/":              "abc",
		"https://virtualization.example.com/upload/abc": "abc",
		"https://example.com/prefix/upload/abc":         "abc",
		"http://10.222.165.239/upload":                  "",
		"http://10.0.0.7:8080/progress":                 "",
		"":                                              "",
		"://bad":                                        "",
	} {
		if got := TokenOf(in); got != want {
			t.Errorf("TokenOf(%q) = %q, want %q", in, got, want)
		}
	}
}
