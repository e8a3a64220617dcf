package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// isoImage is the start of an ISO9660 image with a volume id.
func isoImage(label string) []byte {
	img := make([]byte, 17*2048)
	pvd := img[16*2048:]
	pvd[0] = 1
	copy(pvd[1:6], "CD001")
	copy(pvd[40:72], label+"                                ")
	return img
}

// fatImage is a FAT boot sector with a label, FAT16 or FAT32 layout.
func fatImage(label string, fat32 bool) []byte {
	img := make([]byte, 4096)
	sig, at, kind := 38, 43, "FAT16   "
	if fat32 {
		sig, at, kind = 66, 71, "FAT32   "
	} else {
		binary.LittleEndian.PutUint16(img[22:24], 32)
	}
	img[sig] = 0x29
	copy(img[at:at+11], label+"           ")
	copy(img[at+11:at+19], kind)
	img[510], img[511] = 0x55, 0xaa
	return img
}

func TestFindSeedReadsISOAndFATLabels(t *testing.T) {
	sys, dev := t.TempDir(), t.TempDir()
	devices := map[string][]byte{
		"vda":  fatImage("GUEST", false), // the guest's own boot disk
		"vdb":  fatImage("CIDATA", true),
		"sr0":  isoImage("cidata"),
		"sr1":  nil, // a drive without a medium: no device node to open
		"loop": isoImage("cidata"),
	}
	for name, img := range devices {
		if err := os.MkdirAll(filepath.Join(sys, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if img != nil {
			if err := os.WriteFile(filepath.Join(dev, name), img, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// sr0 sorts first.
	if d, ty := FindSeed(sys, dev); d != filepath.Join(dev, "sr0") || ty != "iso9660" {
		t.Errorf("FindSeed = %q %q, want sr0 iso9660", d, ty)
	}
	os.Remove(filepath.Join(dev, "sr0"))
	if d, ty := FindSeed(sys, dev); d != filepath.Join(dev, "vdb") || ty != "vfat" {
		t.Errorf("FindSeed = %q %q, want vdb vfat", d, ty)
	}
	os.Remove(filepath.Join(dev, "vdb"))
	if d, _ := FindSeed(sys, dev); d != "" {
		t.Errorf("FindSeed found %q, though only the boot disk and a loop device remain", d)
	}
}
