package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// seedLabel is the volume label of a NoCloud drive (vfat labels are upper case).
const seedLabel = "cidata"

// FindSeed returns the block device (under devDir) whose file system is labelled cidata, and
// that file system's type for mount -t, or "" when there is none. It reads the labels itself:
// busybox has no blkid, and its findfs takes a noticeable time per call under TCG.
func FindSeed(sysBlockDir, devDir string) (dev, fstype string) {
	entries, err := os.ReadDir(sysBlockDir)
	if err != nil {
		return "", ""
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if n := e.Name(); !strings.HasPrefix(n, "loop") && !strings.HasPrefix(n, "ram") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		path := filepath.Join(devDir, n)
		f, err := os.Open(path)
		if err != nil {
			continue // e.g. a CD-ROM drive without a medium
		}
		label, t := probeLabel(f)
		f.Close()
		if strings.EqualFold(label, seedLabel) {
			return path, t
		}
	}
	return "", ""
}

// probeLabel reads the volume label of an ISO9660 or FAT file system.
func probeLabel(r io.ReaderAt) (label, fstype string) {
	// ISO9660: the primary volume descriptor is sector 16; its volume id is at byte 40.
	pvd := make([]byte, 72)
	if _, err := r.ReadAt(pvd, 16*2048); err == nil && pvd[0] == 1 && string(pvd[1:6]) == "CD001" {
		return strings.TrimRight(string(pvd[40:72]), " \x00"), "iso9660"
	}
	boot := make([]byte, 512)
	if _, err := r.ReadAt(boot, 0); err != nil || boot[510] != 0x55 || boot[511] != 0xaa {
		return "", ""
	}
	// FAT: FAT32 has no 16-bit FAT size and keeps its extended boot record further on.
	sig, at := 38, 43
	if binary.LittleEndian.Uint16(boot[22:24]) == 0 {
		sig, at = 66, 71
	}
	if boot[sig] != 0x29 || !bytes.HasPrefix(boot[at+11:at+19], []byte("FAT")) {
		return "", ""
	}
	return strings.TrimRight(string(boot[at:at+11]), " \x00"), "vfat"
}
