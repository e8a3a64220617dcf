package importer

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// uploadBlob streams r into repo as one blob whose digest is computed on the way: POST
// starts the upload session, one PATCH carries the whole stream (no size is known before
// the end, and no chunk needs to be held in memory), PUT ?digest= commits it.
//
// It is written against the distribution API directly, with go-containerregistry's
// authenticating transport, rather than through remote.WriteLayer, so that the two steps
// that carry no data (start and commit) can be repeated while DVCR answers 503 for garbage
// collection; with remote.WriteLayer a 503 on the commit would throw away a whole streamed
// image. The PATCH itself cannot be repeated: its data is gone.
func (p *pusher) uploadBlob(ctx context.Context, repo name.Repository, r io.Reader) (v1.Hash, int64, error) {
	auth, err := p.client.authFor(repo.Registry)
	if err != nil {
		return v1.Hash{}, 0, classifyDVCRError("credentials for DVCR", err)
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, p.client.rt, []string{repo.Scope(transport.PushScope)})
	if err != nil {
		return v1.Hash{}, 0, classifyDVCRError("authenticate to DVCR", err)
	}
	client := &http.Client{Transport: rt}
	start := url.URL{Scheme: repo.Registry.Scheme(), Host: repo.RegistryStr(), Path: fmt.Sprintf("/v2/%s/blobs/uploads/", repo.RepositoryStr())}

	var location string
	err = p.whileUnavailable(ctx, "start the disk upload", func() (bool, error) {
		resp, err := doRegistry(ctx, client, http.MethodPost, start.String(), nil, http.StatusAccepted)
		if err != nil {
			return true, err
		}
		location, err = nextLocation(resp)
		return true, err
	})
	if err != nil {
		return v1.Hash{}, 0, err
	}

	hr := &hashingReader{r: r, h: sha256.New()}
	resp, err := doRegistry(ctx, client, http.MethodPatch, location, hr, http.StatusAccepted, http.StatusNoContent, http.StatusCreated)
	if err != nil {
		return v1.Hash{}, 0, classifyDVCRError("upload the disk", err)
	}
	if location, err = nextLocation(resp); err != nil {
		return v1.Hash{}, 0, classifyDVCRError("upload the disk", err)
	}

	digest := hr.digest()
	commit, err := url.Parse(location)
	if err != nil {
		return v1.Hash{}, 0, classifyDVCRError("commit the disk", err)
	}
	q := commit.Query()
	q.Set("digest", digest.String())
	commit.RawQuery = q.Encode()
	err = p.whileUnavailable(ctx, "commit the disk", func() (bool, error) {
		_, err := doRegistry(ctx, client, http.MethodPut, commit.String(), nil, http.StatusCreated)
		return true, err
	})
	if err != nil {
		return v1.Hash{}, 0, err
	}
	return digest, hr.size, nil
}

// doRegistry sends one request and checks its status; the body is drained and closed, the
// response is kept for its headers.
func doRegistry(ctx context.Context, client *http.Client, method, u string, body io.Reader, ok ...int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := client.Do(req)
	if err != nil {
		// A failure of the stream being sent comes out of Do wrapped; keep its cause.
		var ie *Error
		if errors.As(err, &ie) {
			return nil, ie
		}
		return nil, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, ok...); err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp, nil
}

// nextLocation resolves an upload session's Location, which registries often send as a
// path, against the request that returned it.
func nextLocation(resp *http.Response) (string, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", errors.New("DVCR sent no Location for the upload session")
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("parse upload Location %q: %w", loc, err)
	}
	return resp.Request.URL.ResolveReference(u).String(), nil
}
