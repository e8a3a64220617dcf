package data

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/virtplane/virtplane/pkg/importer"
)

// The importer in this process, for CPU profiles (go test -cpuprofile): bench/data.sh sets
// these when PROFILE=1, against its own DVCR and peer HTTP server.
//
//	DATA_SOURCE_URL   http(s) URL of the disk to import
//	DATA_DVCR         host:port of DVCR (plain HTTP), DATA_DVCR_TOKEN a token with push and pull
//	DATA_IMAGE        image the fill benchmark reads (written by a run of the import mode)
//	DATA_SCRATCH      scratch directory, DATA_VOLUME_SIZE size of the volume file to fill
func importerConfig(b *testing.B) importer.Config {
	b.Helper()
	if os.Getenv("DATA_SOURCE_URL") == "" || os.Getenv("DATA_DVCR") == "" {
		b.Skip("DATA_SOURCE_URL and DATA_DVCR are not set: bench/data.sh sets them with PROFILE=1")
	}
	return importer.Config{
		DVCRToken:              os.Getenv("DATA_DVCR_TOKEN"),
		DVCRInsecure:           true,
		ScratchDir:             os.Getenv("DATA_SCRATCH"),
		TerminationMessagePath: filepath.Join(b.TempDir(), "result"),
	}
}

func BenchmarkImporterImport(b *testing.B) {
	cfg := importerConfig(b)
	cfg.SourceType = importer.SourceHTTP
	cfg.SourceURL = os.Getenv("DATA_SOURCE_URL")
	i := 0
	for b.Loop() {
		i++
		cfg.DestImage = fmt.Sprintf("%s/bench/disk:profile-%d", os.Getenv("DATA_DVCR"), i)
		res := importer.Run(context.Background(), importer.ModeImport, cfg, nil)
		if res.Error != "" {
			b.Fatalf("%s: %s", res.Reason, res.Error)
		}
		b.SetBytes(res.StoredBytes)
	}
}

func BenchmarkImporterFill(b *testing.B) {
	cfg := importerConfig(b)
	size, err := strconv.ParseInt(os.Getenv("DATA_VOLUME_SIZE"), 10, 64)
	if err != nil {
		b.Fatalf("DATA_VOLUME_SIZE: %v", err)
	}
	cfg.SourceType = importer.SourceDVCR
	cfg.SourceURL = os.Getenv("DATA_IMAGE")
	cfg.DestPath = filepath.Join(cfg.ScratchDir, "volume.raw")
	defer os.Remove(cfg.DestPath)
	for b.Loop() {
		if err := os.Truncate(cfg.DestPath, 0); err != nil && !os.IsNotExist(err) {
			b.Fatal(err)
		}
		f, err := os.Create(cfg.DestPath)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			b.Fatal(err)
		}
		_ = f.Close()
		res := importer.Run(context.Background(), importer.ModeFill, cfg, nil)
		if res.Error != "" {
			b.Fatalf("%s: %s", res.Reason, res.Error)
		}
		b.SetBytes(res.StoredBytes)
	}
}
