// Package guest holds the boot tests of the test guest that build.sh assembles: they boot
// it in qemu under TCG as the platform does and check what its tests and the user guide
// rely on (login, cloud-init, DHCP, SSH, the guest agent, ACPI power off).
package guest

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// The seed of the user guide: user cloud, password cloud.
const cloudPasswordHash = "$6$rounds=4096$saltsalt$fPmUsbjAuA7mnQNTajQM6ClhesyG0.yyQhvahas02ejfMAq1ykBo1RquzS0R6GgdIDlvS.kbUwDablGZKZcTP/"

// Bounds for a shared two-core machine; the guest needs a few seconds when idle.
const (
	bootTimeout     = 3 * time.Minute
	poweroffTimeout = time.Minute
)

func TestDiskBootAppliesCloudInit(t *testing.T) {
	image := buildGuest(t)
	signer, authorizedKey := sshKey(t)
	dir := shortTempDir(t)
	seed := seedISO(t, dir, "instance-id: linux-vm.default\nlocal-hostname: linux-vm\n", fmt.Sprintf(`#cloud-config
ssh_pwauth: True
package_update: true
packages: [nginx]
users:
- name: cloud
  passwd: '%s'
  shell: /bin/bash
  sudo: ALL=(ALL) NOPASSWD:ALL
  lock_passwd: False
  ssh_authorized_keys:
  - %s
write_files:
- path: /etc/walkthrough/plain.txt
  content: written by write_files
  permissions: '0640'
- path: /etc/walkthrough/encoded.txt
  encoding: b64
  content: ZGVjb2RlZCBmcm9tIGJhc2U2NA==
runcmd:
- echo "runcmd ran on $(hostname)" > /var/tmp/runcmd.txt
- [touch, /var/tmp/argv form]
final_message: "guest finished after $UPTIME seconds"
`, cloudPasswordHash, authorizedKey))

	m := startMachine(t, machineConfig{cpus: 2, bootDisk: filepath.Join(image, "guest.qcow2"), seedCD: seed})
	c := m.console
	waitForLogin(t, c, "linux-vm")
	t.Logf("disk boot: login prompt %.1fs after the virtual CPUs started", time.Since(m.started).Seconds())
	c.seen = 0
	up := c.waitFor(t, regexp.MustCompile(`guest finished after ([0-9.]+) seconds`), bootTimeout)
	t.Logf("final_message: NoCloud finished %s s after the kernel started", up[1])
	if _, err := strconv.ParseFloat(up[1], 64); err != nil {
		t.Errorf("$UPTIME became %q", up[1])
	}

	c.seen = 0
	c.send(t, "")
	c.login(t, "linux-vm", "cloud", "cloud")
	if got := c.run(t, "nproc"); got != "2" {
		t.Errorf("nproc with -smp 2 printed %q", got)
	}
	if got := c.run(t, "ip -4 addr show"); !strings.Contains(got, "inet 10.66.10.14/24") {
		t.Errorf("ip addr does not show the address DHCP handed out (10.66.10.14/24):\n%s", got)
	}
	if got := c.run(t, "sudo cat /etc/walkthrough/plain.txt; echo; stat -c %a /etc/walkthrough/plain.txt"); got != "written by write_files\n640" {
		t.Errorf("write_files plain entry: got %q", got)
	}
	if got := c.run(t, "cat /etc/walkthrough/encoded.txt"); got != "decoded from base64" {
		t.Errorf("write_files b64 entry: got %q", got)
	}
	if got := c.run(t, "cat /var/tmp/runcmd.txt; ls /var/tmp/"); !strings.Contains(got, "runcmd ran on linux-vm") || !strings.Contains(got, "argv form") {
		t.Errorf("runcmd effects missing:\n%s", got)
	}
	if got := c.run(t, "sudo id -u"); got != "0" {
		t.Errorf("sudo id -u as cloud printed %q", got)
	}
	kernel := c.run(t, "uname -r")

	ga := dialAgent(t, m.path("qga.sock"))
	ga.sync(t, bootTimeout)
	ga.execute(t, "guest-ping", nil)
	var osInfo struct {
		ID            string `json:"id"`
		PrettyName    string `json:"pretty-name"`
		KernelRelease string `json:"kernel-release"`
	}
	ga.execute(t, "guest-get-osinfo", &osInfo)
	osRelease := c.run(t, ". /etc/os-release; echo $ID; echo $PRETTY_NAME")
	if want := osInfo.ID + "\n" + osInfo.PrettyName; osInfo.ID == "" || osRelease != want {
		t.Errorf("guest-get-osinfo says id %q, pretty-name %q; /etc/os-release says %q", osInfo.ID, osInfo.PrettyName, osRelease)
	}
	if osInfo.KernelRelease != kernel {
		t.Errorf("guest-get-osinfo kernel-release %q, uname -r %q", osInfo.KernelRelease, kernel)
	}
	var host struct {
		HostName string `json:"host-name"`
	}
	ga.execute(t, "guest-get-host-name", &host)
	if host.HostName != "linux-vm" {
		t.Errorf("guest-get-host-name: %q", host.HostName)
	}
	var ifaces []struct {
		Name string `json:"name"`
		IPs  []struct {
			Address string `json:"ip-address"`
		} `json:"ip-addresses"`
	}
	ga.execute(t, "guest-network-get-interfaces", &ifaces)
	if !strings.Contains(fmt.Sprint(ifaces), "10.66.10.14") {
		t.Errorf("guest-network-get-interfaces does not list 10.66.10.14: %+v", ifaces)
	}

	sshAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(m.sshPort))
	if got := sshRun(t, sshAddr, "cloud", ssh.PublicKeys(signer), "hostname"); got != "linux-vm" {
		t.Errorf("hostname over SSH with the key: %q", got)
	}
	if got := sshRun(t, sshAddr, "cloud", ssh.Password("cloud"), "id -un"); got != "cloud" {
		t.Errorf("id -un over SSH with the password (ssh_pwauth: True): %q", got)
	}

	// A reboot typed in the guest comes back to a login prompt in the same qemu process.
	c.send(t, "sudo reboot")
	waitForLogin(t, c, "linux-vm")

	m.qmp.execute(t, "system_powerdown")
	m.waitExit(poweroffTimeout)
}

