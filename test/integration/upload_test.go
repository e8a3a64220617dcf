package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/apiserver"
	"github.com/virtplane/virtplane/pkg/apiserver/testserver"
	"github.com/virtplane/virtplane/pkg/d8"
	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
	"github.com/virtplane/virtplane/pkg/subresources/upload/uploadtest"
)

const uploadNamespace = "upload-test"

// importerFor starts a stand-in importer and returns it with its in-cluster upload URL, as the
// controller would write it into status.imageUploadURLs.inCluster.
func importerFor(t *testing.T, token string) (*uploadtest.Importer, string) {
	t.Helper()
	im := &uploadtest.Importer{Token: token}
	backend := httptest.NewServer(im)
	t.Cleanup(backend.Close)
	return im, backend.URL + im.Path()
}

// uploadImage creates a VirtualImage with an Upload source and writes its status as the
// controller does once the importer Pod runs.
func uploadImage(t *testing.T, client versioned.Interface, phase v1alpha2.ImagePhase, inCluster string) *v1alpha2.VirtualImage {
	t.Helper()
	ctx := context.Background()
	vi := &v1alpha2.VirtualImage{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("uploaded"), Namespace: uploadNamespace}}
	vi.Spec.Storage = v1alpha2.StorageContainerRegistry
	vi.Spec.DataSource.Type = v1alpha2.DataSourceTypeUpload
	vis := client.VirtualizationV1alpha2().VirtualImages(uploadNamespace)
	vi, err := vis.Create(ctx, vi, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create image: %v", err)
	}
	t.Cleanup(func() { _ = vis.Delete(context.Background(), vi.Name, metav1.DeleteOptions{}) })
	vi.Status.Phase = phase
	vi.Status.ImageUploadURLs = &v1alpha2.ImageUploadURLs{
		InCluster: inCluster,
		External:  "https://virtualization.example.com/upload/" + inCluster[strings.LastIndex(inCluster, "/")+1:],
	}
	vi, err = vis.UpdateStatus(ctx, vi, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("write image status: %v", err)
	}
	return vi
}

// uploadRequest is a request on virtualimages/NAME/upload through the clientset's REST client.
func uploadRequest(client versioned.Interface, verb, name string) *rest.Request {
	return client.VirtualizationV1alpha2().RESTClient().Verb(verb).
		Namespace(uploadNamespace).Resource("virtualimages").Name(name).SubResource("upload")
}

// testFile is n bytes that are not all alike, and their sha256.
func testFile(n int) ([]byte, string) {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

func expectReceived(t *testing.T, im *uploadtest.Importer, want string, size int) {
	t.Helper()
	got, n := im.Sum()
	if got != want || n != int64(size) || !im.Complete() {
		t.Fatalf("importer received %d bytes with sha256 %s (complete %v); sent %d with %s", n, got, im.Complete(), size, want)
	}
}

func TestUploadSubresourceWholeBody(t *testing.T) {
	im, inCluster := importerFor(t, "wholebodytoken0123456789abcdef")
	vi := uploadImage(t, srv.Client, v1alpha2.ImageWaitForUserUpload, inCluster)
	data, sum := testFile(5<<20 + 17)

	body, err := uploadRequest(srv.Client, "POST", vi.Name).
		SetHeader("Content-Type", "application/octet-stream").
		Body(strings.NewReader(string(data))).DoRaw(context.Background())
	if err != nil {
		t.Fatalf("POST %s/upload: %v: %s", vi.Name, err, body)
	}
	expectReceived(t, im, sum, len(data))
}

func TestUploadSubresourceTus(t *testing.T) {
	im, inCluster := importerFor(t, "tustoken0123456789abcdef")
	vi := uploadImage(t, srv.Client, v1alpha2.ImageWaitForUserUpload, inCluster)
	data, sum := testFile(3<<20 + 5)
	url := uploadRequest(srv.Client, "POST", vi.Name).URL().String()
	tus := map[string]string{"Tus-Resumable": "1.0.0"}

	// Create: the answer's Location resolves to the subresource itself, not the importer.
	resp := httpDo(t, srv.Config, http.MethodPost, url, with(tus, "Upload-Length", strconv.Itoa(len(data))), nil)
	want := fmt.Sprintf("/apis/virtualization.deckhouse.io/v1alpha2/namespaces/%s/virtualimages/%s/upload", uploadNamespace, vi.Name)
	if loc, err := resp.Request.URL.Parse(resp.Header.Get("Location")); resp.StatusCode != http.StatusCreated || err != nil || loc.Path != want {
		t.Fatalf("tus create: %d, Location %q resolves to %v; want 201, %q", resp.StatusCode, resp.Header.Get("Location"), loc, want)
	}
	resp = httpDo(t, srv.Config, http.MethodHead, url, tus, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Upload-Offset") != "0" {
		t.Fatalf("HEAD after create: %d, offset %q", resp.StatusCode, resp.Header.Get("Upload-Offset"))
	}

	// Append in two chunks with the tus Content-Type: PATCH on a connect subresource is a
	// route of its own, not the main resource's patch handler.
	half := len(data) / 2
	for _, chunk := range []struct{ from, to int }{{0, half}, {half, len(data)}} {
		h := with(with(tus, "Upload-Offset", strconv.Itoa(chunk.from)), "Content-Type", uploadtest.TusContentType)
		resp := httpDo(t, srv.Config, http.MethodPatch, url, h, data[chunk.from:chunk.to])
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.Itoa(chunk.to) {
			t.Fatalf("PATCH at %d: %d, offset %q", chunk.from, resp.StatusCode, resp.Header.Get("Upload-Offset"))
		}
	}
	expectReceived(t, im, sum, len(data))
}

func TestUploadSubresourceRefusals(t *testing.T) {
	_, inCluster := importerFor(t, "readytoken0123456789abcdef")
	ready := uploadImage(t, srv.Client, v1alpha2.ImageReady, inCluster)
	err := uploadRequest(srv.Client, "PUT", ready.Name).Body([]byte("late")).Do(context.Background()).Error()
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "the image is not waiting for an upload (phase Ready)") {
		t.Fatalf("upload to a Ready image: %v, want 409 Conflict", err)
	}

	vi := &v1alpha2.VirtualImage{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("http-image"), Namespace: uploadNamespace}}
	vi.Spec.Storage = v1alpha2.StorageContainerRegistry
	vi.Spec.DataSource.Type = v1alpha2.DataSourceTypeHTTP
	vi.Spec.DataSource.HTTP = &v1alpha2.DataSourceHTTP{URL: "https://example.com/cirros.img"}
	if _, err := srv.Client.VirtualizationV1alpha2().VirtualImages(uploadNamespace).Create(context.Background(), vi, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = uploadRequest(srv.Client, "PUT", vi.Name).Body([]byte("x")).Do(context.Background()).Error()
	if !apierrors.IsBadRequest(err) {
		t.Fatalf("upload to an HTTP image: %v, want 400", err)
	}
	err = uploadRequest(srv.Client, "PUT", "no-such-image").Body([]byte("x")).Do(context.Background()).Error()
	if !apierrors.IsNotFound(err) {
		t.Fatalf("upload to a missing image: %v, want 404", err)
	}
}

