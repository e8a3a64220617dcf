package importer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// httpSource reads an HTTP(S) URL as one stream that survives interruptions: a failed read
// (connection error, a body shorter than its Content-Length) or a retryable answer (5xx,
// 429) is retried with exponential backoff, resuming with a Range request where the server
// supports it and re-reading from the start (discarding what was already passed on) where
// it does not. Callers see a single uninterrupted byte stream or a classified error.
type httpSource struct {
	ctx      context.Context
	client   *http.Client
	url      string
	shown    string // url without its password, for messages and logs
	attempts int
	backoff  time.Duration

	body      io.ReadCloser
	offset    int64  // bytes passed to the caller
	total     int64  // entity size; -1 while unknown
	validator string // ETag or Last-Modified, so a resumed range is of the same entity
	failures  int    // consecutive failed attempts
}

func newHTTPClient(caBundle []byte) (*http.Client, error) {
	pool, err := certPool(caBundle)
	if err != nil {
		return nil, fmt.Errorf("source CA bundle: %w", err)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	// The checksums users publish are of the file as stored: never let the transport
	// decode a Content-Encoding on our behalf (a gzip body is unpacked by content instead).
	t.DisableCompression = true
	if pool != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: t}, nil
}

// openHTTP makes the first request, so a missing or refused URL fails before anything else
// starts, and returns the stream with the entity size (-1 when unknown).
func openHTTP(ctx context.Context, cfg Config) (*httpSource, error) {
	client, err := newHTTPClient(cfg.SourceCABundle)
	if err != nil {
		return nil, err
	}
	s := &httpSource{ctx: ctx, client: client, url: cfg.SourceURL, shown: redactURL(cfg.SourceURL), attempts: cfg.HTTPAttempts, backoff: cfg.HTTPBackoff, total: -1}
	if err := s.connect(); err != nil {
		return nil, err
	}
	return s, nil
}

// connect (re)opens the body at s.offset, retrying transient failures.
func (s *httpSource) connect() error {
	for {
		err := s.request()
		if err == nil {
			return nil
		}
		var ie *Error
		if errors.As(err, &ie) && !ie.Retryable {
			return err
		}
		if err := s.pause(err); err != nil {
			return err
		}
	}
}

// pause counts a failure and sleeps before the next attempt, or gives up.
func (s *httpSource) pause(cause error) error {
	s.failures++
	if s.failures >= s.attempts {
		return newError(ReasonSourceError, true, "download %s failed after %d attempts: %v", s.shown, s.failures, cause)
	}
	wait := s.backoff << (s.failures - 1)
	log.Printf("download %s: %v; retrying in %s (attempt %d of %d)", s.shown, cause, wait, s.failures+1, s.attempts)
	select {
	case <-s.ctx.Done():
		return fmt.Errorf("download %s: %w", s.shown, s.ctx.Err())
	case <-time.After(wait):
		return nil
	}
}

// request issues one GET from s.offset and installs its body.
func (s *httpSource) request() error {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return newError(ReasonConfiguration, false, "source URL %q: %v", s.shown, err)
	}
	if s.offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", s.offset))
		if s.validator != "" {
			req.Header.Set("If-Range", s.validator)
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if s.ctx.Err() != nil {
			return fmt.Errorf("download %s: %w", s.shown, s.ctx.Err())
		}
		if isTLSOrURLError(err) {
			return newError(ReasonSourceError, false, "download %s: %v", s.shown, err)
		}
		// Connection refused or reset, DNS, timeouts: worth another attempt.
		return err
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		if s.offset == 0 {
			s.total = resp.ContentLength
			s.validator = validatorOf(resp)
		} else if changed(s, resp) {
			// If-Range answered with the whole entity: the file is not the one we started.
			_ = resp.Body.Close()
			return newError(ReasonSourceError, false, "download %s: the file changed on the server during the download; start again", s.shown)
		} else if _, err := io.CopyN(io.Discard, resp.Body, s.offset); err != nil {
			// The server ignored the range: skip what the caller already has.
			_ = resp.Body.Close()
			return fmt.Errorf("skip %d bytes already read: %w", s.offset, err)
		}
	case resp.StatusCode == http.StatusPartialContent && s.offset > 0:
		if start := contentRangeStart(resp.Header.Get("Content-Range")); start != s.offset {
			_ = resp.Body.Close()
			return fmt.Errorf("server resumed at byte %d instead of %d", start, s.offset)
		}
	default:
		_ = resp.Body.Close()
		return statusError(s.shown, resp)
	}
	s.body = resp.Body
	return nil
}

func statusError(url string, resp *http.Response) error {
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return newError(ReasonSourceNotFound, false, "download %s: the server answered %s: check the URL", url, resp.Status)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		// Transient: the caller retries with backoff; this message is what it reports
		// when it runs out of attempts.
		return fmt.Errorf("the server answered %s", resp.Status)
	default:
		return newError(ReasonSourceError, false, "download %s: the server answered %s", url, resp.Status)
	}
}

func isTLSOrURLError(err error) bool {
	var certErr *tls.CertificateVerificationError
	return errors.As(err, &certErr) || strings.Contains(err.Error(), "unsupported protocol scheme")
}

// changed reports whether a full answer to a resumed request is of another entity than the
// one the download started with (another validator or size).
func changed(s *httpSource, resp *http.Response) bool {
	if v := validatorOf(resp); s.validator != "" && v != s.validator {
		return true
	}
	return s.total >= 0 && resp.ContentLength >= 0 && resp.ContentLength != s.total
}

func validatorOf(resp *http.Response) string {
	if et := resp.Header.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		return et
	}
	return resp.Header.Get("Last-Modified")
}

// contentRangeStart parses "bytes START-END/TOTAL".
func contentRangeStart(v string) int64 {
	v = strings.TrimPrefix(strings.TrimSpace(v), "bytes ")
	start, _, ok := strings.Cut(v, "-")
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(start, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// Total returns the entity size, or -1 when the server did not say.
func (s *httpSource) Total() int64 { return s.total }

func (s *httpSource) Read(p []byte) (int, error) {
	for {
		if s.body == nil {
			if err := s.connect(); err != nil {
				return 0, err
			}
		}
		n, err := s.body.Read(p)
		s.offset += int64(n)
		if n > 0 {
			s.failures = 0
		}
		switch {
		case err == nil:
			return n, nil
		case errors.Is(err, io.EOF) && (s.total < 0 || s.offset >= s.total):
			return n, io.EOF
		case errors.Is(err, io.EOF):
			err = fmt.Errorf("the body ended at byte %d of %d", s.offset, s.total)
		case s.ctx.Err() != nil:
			return n, fmt.Errorf("download %s: %w", s.shown, s.ctx.Err())
		}
		// Interrupted: drop this body; the next Read resumes after a pause.
		_ = s.body.Close()
		s.body = nil
		if perr := s.pause(err); perr != nil {
			return n, perr
		}
		if n > 0 {
			return n, nil
		}
	}
}

func (s *httpSource) Close() error {
	if s.body != nil {
		return s.body.Close()
	}
	return nil
}
