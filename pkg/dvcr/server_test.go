package dvcr

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
		if c := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(c, `Bearer realm="http://`+r.addr+`/auth/token",service="dvcr"`) {
			t.Fatalf("anonymous GET %s: challenge %q", u, c)
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

func TestStaleReadOnlyMarker(t *testing.T) {
	dir := t.TempDir()
	host, _ := os.Hostname()
	write := func(st readOnlyState) {
		data, _ := json.Marshal(st)
		if err := os.WriteFile(filepath.Join(dir, ReadOnlyMarker), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A live collector (this process, seen from another server process) keeps its marker...
	write(readOnlyState{PID: os.Getppid(), Host: host})
	if cleared, err := clearStaleReadOnly(dir); err != nil || cleared {
		t.Fatalf("live collector's marker: cleared=%v err=%v", cleared, err)
	}
	// ...as does one from another host.
	write(readOnlyState{PID: 1 << 30, Host: host + "-other"})
	if cleared, _ := clearStaleReadOnly(dir); cleared {
		t.Fatal("cleared another host's marker")
	}
	// A collector that died with its container leaves one the server removes.
	write(readOnlyState{PID: 1 << 30, Host: host})
	if cleared, err := clearStaleReadOnly(dir); err != nil || !cleared || IsReadOnly(dir) {
		t.Fatalf("dead collector's marker: cleared=%v err=%v", cleared, err)
	}
}

// The registry serves TLS with the given certificate.
func TestRegistryTLS(t *testing.T) {
	dir := t.TempDir()
	_, tokenCert, err := GenerateTokenKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	files := map[string][]byte{
		"token.crt": tokenCert,
		"tls.crt":   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"tls.key":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := NewServer(ctx, ServerOptions{
		StorageDir: filepath.Join(dir, "storage"), TokenCertFile: filepath.Join(dir, "token.crt"),
		TLSCertFile: filepath.Join(dir, "tls.crt"), TLSKeyFile: filepath.Join(dir, "tls.key"), LogLevel: "fatal",
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(ctx, ln) }()

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(files["tls.crt"])
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + ln.Addr().String() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer realm="https://`) {
		t.Fatalf("GET /v2/ over TLS: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
