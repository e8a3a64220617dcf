// Package uploadtest is a stand-in for the upload endpoint of an importer Pod, for tests of
// the upload proxy and of clients: it takes a whole body by PUT/POST or a tus 1.0 upload
// (POST create, HEAD offset, PATCH append) on /upload/<token>, as pkg/importer's contract
// says, and keeps only the sha256 and size of what it received.
package uploadtest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// TusContentType is the Content-Type of tus PATCH requests.
const TusContentType = "application/offset+octet-stream"

// Importer is the stand-in. The zero value with Token set is ready to serve.
type Importer struct {
	// Token is the last element of the upload path.
	Token string
	// DropAt, when positive, makes the first PATCH that would carry the upload past this
	// offset stop reading there and close the connection without an answer, once, like a
	// network failure; the bytes up to DropAt are kept, as a tus server keeps them.
	DropAt int64

	mu       sync.Mutex
	hash     hash.Hash
	offset   int64
	length   int64
	created  bool
	dropped  bool
	complete bool
	methods  []string
}

// Path is where the stand-in takes the upload.
func (im *Importer) Path() string { return "/upload/" + im.Token }

// Sum returns the hex sha256 and the size of the bytes received so far, in order.
func (im *Importer) Sum() (string, int64) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.hash == nil {
		return hex.EncodeToString(sha256.New().Sum(nil)), 0
	}
	return hex.EncodeToString(im.hash.Sum(nil)), im.offset
}

// Complete tells whether a whole body or every byte of the tus upload arrived.
func (im *Importer) Complete() bool {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.complete
}

// Dropped tells whether the connection was cut (DropAt).
func (im *Importer) Dropped() bool {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.dropped
}

// Methods lists the methods of the requests served, in order.
func (im *Importer) Methods() []string {
	im.mu.Lock()
	defer im.mu.Unlock()
	return append([]string(nil), im.methods...)
}

func (im *Importer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != im.Path() {
		http.NotFound(w, r)
		return
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	im.methods = append(im.methods, r.Method)
	if r.Header.Get("Tus-Resumable") == "" {
		im.whole(w, r)
		return
	}
	w.Header().Set("Tus-Resumable", "1.0.0")
	switch r.Method {
	case http.MethodOptions:
		w.Header().Set("Tus-Version", "1.0.0")
		w.Header().Set("Tus-Extension", "creation")
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPost:
		im.create(w, r)
	case http.MethodHead:
		if !im.created {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Upload-Offset", strconv.FormatInt(im.offset, 10))
		w.Header().Set("Upload-Length", strconv.FormatInt(im.length, 10))
		w.WriteHeader(http.StatusOK)
	case http.MethodPatch:
		im.patch(w, r)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// whole takes PUT/POST with the file as the body.
func (im *Importer) whole(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	im.hash, im.offset = sha256.New(), 0
	n, err := io.Copy(im.hash, r.Body)
	im.offset = n
	if err != nil {
		http.Error(w, fmt.Sprintf("reading the upload: %v", err), http.StatusBadRequest)
		return
	}
	im.complete = true
	fmt.Fprintf(w, "received %d bytes\n", n)
}

func (im *Importer) create(w http.ResponseWriter, r *http.Request) {
	length, err := strconv.ParseInt(r.Header.Get("Upload-Length"), 10, 64)
	if err != nil || length < 0 {
		http.Error(w, "Upload-Length is required", http.StatusBadRequest)
		return
	}
	if im.created {
		// One upload per importer Pod: a second create starts over, as a restarted client would.
		im.complete = false
	}
	im.created, im.length, im.offset, im.hash = true, length, 0, sha256.New()
	w.Header().Set("Location", "http://"+r.Host+im.Path())
	w.Header().Set("Upload-Offset", "0")
	w.WriteHeader(http.StatusCreated)
}

func (im *Importer) patch(w http.ResponseWriter, r *http.Request) {
	if !im.created {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if r.Header.Get("Content-Type") != TusContentType {
		http.Error(w, "Content-Type must be "+TusContentType, http.StatusUnsupportedMediaType)
		return
	}
	offset, err := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || offset != im.offset {
		http.Error(w, fmt.Sprintf("Upload-Offset must be %d", im.offset), http.StatusConflict)
		return
	}
	limit := im.length - im.offset
	if im.DropAt > 0 && !im.dropped && im.offset < im.DropAt && im.DropAt < im.offset+max(r.ContentLength, 0) {
		n, _ := io.CopyN(im.hash, r.Body, im.DropAt-im.offset)
		im.offset += n
		im.dropped = true
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	n, err := io.Copy(im.hash, io.LimitReader(r.Body, limit))
	im.offset += n
	if err != nil {
		http.Error(w, fmt.Sprintf("reading the chunk: %v", err), http.StatusBadRequest)
		return
	}
	if extra, _ := io.Copy(io.Discard, io.LimitReader(r.Body, 1)); extra > 0 {
		http.Error(w, "the chunk goes past Upload-Length", http.StatusRequestEntityTooLarge)
		return
	}
	if im.offset == im.length {
		im.complete = true
	}
	w.Header().Set("Upload-Offset", strconv.FormatInt(im.offset, 10))
	w.WriteHeader(http.StatusNoContent)
}
