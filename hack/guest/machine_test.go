package guest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
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
)

// machine is one qemu process booting the guest under TCG, started paused so that the
// serial console is connected before the first byte of output.
type machine struct {
	t       *testing.T
	dir     string
	cmd     *exec.Cmd
	exited  chan struct{}
	exitErr error
	console *console
	qmp     *qmp
	sshPort int
	started time.Time
}

type machineConfig struct {
	cpus     int
	bootDisk string // a qcow2 image, booted through an overlay so that it stays pristine
	bootISO  string // an ISO booted as an IDE CD-ROM
	seedCD   string // a cidata ISO attached as an IDE CD-ROM
	seedDisk string // a cidata image attached as a virtio disk
}

func startMachine(t *testing.T, cfg machineConfig) *machine {
	t.Helper()
	m := &machine{t: t, dir: shortTempDir(t), exited: make(chan struct{})}
	m.sshPort = freePort(t)
	args := []string{
		"-machine", "pc", "-accel", "tcg", "-m", "256", "-smp", strconv.Itoa(cfg.cpus),
		"-nodefaults", "-display", "none", "-vga", "std", "-S",
		"-netdev", fmt.Sprintf("user,id=net0,net=10.66.10.0/24,dhcpstart=10.66.10.14,hostfwd=tcp:127.0.0.1:%d-:22", m.sshPort),
		"-device", "virtio-net-pci,netdev=net0",
		"-chardev", "socket,id=serial0,path=" + m.path("serial.sock") + ",server=on,wait=off,logfile=" + m.path("serial.log"),
		"-serial", "chardev:serial0",
		"-chardev", "socket,id=qga0,path=" + m.path("qga.sock") + ",server=on,wait=off",
		"-device", "virtio-serial-pci",
		"-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
		"-qmp", "unix:" + m.path("qmp.sock") + ",server=on,wait=off",
	}
	if cfg.bootDisk != "" {
		overlay := m.path("disk.qcow2")
		run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", cfg.bootDisk, overlay)
		args = append(args, "-blockdev", "driver=qcow2,node-name=disk0,file.driver=file,file.filename="+overlay,
			"-device", "virtio-blk-pci,drive=disk0,bootindex=1")
	}
	if cfg.bootISO != "" {
		args = append(args, "-blockdev", "driver=raw,node-name=cd0,read-only=on,file.driver=file,file.filename="+cfg.bootISO,
			"-device", "ide-cd,drive=cd0,bootindex=1")
	}
	if cfg.seedCD != "" {
		args = append(args, "-blockdev", "driver=raw,node-name=seed0,read-only=on,file.driver=file,file.filename="+cfg.seedCD,
			"-device", "ide-cd,drive=seed0")
	}
	if cfg.seedDisk != "" {
		args = append(args, "-blockdev", "driver=raw,node-name=seed0,read-only=on,file.driver=file,file.filename="+cfg.seedDisk,
			"-device", "virtio-blk-pci,drive=seed0")
	}
	stderr, err := os.Create(m.path("qemu.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	m.cmd = exec.Command("qemu-system-x86_64", args...)
	m.cmd.Stdout, m.cmd.Stderr = stderr, stderr
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start qemu: %v", err)
	}
	go func() {
		m.exitErr = m.cmd.Wait()
		stderr.Close()
		close(m.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-m.exited:
		default:
			m.cmd.Process.Kill()
			<-m.exited
		}
		if t.Failed() {
			logTail(t, "serial console", m.path("serial.log"))
			logTail(t, "qemu", m.path("qemu.stderr"))
		}
	})
	m.qmp = dialQMP(t, m.path("qmp.sock"), m.exited)
	m.console = dialConsole(t, m.path("serial.sock"))
	m.qmp.execute(t, "cont")
	m.started = time.Now()
	return m
}

func (m *machine) path(name string) string { return filepath.Join(m.dir, name) }

// waitExit waits for qemu to end on its own and fails if it does not or if it failed.
func (m *machine) waitExit(timeout time.Duration) {
	m.t.Helper()
	select {
	case <-m.exited:
		if m.exitErr != nil {
			m.t.Fatalf("qemu exited with %v", m.exitErr)
		}
	case <-time.After(timeout):
		m.t.Fatalf("qemu still runs %s after the guest was told to power off", timeout)
	}
}

// console is the serial console: everything the guest wrote, and a way to type.
type console struct {
	conn net.Conn
	mu   sync.Mutex
	buf  bytes.Buffer
	seen int // offset up to which waitFor has consumed the output
	more chan struct{}
}

