package importer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/klauspost/compress/gzip"
)

// diskSize is the virtual size of the test disks: big enough for several 1 MiB blocks
// (some all-zero, to exercise sparse writes), small enough for a fast suite.
const diskSize = 6 << 20

// fixtures are disk images made once per package run with the real tools.
type fixtures struct {
	dir       string
	raw       string // the pattern, as a raw disk
	rawSHA256 string
}

var fx *fixtures

func TestMain(m *testing.M) {
	// Keep per-test timing short: retries and DVCR waits are exercised, not endured.
	log.SetOutput(io.Discard)
	code := m.Run()
	if fx != nil {
		_ = os.RemoveAll(fx.dir)
	}
	os.Exit(code)
}

// needTool skips a test when a tool from Debian's packages is missing.
func needTool(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s is not installed (apt-get install -y qemu-utils genisoimage xz-utils)", tool)
	}
}

// getFixtures makes the raw pattern disk once: random 1 MiB blocks with zero blocks
// between them, and a recognisable first sector.
func getFixtures(t *testing.T) *fixtures {
	t.Helper()
	if fx != nil {
		return fx
	}
	dir, err := os.MkdirTemp("", "importer-fixtures-")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, diskSize)
	rng := rand.New(rand.NewSource(42))
	for blk := 0; blk < diskSize>>20; blk++ {
		if blk%2 == 0 {
			rng.Read(data[blk<<20 : (blk+1)<<20])
		}
	}
	copy(data, "\xeb\x63\x90VIRTPLANE-TEST-DISK\x00")
	raw := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(raw, data, 0o644); err != nil {
		t.Fatal(err)
	}
	fx = &fixtures{dir: dir, raw: raw, rawSHA256: sha256Hex(data)}
	return fx
}

// image returns the pattern disk converted by qemu-img to format (made once).
func (f *fixtures) image(t *testing.T, format string) string {
	t.Helper()
	if format == FormatRaw {
		return f.raw
	}
	needTool(t, "qemu-img")
	out := filepath.Join(f.dir, "disk."+format)
	if _, err := os.Stat(out); err == nil {
		return out
	}
	run(t, "qemu-img", "convert", "-f", "raw", "-O", format, f.raw, out)
	return out
}

// iso returns an ISO 9660 image holding the pattern disk as a file.
func (f *fixtures) iso(t *testing.T) string {
	t.Helper()
	needTool(t, "genisoimage")
	out := filepath.Join(f.dir, "disk.iso")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	run(t, "genisoimage", "-quiet", "-V", "TESTISO", "-o", out, f.raw)
	return out
}

// gzipFile and xzFile compress src next to it.
func gzipFile(t *testing.T, src string) string {
	t.Helper()
	out := src + ".gz"
	if _, err := os.Stat(out); err == nil {
		return out
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(readFile(t, src)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, out, buf.Bytes())
	return out
}

func xzFile(t *testing.T, src string) string {
	t.Helper()
	needTool(t, "xz")
	out := src + ".xz"
	if _, err := os.Stat(out); err == nil {
		return out
	}
	run(t, "xz", "-k", "-0", "-T1", src)
	return out
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	return sha256Hex(readFile(t, p))
}

// rawOf is what qemu-img makes of an image as a raw disk: the reference a fill must match.
func rawOf(t *testing.T, image, format string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "ref.raw")
	run(t, "qemu-img", "convert", "-f", format, "-O", "raw", image, out)
	return readFile(t, out)
}

// serveFiles serves a directory over HTTP (with ranges, as real web servers do).
func serveFiles(t *testing.T, dir string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv
}

// dvcrServer is an in-memory OCI registry on loopback standing in for DVCR; wrap, if set,
// sees every request first (to answer 503 or check credentials).
func dvcrServer(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// testConfig is a Config for a run against host's DVCR with short timings.
func testConfig(host string) Config {
	return Config{
		DestImage:           host + "/vi/ns/" + strings.ToLower(randomName()) + ":uid-1",
		DVCRInsecure:        true,
		DVCRToken:           "token",
		Checksums:           map[string]string{},
		HTTPAttempts:        5,
		HTTPBackoff:         20 * time.Millisecond,
		DVCRUnavailableWait: 5 * time.Second,
		DVCRUnavailablePoll: 50 * time.Millisecond,
		ProgressInterval:    100 * time.Millisecond,
	}
}

var nameRNG = rand.New(rand.NewSource(time.Now().UnixNano()))

func randomName() string {
	return "img" + hex.EncodeToString([]byte{byte(nameRNG.Intn(256)), byte(nameRNG.Intn(256)), byte(nameRNG.Intn(256))})
}

// runMode runs the importer with a deadline.
func runMode(t *testing.T, mode string, cfg Config) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return Run(ctx, mode, cfg, nil)
}

// storedImage is what a user finds in DVCR: the disk blob's sha256 and the annotations.
type storedImage struct {
	blobSHA256  string
	mediaType   string
	annotations map[string]string
	layers      int
}

func readStored(t *testing.T, ref string) (storedImage, error) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		return storedImage{}, err
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) == 0 {
		t.Fatalf("layers of %s: %v (%d)", ref, err, len(layers))
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		t.Fatal(err)
	}
	mt, _ := layers[0].MediaType()
	return storedImage{blobSHA256: hex.EncodeToString(h.Sum(nil)), mediaType: string(mt), annotations: m.Annotations, layers: len(m.Layers)}, nil
}

// expectFailure checks a failed Result's reason and that the message mentions each of want.
func expectFailure(t *testing.T, res Result, reason string, want ...string) {
	t.Helper()
	if res.Error == "" {
		t.Fatalf("the run succeeded (%+v), want a %s failure", res, reason)
	}
	if res.Reason != reason {
		t.Errorf("reason %s (%s), want %s", res.Reason, res.Error, reason)
	}
	for _, w := range want {
		if !strings.Contains(strings.ToLower(res.Error), strings.ToLower(w)) {
			t.Errorf("message %q does not mention %q", res.Error, w)
		}
	}
}

func fileModTime(t *testing.T, p string) time.Time {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.ModTime()
}

func bytesReader(b []byte) io.ReadSeeker { return bytes.NewReader(b) }

// getProgress reads GET /progress from base.
func getProgress(t *testing.T, base string) Progress {
	t.Helper()
	resp, err := http.Get(base + PathProgress)
	if err != nil {
		t.Fatalf("GET %s: %v", PathProgress, err)
	}
	defer resp.Body.Close()
	var p Progress
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatalf("decode progress: %v", err)
	}
	return p
}
