package d8

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// tusClient uploads a file with the tus 1.0 protocol (core + creation) in short requests, so
// each one fits within kube-apiserver's 60 s limit for requests it does not know as long
// running, and an interrupted upload continues from the offset the server reports.
type tusClient struct {
	http *http.Client
	// url is the upload subresource; the create answer's Location replaces it.
	url string
	// chunk is the size of one PATCH.
	chunk int64
	// retries bounds consecutive failed requests; a successful PATCH resets the count.
	retries int
	// backoff is the first wait after a failure, doubled up to maxBackoff.
	backoff, maxBackoff time.Duration
	// requestTimeout bounds one request, so a stalled connection is noticed and resumed.
	requestTimeout time.Duration
	// progress is told the server's offset after every request.
	progress func(offset int64)
	// logf reports retries.
	logf func(format string, args ...any)
}

// serverError is an answer the client must not retry (a 4xx other than a conflict on the
// offset), with the server's message.
type serverError struct {
	code int
	msg  string
}

func (e *serverError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.msg, e.code) }

// minChunk is the smallest chunk a slow link falls back to.
const minChunk = 256 << 10

// upload sends size bytes of f.
func (c *tusClient) upload(ctx context.Context, f io.ReaderAt, size int64) error {
	// An object takes one upload. If one was started (by an earlier run that was killed, or
	// lost its connection), continue it instead of asking for a new one.
	location, offset, err := c.resume(ctx, size)
	if err != nil {
		return err
	}
	if location == "" {
		if location, err = c.createWithRetries(ctx, size); err != nil {
			return err
		}
	} else {
		c.logf("resuming the upload at %d of %d bytes", offset, size)
		c.progress(offset)
	}
	failures := 0
	for offset < size {
		n := min(c.chunk, size-offset)
		next, err := c.patch(ctx, location, io.NewSectionReader(f, offset, n), offset, n)
		if err == nil {
			if next <= offset || next > size {
				return fmt.Errorf("the server answered offset %d after a chunk at %d of %d bytes", next, offset, size)
			}
			offset, failures = next, 0
			c.progress(offset)
			continue
		}
		var fatal *serverError
		if errors.As(err, &fatal) || ctx.Err() != nil {
			return err
		}
		// A network error, a 5xx or an offset conflict: ask the server where it stands and
		// go on from there.
		for {
			failures++
			if failures > c.retries {
				return fmt.Errorf("giving up after %d failed attempts at offset %d: %w", c.retries, offset, err)
			}
			c.logf("upload interrupted at %d bytes (%v); resuming", offset, err)
			// A chunk that cannot cross the link within a request's time never will:
			// send smaller ones (each request has a fixed timeout, and kube-apiserver cuts
			// requests at 60 s).
			if errors.Is(err, context.DeadlineExceeded) && c.chunk > minChunk {
				c.chunk = max(c.chunk/2, minChunk)
			}
			if err := sleep(ctx, c.wait(failures)); err != nil {
				return err
			}
			var herr error
			offset, herr = c.head(ctx, location)
			if herr == nil {
				break
			}
			if errors.As(herr, &fatal) {
				return herr
			}
			err = herr
		}
		c.progress(offset)
	}
	return nil
}

// resume returns the upload URL and offset of an upload already in progress, or "" when
// there is none yet (the server answers HEAD with 404 before the upload is created).
func (c *tusClient) resume(ctx context.Context, size int64) (string, int64, error) {
	resp, err := c.do(ctx, http.MethodHead, c.url, nil, 0, nil)
	if err != nil || resp.StatusCode == http.StatusNotFound {
		// Network trouble is dealt with by the create's retries.
		return "", 0, nil
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return "", 0, nil
	}
	if l := resp.Header.Get("Upload-Length"); l != "" && l != strconv.FormatInt(size, 10) {
		return "", 0, fmt.Errorf("an upload of %s bytes is already in progress into this object; the file has %d bytes (re-create the object to upload another file)", l, size)
	}
	offset, err := offsetOf(resp)
	if err != nil {
		return "", 0, err
	}
	return c.url, offset, nil
}

