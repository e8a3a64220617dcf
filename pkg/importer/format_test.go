package importer

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"
)

// TestDetectFormatOfQemuImages reads headers of images qemu-img made, of an odd size so a
// wrong offset or byte order shows.
func TestDetectFormatOfQemuImages(t *testing.T) {
	needTool(t, "qemu-img")
	const size = 5<<20 + 512
	dir := t.TempDir()
	for _, format := range []string{FormatQCOW2, FormatVMDK, FormatVDI} {
		p := filepath.Join(dir, "d."+format)
		run(t, "qemu-img", "create", "-f", format, p, "5243392")
		head := readFile(t, p)
		info, err := DetectFormat(head[:min(len(head), detectBytes)])
		if err != nil || info.Format != format || info.VirtualSize != size {
			t.Errorf("%s: %+v %v, want virtual size %d", format, info, err, size)
		}
	}
}

func TestDetectFormatRefusals(t *testing.T) {
	backed := make([]byte, 64)
	copy(backed, "QFI\xfb")
	binary.BigEndian.PutUint64(backed[8:], 72)
	bootSector := make([]byte, 512)
	copy(bootSector, "\xeb\x63\x90")
	bootSector[510], bootSector[511] = 0x55, 0xaa
	cases := []struct {
		name   string
		head   []byte
		reason string // "" for success
		format string
	}{
		{name: "html", head: []byte("<html>\n<body>404</body>\n</html>\n"), reason: ReasonUnsupportedFormat},
		{name: "utf-8 text cut mid-character", head: append(bytes.Repeat([]byte("é"), 2047), "aé"...), reason: ReasonUnsupportedFormat},
		{name: "qcow2 with a backing file", head: backed, reason: ReasonUnsupportedFormat},
		{name: "zstd", head: []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0}, reason: ReasonUnsupportedFormat},
		{name: "empty", head: nil, reason: ReasonUnsupportedFormat},
		{name: "boot sector", head: bootSector, format: FormatRaw},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info, err := DetectFormat(tc.head)
			if tc.reason == "" {
				if err != nil || info.Format != tc.format {
					t.Errorf("%+v %v, want %s", info, err, tc.format)
				}
				return
			}
			if ReasonOf(err) != tc.reason {
				t.Errorf("%+v %v, want reason %s", info, err, tc.reason)
			}
		})
	}
}

func TestLogsHidePasswords(t *testing.T) {
	cfg := Config{SourceType: SourceHTTP, SourceURL: "https://alice:s3cret@images.example.com/disk.qcow2"}
	if s := cfg.String(); strings.Contains(s, "s3cret") || !strings.Contains(s, "alice") {
		t.Errorf("the logged configuration is %q", s)
	}
}
