// Package data holds the data path benchmarks that are Go benchmarks: the decompressors of
// the importer against their peers. bench/data.sh runs them with the files it made:
//
//	DATA_GZ=corpus.gz DATA_XZ=corpus.xz go test ./bench/data -run '^$' -bench . -benchtime 3x
//
// Each op decompresses the whole file from memory to nowhere; MB/s is per unpacked byte.
// The readers are set up the way pkg/importer's pipeline sets them up (unpack.go,
// pipeline.go): a 1 MiB bufio.Reader on the compressed bytes, klauspost's gzip.NewReader
// with default options or `xz -dc` as a child process fed from a Go reader, and a 1 MiB
// bufio.Reader on the unpacked bytes.
package data

import (
	"bufio"
	"bytes"
	stdgzip "compress/gzip"
	"io"
	"os"
	"os/exec"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/ulikunitz/xz"
)

const bufferSize = 1 << 20 // pkg/importer's bufferSize

// load reads the compressed file named by env and its unpacked size, or skips.
func load(b *testing.B, env string, unpackedSize func([]byte) int64) ([]byte, int64) {
	b.Helper()
	path := os.Getenv(env)
	if path == "" {
		b.Skipf("%s is not set: bench/data.sh makes the files", env)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return data, unpackedSize(data)
}

func drain(b *testing.B, r io.Reader, want int64) {
	b.Helper()
	n, err := io.Copy(io.Discard, bufio.NewReaderSize(r, bufferSize))
	if err != nil {
		b.Fatal(err)
	}
	if n != want {
		b.Fatalf("unpacked %d bytes, want %d", n, want)
	}
}

func gunzippedSize(data []byte) int64 {
	zr, err := stdgzip.NewReader(bytes.NewReader(data))
	if err != nil {
		panic(err)
	}
	n, err := io.Copy(io.Discard, zr)
	if err != nil {
		panic(err)
	}
	return n
}

// BenchmarkGunzip: klauspost (the importer's gz path) against Go's compress/gzip.
func BenchmarkGunzip(b *testing.B) {
	data, size := load(b, "DATA_GZ", gunzippedSize)
	b.Run("klauspost", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			zr, err := kgzip.NewReader(bufio.NewReaderSize(bytes.NewReader(data), bufferSize))
			if err != nil {
				b.Fatal(err)
			}
			drain(b, zr, size)
			_ = zr.Close()
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			zr, err := stdgzip.NewReader(bufio.NewReaderSize(bytes.NewReader(data), bufferSize))
			if err != nil {
				b.Fatal(err)
			}
			drain(b, zr, size)
			_ = zr.Close()
		}
	})
}

func unxzSize(data []byte) int64 {
	cmd := exec.Command("xz", "-dc")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.StdoutPipe()
	if err != nil {
		panic(err)
	}
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	n, err := io.Copy(io.Discard, out)
	if err != nil {
		panic(err)
	}
	if err := cmd.Wait(); err != nil {
		panic(err)
	}
	return n
}

// BenchmarkUnxz: the importer's xz path (`xz -dc` fed through a pipe from Go, read back
// through a pipe), the pure Go decoder it falls back to without xz, and `xz -dc` alone
// reading the file and writing to /dev/null (the peer, in the same process tree).
func BenchmarkUnxz(b *testing.B) {
	if _, err := exec.LookPath("xz"); err != nil {
		b.Skip("xz is not installed")
	}
	data, size := load(b, "DATA_XZ", unxzSize)
	b.Run("importer-external", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			cmd := exec.Command("xz", "-dc")
			cmd.Stdin = bufio.NewReaderSize(bytes.NewReader(data), bufferSize)
			out, err := cmd.StdoutPipe()
			if err != nil {
				b.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			drain(b, out, size)
			if err := cmd.Wait(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-ulikunitz", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			zr, err := xz.NewReader(bufio.NewReaderSize(bytes.NewReader(data), bufferSize))
			if err != nil {
				b.Fatal(err)
			}
			drain(b, zr, size)
		}
	})
	b.Run("peer-xz-d", func(b *testing.B) {
		devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer devnull.Close()
		b.SetBytes(size)
		for b.Loop() {
			cmd := exec.Command("xz", "-dc", os.Getenv("DATA_XZ"))
			cmd.Stdout = devnull
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
