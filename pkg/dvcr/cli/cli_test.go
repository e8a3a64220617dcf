package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/virtplane/virtplane/pkg/dvcr"
)

// fakeCluster serves the three lists garbage collection reads, as the aggregated API
// server would, and returns a kubeconfig pointing at it.
func fakeCluster(t *testing.T, cvis, vis, vds []dvcr.Object) string {
	t.Helper()
	list := func(kind string, objs []dvcr.Object) string {
		var items []string
		for _, o := range objs {
			items = append(items, fmt.Sprintf(`{"metadata":{"name":%q,"namespace":%q,"uid":%q}}`, o.Name, o.Namespace, o.UID))
		}
		return fmt.Sprintf(`{"kind":%q,"apiVersion":"virtualization.deckhouse.io/v1alpha2","metadata":{},"items":[%s]}`, kind, strings.Join(items, ","))
	}
	const base = "/apis/virtualization.deckhouse.io/v1alpha2/"
	mux := http.NewServeMux()
	mux.HandleFunc(base+"clustervirtualimages", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, list("ClusterVirtualImageList", cvis))
	})
	mux.HandleFunc(base+"virtualimages", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, list("VirtualImageList", vis))
	})
	mux.HandleFunc(base+"virtualdisks", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, list("VirtualDiskList", vds))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	data := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, srv.URL)
	if err := os.WriteFile(kc, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return kc
}

// keys writes a token key pair and returns the signer and the certificate file.
func keys(t *testing.T) (*dvcr.Signer, string) {
	t.Helper()
	dir := t.TempDir()
	keyPEM, certPEM, err := dvcr.GenerateTokenKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	keyFile, certFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := dvcr.LoadSigner(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return s, certFile
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func opt(s *dvcr.Signer, t *testing.T, repo string) remote.Option {
	tok, err := s.Token("test", []dvcr.Access{{Type: "repository", Name: repo, Actions: []string{"pull", "push"}}}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return remote.WithAuth(authn.FromConfig(authn.AuthConfig{RegistryToken: tok}))
}

func push(t *testing.T, s *dvcr.Signer, addr string, o dvcr.Object) v1.Hash {
	t.Helper()
	img, err := random.Image(64<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(addr+"/"+o.Repository()+":"+o.UID, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	// The server may still be starting: retry connection errors for a few seconds.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = remote.Write(ref, img, opt(s, t, o.Repository()))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, _ := img.Digest()
	return d
}

func pull(s *dvcr.Signer, t *testing.T, addr string, o dvcr.Object) (v1.Hash, error) {
	ref, err := name.ParseReference(addr+"/"+o.Repository()+":"+o.UID, name.Insecure)
	if err != nil {
		return v1.Hash{}, err
	}
	desc, err := remote.Head(ref, opt(s, t, o.Repository()))
	if err != nil {
		return v1.Hash{}, err
	}
	return desc.Digest, nil
}

// serve runs "dvcr serve" with args until the test ends.
func serve(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := NewDVCRCommand(ctx)
	cmd.SetArgs(append([]string{"serve", "--log-level", "fatal"}, args...))
	done := make(chan error, 1)
	go func() { done <- cmd.Execute() }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dvcr serve: %v", err)
		}
	})
}

// The documented flow: images whose objects are gone show up in "dvcr-cleaner gc check"
// and disappear with "gc run"; the rest still pull.
func TestCleanerCheckAndRun(t *testing.T) {
	signer, cert := keys(t)
	storage := t.TempDir()
	addr := freeAddr(t)
	serve(t, "--storage-dir", storage, "--listen", addr, "--token-cert", cert)

	live := dvcr.Object{Kind: dvcr.KindVI, Namespace: "default", Name: "ubuntu-2204", UID: "uid-live"}
	gone := dvcr.Object{Kind: dvcr.KindCVI, Name: "debian-12", UID: "uid-gone"}
	liveDigest := push(t, signer, addr, live)
	push(t, signer, addr, gone)
	kc := fakeCluster(t, nil, []dvcr.Object{live}, []dvcr.Object{{Kind: dvcr.KindVD, Namespace: "default", Name: "blank", UID: "uid-vd"}})

	var out bytes.Buffer
	cmd := NewCleanerCommand(context.Background())
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"gc", "check", "--storage-dir", storage, "--kubeconfig", kc})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	want := map[int]string{
		0: "Found 1 cvi, 1 vi, 0 vd manifests in registry",
		1: "Found 0 cvi, 1 vi, 1 vd resources in cluster",
		2: "  Total     Used    Avail     Use%",
		4: "Images eligible for cleanup:",
		5: "KIND                   NAMESPACE            NAME",
		6: "ClusterVirtualImage                         debian-12",
	}
	for i, w := range want {
		if i >= len(lines) || lines[i] != w {
			t.Fatalf("gc check output:\n%s\nline %d: want %q", out.String(), i, w)
		}
	}

	out.Reset()
	cmd = NewCleanerCommand(context.Background())
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"gc", "run", "--storage-dir", storage, "--kubeconfig", kc})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ClusterVirtualImage                         debian-12") || !strings.Contains(out.String(), "Reclaimed ") {
		t.Fatalf("gc run output:\n%s", out.String())
	}
	if d, err := pull(signer, t, addr, live); err != nil || d != liveDigest {
		t.Fatalf("live image after gc: %s, %v", d, err)
	}
	if _, err := pull(signer, t, addr, gone); err == nil {
		t.Fatal("removed image still pulls")
	}
}

// "dvcr serve" with a schedule collects by itself.
func TestServeScheduledGC(t *testing.T) {
	signer, cert := keys(t)
	storage := t.TempDir()
	addr := freeAddr(t)
	live := dvcr.Object{Kind: dvcr.KindVD, Namespace: "prod", Name: "data", UID: "uid-live"}
	gone := dvcr.Object{Kind: dvcr.KindVD, Namespace: "prod", Name: "old", UID: "uid-gone"}
	kc := fakeCluster(t, nil, nil, []dvcr.Object{live})
	// The schedule fires every second; the images are pushed right after start, so the
	// test tolerates a collection that happened before the orphan arrived.
	serve(t, "--storage-dir", storage, "--listen", addr, "--token-cert", cert, "--kubeconfig", kc, "--gc-schedule", "@every 1s")
	liveDigest := push(t, signer, addr, live)
	push(t, signer, addr, gone)

	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := pull(signer, t, addr, gone)
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("scheduled gc did not remove the orphan")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if d, err := pull(signer, t, addr, live); err != nil || d != liveDigest {
		t.Fatalf("live image after scheduled gc: %s, %v", d, err)
	}
}

func TestGCWithoutCluster(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	cmd := NewCleanerCommand(context.Background())
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"gc", "check", "--storage-dir", t.TempDir()})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "no cluster access") {
		t.Fatalf("gc check without cluster: %v", err)
	}
}
