package platform

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// diskSize is the virtual size of the fixture disks: small enough to move quickly, large
// enough to span many chunks and holes.
const diskSize = 32 << 20

// fixtureSet is the set of image files the tests serve, made from one raw disk whose sha256
// every converted copy must reproduce.
type fixtureSet struct {
	dir string
	// rawSHA256 is the sha256 of the raw disk: what a volume must hold after a fill.
	rawSHA256 string
	// sha256 of each file as served.
	sums map[string]string

	mu    sync.Mutex
	flaky map[string]bool // names that already failed once
}

// makeFixtures writes disk images of every supported format (and broken ones) into dir.
func makeFixtures(dir string) (*fixtureSet, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f := &fixtureSet{dir: dir, sums: map[string]string{}, flaky: map[string]bool{}}
	raw := filepath.Join(dir, "disk.raw")
	if err := writeRawDisk(raw); err != nil {
		return nil, err
	}
	steps := [][]string{
		{"qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, filepath.Join(dir, "disk.qcow2")},
		{"qemu-img", "convert", "-f", "raw", "-O", "vmdk", raw, filepath.Join(dir, "disk.vmdk")},
		{"qemu-img", "convert", "-f", "raw", "-O", "vdi", raw, filepath.Join(dir, "disk.vdi")},
		{"sh", "-c", "xz -T1 -1 -c " + raw + " > " + filepath.Join(dir, "disk.raw.xz")},
	}
	iso := filepath.Join(dir, "iso-root")
	if err := os.MkdirAll(iso, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(iso, "README.TXT"), []byte("an installer would be here\n"), 0o644); err != nil {
		return nil, err
	}
	steps = append(steps, []string{"genisoimage", "-quiet", "-V", "E2E", "-o", filepath.Join(dir, "cd.iso"), iso})
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%s: %v\n%s", strings.Join(s, " "), err, out)
		}
	}
	// The name says nothing: the format comes from the content.
	if err := copyFile(filepath.Join(dir, "disk.qcow2"), filepath.Join(dir, "image-without-extension")); err != nil {
		return nil, err
	}
	if err := gzipFile(filepath.Join(dir, "disk.qcow2"), filepath.Join(dir, "disk.qcow2.gz")); err != nil {
		return nil, err
	}
	// A gzip stream cut in the middle, and a text file served as if it were an image.
	gz, err := os.ReadFile(filepath.Join(dir, "disk.qcow2.gz"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "truncated.qcow2.gz"), gz[:len(gz)/2], 0o644); err != nil {
		return nil, err
	}
	text := strings.Repeat("<html><body>This is not the image you are looking for.</body></html>\n", 200)
	if err := os.WriteFile(filepath.Join(dir, "page.img"), []byte(text), 0o644); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			if f.sums[e.Name()], err = fileSHA256(filepath.Join(dir, e.Name())); err != nil {
				return nil, err
			}
		}
	}
	f.rawSHA256 = f.sums["disk.raw"]
	return f, nil
}

// writeRawDisk writes a disk with random data at its start and in its middle and holes
// elsewhere, so that conversions and sparse copies are both exercised.
func writeRawDisk(path string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	rnd := rand.New(rand.NewSource(7))
	for _, off := range []int64{0, 13 << 20, diskSize - (1 << 20)} {
		if _, err := out.Seek(off, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.CopyN(out, rnd, 1<<20); err != nil {
			return err
		}
	}
	return out.Truncate(diskSize)
}

// handler serves the fixtures; /flaky/NAME answers 503 the first time, as an overloaded server.
func (f *fixtureSet) handler() http.Handler {
	files := http.FileServer(http.Dir(f.dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name, ok := strings.CutPrefix(r.URL.Path, "/flaky/"); ok {
			f.mu.Lock()
			failed := f.flaky[name]
			f.flaky[name] = true
			f.mu.Unlock()
			if !failed {
				http.Error(w, "try again later", http.StatusServiceUnavailable)
				return
			}
			r.URL.Path = "/" + name
		}
		if strings.HasPrefix(r.URL.Path, "/redirect/") {
			http.Redirect(w, r, "/"+strings.TrimPrefix(r.URL.Path, "/redirect/"), http.StatusFound)
			return
		}
		files.ServeHTTP(w, r)
	})
}

func (f *fixtureSet) path(name string) string { return filepath.Join(f.dir, name) }

func fileSHA256(path string) (string, error) {
	in, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer in.Close()
	h := sha256.New()
	if _, err := io.Copy(h, in); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// prefixSHA256 hashes the first n bytes of a file: a volume may be larger than the disk.
func prefixSHA256(path string, n int64) (string, error) {
	in, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer in.Close()
	h := sha256.New()
	if _, err := io.CopyN(h, in, n); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o644)
}

func gzipFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	defer out.Close()
	zw := gzip.NewWriter(out)
	if _, err := io.Copy(zw, in); err != nil {
		return err
	}
	return zw.Close()
}