func TestISOBootsAsCDROM(t *testing.T) {
	image := buildGuest(t)
	dir := shortTempDir(t)
	// A vfat seed on a virtio disk, the other form NoCloud accepts.
	seed := seedVFAT(t, dir, "instance-id: iso-vm\n", fmt.Sprintf(`#cloud-config
hostname: iso-vm
users:
- name: cloud
  passwd: '%s'
  lock_passwd: false
  sudo: ALL=(ALL) NOPASSWD:ALL
`, cloudPasswordHash))

	m := startMachine(t, machineConfig{cpus: 1, bootISO: filepath.Join(image, "guest.iso"), seedDisk: seed})
	waitForLogin(t, m.console, "iso-vm")
	t.Logf("ISO boot: login prompt %.1fs after the virtual CPUs started", time.Since(m.started).Seconds())
	m.console.seen = 0
	m.console.send(t, "")
	m.console.login(t, "iso-vm", "cloud", "cloud")
	m.console.send(t, "sudo poweroff")
	m.waitExit(poweroffTimeout)
}

// waitForLogin waits for getty's prompt and fails at once if it names another host (the
// seed was not applied).
func waitForLogin(t *testing.T, c *console, host string) {
	t.Helper()
	if got := c.waitFor(t, regexp.MustCompile(`([A-Za-z0-9.-]+) login: `), bootTimeout)[1]; got != host {
		t.Fatalf("the login prompt names host %q, want %q", got, host)
	}
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
	buildLog  []byte
)

// buildGuest runs build.sh once per test binary (it returns at once when its outputs are
// up to date) and returns its output directory.
func buildGuest(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("boots a guest under TCG")
	}
	buildOnce.Do(func() {
		repo, err := filepath.Abs("../..")
		if err != nil {
			buildErr = err
			return
		}
		buildDir = filepath.Join(repo, "bin", "guest")
		cmd := exec.Command("./build.sh", buildDir)
		buildLog, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("build.sh: %v\n%s", buildErr, buildLog)
	}
	t.Logf("build.sh:\n%s", buildLog)
	return buildDir
}

// seedISO makes a NoCloud drive as KubeVirt's cloudInitNoCloud does.
func seedISO(t *testing.T, dir, metaData, userData string) string {
	t.Helper()
	files := writeSeedFiles(t, dir, metaData, userData)
	iso := filepath.Join(dir, "cidata.iso")
	run(t, "genisoimage", "-quiet", "-o", iso, "-V", "cidata", "-J", "-r", files)
	return iso
}

// seedVFAT makes a NoCloud drive as a FAT file system labelled cidata, without mounting.
func seedVFAT(t *testing.T, dir, metaData, userData string) string {
	t.Helper()
	files := writeSeedFiles(t, dir, metaData, userData)
	img := filepath.Join(dir, "cidata.img")
	run(t, "truncate", "-s", "2M", img)
	run(t, "mkfs.fat", "-n", "CIDATA", img)
	run(t, "mcopy", "-i", img, filepath.Join(files, "meta-data"), filepath.Join(files, "user-data"), "::/")
	return img
}

func writeSeedFiles(t *testing.T, dir, metaData, userData string) string {
	t.Helper()
	files := filepath.Join(dir, "seed")
	if err := os.MkdirAll(files, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"meta-data": metaData, "user-data": userData} {
		if err := os.WriteFile(filepath.Join(files, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func sshKey(t *testing.T) (ssh.Signer, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return signer, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
}

// sshRun runs a command over SSH. It retries a refused or dropped connection for a bounded
// time (the guest may still be starting dropbear), never a refused login.
func sshRun(t *testing.T, addr, user string, auth ssh.AuthMethod, command string) string {
	t.Helper()
	cfg := &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{auth},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // a fresh guest; its key is made at boot
		Timeout:         30 * time.Second,
	}
	var client *ssh.Client
	var err error
	deadline := time.Now().Add(bootTimeout)
	for {
		if client, err = ssh.Dial("tcp", addr, cfg); err == nil {
			break
		}
		if strings.Contains(err.Error(), "unable to authenticate") || time.Now().After(deadline) {
			t.Fatalf("ssh %s@%s: %v", user, addr, err)
		}
		time.Sleep(time.Second)
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		t.Fatalf("ssh session: %v", err)
	}
	defer session.Close()
	out, err := session.CombinedOutput(command)
	if err != nil {
		t.Fatalf("ssh %s: %v\n%s", command, err, out)
	}
	return strings.TrimSpace(string(out))
}