// TestUploadTokenEndpoint runs a server of its own with --upload-bind-address: the token URL
// works with no credentials at all, as curl -T in the seed uses it.
func TestUploadTokenEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	own, err := testserver.Start(t.TempDir(), nil, func(o *apiserver.Options) { o.Upload.Listener = ln })
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	const token = "g2OuLgRhdAWqlJsCMyNvcdt4o5ERIwmm"
	im, inCluster := importerFor(t, token)
	uploadImage(t, own.Client, v1alpha2.ImageWaitForUserUpload, inCluster)
	data, sum := testFile(2<<20 + 3)
	endpoint := "http://" + ln.Addr().String()

	// The informers sync after the server starts (503 with Retry-After until then) and see
	// the status shortly after the write (404 until then).
	var resp *http.Response
	for i := 0; i < 100; i++ {
		resp = httpDo(t, nil, http.MethodPut, endpoint+"/upload/"+token, nil, data)
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusServiceUnavailable {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT to the token URL: %d", resp.StatusCode)
	}
	expectReceived(t, im, sum, len(data))

	if resp := httpDo(t, nil, http.MethodPut, endpoint+"/upload/unknowntoken", nil, []byte("x")); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown token: %d", resp.StatusCode)
	}
}

func with(h map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for key, val := range h {
		out[key] = val
	}
	return out
}

// httpDo makes one HTTP request, with the credentials of cfg when given, and returns the
// response with its body read.
func httpDo(t *testing.T, cfg *rest.Config, method, url string, headers map[string]string, body []byte) *http.Response {
	t.Helper()
	hc := http.DefaultClient
	if cfg != nil {
		var err error
		if hc, err = rest.HTTPClientFor(cfg); err != nil {
			t.Fatal(err)
		}
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Logf("%s: %d %s", method, resp.StatusCode, msg)
	}
	return resp
}

// TestUploadDiscovery: kubectl and RBAC tooling see the subresources with the verbs the
// methods map to (HEAD and OPTIONS map to no discovery verb).
func TestUploadDiscovery(t *testing.T) {
	list, err := srv.Client.Discovery().ServerResourcesForGroupVersion(groupVersion)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string][]string{}
	for _, r := range list.APIResources {
		if strings.HasSuffix(r.Name, "/upload") {
			found[r.Name] = r.Verbs
		}
	}
	for _, name := range []string{"virtualimages/upload", "clustervirtualimages/upload", "virtualdisks/upload"} {
		verbs := strings.Join(found[name], ",")
		if verbs != "create,patch,update" {
			t.Errorf("%s: verbs %q, want create,patch,update", name, verbs)
		}
	}
}

// TestUploadWithD8 runs `d8 v upload` against the server: tus through the subresource, with
// the importer cutting the connection once in the middle; the CLI resumes and the importer
// ends up with the exact file.
func TestUploadWithD8(t *testing.T) {
	im := &uploadtest.Importer{Token: "d8token0123456789abcdef", DropAt: 1<<20 + 4321}
	backend := httptest.NewServer(im)
	defer backend.Close()
	vi := uploadImage(t, srv.Client, v1alpha2.ImageWaitForUserUpload, backend.URL+im.Path())
	data, sum := testFile(3<<20 + 11)
	file := filepath.Join(t.TempDir(), "cirros.img")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	cmd := d8.NewCommand(d8.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	cmd.SetArgs([]string{"v", "upload", vi.Name, file, "-n", uploadNamespace, "--kubeconfig", kubeconfigOf(t, srv.Config), "--chunk-size", "512Ki"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("d8 v upload: %v\n%s", err, errOut.String())
	}
	if !im.Dropped() || !strings.Contains(errOut.String(), "resuming") {
		t.Fatalf("the connection was not cut and resumed (dropped %v):\n%s", im.Dropped(), errOut.String())
	}
	expectReceived(t, im, sum, len(data))
}

// kubeconfigOf writes a kubeconfig with the credentials of cfg.
func kubeconfigOf(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData, TLSServerName: cfg.ServerName, InsecureSkipTLSVerify: cfg.Insecure}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken, ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kc.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}
