package importer

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/virtplane/virtplane/pkg/dvcr"
)

// TestImportHTTPDetectsFormats imports each format, plain and compressed, from a web
// server and checks what the controller and a user see: the detected format, the virtual
// size, cdrom, and a DVCR blob equal to the unpacked file.
func TestImportHTTPDetectsFormats(t *testing.T) {
	f := getFixtures(t)
	host := dvcrServer(t, nil)
	cases := []struct {
		name     string
		file     func(t *testing.T) string
		unpacked func(t *testing.T) string // the file the blob must equal
		format   string
		vsize    int64
		cdrom    bool
		goXZ     bool
	}{
		{name: "raw", file: func(t *testing.T) string { return f.raw }, format: FormatRaw, vsize: diskSize},
		{name: "qcow2", file: func(t *testing.T) string { return f.image(t, FormatQCOW2) }, format: FormatQCOW2, vsize: diskSize},
		{name: "vmdk", file: func(t *testing.T) string { return f.image(t, FormatVMDK) }, format: FormatVMDK, vsize: diskSize},
		{name: "vdi", file: func(t *testing.T) string { return f.image(t, FormatVDI) }, format: FormatVDI, vsize: diskSize},
		{name: "iso", file: func(t *testing.T) string { return f.iso(t) }, format: FormatISO, cdrom: true},
		{name: "raw.gz", file: func(t *testing.T) string { return gzipFile(t, f.raw) }, unpacked: func(*testing.T) string { return f.raw }, format: FormatRaw, vsize: diskSize},
		{name: "qcow2.xz", file: func(t *testing.T) string { return xzFile(t, f.image(t, FormatQCOW2)) }, unpacked: func(t *testing.T) string { return f.image(t, FormatQCOW2) }, format: FormatQCOW2, vsize: diskSize},
		{name: "raw.xz with the Go decoder", file: func(t *testing.T) string { return xzFile(t, f.raw) }, unpacked: func(*testing.T) string { return f.raw }, format: FormatRaw, vsize: diskSize, goXZ: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := tc.file(t)
			unpacked := file
			if tc.unpacked != nil {
				unpacked = tc.unpacked(t)
			}
			if tc.goXZ {
				useExternalXZ = false
				defer func() { useExternalXZ = true }()
			}
			web := serveFiles(t, filepath.Dir(file))
			cfg := testConfig(host)
			cfg.SourceType, cfg.SourceURL = SourceHTTP, web.URL+"/"+filepath.Base(file)
			cfg.Checksums = map[string]string{"sha256": fileSHA256(t, file)}

			res := runMode(t, ModeImport, cfg)
			if res.Error != "" {
				t.Fatalf("import: %s (%s)", res.Error, res.Reason)
			}
			want := tc.vsize
			if tc.format == FormatISO {
				want = int64(len(readFile(t, unpacked)))
			}
			if res.Format != tc.format || res.UnpackedBytes != want || res.CDROM != tc.cdrom {
				t.Errorf("result %+v, want format %s virtual size %d cdrom %v", res, tc.format, want, tc.cdrom)
			}
			img, err := readStored(t, cfg.DestImage)
			if err != nil {
				t.Fatalf("read %s: %v", cfg.DestImage, err)
			}
			if img.blobSHA256 != fileSHA256(t, unpacked) {
				t.Errorf("DVCR blob sha256 %s, the unpacked file is %s", img.blobSHA256, fileSHA256(t, unpacked))
			}
			stored := int64(len(readFile(t, unpacked)))
			if img.layers != 1 || img.mediaType != dvcr.DiskLayerMediaType {
				t.Errorf("image has %d layers of %s, want one %s", img.layers, img.mediaType, dvcr.DiskLayerMediaType)
			}
			if img.annotations[dvcr.AnnotationFormat] != tc.format ||
				img.annotations[dvcr.AnnotationUnpackedSize] != strconv.FormatInt(want, 10) ||
				img.annotations[dvcr.AnnotationStoredSize] != strconv.FormatInt(stored, 10) {
				t.Errorf("annotations %v", img.annotations)
			}
			if res.StoredBytes != stored || res.Digest == "" {
				t.Errorf("result stored %d digest %q, want %d and a digest", res.StoredBytes, res.Digest, stored)
			}
		})
	}
}

