package d8

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned/fake"
	"github.com/virtplane/virtplane/pkg/subresources/upload"
	"github.com/virtplane/virtplane/pkg/subresources/upload/uploadtest"
)

// writeFile writes n patterned bytes into dir and returns the path and sha256.
func writeFile(t *testing.T, n int) (string, string) {
	t.Helper()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>9)
	}
	path := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return path, hex.EncodeToString(sum[:])
}

const subresource = "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/ns/virtualimages/some-image/upload"

// apiServer stands in for kube-apiserver and virtualization-apiserver: the image's upload
// subresource, proxied by the real upload proxy to a stand-in importer.
func apiServer(t *testing.T, im *uploadtest.Importer) *httptest.Server {
	t.Helper()
	importer := httptest.NewServer(im)
	t.Cleanup(importer.Close)
	target := upload.Target{Resource: v1alpha2.Resource("virtualimages"), Namespace: "ns", Name: "some-image", Noun: "image",
		SourceType: "Upload", Phase: "WaitForUserUpload", InCluster: importer.URL + im.Path()}
	backend, err := target.Backend()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(subresource, upload.NewProxy(nil).Handler(target, backend, upload.PlainError))
	mux.HandleFunc("/apis/virtualization.deckhouse.io/v1alpha2/namespaces/ns/virtualimages/ready-image/upload", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Conflict","code":409,`+
			`"message":"Operation cannot be fulfilled on virtualimages.virtualization.deckhouse.io \"ready-image\": the image is not waiting for an upload (phase Ready)"}`)
	})
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	return api
}

func kubeconfigFor(t *testing.T, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: %q}
users:
- name: alice
  user: {token: alice-token}
contexts:
- name: test
  context: {cluster: test, user: alice, namespace: ns}
