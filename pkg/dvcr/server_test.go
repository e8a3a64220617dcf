package dvcr

import (
	"net/http"
	"testing"
)

func TestRegistryAuth(t *testing.T) {
	r := startRegistry(t)
	const repo = "vi/ns1/ubuntu"

	if _, err := r.push(repo, "uid-1", "", 1024); err == nil {
		t.Fatal("anonymous push succeeded")
	} else if s := statusOf(err); s != http.StatusUnauthorized {
		t.Fatalf("anonymous push: status %d (%v), want 401", s, err)
	}

	// Raw requests: the registry itself refuses, whatever a client does with the challenge.
	for _, u := range []string{"/v2/", "/v2/" + repo + "/tags/list", "/v2/_catalog"} {
		resp, err := http.Get("http://" + r.addr + u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("anonymous GET %s: %d, want 401", u, resp.StatusCode)
		}
	}

	want, err := r.push(repo, "uid-1", r.token(t, repo, "pull", "push"), 1024)
	if err != nil {
		t.Fatalf("push with token: %v", err)
	}
	got, err := r.pull(repo, "uid-1", r.token(t, repo, "pull"))
	if err != nil {
		t.Fatalf("pull with token: %v", err)
	}
	if got != want {
		t.Fatalf("pulled %s, pushed %s", got, want)
	}

	if _, err := r.pull(repo, "uid-1", ""); err == nil {
		t.Fatal("anonymous pull succeeded")
	} else if s := statusOf(err); s != http.StatusUnauthorized {
		t.Fatalf("anonymous pull: status %d (%v), want 401", s, err)
	}

	// A token for another repository reads nothing here and writes nothing here.
	other := r.token(t, "vi/ns2/other", "pull", "push")
	if _, err := r.pull(repo, "uid-1", other); err == nil {
		t.Fatal("pull with a token for another repository succeeded")
	} else if s := statusOf(err); s != http.StatusUnauthorized && s != http.StatusForbidden {
		t.Fatalf("wrong-scope pull: status %d (%v), want 401 or 403", s, err)
	}
	if _, err := r.push(repo, "uid-2", other, 1024); err == nil {
		t.Fatal("push with a token for another repository succeeded")
	}
	// A pull-only token cannot push.
	if _, err := r.push(repo, "uid-3", r.token(t, repo, "pull"), 1024); err == nil {
		t.Fatal("push with a pull-only token succeeded")
	}
}

func TestRegistryReadOnly(t *testing.T) {
	r := startRegistry(t)
	const repo = "cvi/debian"
	tok := r.token(t, repo, "pull", "push")
	want, err := r.push(repo, "uid-1", tok, 2048)
	if err != nil {
		t.Fatal(err)
	}

	if err := SetReadOnly(r.storage, "test"); err != nil {
		t.Fatal(err)
	}
	if err := SetReadOnly(r.storage, "second"); err == nil {
		t.Fatal("a second collector could set read-only")
	}
	if _, err := r.push(repo, "uid-2", tok, 2048); err == nil {
		t.Fatal("push succeeded while read-only")
	} else if s := statusOf(err); s != http.StatusServiceUnavailable {
		t.Fatalf("push while read-only: status %d (%v), want 503", s, err)
	}
	resp, err := http.Post("http://"+r.addr+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("write while read-only: %d Retry-After=%q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if got, err := r.pull(repo, "uid-1", tok); err != nil || got != want {
		t.Fatalf("pull while read-only: %s, %v", got, err)
	}

	if err := ClearReadOnly(r.storage); err != nil {
		t.Fatal(err)
	}
	if _, err := r.push(repo, "uid-2", tok, 2048); err != nil {
		t.Fatalf("push after read-only cleared: %v", err)
	}
}

func TestRegistryHealthz(t *testing.T) {
	r := startRegistry(t)
	resp, err := http.Get("http://" + r.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}