// TestImportChecksumMismatchLeavesNoTag: a wrong digest fails the import, names the
// algorithm and both digests, and the image is not in DVCR.
func TestImportChecksumMismatchLeavesNoTag(t *testing.T) {
	f := getFixtures(t)
	web := serveFiles(t, f.dir)
	cfg := testConfig(dvcrServer(t, nil))
	cfg.SourceType, cfg.SourceURL = SourceHTTP, web.URL+"/disk.raw"
	sum := md5.Sum([]byte("something else"))
	wrong := hex.EncodeToString(sum[:])
	cfg.Checksums = map[string]string{"md5": wrong, "sha256": f.rawSHA256}

	res := runMode(t, ModeImport, cfg)
	expectFailure(t, res, ReasonChecksumMismatch, "md5", wrong)
	if _, err := readStored(t, cfg.DestImage); err == nil {
		t.Errorf("%s is tagged after a checksum mismatch", cfg.DestImage)
	}
}

func TestImportHTTPFailures(t *testing.T) {
	f := getFixtures(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "index.html.img"), []byte("<!DOCTYPE html>\n<html><body>Not the file you wanted</body></html>\n"))
	gz := readFile(t, gzipFile(t, f.raw))
	writeFile(t, filepath.Join(dir, "cut.raw.gz"), gz[:len(gz)/2])
	writeFile(t, filepath.Join(dir, "empty.img"), nil)
	web := serveFiles(t, dir)
	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer forbidden.Close()
	host := dvcrServer(t, nil)

	cases := []struct {
		url    string
		reason string
		want   []string
	}{
		{url: web.URL + "/missing.qcow2", reason: ReasonSourceNotFound, want: []string{"404"}},
		{url: forbidden.URL + "/x", reason: ReasonSourceError, want: []string{"403"}},
		{url: web.URL + "/index.html.img", reason: ReasonUnsupportedFormat, want: []string{"text file", "not a disk image"}},
		{url: web.URL + "/cut.raw.gz", reason: ReasonTruncated, want: []string{"truncated"}},
		{url: web.URL + "/empty.img", reason: ReasonUnsupportedFormat, want: []string{"empty"}},
	}
	for _, tc := range cases {
		t.Run(filepath.Base(tc.url), func(t *testing.T) {
			cfg := testConfig(host)
			cfg.SourceType, cfg.SourceURL = SourceHTTP, tc.url
			res := runMode(t, ModeImport, cfg)
			expectFailure(t, res, tc.reason, tc.want...)
			if res.Retryable {
				t.Errorf("%s is marked retryable", tc.reason)
			}
			if _, err := readStored(t, cfg.DestImage); err == nil {
				t.Errorf("%s is tagged after a failure", cfg.DestImage)
			}
		})
	}
}

// TestImportHTTPRetries: a server that fails with 500 once and then cuts the body short
// once still yields the whole file, resumed with a Range request.
func TestImportHTTPRetries(t *testing.T) {
	f := getFixtures(t)
	data := readFile(t, f.raw)
	var requests, ranged atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n := requests.Add(1); {
		case n == 1:
			http.Error(w, "busy", http.StatusInternalServerError)
		case n == 2:
			// Promise everything, send a third, hang up.
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Header().Set("Accept-Ranges", "bytes")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(data[:len(data)/3])
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		default:
			if r.Header.Get("Range") != "" {
				ranged.Add(1)
			}
			http.ServeContent(w, r, "disk.raw", fileModTime(t, f.raw), bytesReader(data))
		}
	}))
	defer srv.Close()
	cfg := testConfig(dvcrServer(t, nil))
	cfg.SourceType, cfg.SourceURL = SourceHTTP, srv.URL+"/disk.raw"
	cfg.Checksums = map[string]string{"sha256": f.rawSHA256}

	res := runMode(t, ModeImport, cfg)
	if res.Error != "" {
		t.Fatalf("import: %s (%s)", res.Error, res.Reason)
	}
	if ranged.Load() == 0 {
		t.Errorf("the interrupted download was not resumed with a Range request")
	}
	img, err := readStored(t, cfg.DestImage)
	if err != nil || img.blobSHA256 != f.rawSHA256 {
		t.Errorf("DVCR blob %s (%v), want %s", img.blobSHA256, err, f.rawSHA256)
	}
}

