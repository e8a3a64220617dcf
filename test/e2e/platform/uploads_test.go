package platform

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const uploadImage = `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: NAME
  namespace: NS
spec:
  storage: ContainerRegistry
  dataSource:
    type: Upload
`

// TestUploadWithCurlToTheTokenURL is the seed's "Load an image from the command line": the
// image waits for an upload, names its URLs, and `curl URL -T file` makes it Ready.
func TestUploadWithCurlToTheTokenURL(t *testing.T) {
	ns := namespace(t, "upload-curl")
	mustKubectl(t, fill(uploadImage, "NAME", "some-image", "NS", ns), "apply", "-f", "-")
	st := waitVI(t, ns, "some-image", 2*time.Minute, "WaitForUserUpload")
	if st.UploadURLs == nil || st.UploadURLs.External == "" || st.UploadURLs.InCluster == "" {
		t.Fatalf("imageUploadURLs = %+v, want external and inCluster", st.UploadURLs)
	}
	out := jsonPath(t, "{.status.imageUploadURLs}", "get", "vi", "some-image", "-n", ns)
	if !strings.Contains(out, `"external":"`+st.UploadURLs.External) {
		t.Errorf("kubectl -o jsonpath={.status.imageUploadURLs} = %s", out)
	}
	external := st.UploadURLs.External
	curl(t, external, "-T", fixtures.path("disk.qcow2"))
	st = waitVI(t, ns, "some-image", 2*time.Minute, "Ready")
	if sum, _ := dvcrBlob(t, st.Registry); sum != fixtures.sums["disk.qcow2"] {
		t.Errorf("DVCR holds sha256 %s after the upload, the file is %s", sum, fixtures.sums["disk.qcow2"])
	}
	if st.UploadURLs != nil && st.UploadURLs.External != "" {
		t.Errorf("a Ready image still offers upload URLs: %+v", st.UploadURLs)
	}
	// The token died with the upload.
	if code := curlStatus(t, external, "-T", fixtures.path("disk.raw")); code < 400 {
		t.Errorf("the token URL of a Ready image still takes data: HTTP %d", code)
	}
}

// TestUploadThroughKubectlProxy uploads with kubectl proxy + curl to the upload subresource,
// as RBAC allows an editor and refuses a viewer.
func TestUploadThroughKubectlProxy(t *testing.T) {
	ns := namespace(t, "upload-proxy")
	mustKubectl(t, fill(uploadImage, "NAME", "proxied", "NS", ns), "apply", "-f", "-")
	waitVI(t, ns, "proxied", 2*time.Minute, "WaitForUserUpload")

	mustKubectl(t, "", "create", "rolebinding", "viewer", "--clusterrole=view", "--user=viewer", "-n", ns)
	mustKubectl(t, "", "create", "rolebinding", "editor", "--clusterrole=edit", "--user=editor", "-n", ns)
	if out, _ := kubectl(t, "", "auth", "can-i", "create", "virtualimages", "--subresource=upload", "--as=viewer", "-n", ns); strings.TrimSpace(out) != "no" {
		t.Errorf("can-i create virtualimages/upload as a viewer: %q, want no", out)
	}
	path := "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/" + ns + "/virtualimages/proxied/upload"
	viewerProxy := kubectlProxy(t, "--as=viewer")
	if code := curlStatus(t, viewerProxy+path, "-X", "POST", "--data-binary", "@"+fixtures.path("disk.raw.xz")); code != http.StatusForbidden {
		t.Errorf("POST upload as a viewer: HTTP %d, want 403", code)
	}
	editorProxy := kubectlProxy(t, "--as=editor")
	curl(t, editorProxy+path, "-T", fixtures.path("disk.raw.xz"))
	st := waitVI(t, ns, "proxied", 2*time.Minute, "Ready")
	if st.Format != "raw" || st.Unpacked != strconv.Itoa(diskSize) {
		t.Errorf("uploaded xz: format %q unpacked %q", st.Format, st.Unpacked)
	}
	if sum, _ := dvcrBlob(t, st.Registry); sum != fixtures.rawSHA256 {
		t.Errorf("DVCR holds sha256 %s, the unpacked upload is %s", sum, fixtures.rawSHA256)
	}
}