func dialConsole(t *testing.T, path string) *console {
	conn := dialUnix(t, path)
	c := &console{conn: conn, more: make(chan struct{}, 1)}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := conn.Read(b)
			if n > 0 {
				c.mu.Lock()
				c.buf.Write(b[:n])
				c.mu.Unlock()
				select {
				case c.more <- struct{}{}:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return c
}

// waitFor waits for output matching re after what earlier calls consumed, consumes up to
// the end of the match and returns the submatches.
func (c *console) waitFor(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		out := c.buf.String()[c.seen:]
		if loc := re.FindStringSubmatchIndex(out); loc != nil {
			c.seen += loc[1]
			c.mu.Unlock()
			var groups []string
			for i := 0; i < len(loc); i += 2 {
				if loc[i] < 0 {
					groups = append(groups, "")
				} else {
					groups = append(groups, out[loc[i]:loc[i+1]])
				}
			}
			return groups
		}
		c.mu.Unlock()
		select {
		case <-c.more:
		case <-deadline:
			t.Fatalf("no %q on the serial console within %s", re, timeout)
		}
	}
}

func (c *console) send(t *testing.T, line string) {
	t.Helper()
	if _, err := c.conn.Write([]byte(line + "\r")); err != nil {
		t.Fatalf("type on the serial console: %v", err)
	}
}

// login logs in on the console and waits for the user's prompt.
func (c *console) login(t *testing.T, host, user, password string) {
	t.Helper()
	c.waitFor(t, regexp.MustCompile(regexp.QuoteMeta(host)+` login: `), 30*time.Second)
	c.send(t, user)
	c.waitFor(t, regexp.MustCompile(`Password: `), 30*time.Second)
	c.send(t, password)
	c.waitFor(t, regexp.MustCompile(regexp.QuoteMeta(user+"@"+host)+`:~\$ `), 30*time.Second)
}

// run types a command at a shell prompt and returns its output. The output is fenced by
// markers the shell computes, so the echo of the typed line never matches them.
func (c *console) run(t *testing.T, command string) string {
	t.Helper()
	n, _ := rand.Int(rand.Reader, big.NewInt(1<<30))
	a, b := n.Int64(), n.Int64()+1
	c.send(t, fmt.Sprintf("echo @$((%d+0))@; %s; echo @$((%d+0))@", a, command, b))
	re := regexp.MustCompile(fmt.Sprintf(`(?s)@%d@\r?\n(.*?)@%d@\r?\n`, a, b))
	out := c.waitFor(t, re, 60*time.Second)[1]
	return strings.TrimSpace(strings.ReplaceAll(out, "\r", ""))
}

// qmp is a minimal QMP client: one command at a time, events skipped.
type qmp struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialQMP(t *testing.T, path string, exited <-chan struct{}) *qmp {
	t.Helper()
	q := &qmp{conn: dialUnixUnless(t, path, exited)}
	q.r = bufio.NewReader(q.conn)
	t.Cleanup(func() { q.conn.Close() })
	q.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := q.r.ReadBytes('\n'); err != nil {
		t.Fatalf("QMP greeting: %v", err)
	}
	q.execute(t, "qmp_capabilities")
	return q
}

func (q *qmp) execute(t *testing.T, command string) json.RawMessage {
	t.Helper()
	q.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(q.conn, `{"execute":%q}`+"\n", command); err != nil {
		t.Fatalf("QMP %s: %v", command, err)
	}
	for {
		line, err := q.r.ReadBytes('\n')
		if err != nil {
			t.Fatalf("QMP %s: %v", command, err)
		}
		var reply struct {
			Return json.RawMessage `json:"return"`
			Error  *struct{ Desc string }
		}
		if err := json.Unmarshal(line, &reply); err != nil {
			t.Fatalf("QMP %s: %v in %s", command, err, line)
		}
		if reply.Error != nil {
			t.Fatalf("QMP %s: %s", command, reply.Error.Desc)
		}
		if reply.Return != nil {
			return reply.Return
		}
	}
}

// agent talks to qemu-ga over the guest agent's chardev socket.
type agent struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialAgent(t *testing.T, path string) *agent {
	t.Helper()
	a := &agent{conn: dialUnix(t, path)}
	a.r = bufio.NewReader(a.conn)
	t.Cleanup(func() { a.conn.Close() })
	return a
}

// sync waits until the agent answers guest-sync-delimited with a fresh id, which also
// drops whatever stale bytes were in the channel; the agent may still be starting.
func (a *agent) sync(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		n, _ := rand.Int(rand.Reader, big.NewInt(1<<31))
		id := n.Int64()
		a.conn.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := fmt.Fprintf(a.conn, `{"execute":"guest-sync-delimited","arguments":{"id":%d}}`+"\n", id); err != nil {
			t.Fatalf("write to the guest agent: %v", err)
		}
		for {
			// The reply is preceded by a 0xFF byte; everything before it is stale.
			if _, err := a.r.ReadBytes(0xff); err != nil {
				break
			}
			line, err := a.r.ReadBytes('\n')
			if err != nil {
				break
			}
			var reply struct{ Return int64 }
			if json.Unmarshal(line, &reply) == nil && reply.Return == id {
				return
			}
		}
	}
	t.Fatalf("the guest agent did not answer guest-sync-delimited within %s", timeout)
}

func (a *agent) execute(t *testing.T, command string, out any) {
	t.Helper()
	a.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(a.conn, `{"execute":%q}`+"\n", command); err != nil {
		t.Fatalf("guest agent %s: %v", command, err)
	}
	line, err := a.r.ReadBytes('\n')
	if err != nil {
		t.Fatalf("guest agent %s: %v", command, err)
	}
	var reply struct {
		Return json.RawMessage `json:"return"`
		Error  *struct{ Desc string }
	}
	if err := json.Unmarshal(line, &reply); err != nil {
		t.Fatalf("guest agent %s: %v in %s", command, err, line)
	}
	if reply.Error != nil || reply.Return == nil {
		t.Fatalf("guest agent %s failed: %s", command, line)
	}
	if out != nil {
		if err := json.Unmarshal(reply.Return, out); err != nil {
			t.Fatalf("guest agent %s: %v in %s", command, err, line)
		}
	}
}

func dialUnix(t *testing.T, path string) net.Conn {
	t.Helper()
	return dialUnixUnless(t, path, nil)
}

// dialUnixUnless connects to a socket qemu creates, waiting a bounded time for it.
func dialUnixUnless(t *testing.T, path string, exited <-chan struct{}) net.Conn {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.Dial("unix", path)
		if err == nil {
			return conn
		}
		select {
		case <-exited:
			t.Fatalf("qemu exited before %s appeared", path)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("connect %s: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// shortTempDir is a temporary directory with a path short enough for unix sockets (108
// bytes), which t.TempDir() under a long test name may exceed.
func shortTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "guest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func logTail(t *testing.T, what, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	t.Logf("last output of %s:\n%s", what, data)
}
