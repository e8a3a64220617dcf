package importer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// uploadPod is an importer in upload mode on loopback, as the controller's Pod would be.
type uploadPod struct {
	cfg    Config
	base   string // http://127.0.0.1:port
	url    string // the upload URL
	result chan Result
}

func startUpload(t *testing.T, host string, mutate func(*Config)) *uploadPod {
	t.Helper()
	cfg := testConfig(host)
	cfg.UploadToken = "tok-" + randomName()
	if mutate != nil {
		mutate(&cfg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	p := &uploadPod{cfg: cfg, base: "http://" + ln.Addr().String(), result: make(chan Result, 1)}
	p.url = p.base + PathUpload + "/" + cfg.UploadToken
	go func() { p.result <- Run(ctx, ModeUpload, cfg, ln) }()
	t.Cleanup(cancel)
	return p
}

func (p *uploadPod) wait(t *testing.T) Result {
	t.Helper()
	select {
	case r := <-p.result:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("the importer did not end after the upload")
		return Result{}
	}
}

// do sends a request and returns the status and body.
func do(t *testing.T, method, url string, body []byte, header map[string]string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// sendPartial sends a request announcing len(announce) bytes, writes only part of it and
// hangs up, as a dropped connection would.
func sendPartial(t *testing.T, rawURL, method string, header map[string]string, total int, part []byte) {
	t.Helper()
	hostPath := strings.TrimPrefix(rawURL, "http://")
	host, path, _ := strings.Cut(hostPath, "/")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(conn)
	fmt.Fprintf(w, "%s /%s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", method, path, host, total)
	for k, v := range header {
		fmt.Fprintf(w, "%s: %s\r\n", k, v)
	}
	fmt.Fprintf(w, "\r\n")
	_, _ = w.Write(part)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	_ = conn.Close()
}

func TestUploadPlain(t *testing.T) {
	f := getFixtures(t)
	host := dvcrServer(t, nil)
	qcow2 := f.image(t, FormatQCOW2)
	body := readFile(t, gzipFile(t, qcow2))
	pod := startUpload(t, host, func(c *Config) { c.Checksums = map[string]string{"sha256": sha256Hex(body)} })

	if p := getProgressEventually(t, pod.base); p.Stage != StageWaiting {
		t.Errorf("before the upload the stage is %q, want %s", p.Stage, StageWaiting)
	}
	if code, _, _ := do(t, http.MethodPut, pod.base+PathUpload+"/wrong-token", body, nil); code != http.StatusNotFound {
		t.Errorf("PUT with a wrong token: HTTP %d, want 404", code)
	}
	code, text, _ := do(t, http.MethodPut, pod.url, body, nil)
	if code != http.StatusOK {
		t.Fatalf("PUT the file: HTTP %d: %s", code, text)
	}
	res := pod.wait(t)
	if res.Error != "" || res.Format != FormatQCOW2 || res.UnpackedBytes != diskSize {
		t.Fatalf("result %+v", res)
	}
	if img, err := readStored(t, pod.cfg.DestImage); err != nil || img.blobSHA256 != fileSHA256(t, qcow2) {
		t.Errorf("DVCR blob %s (%v), want the unpacked qcow2 %s", img.blobSHA256, err, fileSHA256(t, qcow2))
	}
}

// TestUploadRefusesBadBodies: the client hears why, the Pod fails with the reason, and
// nothing is tagged.
func TestUploadRefusesBadBodies(t *testing.T) {
	f := getFixtures(t)
	host := dvcrServer(t, nil)
	gz := readFile(t, gzipFile(t, f.raw))
	cases := []struct {
		name      string
		body      []byte
		checksums map[string]string
		code      int
		reason    string
		want      string
	}{
		{name: "text", body: []byte("# README\nThis is not a disk.\n"), code: http.StatusUnprocessableEntity, reason: ReasonUnsupportedFormat, want: "text file"},
		{name: "truncated gzip", body: gz[:len(gz)/2], code: http.StatusUnprocessableEntity, reason: ReasonTruncated, want: "truncated"},
		{name: "checksum", body: readFile(t, f.raw), checksums: map[string]string{"sha1": strings.Repeat("0", 40)}, code: http.StatusUnprocessableEntity, reason: ReasonChecksumMismatch, want: "sha1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := startUpload(t, host, func(c *Config) {
				if tc.checksums != nil {
					c.Checksums = tc.checksums
				}
			})
			code, text, _ := do(t, http.MethodPost, pod.url, tc.body, nil)
			if code != tc.code || !strings.Contains(text, tc.want) {
				t.Errorf("POST: HTTP %d %q, want %d mentioning %q", code, text, tc.code, tc.want)
			}
			expectFailure(t, pod.wait(t), tc.reason, tc.want)
			if _, err := readStored(t, pod.cfg.DestImage); err == nil {
				t.Errorf("%s is tagged after a refused upload", pod.cfg.DestImage)
			}
		})
	}
}

