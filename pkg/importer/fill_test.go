package importer

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// volume makes a file standing in for a PVC of size bytes, full of old data (0xff), as a
// reused volume would be.
func volume(t *testing.T, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pv.img")
	writeFile(t, p, bytes.Repeat([]byte{0xff}, int(size)))
	return p
}

// imported puts file into a fresh DVCR image and returns its reference.
func imported(t *testing.T, host, file string) string {
	t.Helper()
	cfg := testConfig(host)
	cfg.SourceType, cfg.SourceURL = SourceVolume, file
	if res := runMode(t, ModeImport, cfg); res.Error != "" {
		t.Fatalf("import %s: %s", file, res.Error)
	}
	return cfg.DestImage
}

// TestFillFromDVCR writes every format from DVCR onto a volume larger than the disk and
// compares the volume with what qemu-img makes of the image, followed by zeros.
func TestFillFromDVCR(t *testing.T) {
	f := getFixtures(t)
	host := dvcrServer(t, nil)
	for _, format := range []string{FormatRaw, FormatQCOW2, FormatVMDK, FormatVDI, FormatISO} {
		t.Run(format, func(t *testing.T) {
			var file string
			if format == FormatISO {
				file = f.iso(t)
			} else {
				file = f.image(t, format)
			}
			ref := imported(t, host, file)
			want := readFile(t, file)
			if format != FormatISO {
				want = rawOf(t, file, format)
			}
			dest := volume(t, int64(len(want))+3<<20)

			cfg := testConfig(host)
			cfg.SourceType, cfg.SourceURL, cfg.DestPath, cfg.ScratchDir = SourceDVCR, ref, dest, t.TempDir()
			res := runMode(t, ModeFill, cfg)
			if res.Error != "" {
				t.Fatalf("fill: %s (%s)", res.Error, res.Reason)
			}
			if res.Format != format || res.UnpackedBytes != int64(len(want)) || res.CDROM != (format == FormatISO) {
				t.Errorf("result %+v, want %s of %d bytes", res, format, len(want))
			}
			got := readFile(t, dest)
			if sha256Hex(got[:len(want)]) != sha256Hex(want) {
				t.Errorf("the volume's first %d bytes differ from qemu-img convert -O raw of the image", len(want))
			}
			if bytes.Count(got[len(want):], []byte{0}) != len(got)-len(want) {
				t.Errorf("the volume's tail after the disk still holds old data")
			}
			if entries, _ := os.ReadDir(cfg.ScratchDir); len(entries) != 0 {
				t.Errorf("scratch files left behind: %v", entries)
			}
			var st syscall.Stat_t
			if err := syscall.Stat(dest, &st); err == nil && st.Blocks*512 >= int64(len(got)) {
				t.Errorf("the volume file uses %d bytes of %d: zero blocks were written, not skipped", st.Blocks*512, len(got))
			}
		})
	}
}

func TestFillTargetTooSmall(t *testing.T) {
	f := getFixtures(t)
	host := dvcrServer(t, nil)
	small := int64(2 << 20)
	for _, format := range []string{FormatRaw, FormatQCOW2} {
		t.Run(format, func(t *testing.T) {
			ref := imported(t, host, f.image(t, format))
			cfg := testConfig(host)
			cfg.SourceType, cfg.SourceURL, cfg.DestPath = SourceDVCR, ref, volume(t, small)
			expectFailure(t, runMode(t, ModeFill, cfg), ReasonTargetTooSmall, strconv.Itoa(diskSize), strconv.FormatInt(small, 10))
		})
	}
	// A gzip stream says nothing of its size: the check happens while writing, and stops at
	// the volume's end rather than reading the rest of the source.
	web := serveFiles(t, f.dir)
	cfg := testConfig(host)
	cfg.SourceType, cfg.SourceURL, cfg.DestPath = SourceHTTP, web.URL+"/"+filepath.Base(gzipFile(t, f.raw)), volume(t, small)
	expectFailure(t, runMode(t, ModeFill, cfg), ReasonTargetTooSmall, "more than", strconv.FormatInt(small, 10))
}

// TestFillCloneAndBlank: a volume from another volume, and a blank volume.
func TestFillCloneAndBlank(t *testing.T) {
	f := getFixtures(t)
	dest := volume(t, diskSize)
	cfg := testConfig("unused.invalid")
	cfg.SourceType, cfg.SourceURL, cfg.DestPath = SourceVolume, f.raw, dest
	if res := runMode(t, ModeFill, cfg); res.Error != "" || res.Format != FormatRaw {
		t.Fatalf("clone: %+v", res)
	}
	if fileSHA256(t, dest) != f.rawSHA256 {
		t.Errorf("the cloned volume differs from its source")
	}

	blank := testConfig("unused.invalid")
	blank.SourceType, blank.DestPath = SourceBlank, volume(t, 5<<20)
	if res := runMode(t, ModeFill, blank); res.Error != "" || res.UnpackedBytes != 5<<20 {
		t.Fatalf("blank: %+v", res)
	}
	blank.DestPath = filepath.Join(t.TempDir(), "absent")
	expectFailure(t, runMode(t, ModeFill, blank), ReasonDestinationError)
}
