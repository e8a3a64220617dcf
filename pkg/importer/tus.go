package importer

import (
	"context"
	"io"
	"net/http"
	"os"

	tusd "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
	xslog "golang.org/x/exp/slog"
)

// tusStore is a tusd DataStore for the one upload of a Pod. It keeps no data: WriteChunk
// writes straight into the upload sink's pipeline, so an upload is resumable only at the
// offset the pipeline has taken, which is exactly what HEAD reports.
//
// The upload's ID is the token, so with tusd's base path PathUpload the upload resource
// (tusd's Location) is the creation URL itself: one URL per Pod for POST, HEAD and PATCH.
type tusStore struct {
	sink  *uploadSink
	token string
}

var (
	_ tusd.DataStore               = (*tusStore)(nil)
	_ tusd.LengthDeferrerDataStore = (*tusStore)(nil)
)

var errTusNotFound = tusd.NewError("ERR_UPLOAD_NOT_FOUND", "no upload was created at this URL yet: start one with a tus POST", http.StatusNotFound)

func (st *tusStore) NewUpload(_ context.Context, info tusd.FileInfo) (tusd.Upload, error) {
	size := info.Size
	if info.SizeIsDeferred {
		size = -1
	}
	if err := st.sink.begin("tus", size); err != nil {
		return nil, tusd.NewError("ERR_UPLOAD_CONFLICT", err.Error(), http.StatusConflict)
	}
	return &tusUpload{st: st}, nil
}

func (st *tusStore) GetUpload(_ context.Context, id string) (tusd.Upload, error) {
	st.sink.mu.Lock()
	defer st.sink.mu.Unlock()
	if id != st.token || st.sink.kind != "tus" {
		return nil, errTusNotFound
	}
	return &tusUpload{st: st}, nil
}

func (st *tusStore) AsLengthDeclarableUpload(u tusd.Upload) tusd.LengthDeclarableUpload {
	return u.(*tusUpload)
}

type tusUpload struct{ st *tusStore }

func (u *tusUpload) GetInfo(context.Context) (tusd.FileInfo, error) {
	s := u.st.sink
	s.mu.Lock()
	defer s.mu.Unlock()
	return tusd.FileInfo{
		ID:             u.st.token,
		Size:           max(s.size, 0),
		SizeIsDeferred: s.size < 0,
		Offset:         s.offset,
		MetaData:       tusd.MetaData{},
		Storage:        map[string]string{"Type": "dvcr-stream"},
	}, nil
}

// WriteChunk appends src at offset. tusd hides the client's read errors (a dropped
// connection ends src early), so whatever arrived is kept and the client resumes there.
func (u *tusUpload) WriteChunk(_ context.Context, offset int64, src io.Reader) (int64, error) {
	s := u.st.sink
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	cur, state := s.offset, s.state
	s.mu.Unlock()
	if state != uploadActive {
		return 0, tusd.NewError("ERR_UPLOAD_FINISHED", "the upload has already ended", http.StatusConflict)
	}
	if offset != cur {
		return 0, tusd.ErrMismatchOffset
	}
	n, _, writeErr := s.copyFrom(src)
	if writeErr != nil {
		err := s.outcome(writeErr)
		return n, tusd.NewError("ERR_UPLOAD_FAILED", err.Error(), uploadFailureStatus(err))
	}
	return n, nil
}

func (u *tusUpload) GetReader(context.Context) (io.ReadCloser, error) {
	return nil, tusd.NewError("ERR_NOT_IMPLEMENTED", "an upload cannot be downloaded", http.StatusNotImplemented)
}

// FinishUpload runs when the last byte arrived: it waits until the image is written, so
// the client's final PATCH is answered only after the manifest is in DVCR.
func (u *tusUpload) FinishUpload(context.Context) error {
	if _, err := u.st.sink.finish(nil); err != nil {
		return tusd.NewError("ERR_UPLOAD_FAILED", err.Error(), uploadFailureStatus(err))
	}
	return nil
}

func (u *tusUpload) DeclareLength(_ context.Context, length int64) error {
	s := u.st.sink
	s.mu.Lock()
	defer s.mu.Unlock()
	s.size = length
	s.tracker.SetTotal(length)
	return nil
}

// newTusHandler returns tusd serving the tus core protocol (and creation, creation with
// upload, creation-defer-length) for the upload at PathUpload/token.
func newTusHandler(sink *uploadSink, token string) (http.Handler, error) {
	composer := tusd.NewStoreComposer()
	store := &tusStore{sink: sink, token: token}
	composer.UseCore(store)
	composer.UseLengthDeferrer(store)
	// The lock lets a resuming client take over from a request whose connection is
	// half-open: tusd asks the holder to stop instead of waiting for its timeout.
	memorylocker.New().UseIn(composer)
	h, err := tusd.NewUnroutedHandler(tusd.Config{
		StoreComposer:           composer,
		BasePath:                PathUpload + "/",
		DisableDownload:         true,
		DisableTermination:      true,
		DisableConcatenation:    true,
		RespectForwardedHeaders: true,
		Logger:                  xslog.New(xslog.NewTextHandler(os.Stderr, &xslog.HandlerOptions{Level: xslog.LevelWarn})),
	})
	if err != nil {
		return nil, err
	}
	route := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// tusd reads the upload ID from the path relative to its base path.
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + token
		switch r.Method {
		case http.MethodPost:
			h.PostFile(w, r2)
		case http.MethodHead:
			h.HeadFile(w, r2)
		case http.MethodPatch:
			h.PatchFile(w, r2)
		default:
			w.Header().Set("Allow", "OPTIONS, POST, HEAD, PATCH")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
	return h.Middleware(route), nil
}