// TestUploadResumesAfterADroppedConnection sends a first tus chunk, then drops the
// connection in the middle of the second, as a lost network would; `d8 v upload` then asks
// for the offset and finishes. What arrived of the cut chunk may or may not be kept (proxies
// between the client and the importer may drop it); everything before it must be.
func TestUploadResumesAfterADroppedConnection(t *testing.T) {
	ns := namespace(t, "upload-resume")
	mustKubectl(t, fill(uploadImage, "NAME", "resumed", "NS", ns), "apply", "-f", "-")
	waitVI(t, ns, "resumed", 2*time.Minute, "WaitForUserUpload")
	proxy := kubectlProxy(t)
	url := proxy + "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/" + ns + "/virtualimages/resumed/upload"
	file := fixtures.path("disk.qcow2")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tus := func(method string, body []byte, headers ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, url, bytes.NewReader(body))
		req.Header.Set("Tus-Resumable", "1.0.0")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("tus %s: %v", method, err)
		}
		resp.Body.Close()
		return resp
	}

	resp := tus(http.MethodPost, nil, "Upload-Length", strconv.Itoa(len(data)))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("tus create: HTTP %d", resp.StatusCode)
	}
	// The upload's URL is the subresource itself, also as kube-apiserver passes it on.
	if loc, err := resp.Request.URL.Parse(resp.Header.Get("Location")); err != nil || loc.String() != url {
		t.Errorf("tus create: Location %q resolves to %v, want %s", resp.Header.Get("Location"), loc, url)
	}
	// A second upload while this one is open is a conflict.
	if resp := tus(http.MethodPost, nil, "Upload-Length", "1024"); resp.StatusCode != http.StatusConflict {
		t.Errorf("a second upload: HTTP %d, want 409", resp.StatusCode)
	}
	first := len(data) / 3
	resp = tus(http.MethodPatch, data[:first], "Upload-Offset", "0", "Content-Type", "application/offset+octet-stream")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.Itoa(first) {
		t.Fatalf("first chunk: HTTP %d, offset %q, want 204, %d", resp.StatusCode, resp.Header.Get("Upload-Offset"), first)
	}

	// The second PATCH announces the rest of the file, sends part of it, then hangs up.
	sent := first + len(data)/6
	conn, err := net.Dial("tcp", strings.TrimPrefix(proxy, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: %d\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n",
		strings.TrimPrefix(url, proxy), first, len(data)-first)
	if _, err := conn.Write(data[first:sent]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	conn.Close()

	var offset int
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp := tus(http.MethodHead, nil)
		offset, _ = strconv.Atoi(resp.Header.Get("Upload-Offset"))
		if resp.StatusCode == http.StatusOK && offset >= first {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if offset < first || offset > sent {
		t.Fatalf("after the dropped connection the offset is %d, want %d..%d", offset, first, sent)
	}
	out, err := exec.Command(filepath.Join(bin, "d8"), "v", "upload", "resumed", file, "-n", ns, "--kubeconfig", stack.Kubeconfig).CombinedOutput()
	if err != nil {
		t.Fatalf("d8 v upload: %v\n%s", err, out)
	}
	st := waitVI(t, ns, "resumed", 2*time.Minute, "Ready")
	if sum, _ := dvcrBlob(t, st.Registry); sum != fixtures.sums["disk.qcow2"] {
		t.Errorf("after resuming at %d DVCR holds sha256 %s, the file is %s", offset, sum, fixtures.sums["disk.qcow2"])
	}
}

// TestUploadFailures: no upload in time, and a body that is not a disk.
func TestUploadFailures(t *testing.T) {
	ns := namespace(t, "upload-fail")
	mustKubectl(t, fill(uploadImage, "NAME", "never", "NS", ns), "apply", "-f", "-")
	mustKubectl(t, fill(uploadImage, "NAME", "text", "NS", ns), "apply", "-f", "-")
	st := waitVI(t, ns, "text", 2*time.Minute, "WaitForUserUpload")
	curlStatus(t, st.UploadURLs.External, "-T", fixtures.path("page.img"))
	st = waitVI(t, ns, "text", 2*time.Minute, "Failed")
	if msg := condition(st.Conditions, "Ready").Message; !strings.Contains(strings.ToLower(msg), "text") {
		t.Errorf("uploading a text file: Ready says %q", msg)
	}
	timeout, _ := time.ParseDuration(uploadWaitTimeout)
	st = waitVI(t, ns, "never", timeout+2*time.Minute, "Failed")
	if c := condition(st.Conditions, "Ready"); c.Reason != "WaitForUserUploadTimeout" {
		t.Errorf("an upload that never started: Ready %+v, want reason WaitForUserUploadTimeout", c)
	}
	if st.UploadURLs != nil && st.UploadURLs.External != "" {
		if code := curlStatus(t, st.UploadURLs.External, "-T", fixtures.path("disk.raw")); code < 400 {
			t.Errorf("the token of a failed upload still accepts data: HTTP %d", code)
		}
	}
}

// kubectlProxy starts kubectl proxy (with extra flags such as --as) on a free port and
// returns its URL; it stops with the test.
func kubectlProxy(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", stack.Kubeconfig, "proxy", "--port=0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("kubectl proxy: %v", err)
	}
	// "Starting to serve on 127.0.0.1:41234"
	addr := strings.TrimSpace(line[strings.LastIndex(line, " ")+1:])
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return "http://" + addr
}

// curl runs curl as the seed does and fails the test on an HTTP error.
func curl(t *testing.T, url string, args ...string) {
	t.Helper()
	if code := curlStatus(t, url, args...); code < 200 || code >= 300 {
		t.Fatalf("curl %s %v: HTTP %d", url, args, code)
	}
}

// curlStatus runs curl and returns the HTTP status (0 when there was no answer).
func curlStatus(t *testing.T, url string, args ...string) int {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command("curl", append([]string{"-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "120", url}, args...)...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	_ = cmd.Run()
	code, _ := strconv.Atoi(strings.TrimSpace(out.String()))
	return code
}
