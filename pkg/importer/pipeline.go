package importer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// bufferSize is the read-ahead of each pipeline stage; memory stays at a few of these
// whatever the size of the image.
const bufferSize = 1 << 20

// diskStream is a source turned into a disk: counted for progress, hashed for the
// checksums, unpacked from gz/xz, its format detected from the first bytes. Reading it
// yields the unpacked disk file; its final error is a checksum mismatch if there is one,
// so whatever consumes it can refuse to commit the data.
type diskStream struct {
	Info        ImageInfo
	Compression string

	src     *bufio.Reader // source bytes after counting and hashing
	out     *bufio.Reader // unpacked bytes
	checks  *checksummer
	release func()
	stored  int64
	ended   bool
}

// openDisk builds the pipeline on src and detects the format. It reads the first bytes
// only; nothing has been written anywhere when it fails.
func openDisk(src io.Reader, checksums map[string]string, t *Tracker) (*diskStream, error) {
	checks := newChecksummer(checksums)
	raw := bufio.NewReaderSize(checks.wrap(&countingReader{r: src, t: t}), bufferSize)
	unpacked, compression, release, err := unpack(raw)
	if err != nil {
		return nil, err
	}
	out := bufio.NewReaderSize(unpacked, bufferSize)
	head, err := out.Peek(detectBytes)
	if err != nil && !errors.Is(err, io.EOF) {
		release()
		return nil, err
	}
	info, err := DetectFormat(head)
	if err != nil {
		release()
		if len(head) == 0 && compression != "" {
			return nil, newError(ReasonUnsupportedFormat, false, "the %s stream holds nothing, not a disk image", compression)
		}
		return nil, err
	}
	return &diskStream{Info: info, Compression: compression, src: raw, out: out, checks: checks, release: release}, nil
}

func (d *diskStream) Read(p []byte) (int, error) {
	if d.ended {
		return 0, io.EOF
	}
	n, err := d.out.Read(p)
	d.stored += int64(n)
	if err != io.EOF {
		return n, err
	}
	// The checksums cover the whole source, including anything after the compressed
	// stream that the decompressor did not need.
	if _, derr := io.Copy(io.Discard, d.src); derr != nil {
		return n, derr
	}
	if verr := d.checks.verify(); verr != nil {
		return n, verr
	}
	d.ended = true
	return n, io.EOF
}

// Close releases the decompressor.
func (d *diskStream) Close() { d.release() }

// StoredBytes is the number of unpacked bytes read so far (all of them after EOF).
func (d *diskStream) StoredBytes() int64 { return d.stored }

// VirtualSize is the guest-visible size: from the header, or the byte count for raw/iso.
func (d *diskStream) VirtualSize() int64 {
	if d.Info.VirtualSize > 0 {
		return d.Info.VirtualSize
	}
	return d.stored
}

// source is an opened source: its bytes, their number when known (for progress, and for
// the size check before writing a volume), and what a DVCR manifest says of them.
type source struct {
	io.ReadCloser
	total       int64 // -1: unknown
	annotations map[string]string
}

// openSource opens the configured source (not upload, not blank).
func openSource(ctx context.Context, cfg Config) (*source, error) {
	switch cfg.SourceType {
	case SourceHTTP:
		s, err := openHTTP(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return &source{ReadCloser: s, total: s.Total()}, nil
	case SourceRegistry, SourceDVCR:
		var client *registryClient
		var err error
		if cfg.SourceType == SourceDVCR {
			client, err = newDVCRClient(cfg)
		} else {
			client, err = newSourceRegistryClient(cfg)
		}
		if err != nil {
			return nil, err
		}
		d, err := openImageDisk(ctx, client, cfg.SourceURL)
		if err != nil {
			return nil, err
		}
		rc := readCloser{Reader: &sourceErrorReader{r: d.rc, what: "read image " + cfg.SourceURL}, Closer: d.rc}
		return &source{ReadCloser: rc, total: d.size, annotations: d.annotations}, nil
	case SourceVolume:
		f, size, err := openVolume(cfg.SourceURL, os.O_RDONLY)
		if err != nil {
			return nil, newError(ReasonSourceNotFound, false, "open source volume: %v", err)
		}
		return &source{ReadCloser: readCloser{Reader: &sourceErrorReader{r: f, what: "read source volume"}, Closer: f}, total: size}, nil
	}
	return nil, newError(ReasonConfiguration, false, "source type %q cannot be read here", cfg.SourceType)
}

// sourceErrorReader classifies unexplained read failures of a source as retryable source
// errors (a registry connection reset, an I/O error on a volume).
type sourceErrorReader struct {
	r    io.Reader
	what string
}

func (s *sourceErrorReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = withReason(ReasonSourceError, true, fmt.Errorf("%s: %w", s.what, err))
	}
	return n, err
}

// openVolume opens a file or block device and finds its size by seeking to the end, which
// works for both (stat reports 0 for block devices).
func openVolume(path string, flag int) (*os.File, int64, error) {
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, 0, err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("size of %s: %w", path, err)
	}
	return f, size, nil
}

// importToDVCR streams a source into the DVCR image cfg.DestImage.
func importToDVCR(ctx context.Context, cfg Config, t *Tracker, src io.Reader) (Result, error) {
	client, err := newDVCRClient(cfg)
	if err != nil {
		return Result{}, err
	}
	ds, err := openDisk(src, cfg.Checksums, t)
	if err != nil {
		return Result{}, err
	}
	defer ds.Close()
	p := &pusher{client: client, cfg: cfg}
	digest, err := p.pushDisk(ctx, cfg.DestImage, ds, func(stored int64) map[string]string {
		return diskAnnotations(ds.Info.Format, ds.VirtualSize(), stored)
	})
	if err != nil {
		return Result{}, err
	}
	return Result{
		Format:        ds.Info.Format,
		StoredBytes:   ds.StoredBytes(),
		UnpackedBytes: ds.VirtualSize(),
		CDROM:         ds.Info.CDROM,
		Digest:        digest,
	}, nil
}

// annotatedSize reads a size annotation of a DVCR manifest, or -1.
func annotatedSize(annotations map[string]string, key string) int64 {
	if v, ok := annotations[key]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return -1
}