// createWithRetries retries a create that failed on the network or with a 5xx: the importer
// takes one upload, and a second create starts it over, so repeating it is safe.
func (c *tusClient) createWithRetries(ctx context.Context, size int64) (string, error) {
	for failures := 1; ; failures++ {
		location, err := c.create(ctx, size)
		var fatal *serverError
		if err == nil || errors.As(err, &fatal) || ctx.Err() != nil || failures > c.retries {
			return location, err
		}
		c.logf("starting the upload failed (%v); trying again", err)
		if err := sleep(ctx, c.wait(failures)); err != nil {
			return "", err
		}
	}
}

func (c *tusClient) wait(failures int) time.Duration {
	d := c.backoff
	for i := 1; i < failures && d < c.maxBackoff; i++ {
		d *= 2
	}
	return min(d, c.maxBackoff)
}

// create starts the upload (POST with Upload-Length) and returns the URL to PATCH.
func (c *tusClient) create(ctx context.Context, size int64) (string, error) {
	resp, err := c.do(ctx, http.MethodPost, c.url, nil, 0, map[string]string{"Upload-Length": strconv.FormatInt(size, 10)})
	if err != nil {
		return "", fmt.Errorf("starting the upload: %w", err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("starting the upload: %w", classify(resp))
	}
	location := c.url
	if l := resp.Header.Get("Location"); l != "" {
		base, err := url.Parse(c.url)
		if err != nil {
			return "", err
		}
		ref, err := base.Parse(l)
		if err != nil {
			return "", fmt.Errorf("the server answered an invalid Location: %w", err)
		}
		location = ref.String()
	}
	c.progress(0)
	return location, nil
}

// patch sends one chunk at offset and returns the server's new offset.
func (c *tusClient) patch(ctx context.Context, location string, chunk io.Reader, offset, n int64) (int64, error) {
	resp, err := c.do(ctx, http.MethodPatch, location, chunk, n, map[string]string{
		"Upload-Offset": strconv.FormatInt(offset, 10),
		"Content-Type":  "application/offset+octet-stream",
	})
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return 0, classify(resp)
	}
	return offsetOf(resp)
}

// head asks for the server's offset.
func (c *tusClient) head(ctx context.Context, location string) (int64, error) {
	resp, err := c.do(ctx, http.MethodHead, location, nil, 0, nil)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return 0, classify(resp)
	}
	return offsetOf(resp)
}

// do sends one tus request and returns the answer with its body read and closed.
func (c *tusClient) do(ctx context.Context, method, target string, body io.Reader, length int64, headers map[string]string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = length
	if length == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// Keep a little of the body for messages; the connection is reused after a full read.
	msg, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("reading the answer to %s: %w", method, err)
	}
	resp.Body = io.NopCloser(strings.NewReader(string(msg)))
	return resp, nil
}

// classify turns a failed answer into a retryable error (5xx, 409 offset conflict, 423
// locked) or a serverError.
func classify(resp *http.Response) error {
	err := answerError(resp)
	// A 409 from the importer (it speaks tus) is an offset mismatch, fixed by HEAD; a 409
	// from the API server (no Tus-Resumable) says the object does not take uploads.
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusConflict && resp.Header.Get("Tus-Resumable") != "" || resp.StatusCode == http.StatusLocked {
		// A plain error, not wrapping the serverError: it is retried.
		return errors.New(err.Error())
	}
	return err
}

// answerError is the server's message: the Status of an API error, or the text of the body.
func answerError(resp *http.Response) *serverError {
	body, _ := io.ReadAll(resp.Body)
	var status metav1.Status
	if json.Unmarshal(body, &status) == nil && status.Kind == "Status" && status.Message != "" {
		return &serverError{code: resp.StatusCode, msg: status.Message}
	}
	msg := strings.TrimSpace(string(body))
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &serverError{code: resp.StatusCode, msg: msg}
}

func offsetOf(resp *http.Response) (int64, error) {
	offset, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || offset < 0 {
		return 0, &serverError{code: resp.StatusCode, msg: "the server did not answer a valid Upload-Offset: it does not speak tus"}
	}
	return offset, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
