package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// guestRoot makes a root directory with the account files of the image (rootfs/etc).
func guestRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, name := range []string{"passwd", "shadow", "group", "hosts", "hostname"} {
		data, err := os.ReadFile(filepath.Join("..", "rootfs", "etc", name))
		if err != nil {
			t.Fatal(err)
		}
		writeTestFile(t, filepath.Join(root, "etc", name), string(data))
	}
	writeTestFile(t, filepath.Join(root, "bin", "bash"), "")
	return root
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readTestFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func seed(t *testing.T, metaData, userData string) string {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "meta-data"), metaData)
	writeTestFile(t, filepath.Join(dir, "user-data"), userData)
	return dir
}

func TestApplyCreatesUsersFilesAndPolicy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown of the home directory needs root")
	}
	root := guestRoot(t)
	var log bytes.Buffer
	var hostname string
	a := &Applier{Root: root, Log: &log, SetHostname: func(n string) error { hostname = n; return nil }}
	err := a.Apply(seed(t, "instance-id: vm.ns\nlocal-hostname: linux-vm\n", `#cloud-config
ssh_pwauth: false
groups: [ops]
users:
- name: cloud
  passwd: '$6$rounds=4096$saltsalt$fPmUsbjAuA7mnQNTajQM6ClhesyG0.yyQhvahas02ejfMAq1ykBo1RquzS0R6GgdIDlvS.kbUwDablGZKZcTP/'
  shell: /bin/bash
  groups: ops, wheel
  sudo: ALL=(ALL) NOPASSWD:ALL
  lock_passwd: false
  ssh_authorized_keys: [ssh-ed25519 AAAAkey cloud@host]
- name: locked
  plain_text_passwd: secret
- name: plain
  plain_text_passwd: secret
  lock_passwd: false
  shell: /bin/zsh
chpasswd:
  list: |
    root:rootpw
write_files:
- path: /etc/app/conf
  content: key=value
  permissions: '0600'
  owner: root:root
- path: /etc/app/deferred
  content: later
  owner: cloud:cloud
  defer: true
runcmd:
- echo ran
`))
	if err != nil {
		t.Fatalf("Apply: %v\n%s", err, log.String())
	}

	if hostname != "linux-vm" || readTestFile(t, filepath.Join(root, "etc/hostname")) != "linux-vm\n" {
		t.Errorf("host name: set %q, /etc/hostname %q", hostname, readTestFile(t, filepath.Join(root, "etc/hostname")))
	}
	if hosts := readTestFile(t, filepath.Join(root, "etc/hosts")); !strings.Contains(hosts, "127.0.1.1\tlinux-vm\n") || !strings.Contains(hosts, "localhost") {
		t.Errorf("/etc/hosts:\n%s", hosts)
	}
	acc, err := loadAccounts(root)
	if err != nil {
		t.Fatal(err)
	}
	// The group ops was made first and took gid 1000, so cloud's own group gets the next
	// one, as useradd does after groupadd.
	if got, want := strings.Join(acc.passwd.find("cloud"), ":"), "cloud:x:1000:1001::/home/cloud:/bin/bash"; got != want {
		t.Errorf("passwd entry %q, want %q", got, want)
	}
	if got, want := strings.Join(acc.group.find("cloud"), ":"), "cloud:x:1001:"; got != want {
		t.Errorf("group entry %q, want %q", got, want)
	}
	if got := acc.passwd.find("plain"); got[6] != "/bin/sh" {
		t.Errorf("a shell the guest lacks (/bin/zsh) should fall back to /bin/sh: %q", got)
	}
	if _, err := os.Stat(filepath.Join(root, "home/plain")); err != nil {
		t.Errorf("home of plain: %v", err)
	}
	if got := acc.shadow.find("cloud")[1]; !CheckPassword("cloud", got) {
		t.Errorf("cloud's shadow entry %q does not verify the password cloud", got)
	}
	if got := acc.shadow.find("locked")[1]; !strings.HasPrefix(got, "!$6$") {
		t.Errorf("lock_passwd defaults to true, as in cloud-init; shadow has %q", got)
	}
	if got := acc.shadow.find("plain")[1]; !CheckPassword("secret", got) {
		t.Errorf("plain_text_passwd was not hashed into shadow: %q", got)
	}
	if got := acc.shadow.find("root")[1]; !CheckPassword("rootpw", got) {
		t.Errorf("chpasswd did not set root's password: %q", got)
	}
	group := readTestFile(t, filepath.Join(root, "etc/group"))
	if !strings.Contains(group, "wheel:x:10:cloud\n") || !strings.Contains(group, "ops:x:1000:cloud\n") {
		t.Errorf("groups not applied:\n%s", group)
	}
	if got := readTestFile(t, filepath.Join(root, "etc/sudoers.d/90-cloud-init-users")); !strings.Contains(got, "cloud ALL=(ALL) NOPASSWD:ALL\n") {
		t.Errorf("sudoers: %q", got)
	}
	keys := filepath.Join(root, "home/cloud/.ssh/authorized_keys")
	if got := readTestFile(t, keys); got != "ssh-ed25519 AAAAkey cloud@host\n" {
		t.Errorf("authorized_keys: %q", got)
	}
	if fi, _ := os.Stat(keys); fi.Mode().Perm() != 0o600 {
		t.Errorf("authorized_keys mode %v", fi.Mode())
	}
	if got := readTestFile(t, filepath.Join(root, "etc/default/dropbear")); !strings.Contains(got, `DROPBEAR_EXTRA_ARGS="-s"`) {
		t.Errorf("ssh_pwauth: false must keep password logins off:\n%s", got)
	}
	if fi, err := os.Stat(filepath.Join(root, "etc/app/conf")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("write_files: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/app/deferred")); !os.IsNotExist(err) {
		t.Errorf("a deferred file was written at the init stage")
	}

	var console []string
	a.Console = func(line string) { console = append(console, line) }
	a.Uptime = func() (time.Duration, error) { return 4250 * time.Millisecond, nil }
	if err := a.Final(); err != nil {
		t.Fatalf("Final: %v\n%s", err, log.String())
	}
	if got := readTestFile(t, filepath.Join(root, "etc/app/deferred")); got != "later" {
		t.Errorf("deferred file: %q", got)
	}
	if !strings.Contains(log.String(), "\nran\n") {
		t.Errorf("runcmd output is not in the log:\n%s", log.String())
	}
	if len(console) != 1 || !strings.Contains(console[0], "Up 4.25 seconds") {
		t.Errorf("default final message: %q", console)
	}
	if _, err := os.Stat(filepath.Join(root, stateDir, "boot-finished")); err != nil {
		t.Errorf("boot-finished: %v", err)
	}
}

func TestDecodeContent(t *testing.T) {
	cases := []struct{ content, encoding, want string }{
		{"plain", "", "plain"},
		{"aGVsbG8=", "b64", "hello"},
		{"aGVs\n bG8=", "base64", "hello"},
		// gzip of "hello", then base64.
		{"H4sIAAAAAAAAA8tIzcnJBwCGphA2BQAAAA==", "gz+b64", "hello"},
	}
	for _, c := range cases {
		got, err := decodeContent(c.content, c.encoding)
		if err != nil || string(got) != c.want {
			t.Errorf("decodeContent(%q, %q) = %q, %v; want %q", c.content, c.encoding, got, err, c.want)
		}
	}
	if _, err := decodeContent("not base64!", "b64"); err == nil {
		t.Errorf("bad base64 was accepted")
	}
}

func TestExpandFinalMessage(t *testing.T) {
	got := expandFinalMessage("up $UPTIME s, ${VERSION}, $HOME stays", map[string]string{"UPTIME": "3.10", "VERSION": "v"})
	if got != "up 3.10 s, v, $HOME stays" {
		t.Errorf("got %q", got)
	}
}
