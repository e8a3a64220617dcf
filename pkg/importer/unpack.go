package importer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/ulikunitz/xz"
)

const (
	compressionGzip = "gzip"
	compressionXZ   = "xz"
)

// useExternalXZ lets tests exercise the pure Go decoder.
var useExternalXZ = true

// compressionOf names the compression a stream starts with, or "".
func compressionOf(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return compressionGzip
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return compressionXZ
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	case bytes.HasPrefix(head, []byte("BZh")) && len(head) > 3 && head[3] >= '1' && head[3] <= '9':
		return "bzip2"
	}
	return ""
}

// unpack returns a reader of src's content with gz or xz compression removed (detected from
// the first bytes), the compression found ("" for none) and a function releasing what the
// decompressor holds. Decompression errors come out classified: a stream that ends early is
// Truncated, a damaged one Corrupt.
func unpack(src *bufio.Reader) (io.Reader, string, func(), error) {
	head, err := src.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, "", nil, err
	}
	switch compressionOf(head) {
	case compressionGzip:
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, "", nil, classifyDecompressError(compressionGzip, err)
		}
		return &classifyingReader{r: zr, kind: compressionGzip}, compressionGzip, func() { _ = zr.Close() }, nil
	case compressionXZ:
		if useExternalXZ {
			if path, err := exec.LookPath("xz"); err == nil {
				r, err := startExternalXZ(path, src)
				if err == nil {
					return r, compressionXZ, r.close, nil
				}
			}
		}
		zr, err := xz.NewReader(src)
		if err != nil {
			return nil, "", nil, classifyDecompressError(compressionXZ, err)
		}
		return &classifyingReader{r: zr, kind: compressionXZ}, compressionXZ, func() {}, nil
	}
	return src, "", func() {}, nil
}

// classifyingReader turns decompressor errors into Truncated or Corrupt.
type classifyingReader struct {
	r    io.Reader
	kind string
}

func (c *classifyingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		err = classifyDecompressError(c.kind, err)
	}
	return n, err
}

func classifyDecompressError(kind string, err error) error {
	var ie *Error
	switch {
	case errors.As(err, &ie):
		// The source's own failure, already classified, reached us through the decompressor.
		return err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return newError(ReasonTruncated, false, "the %s stream ends early: the file is truncated (an incomplete download or upload?)", kind)
	default:
		return newError(ReasonCorrupt, false, "the %s stream is corrupt: %v", kind, err)
	}
}

// externalXZ decompresses through `xz -dc`, several times faster than the Go decoder.
type externalXZ struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	stderr bytes.Buffer
	in     *recordingReader
	once   sync.Once
	err    error
}

func startExternalXZ(path string, src io.Reader) (*externalXZ, error) {
	x := &externalXZ{in: &recordingReader{r: src}}
	x.cmd = exec.Command(path, "-dc")
	x.cmd.Stdin = x.in
	x.cmd.Stderr = &x.stderr
	// When the pipeline gives up early, xz is killed while the goroutine feeding its stdin
	// may still be blocked on the source; do not let Wait hang on it.
	x.cmd.WaitDelay = 2 * time.Second
	out, err := x.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("xz stdout: %w", err)
	}
	x.stdout = out
	if err := x.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start xz: %w", err)
	}
	return x, nil
}

func (x *externalXZ) Read(p []byte) (int, error) {
	n, err := x.stdout.Read(p)
	if err == io.EOF {
		if werr := x.wait(); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// wait reaps xz and explains its failure: the source's own error first (xz only saw its
// input end), then xz's message.
func (x *externalXZ) wait() error {
	x.once.Do(func() {
		err := x.cmd.Wait()
		if srcErr := x.in.failure(); srcErr != nil {
			x.err = srcErr
			return
		}
		if err == nil {
			return
		}
		msg := strings.TrimSpace(x.stderr.String())
		if strings.Contains(msg, "Unexpected end of input") {
			x.err = classifyDecompressError(compressionXZ, io.ErrUnexpectedEOF)
			return
		}
		x.err = classifyDecompressError(compressionXZ, fmt.Errorf("%s", msg))
	})
	return x.err
}

func (x *externalXZ) close() {
	if x.cmd.ProcessState == nil && x.cmd.Process != nil {
		_ = x.cmd.Process.Kill()
	}
	_ = x.wait()
}

// recordingReader remembers the first non-EOF error of r.
type recordingReader struct {
	r   io.Reader
	mu  sync.Mutex
	err error
}

func (r *recordingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.mu.Unlock()
	}
	return n, err
}

func (r *recordingReader) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}
