package d8

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// guestCommandTimeout bounds one d8 run against the guest: SSH key exchange and SFTP run in
// a guest emulated by TCG on a busy machine.
const guestCommandTimeout = 3 * time.Minute

// d8Result is what one finished d8 run printed and returned.
type d8Result struct {
	code           int
	stdout, stderr string
}

// runD8 runs d8 in this process with stdin in and waits (bounded) for it.
func runD8(t *testing.T, in io.Reader, args ...string) d8Result {
	t.Helper()
	if in == nil {
		in = strings.NewReader("")
	}
	r := startD8(context.Background(), in, nil, args...)
	code := r.exitCodeWithin(t, guestCommandTimeout)
	return d8Result{code: code, stdout: r.out.String(), stderr: r.errOut.String()}
}

// writeKnownHosts writes a known_hosts file holding key under host.
func writeKnownHosts(t *testing.T, host string, key ssh.PublicKey) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, []byte(knownhosts.Line([]string{host}, key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func randomFile(t *testing.T, path string, size int) []byte {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	return data
}

func TestSSHAndSCPWithGuest(t *testing.T) {
	key := newGuestUserKey(t)
	guest := bootGuest(t, guestUserData(key))
	kubeconfig := serveStreams(t, &guestSubresources{guest: guest})
	// No keys, agent or ssh_config of whoever runs the tests.
	t.Setenv("HOME", t.TempDir())
	t.Setenv("SSH_AUTH_SOCK", "")
	knownHosts := writeKnownHosts(t, "vm/linux-vm.prod", guest.hostKey(t))
	login := []string{"--kubeconfig", kubeconfig, "-i", key.file, "--known-hosts", knownHosts}
	runSSH := func(in io.Reader, args ...string) d8Result {
		t.Helper()
		return runD8(t, in, append(append([]string{"v", "ssh"}, login...), args...)...)
	}
	runSCP := func(args ...string) d8Result {
		t.Helper()
		return runD8(t, nil, append(append([]string{"v", "scp"}, login...), args...)...)
	}
	remoteSHA256 := func(path string) string {
		t.Helper()
		res := runSSH(nil, "cloud@linux-vm", "--command", "sha256sum "+path)
		if res.code != 0 {
			t.Fatalf("sha256sum on the guest: exit %d, stderr %q", res.code, res.stderr)
		}
		return strings.Fields(res.stdout + " ")[0]
	}

	t.Run("--command prints the output of the remote command", func(t *testing.T) {
		res := runSSH(nil, "cloud@linux-vm", "--command", "nproc")
		if res.code != 0 || strings.TrimSpace(res.stdout) != strconv.Itoa(guest.vCPUs) {
			t.Fatalf("exit %d, stdout %q (want the guest's %d vCPUs), stderr %q", res.code, res.stdout, guest.vCPUs, res.stderr)
		}
	})

	t.Run("--command exits with the remote status", func(t *testing.T) {
		if res := runSSH(nil, "-l", "cloud", "linux-vm.prod", "-c", "exit 7"); res.code != 7 {
			t.Fatalf("exit %d, want 7; stderr %q", res.code, res.stderr)
		}
	})

	t.Run("stdin reaches the remote command", func(t *testing.T) {
		res := runSSH(strings.NewReader("typed on stdin\n"), "cloud@linux-vm", "--command", "tr a-z A-Z")
		if res.code != 0 || res.stdout != "TYPED ON STDIN\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
		}
	})

	t.Run("a password is asked when no key logs in", func(t *testing.T) {
		defer func(old func(Streams, string) (string, bool, error)) { askSecret = old }(askSecret)
		var prompts []string
		askSecret = func(_ Streams, prompt string) (string, bool, error) {
			prompts = append(prompts, prompt)
			return "cloud", true, nil
		}
		res := runD8(t, nil, "v", "ssh", "--kubeconfig", kubeconfig, "--known-hosts", knownHosts, "cloud@linux-vm", "--command", "id -un")
		if res.code != 0 || res.stdout != "cloud\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
		}
		if len(prompts) != 1 || prompts[0] != "cloud@vm/linux-vm.prod's password: " {
			t.Errorf("prompts %q", prompts)
		}
	})

	t.Run("an unknown host key is refused without a terminal", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "known_hosts")
		res := runD8(t, nil, "v", "ssh", "--kubeconfig", kubeconfig, "-i", key.file, "--known-hosts", empty, "cloud@linux-vm", "--command", "true")
		if res.code != 1 || !strings.Contains(res.stderr, "the host key of vm/linux-vm.prod") || !strings.Contains(res.stderr, "is not in "+empty) {
			t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
		}
		if _, err := os.Stat(empty); err == nil {
			t.Errorf("the refused key was written to %s", empty)
		}
	})

	t.Run("on a terminal: confirms an unknown host key, then a shell on a remote terminal", func(t *testing.T) {
		if _, err := exec.LookPath("script"); err != nil {
			t.Skip("script (util-linux) is not installed: it gives d8 a terminal")
		}
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		fresh := filepath.Join(t.TempDir(), "known_hosts")
		d8Line := envRunAsD8 + "=1"
		for _, a := range []string{self, "v", "ssh", "--kubeconfig", kubeconfig, "-i", key.file, "--known-hosts", fresh, "cloud@linux-vm"} {
			d8Line += " " + shellQuote(a)
		}
		// script runs d8 on a new terminal and types its stdin there: the answer to the host
		// key question, then a line for the remote shell.
		c := exec.Command("script", "-q", "-e", "-c", d8Line, "/dev/null")
		c.Stdin = strings.NewReader("yes\necho REMOTE-$((6*7)) on $(tty); exit 3\n")
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		done := make(chan error, 1)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- c.Wait() }()
		select {
		case err = <-done:
		case <-time.After(guestCommandTimeout):
			c.Process.Kill()
			t.Fatalf("d8 did not end; output %q", out.String())
		}
		if c.ProcessState.ExitCode() != 3 {
			t.Fatalf("exit %v, want the shell's 3; output %q", err, out.String())
		}
		for _, want := range []string{"Are you sure you want to continue connecting (yes/no)?",
			"Permanently added 'vm/linux-vm.prod'", "REMOTE-42 on /dev/pts/"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("the terminal does not show %q: %q", want, out.String())
			}
		}
		// The key it added is trusted from now on.
		res := runD8(t, nil, "v", "ssh", "--kubeconfig", kubeconfig, "-i", key.file, "--known-hosts", fresh, "cloud@linux-vm", "-c", "true")
		if res.code != 0 {
			t.Fatalf("with the added key: exit %d, stderr %q", res.code, res.stderr)
		}
	})

	t.Run("a changed host key is refused", func(t *testing.T) {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		other, _ := ssh.NewPublicKey(pub)
		stale := writeKnownHosts(t, "vm/linux-vm.prod", other)
		res := runD8(t, nil, "v", "ssh", "--kubeconfig", kubeconfig, "-i", key.file, "--known-hosts", stale, "cloud@linux-vm", "--command", "true")
		if res.code != 1 || !strings.Contains(res.stderr, "has CHANGED") {
			t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
		}
	})

	t.Run("a VM that does not exist exits 1", func(t *testing.T) {
		res := runSSH(nil, "cloud@other-vm", "--command", "true")
		if res.code != 1 || !strings.Contains(res.stderr, `"other-vm" not found`) {
			t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
		}
	})

	t.Run("scp copies a file up and back", func(t *testing.T) {
		dir := t.TempDir()
		up := filepath.Join(dir, "up.bin")
		data := randomFile(t, up, 3<<20+123)
		if res := runSCP(up, "cloud@linux-vm:upload.bin"); res.code != 0 {
			t.Fatalf("upload: exit %d, stderr %q", res.code, res.stderr)
		}
		sum := sha256.Sum256(data)
		if got := remoteSHA256("upload.bin"); got != hex.EncodeToString(sum[:]) {
			t.Fatalf("sha256 on the guest %s, want %x", got, sum)
		}
		// Into a directory: the file keeps its name.
		if res := runSCP("cloud@linux-vm.prod:~/upload.bin", dir); res.code != 0 {
			t.Fatalf("download: exit %d, stderr %q", res.code, res.stderr)
		}
		back, err := os.ReadFile(filepath.Join(dir, "upload.bin"))
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("the file came back different (%d bytes, want %d): %v", len(back), len(data), err)
		}
	})

	t.Run("scp -r copies a directory up and back", func(t *testing.T) {
		src := filepath.Join(t.TempDir(), "tree")
		if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		a := randomFile(t, filepath.Join(src, "a.bin"), 4096)
		b := randomFile(t, filepath.Join(src, "sub", "b.bin"), 70000)
		if res := runSCP(src, "cloud@linux-vm:/tmp/"); res.code != 1 || !strings.Contains(res.stderr, "is a directory (use -r)") {
			t.Fatalf("without -r: exit %d, stderr %q", res.code, res.stderr)
		}
		if res := runSCP("-r", src, "cloud@linux-vm:/tmp/"); res.code != 0 {
			t.Fatalf("upload: exit %d, stderr %q", res.code, res.stderr)
		}
		dst := filepath.Join(t.TempDir(), "copy")
		if res := runSCP("--recursive", "cloud@linux-vm:/tmp/tree", dst); res.code != 0 {
			t.Fatalf("download: exit %d, stderr %q", res.code, res.stderr)
		}
		for path, want := range map[string][]byte{"a.bin": a, "sub/b.bin": b} {
			if got, err := os.ReadFile(filepath.Join(dst, path)); err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s came back different: %v", path, err)
			}
		}
	})

	t.Run("scp of a missing remote file exits 1", func(t *testing.T) {
		res := runSCP("cloud@linux-vm:/no/such/file", t.TempDir())
		if res.code != 1 || !strings.Contains(res.stderr, "/no/such/file") {
			t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
		}
	})

	t.Run("--local-ssh runs OpenSSH with d8 as its ProxyCommand", func(t *testing.T) {
		if _, err := exec.LookPath("ssh"); err != nil {
			t.Skip("the OpenSSH client is not installed")
		}
		// ssh starts this test binary as the ProxyCommand; TestMain turns it into d8.
		t.Setenv(envRunAsD8, "1")
		// -F /dev/null: no ssh_config of this machine; BatchMode: fail rather than ask.
		local := []string{"--local-ssh", "--local-ssh-opts", "-F /dev/null -o BatchMode=yes"}
		res := runSSH(nil, append(local, "cloud@linux-vm", "--command", "nproc")...)
		if res.code != 0 || strings.TrimSpace(res.stdout) != strconv.Itoa(guest.vCPUs) {
			t.Fatalf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
		}
		if res := runSSH(nil, append(local, "cloud@linux-vm.prod", "--command", "exit 7")...); res.code != 7 {
			t.Fatalf("exit %d, want 7; stderr %q", res.code, res.stderr)
		}

		up := filepath.Join(t.TempDir(), "local-scp.bin")
		data := randomFile(t, up, 200000)
		if res := runSCP(append(local, up, "cloud@linux-vm:local-scp.bin")...); res.code != 0 {
			t.Fatalf("scp --local-ssh: exit %d, stderr %q", res.code, res.stderr)
		}
		sum := sha256.Sum256(data)
		if got := remoteSHA256("local-scp.bin"); got != hex.EncodeToString(sum[:]) {
			t.Fatalf("sha256 on the guest %s, want %x", got, sum)
		}
	})
}
