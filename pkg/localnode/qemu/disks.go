package qemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

var qcow2Magic = []byte{'Q', 'F', 'I', 0xfb}

// drive is a Disk as qemu sees it: its format and protocol resolved, its names chosen.
type drive struct {
	Disk
	// id is the device id: "ua-<Name>" for the caller's disks (as KubeVirt's aliases), a
	// fixed name for the drives this package makes, so they never collide.
	id string
	// node is the block node name of the format layer; node+"-file" is the protocol layer.
	node string
	// hostDevice is set for block devices (qemu's host_device driver instead of file).
	hostDevice bool
	// noBacking opens a qcow2 without the backing file its header names.
	noBacking bool
}

// resolveDisk checks the disk's file and fills in what qemu needs to know about it.
func resolveDisk(d Disk, id, node string) (drive, error) {
	dr := drive{Disk: d, id: id, node: node}
	fi, err := os.Stat(d.Path)
	if err != nil {
		return dr, fmt.Errorf("disk %s: %w", d.Name, err)
	}
	switch {
	case fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0:
		dr.hostDevice = true
	case !fi.Mode().IsRegular():
		return dr, fmt.Errorf("disk %s: %s is neither a file nor a block device", d.Name, d.Path)
	}
	if dr.Format == "" {
		qcow2, err := isQcow2(d.Path)
		if err != nil {
			return dr, fmt.Errorf("disk %s: detecting the format: %w", d.Name, err)
		}
		dr.Format, dr.noBacking = "raw", qcow2
		if qcow2 {
			dr.Format = "qcow2"
		}
	}
	if dr.CDROM {
		dr.ReadOnly = true
	}
	return dr, nil
}

// isQcow2 tells whether the file starts with qcow2's magic.
func isQcow2(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, len(qcow2Magic))
	if _, err := io.ReadFull(f, head); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return false, nil // shorter than a qcow2 header: raw
		}
		return false, err
	}
	return bytes.Equal(head, qcow2Magic), nil
}

// blockdev is the -blockdev JSON of the drive: JSON rather than key=value, so paths need no
// escaping.
func (d drive) blockdev() string {
	protocol := map[string]any{
		"driver":    "file",
		"node-name": d.node + "-file",
		"filename":  d.Path,
		"read-only": d.ReadOnly,
	}
	if d.hostDevice {
		protocol["driver"] = "host_device"
	}
	format := map[string]any{
		"driver":    d.Format,
		"node-name": d.node,
		"read-only": d.ReadOnly,
		"file":      protocol,
	}
	if !d.ReadOnly {
		// Let the guest's TRIM give space back to the host's sparse file.
		protocol["discard"], format["discard"] = "unmap", "unmap"
	}
	if d.noBacking {
		format["backing"] = nil
	}
	b, err := json.Marshal(format)
	if err != nil {
		panic(err) // maps of strings and bools always marshal
	}
	return string(b)
}

// device is the -device of the drive; cdrom is its index among the CD-ROMs, which places it
// on the IDE controller.
func (d drive) device(cdrom int) string {
	var b strings.Builder
	if d.CDROM {
		fmt.Fprintf(&b, "ide-cd,bus=ide.%d,unit=%d", cdrom/2, cdrom%2)
	} else {
		b.WriteString("virtio-blk-pci")
	}
	fmt.Fprintf(&b, ",drive=%s,id=%s", d.node, d.id)
	if d.BootOrder > 0 {
		b.WriteString(",bootindex=" + strconv.Itoa(d.BootOrder))
	}
	if d.Serial != "" {
		b.WriteString(",serial=" + optValue(d.Serial))
	}
	return b.String()
}

// optValue escapes a value of qemu's key=value options: a comma is written twice.
func optValue(s string) string {
	return strings.ReplaceAll(s, ",", ",,")
}
