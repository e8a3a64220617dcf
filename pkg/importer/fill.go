package importer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/virtplane/virtplane/pkg/dvcr"
)

// fillVolume writes the configured source onto the volume cfg.DestPath as a raw disk.
func fillVolume(ctx context.Context, cfg Config, t *Tracker) (Result, error) {
	dest, destSize, err := openVolume(cfg.DestPath, os.O_RDWR)
	if err != nil {
		return Result{}, newError(ReasonDestinationError, false, "open the volume: %v", err)
	}
	defer dest.Close()
	st, err := dest.Stat()
	if err != nil {
		return Result{}, newError(ReasonDestinationError, false, "stat the volume: %v", err)
	}
	regular := st.Mode().IsRegular()

	if cfg.SourceType == SourceBlank {
		return Result{Format: FormatRaw, UnpackedBytes: destSize}, nil
	}

	src, err := openSource(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	defer src.Close()
	if src.total > 0 {
		t.SetTotal(src.total)
	}
	ds, err := openDisk(src, cfg.Checksums, t)
	if err != nil {
		return Result{}, err
	}
	defer ds.Close()

	// Refuse before writing anything when the size is known up front: from the header,
	// from DVCR's annotation, or from the source size when nothing is compressed.
	need := ds.Info.VirtualSize
	if need == 0 {
		need = annotatedSize(src.annotations, dvcr.AnnotationUnpackedSize)
	}
	if need <= 0 && ds.Compression == "" {
		need = src.total
	}
	if need > destSize {
		return Result{}, targetTooSmall(need, destSize)
	}

	if regular {
		// A fresh all-zero (sparse) file lets zero blocks be skipped and lets qemu-img know
		// the target needs no zeroing. The volume is being overwritten in full anyway.
		if err := zeroFile(dest, destSize); err != nil {
			return Result{}, newError(ReasonDestinationError, true, "prepare the volume: %v", err)
		}
	}

	if ds.Info.needsConversion() {
		if err := convertToVolume(ctx, cfg, t, ds, cfg.DestPath, regular); err != nil {
			return Result{}, err
		}
	} else if err := writeRaw(ctx, ds, dest, destSize, regular); err != nil {
		return Result{}, err
	}
	if err := dest.Sync(); err != nil {
		return Result{}, newError(ReasonDestinationError, true, "flush the volume: %v", err)
	}
	return Result{Format: ds.Info.Format, StoredBytes: ds.StoredBytes(), UnpackedBytes: ds.VirtualSize(), CDROM: ds.Info.CDROM}, nil
}

func targetTooSmall(need, have int64) error {
	return newError(ReasonTargetTooSmall, false, "the disk needs %d bytes but the volume has only %d bytes: make the volume larger", need, have)
}

func zeroFile(f *os.File, size int64) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	return f.Truncate(size)
}

// writeRaw copies a raw disk onto the volume in 1 MiB blocks. On a regular file, all-zero
// blocks are skipped (the file was zeroed sparse before), so an image with free space
// stays small on the node's disk; a block device gets every block, as it may hold old data.
func writeRaw(ctx context.Context, r io.Reader, dest *os.File, destSize int64, regular bool) error {
	buf := make([]byte, bufferSize)
	var off int64
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("write the volume: %w", err)
		}
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if off+int64(n) > destSize {
				// Stop here: reading the rest only to name the exact size could mean
				// downloading gigabytes for an error message.
				return newError(ReasonTargetTooSmall, false, "the disk needs more than the %d bytes of the volume: make the volume larger", destSize)
			}
			if !regular || !isZero(buf[:n]) {
				if _, werr := dest.WriteAt(buf[:n], off); werr != nil {
					if errors.Is(werr, syscall.ENOSPC) {
						return targetTooSmall(off+int64(n), off)
					}
					return newError(ReasonDestinationError, true, "write the volume at byte %d: %v", off, werr)
				}
			}
			off += int64(n)
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil
		default:
			return err
		}
	}
}

var zeroBlock = make([]byte, bufferSize)

func isZero(b []byte) bool { return bytes.Equal(b, zeroBlock[:len(b)]) }

// convertToVolume stores the image in the scratch directory (qemu-img needs random
// access to qcow2, vmdk and vdi) and converts it onto the volume.
func convertToVolume(ctx context.Context, cfg Config, t *Tracker, ds *diskStream, destPath string, targetZeroed bool) error {
	info := ds.Info
	dir := cfg.ScratchDir
	if dir == "" {
		dir = os.TempDir()
	}
	scratch, err := os.CreateTemp(dir, "disk-*."+info.Format)
	if err != nil {
		return newError(ReasonDestinationError, true, "create a scratch file in %s: %v", dir, err)
	}
	defer os.Remove(scratch.Name())
	_, err = io.CopyBuffer(scratch, ds, make([]byte, bufferSize))
	if cerr := scratch.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		var ie *Error
		if errors.As(err, &ie) {
			return err
		}
		if errors.Is(err, syscall.ENOSPC) {
			return newError(ReasonDestinationError, false, "the scratch space in %s is too small for the %s image: %v", dir, info.Format, err)
		}
		return newError(ReasonDestinationError, true, "write the scratch file: %v", err)
	}

	t.SetStage(StageConverting)
	args := []string{"convert", "-p", "-n", "-f", info.Format, "-O", "raw"}
	if targetZeroed {
		args = append(args, "--target-is-zero")
	}
	args = append(args, scratch.Name(), destPath)
	return runQemuImg(ctx, t, args...)
}

var qemuProgress = regexp.MustCompile(`\((\d+(?:\.\d+)?)/100%\)`)

// runQemuImg runs qemu-img, turning its -p output ("    (42.00/100%)\r") into progress.
func runQemuImg(ctx context.Context, t *Tracker, args ...string) error {
	path, err := exec.LookPath("qemu-img")
	if err != nil {
		return newError(ReasonConversionFailed, false, "qemu-img is not installed in the importer image: %v", err)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("qemu-img stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return newError(ReasonConversionFailed, true, "start qemu-img: %v", err)
	}
	sc := bufio.NewScanner(out)
	sc.Split(splitCROrLF)
	for sc.Scan() {
		if m := qemuProgress.FindStringSubmatch(sc.Text()); m != nil {
			if p, err := strconv.ParseFloat(m[1], 64); err == nil {
				t.SetConvertPercent(p)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("qemu-img %s: %w", args[0], ctx.Err())
		}
		return newError(ReasonConversionFailed, false, "qemu-img %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// splitCROrLF splits qemu-img's output at \r (progress redraws) as well as \n.
func splitCROrLF(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