// TestImportHTTPFileChangedWhileResuming: the file is replaced on the server between the cut
// and the resumed request; the import must not glue the start of one to the rest of the other.
func TestImportHTTPFileChangedWhileResuming(t *testing.T) {
	f := getFixtures(t)
	data := readFile(t, f.raw)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			w.Header().Set("ETag", `"first"`)
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(data[:len(data)/3])
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		}
		// If-Range "first" does not match: the whole new file, as RFC 9110 says.
		w.Header().Set("ETag", `"second"`)
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(bytes.Repeat([]byte{7}, len(data)))
	}))
	defer srv.Close()
	cfg := testConfig(dvcrServer(t, nil))
	cfg.SourceType, cfg.SourceURL = SourceHTTP, srv.URL+"/disk.raw"
	expectFailure(t, runMode(t, ModeImport, cfg), ReasonSourceError, "changed")
	if _, err := readStored(t, cfg.DestImage); err == nil {
		t.Error("an image was stored from two different files")
	}
}

// TestImportHTTPSWithCABundle trusts a private CA given in IMPORTER_SOURCE_CA_BUNDLE.
func TestImportHTTPSWithCABundle(t *testing.T) {
	f := getFixtures(t)
	web := httptest.NewTLSServer(http.FileServer(http.Dir(f.dir)))
	defer web.Close()
	cfg := testConfig(dvcrServer(t, nil))
	cfg.SourceType, cfg.SourceURL = SourceHTTP, web.URL+"/disk.raw"

	res := runMode(t, ModeImport, cfg)
	expectFailure(t, res, ReasonSourceError, "certificate")

	cfg.SourceCABundle = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: web.Certificate().Raw})
	if res := runMode(t, ModeImport, cfg); res.Error != "" || res.Format != FormatRaw {
		t.Fatalf("import with the CA bundle: %+v", res)
	}
}

// TestImportWaitsForReadOnlyDVCR: DVCR answers writes with 503 while garbage collection
// runs; the importer waits and pushes once it is writable again.
func TestImportWaitsForReadOnlyDVCR(t *testing.T) {
	f := getFixtures(t)
	web := serveFiles(t, f.dir)
	// Read-only when the upload starts (twice), and again when the streamed disk is
	// committed: neither may cost the data already sent.
	var refused, commits atomic.Int32
	host := dvcrServer(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			firstCommit := r.Method == http.MethodPut && r.URL.Query().Get("digest") != "" && commits.Add(1) == 1
			if (r.Method == http.MethodPost && refused.Load() < 2) || firstCommit {
				refused.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"errors":[{"code":"UNAVAILABLE","message":"read-only mode"}]}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	cfg := testConfig(host)
	cfg.SourceType, cfg.SourceURL = SourceHTTP, web.URL+"/disk.raw"
	res := runMode(t, ModeImport, cfg)
	if res.Error != "" {
		t.Fatalf("import: %s (%s)", res.Error, res.Reason)
	}
	if refused.Load() != 3 {
		t.Errorf("DVCR refused %d requests, want 3", refused.Load())
	}
	if img, err := readStored(t, cfg.DestImage); err != nil || img.blobSHA256 != f.rawSHA256 {
		t.Errorf("DVCR blob %s (%v), want %s", img.blobSHA256, err, f.rawSHA256)
	}
}

// TestImportFromVolume reads a raw disk from another volume (a file here).
func TestImportFromVolume(t *testing.T) {
	f := getFixtures(t)
	cfg := testConfig(dvcrServer(t, nil))
	cfg.SourceType, cfg.SourceURL = SourceVolume, f.raw
	res := runMode(t, ModeImport, cfg)
	if res.Error != "" || res.UnpackedBytes != diskSize {
		t.Fatalf("import: %+v", res)
	}
	cfg.SourceURL = filepath.Join(t.TempDir(), "nothing")
	expectFailure(t, runMode(t, ModeImport, cfg), ReasonSourceNotFound)
}

// TestProgressServed: GET /progress answers during a run.
func TestProgressServed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTracker(StageTransferring)
	tr.SetTotal(200)
	tr.Add(50)
	srv := httptest.NewUnstartedServer(tr)
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	p := getProgress(t, srv.URL)
	if p.Stage != StageTransferring || p.BytesDone != 50 || p.BytesTotal != 200 || p.Percent != 25 {
		t.Errorf("progress %+v", p)
	}
}
