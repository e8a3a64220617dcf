package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// uploadState is where the one upload a Pod takes stands.
type uploadState int

const (
	uploadIdle uploadState = iota
	uploadActive
	uploadFinished
)

// uploadSink feeds one upload, plain or tus, into the DVCR pipeline through a pipe: what a
// client sends goes straight into the blob upload, nothing is stored in between. Writes
// block until the pipeline took the bytes, so the offset a tus client is told is exactly
// what the pipeline has.
type uploadSink struct {
	ctx     context.Context
	cfg     Config
	tracker *Tracker

	mu      sync.Mutex
	state   uploadState
	kind    string // "plain" or "tus"
	pw      *io.PipeWriter
	offset  int64
	size    int64 // -1: deferred
	writeMu sync.Mutex

	// done is closed when the pipeline ended; result and err are set before.
	done   chan struct{}
	result Result
	err    error
}

func newUploadSink(ctx context.Context, cfg Config, t *Tracker) *uploadSink {
	return &uploadSink{ctx: ctx, cfg: cfg, tracker: t, done: make(chan struct{})}
}

// errUploadTaken answers a second upload.
var errUploadTaken = newError(ReasonUploadConflict, false,
	"an upload into this image was already started; an image takes one upload (resume it with tus HEAD and PATCH, or re-create the image)")

// begin claims the sink for an upload of size bytes (-1 when unknown) and starts the
// pipeline.
func (s *uploadSink) begin(kind string, size int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != uploadIdle {
		return errUploadTaken
	}
	s.state, s.kind, s.size = uploadActive, kind, size
	if size > 0 {
		s.tracker.SetTotal(size)
	}
	pr, pw := io.Pipe()
	s.pw = pw
	go func() {
		res, err := importToDVCR(s.ctx, s.cfg, s.tracker, pr)
		// Unblock a writer waiting on the pipe with the real cause.
		if err != nil {
			_ = pr.CloseWithError(err)
		} else {
			_ = pr.Close()
		}
		s.result, s.err = res, err
		close(s.done)
	}()
	return nil
}

// write appends p to the upload at offset; it fails when the pipeline has already failed.
func (s *uploadSink) write(p []byte) (int, error) {
	n, err := s.pw.Write(p)
	if n > 0 {
		s.tracker.SetStage(StageTransferring)
		s.mu.Lock()
		s.offset += int64(n)
		s.mu.Unlock()
	}
	return n, err
}

// copyFrom appends r to the upload. It tells apart the client's failure (readErr: the body
// ended early or the connection broke) from the pipeline's (writeErr).
func (s *uploadSink) copyFrom(r io.Reader) (n int64, readErr, writeErr error) {
	buf := make([]byte, 256<<10)
	for {
		m, rerr := r.Read(buf)
		if m > 0 {
			w, werr := s.write(buf[:m])
			n += int64(w)
			if werr != nil {
				return n, nil, werr
			}
		}
		if rerr == io.EOF {
			return n, nil, nil
		}
		if rerr != nil {
			return n, rerr, nil
		}
	}
}

// finish ends the input and waits for the pipeline: the image is written (manifest last)
// or the upload failed.
func (s *uploadSink) finish(cause error) (Result, error) {
	if cause != nil {
		_ = s.pw.CloseWithError(cause)
	} else {
		_ = s.pw.Close()
	}
	<-s.done
	s.mu.Lock()
	s.state = uploadFinished
	s.mu.Unlock()
	return s.result, s.err
}

// outcome waits for the pipeline after a failed write and returns its error.
func (s *uploadSink) outcome(fallback error) error {
	_ = s.pw.CloseWithError(fallback)
	<-s.done
	s.mu.Lock()
	s.state = uploadFinished
	s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	return fallback
}

// Done is closed when the upload ended, successfully or not.
func (s *uploadSink) Done() <-chan struct{} { return s.done }

// Outcome returns the result once Done is closed.
func (s *uploadSink) Outcome() (Result, error) { return s.result, s.err }

// uploadHandler serves PathUpload/<token>: tus requests (with a Tus-Resumable header, and
// OPTIONS) go to tusd, PUT and POST without it take the whole file as the body.
type uploadHandler struct {
	sink *uploadSink
	path string
	tus  http.Handler
}

func newUploadHandler(sink *uploadSink, token string) (*uploadHandler, error) {
	h := &uploadHandler{sink: sink, path: PathUpload + "/" + token}
	tus, err := newTusHandler(sink, token)
	if err != nil {
		return nil, err
	}
	h.tus = tus
	return h, nil
}

func (h *uploadHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.TrimSuffix(r.URL.Path, "/") != h.path {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Tus-Resumable") != "" || r.Method == http.MethodOptions || r.Method == http.MethodHead || r.Method == http.MethodPatch {
		h.tus.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		w.Header().Set("Allow", "PUT, POST, OPTIONS, HEAD, PATCH")
		http.Error(w, "method not allowed: upload the file with PUT or POST, or use tus 1.0", http.StatusMethodNotAllowed)
		return
	}
	h.servePlain(w, r)
}

// servePlain takes the whole file as the request body. An interrupted body fails the
// upload: a plain request cannot be resumed (tus can).
func (h *uploadHandler) servePlain(w http.ResponseWriter, r *http.Request) {
	s := h.sink
	if err := s.begin("plain", r.ContentLength); err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	n, readErr, writeErr := s.copyFrom(r.Body)
	var err error
	var res Result
	switch {
	case writeErr != nil:
		err = s.outcome(writeErr)
	case readErr != nil:
		cause := newError(ReasonTruncated, false, "the upload ended after %d bytes: %v; upload the file again (tus uploads can be resumed)", n, readErr)
		err = s.outcome(cause)
	default:
		res, err = s.finish(nil)
	}
	if err != nil {
		http.Error(w, err.Error(), uploadFailureStatus(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(res)
}

// uploadFailureStatus is 422 for content the importer refuses, 409 for a second upload,
// 503 when the failure was on the platform's side and another attempt may work.
func uploadFailureStatus(err error) int {
	var ie *Error
	if errors.As(err, &ie) {
		switch {
		case ie.Reason == ReasonUploadConflict:
			return http.StatusConflict
		case ie.Reason == ReasonDestinationError || ie.Reason == ReasonInternal:
			return http.StatusServiceUnavailable
		}
		return http.StatusUnprocessableEntity
	}
	if errors.Is(err, context.Canceled) {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (s *uploadSink) String() string { return fmt.Sprintf("%s upload at %d", s.kind, s.offset) }
