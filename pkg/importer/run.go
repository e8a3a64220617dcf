package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Run does one importer job in mode and returns its Result (Error set on failure). While it
// runs it serves GET PathProgress on ln (and, in upload mode, the upload URL); ln may be nil
// when nobody watches (tests of import and fill).
func Run(ctx context.Context, mode string, cfg Config, ln net.Listener) Result {
	cfg = cfg.withDefaults()
	if err := cfg.validate(mode); err != nil {
		return failureResult(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	stage := StageTransferring
	if mode == ModeUpload {
		stage = StageWaiting
	}
	tracker := NewTracker(stage)
	go tracker.Run(ctx, cfg.ProgressInterval)

	mux := http.NewServeMux()
	mux.Handle(PathProgress, tracker)

	var sink *uploadSink
	if mode == ModeUpload {
		sink = newUploadSink(ctx, cfg, tracker)
		h, err := newUploadHandler(sink, cfg.UploadToken)
		if err != nil {
			return failureResult(fmt.Errorf("set up the upload handler: %w", err))
		}
		mux.Handle(PathUpload+"/", h)
	}

	var srv *http.Server
	if ln != nil {
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Printf("serve %s: %v", ln.Addr(), err)
			}
		}()
		defer func() {
			// Let the handler that finished the upload send its answer before exiting.
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer scancel()
			_ = srv.Shutdown(sctx)
		}()
	}

	var res Result
	var err error
	switch mode {
	case ModeImport:
		res, err = runImport(ctx, cfg, tracker)
	case ModeFill:
		res, err = fillVolume(ctx, cfg, tracker)
	case ModeUpload:
		select {
		case <-sink.Done():
			res, err = sink.Outcome()
		case <-ctx.Done():
			err = fmt.Errorf("waiting for the upload: %w", ctx.Err())
		}
	}
	if err != nil {
		log.Printf("%s failed (%s): %v", mode, cfg, err)
		return failureResult(err)
	}
	tracker.SetStage(StageDone)
	log.Printf("%s done: format %s, %d bytes stored, virtual size %d", mode, res.Format, res.StoredBytes, res.UnpackedBytes)
	return res
}

func runImport(ctx context.Context, cfg Config, t *Tracker) (Result, error) {
	src, err := openSource(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	defer src.Close()
	if src.total > 0 {
		t.SetTotal(src.total)
	}
	return importToDVCR(ctx, cfg, t, src)
}

// WriteResult writes res as the termination message at path, creating its directory.
func WriteResult(path string, res Result) error {
	body, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	if err := os.WriteFile(path, body, 0o644); err != nil {
		return fmt.Errorf("write termination message %s: %w", path, err)
	}
	return nil
}