current-context: test
`, server)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTusClientResumesAfterADroppedConnection(t *testing.T) {
	path, sum := writeFile(t, 3<<20+123)
	im := &uploadtest.Importer{Token: "resume", DropAt: 3<<19 + 1000} // in the middle of a chunk
	api := apiServer(t, im)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Stat()

	var offsets []int64
	var logs []string
	c := &tusClient{
		http: http.DefaultClient, url: api.URL + subresource, chunk: 256 << 10,
		retries: 3, backoff: 10 * time.Millisecond, maxBackoff: 50 * time.Millisecond, requestTimeout: 10 * time.Second,
		progress: func(o int64) { offsets = append(offsets, o) },
		logf:     func(format string, args ...any) { logs = append(logs, fmt.Sprintf(format, args...)) },
	}
	if err := c.upload(context.Background(), f, info.Size()); err != nil {
		t.Fatal(err)
	}
	got, n := im.Sum()
	if !im.Dropped() || got != sum || n != info.Size() || !im.Complete() {
		t.Fatalf("dropped %v; importer has %d bytes, sha256 %s; want %d, %s", im.Dropped(), n, got, info.Size(), sum)
	}
	if len(logs) != 1 || !strings.Contains(logs[0], "resuming") {
		t.Fatalf("retries logged: %q", logs)
	}
	methods := strings.Join(im.Methods(), " ")
	if !strings.HasPrefix(methods, "HEAD POST PATCH") || !strings.Contains(methods, "HEAD PATCH") {
		t.Fatalf("requests: %s", methods)
	}
	if offsets[len(offsets)-1] != info.Size() {
		t.Fatalf("last progress %d", offsets[len(offsets)-1])
	}
}

// A run that was killed left an upload behind: the next run continues it at its offset
// instead of asking for a second upload (which the importer refuses).
func TestTusClientContinuesAnEarlierRun(t *testing.T) {
	path, sum := writeFile(t, 1<<20+55)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	im := &uploadtest.Importer{Token: "earlier"}
	api := apiServer(t, im)
	first := &tusClient{http: http.DefaultClient, url: api.URL + subresource, requestTimeout: 10 * time.Second,
		progress: func(int64) {}, logf: func(string, ...any) {}}
	location, err := first.create(context.Background(), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.patch(context.Background(), location, bytes.NewReader(data[:300<<10]), 0, 300<<10); err != nil {
		t.Fatal(err)
	}

	var logs []string
	c := &tusClient{
		http: http.DefaultClient, url: api.URL + subresource, chunk: 256 << 10,
		retries: 3, backoff: 10 * time.Millisecond, maxBackoff: 50 * time.Millisecond, requestTimeout: 10 * time.Second,
		progress: func(int64) {},
		logf:     func(format string, args ...any) { logs = append(logs, fmt.Sprintf(format, args...)) },
	}
	if err := c.upload(context.Background(), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if got, n := im.Sum(); got != sum || n != int64(len(data)) || !im.Complete() {
		t.Fatalf("importer has %d bytes, sha256 %s; want %d, %s", n, got, len(data), sum)
	}
	methods := strings.Join(im.Methods(), " ")
	if strings.Count(methods, "POST") != 1 || !strings.Contains(methods, "PATCH HEAD PATCH") {
		t.Fatalf("requests: %s, want one POST and the second run starting with HEAD", methods)
	}
	if len(logs) == 0 || !strings.Contains(logs[0], "resuming the upload at 307200") {
		t.Fatalf("logs: %q", logs)
	}
}

func TestUploadCommand(t *testing.T) {
	path, sum := writeFile(t, 1<<20+7)
	im := &uploadtest.Importer{Token: "command", DropAt: 600 << 10}
	api := apiServer(t, im)
	var out, errOut bytes.Buffer
	cmd := NewCommand(Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	cmd.SetArgs([]string{"v", "upload", "some-image", path, "--kubeconfig", kubeconfigFor(t, api.URL), "--chunk-size", "256Ki"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if got, n := im.Sum(); got != sum || n != 1<<20+7 {
		t.Fatalf("importer has %d bytes with sha256 %s, want %s", n, got, sum)
	}
	if !strings.Contains(out.String(), "virtualimages/some-image: uploaded") || !strings.Contains(errOut.String(), "(100%)") {
		t.Fatalf("output:\n%s\n%s", out.String(), errOut.String())
	}
}

func TestUploadCommandShowsTheServersRefusal(t *testing.T) {
	path, _ := writeFile(t, 10)
	api := apiServer(t, &uploadtest.Importer{Token: "unused"})
	cmd := NewCommand(Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
	cmd.SetArgs([]string{"v", "upload", "ready-image", path, "--kubeconfig", kubeconfigFor(t, api.URL)})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "the image is not waiting for an upload (phase Ready)") {
		t.Fatalf("error %v", err)
	}
}

func TestWaitForPhase(t *testing.T) {
	vi := &v1alpha2.VirtualImage{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "img"}}
	vi.Status.Phase = v1alpha2.ImageFailed
	vi.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "ChecksumMismatch", Message: "the checksum does not match"}}
	client := fake.NewSimpleClientset(vi) //nolint:staticcheck // NewClientset needs the group's schema
	var out, errOut bytes.Buffer
	err := waitForPhase(context.Background(), Streams{Out: &out, ErrOut: &errOut}, client, "virtualimages", "ns", "img")
	var exit *exitError
	if !errors.As(err, &exit) || out.String() != "virtualimages/img: Failed\n" || !strings.Contains(errOut.String(), "checksum") {
		t.Fatalf("err %v, out %q, errOut %q", err, out.String(), errOut.String())
	}
}

func TestKubectlPassesArgumentsAndExitCode(t *testing.T) {
	script := filepath.Join(t.TempDir(), "kubectl")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"args: $*\"\necho oops >&2\nexit 3\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvKubectl, script)
	var out, errOut bytes.Buffer
	cmd := NewCommand(Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	cmd.SetArgs([]string{"k", "get", "vi", "-n", "ns", "--help"})
	err := cmd.Execute()
	var exit *exitError
	if !errors.As(err, &exit) || exit.code != 3 {
		t.Fatalf("error %v, want exit 3", err)
	}
	if out.String() != "args: get vi -n ns --help\n" || errOut.String() != "oops\n" {
		t.Fatalf("out %q, errOut %q", out.String(), errOut.String())
	}
}

// A link too slow for a whole chunk within a request's timeout: the client halves the chunk
// until it gets through, instead of resending the same chunk until it gives up.
func TestTusClientShrinksChunksOnASlowLink(t *testing.T) {
	data := bytes.Repeat([]byte("slow"), 1<<18) // 1 MiB
	var mu sync.Mutex
	var got []byte
	created := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Tus-Resumable", "1.0.0")
		switch r.Method {
		case http.MethodHead:
			if !created {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			w.Header().Set("Upload-Offset", strconv.Itoa(len(got)))
		case http.MethodPost:
			created = true
			w.WriteHeader(http.StatusCreated)
		case http.MethodPatch:
			if r.ContentLength > minChunk {
				mu.Unlock()
				time.Sleep(300 * time.Millisecond) // longer than the client waits
				mu.Lock()
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			body, _ := io.ReadAll(r.Body)
			got = append(got, body...)
			w.Header().Set("Upload-Offset", strconv.Itoa(len(got)))
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	c := &tusClient{http: srv.Client(), url: srv.URL + "/upload", chunk: 1 << 20, retries: 10,
		backoff: time.Millisecond, maxBackoff: 5 * time.Millisecond, requestTimeout: 100 * time.Millisecond,
		progress: func(int64) {}, logf: func(string, ...any) {}}
	if err := c.upload(context.Background(), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("upload over a slow link: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Equal(got, data) || c.chunk != minChunk {
		t.Errorf("received %d of %d bytes, chunk now %d", len(got), len(data), c.chunk)
	}
}
