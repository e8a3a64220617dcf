package dvcr

import (
	"fmt"
	"io"
	"syscall"
)

// DiskUsage is the space of the filesystem holding the storage, as df shows it.
type DiskUsage struct {
	Total, Used, Avail uint64
}

// StorageUsage reads the usage of the filesystem that holds dir.
func StorageUsage(dir string) (DiskUsage, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return DiskUsage{}, fmt.Errorf("read filesystem usage of %s: %w", dir, err)
	}
	bs := uint64(st.Bsize)
	return DiskUsage{
		Total: st.Blocks * bs,
		Used:  (st.Blocks - st.Bfree) * bs,
		Avail: st.Bavail * bs,
	}, nil
}

// UsePercent is df's Use%: used over what non-root users can have, rounded up.
func (u DiskUsage) UsePercent() int {
	d := u.Used + u.Avail
	if d == 0 {
		return 0
	}
	return int((u.Used*100 + d - 1) / d)
}

// FormatBytes renders n with one decimal in binary units (13.1GiB), as the seed shows.
func FormatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	v := float64(n)
	suffixes := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := -1
	for v >= unit && i < len(suffixes)-1 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f%s", v, suffixes[i])
}

// countByKind counts objects per repository kind.
func countByKind(objs []Object) map[string]int {
	n := map[string]int{}
	for _, o := range objs {
		n[o.Kind]++
	}
	return n
}

// WriteCheck prints the plan in the shape the documentation shows for "gc check".
func WriteCheck(w io.Writer, p *Plan, usage DiskUsage) error {
	ew := &errWriter{w: w}
	img, obj := countByKind(p.Images), countByKind(p.Objects)
	ew.printf("Found %d cvi, %d vi, %d vd manifests in registry\n", img[KindCVI], img[KindVI], img[KindVD])
	ew.printf("Found %d cvi, %d vi, %d vd resources in cluster\n", obj[KindCVI], obj[KindVI], obj[KindVD])
	ew.printf("%7s%9s%9s%9s\n", "Total", "Used", "Avail", "Use%")
	ew.printf("%7s%9s%9s%8d%%\n", FormatBytes(usage.Total), FormatBytes(usage.Used), FormatBytes(usage.Avail), usage.UsePercent())
	if len(p.Orphans) == 0 {
		ew.printf("No images eligible for cleanup.\n")
		return ew.err
	}
	ew.printf("Images eligible for cleanup:\n")
	writeObjectTable(ew, p.Orphans)
	return ew.err
}

// WriteRun prints what a run removed and how much space it freed.
func WriteRun(w io.Writer, r *Result, usage DiskUsage) error {
	ew := &errWriter{w: w}
	img, obj := countByKind(r.Images), countByKind(r.Objects)
	ew.printf("Found %d cvi, %d vi, %d vd manifests in registry\n", img[KindCVI], img[KindVI], img[KindVD])
	ew.printf("Found %d cvi, %d vi, %d vd resources in cluster\n", obj[KindCVI], obj[KindVI], obj[KindVD])
	if len(r.Orphans) == 0 {
		ew.printf("No images eligible for cleanup.\n")
	} else {
		ew.printf("Deleted images:\n")
		writeObjectTable(ew, r.Orphans)
	}
	ew.printf("Reclaimed %s (%d blobs)\n", FormatBytes(uint64(r.Freed)), r.Blobs)
	if r.KeptYoung > 0 {
		ew.printf("Kept %d unreferenced blobs younger than the grace period for the next run\n", r.KeptYoung)
	}
	ew.printf("%7s%9s%9s%9s\n", "Total", "Used", "Avail", "Use%")
	ew.printf("%7s%9s%9s%8d%%\n", FormatBytes(usage.Total), FormatBytes(usage.Used), FormatBytes(usage.Avail), usage.UsePercent())
	return ew.err
}

// writeObjectTable prints KIND/NAMESPACE/NAME rows. An object re-created under the same
// name leaves an older UID behind that looks like the live one here, so rows repeat only
// once per name.
func writeObjectTable(ew *errWriter, objs []Object) {
	ew.printf("%-23s%-21s%s\n", "KIND", "NAMESPACE", "NAME")
	var last Object
	for i, o := range objs {
		key := Object{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}
		if i > 0 && key == last {
			continue
		}
		last = key
		ew.printf("%-23s%-21s%s\n", KindName(o.Kind), o.Namespace, o.Name)
	}
}

// errWriter keeps the first write error so the printers stay readable.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, a ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, a...)
	}
}
