package importer

import (
	"bytes"
	"encoding/binary"
	"unicode"
	"unicode/utf8"
)

// Disk formats, as Result.Format and dvcr.AnnotationFormat spell them.
const (
	FormatQCOW2 = "qcow2"
	FormatVMDK  = "vmdk"
	FormatVDI   = "vdi"
	FormatISO   = "iso"
	FormatRaw   = "raw"
)

// detectBytes is how much of the start of a disk DetectFormat needs: the ISO 9660 primary
// volume descriptor's "CD001" sits at 0x8001, after 32 KiB of system area.
const detectBytes = 0x8001 + 5

// textProbeBytes is how much of the start decides whether the content is text.
const textProbeBytes = 4096

// ImageInfo is what the start of a disk tells about it.
type ImageInfo struct {
	Format string
	// VirtualSize is the size of the disk the guest sees; for raw and iso it is the number
	// of bytes, which DetectFormat cannot know (0) and the pipeline fills in at the end.
	VirtualSize int64
	CDROM       bool
}

// needsConversion says whether the format must go through qemu-img to become a raw volume.
func (i ImageInfo) needsConversion() bool {
	return i.Format != FormatRaw && i.Format != FormatISO
}

// DetectFormat identifies a disk from its first bytes (at least detectBytes of them unless
// the content is shorter). It looks only at content, never names: users' URLs and uploads
// often lie. Content that is not a disk image at all (text, empty) is an UnsupportedFormat
// error.
func DetectFormat(head []byte) (ImageInfo, error) {
	switch {
	case len(head) == 0:
		return ImageInfo{}, newError(ReasonUnsupportedFormat, false, "the source is empty, not a disk image")
	case bytes.HasPrefix(head, []byte("QFI\xfb")):
		return detectQCOW2(head)
	case bytes.HasPrefix(head, []byte("KDMV")):
		if len(head) < 20 {
			return ImageInfo{}, newError(ReasonUnsupportedFormat, false, "the vmdk header is truncated")
		}
		sectors := binary.LittleEndian.Uint64(head[12:20])
		return ImageInfo{Format: FormatVMDK, VirtualSize: int64(sectors) * 512}, nil
	case len(head) >= 0x178 && binary.LittleEndian.Uint32(head[0x40:0x44]) == 0xbeda107f:
		return ImageInfo{Format: FormatVDI, VirtualSize: int64(binary.LittleEndian.Uint64(head[0x170:0x178]))}, nil
	case len(head) >= detectBytes && string(head[0x8001:0x8006]) == "CD001":
		return ImageInfo{Format: FormatISO, CDROM: true}, nil
	}
	if kind := compressionOf(head); kind != "" {
		// Reached only for compression we do not unpack (gz and xz were unpacked before).
		return ImageInfo{}, newError(ReasonUnsupportedFormat, false, "the source is compressed with %s; only gz and xz are supported", kind)
	}
	if looksLikeText(head) {
		return ImageInfo{}, newError(ReasonUnsupportedFormat, false,
			"the source looks like a text file (%q...), not a disk image; check the URL or the uploaded file", preview(head))
	}
	return ImageInfo{Format: FormatRaw}, nil
}

func detectQCOW2(head []byte) (ImageInfo, error) {
	if len(head) < 32 {
		return ImageInfo{}, newError(ReasonUnsupportedFormat, false, "the qcow2 header is truncated")
	}
	// A backing file would make qemu-img read a path chosen by the image's author from the
	// importer's filesystem; an image for the platform must be self-contained.
	if binary.BigEndian.Uint64(head[8:16]) != 0 {
		return ImageInfo{}, newError(ReasonUnsupportedFormat, false, "the qcow2 image refers to a backing file; flatten it first (qemu-img convert -O qcow2)")
	}
	return ImageInfo{Format: FormatQCOW2, VirtualSize: int64(binary.BigEndian.Uint64(head[24:32]))}, nil
}

// looksLikeText reports whether the first textProbeBytes are printable text: no NULs, valid
// UTF-8, and no control characters other than the usual whitespace. Disk images (even raw
// ones, with their boot sector and partition table) fail this within the first sector.
func looksLikeText(head []byte) bool {
	b := head[:min(len(head), textProbeBytes)]
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			// A multi-byte character cut by the probe window is still text.
			return len(b) < utf8.UTFMax && !utf8.FullRune(b)
		}
		switch {
		case r == '\n', r == '\r', r == '\t', r == '\f', r == '\v', r == 0x1b:
		case r == 0, unicode.IsControl(r):
			return false
		}
		b = b[size:]
	}
	return true
}

// preview returns the start of a text for an error message.
func preview(head []byte) string {
	b := head[:min(len(head), 40)]
	for !utf8.Valid(b) && len(b) > 0 {
		b = b[:len(b)-1]
	}
	return string(bytes.TrimSpace(b))
}