// TestUploadPlainDisconnect: a plain body cut short fails the upload as Truncated.
func TestUploadPlainDisconnect(t *testing.T) {
	f := getFixtures(t)
	data := readFile(t, f.raw)
	pod := startUpload(t, dvcrServer(t, nil), nil)
	sendPartial(t, pod.url, http.MethodPut, nil, len(data), data[:len(data)/2])
	expectFailure(t, pod.wait(t), ReasonTruncated, "ended after")
}

// TestUploadTusResumes: tus creation, a second upload refused, a PATCH cut by a dropped
// connection, HEAD for the offset, the rest from there; DVCR gets the exact file.
func TestUploadTusResumes(t *testing.T) {
	f := getFixtures(t)
	vmdk := readFile(t, f.image(t, FormatVMDK))
	pod := startUpload(t, dvcrServer(t, nil), func(c *Config) { c.Checksums = map[string]string{"sha256": sha256Hex(vmdk)} })
	tus := map[string]string{"Tus-Resumable": "1.0.0"}

	code, _, hdr := do(t, http.MethodOptions, pod.url, nil, nil)
	if code != http.StatusOK || !strings.Contains(hdr.Get("Tus-Extension"), "creation") {
		t.Errorf("OPTIONS: HTTP %d, Tus-Extension %q", code, hdr.Get("Tus-Extension"))
	}
	code, text, hdr := do(t, http.MethodPost, pod.url, nil, map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": strconv.Itoa(len(vmdk))})
	if code != http.StatusCreated {
		t.Fatalf("tus create: HTTP %d %s", code, text)
	}
	if loc := hdr.Get("Location"); loc != pod.url {
		t.Errorf("Location %q, want the creation URL %q", loc, pod.url)
	}
	code, text, _ = do(t, http.MethodPost, pod.url, nil, map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "1024"})
	if code != http.StatusConflict || !strings.Contains(text, "already") {
		t.Errorf("a second tus upload: HTTP %d %q, want 409", code, text)
	}
	if code, _, _ := do(t, http.MethodPut, pod.url, []byte("x"), nil); code != http.StatusConflict {
		t.Errorf("a plain upload during a tus one: HTTP %d, want 409", code)
	}
	if p := getProgress(t, pod.base); p.Stage != StageWaiting {
		t.Errorf("after creation, before data, the stage is %q, want %s", p.Stage, StageWaiting)
	}

	sent := len(vmdk) / 3
	sendPartial(t, pod.url, http.MethodPatch, map[string]string{
		"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream",
	}, len(vmdk), vmdk[:sent])

	offset := -1
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, _, hdr := do(t, http.MethodHead, pod.url, nil, tus)
		if offset, _ = strconv.Atoi(hdr.Get("Upload-Offset")); offset == sent {
			break
		}
	}
	if offset != sent {
		t.Fatalf("after the dropped PATCH the offset is %d, want the %d bytes sent", offset, sent)
	}
	if p := getProgress(t, pod.base); p.Stage != StageTransferring || p.BytesTotal != int64(len(vmdk)) {
		t.Errorf("progress during the upload %+v", p)
	}
	code, text, _ = do(t, http.MethodPatch, pod.url, vmdk[offset:], map[string]string{
		"Tus-Resumable": "1.0.0", "Upload-Offset": strconv.Itoa(offset), "Content-Type": "application/offset+octet-stream",
	})
	if code != http.StatusNoContent {
		t.Fatalf("the resumed PATCH: HTTP %d %s", code, text)
	}
	res := pod.wait(t)
	if res.Error != "" || res.Format != FormatVMDK || res.UnpackedBytes != diskSize {
		t.Fatalf("result %+v", res)
	}
	if img, err := readStored(t, pod.cfg.DestImage); err != nil || img.blobSHA256 != sha256Hex(vmdk) {
		t.Errorf("DVCR blob %s (%v), want %s", img.blobSHA256, err, sha256Hex(vmdk))
	}
}

// getProgressEventually waits for the server to listen, then reads /progress.
func getProgressEventually(t *testing.T, base string) Progress {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(base + PathProgress); err == nil {
			resp.Body.Close()
			break
		}
	}
	return getProgress(t, base)
}
