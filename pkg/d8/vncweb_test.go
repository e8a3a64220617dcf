package d8

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
)

// needBrowserTools makes sure chromium and Debian's noVNC are there, installing them with
// hack/install-deps.sh (as make test does) when they are missing; it skips the test only
// when that cannot install them.
func needBrowserTools(t *testing.T) string {
	t.Helper()
	missing := func() string {
		if _, err := os.Stat(filepath.Join(defaultNoVNCDir, "core", "rfb.js")); err != nil {
			return "noVNC (" + defaultNoVNCDir + ")"
		}
		if _, err := exec.LookPath("chromium"); err != nil {
			return "chromium"
		}
		return ""
	}
	if what := missing(); what != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "../../hack/install-deps.sh").CombinedOutput()
		if what := missing(); what != "" {
			t.Skipf("%s is missing and hack/install-deps.sh could not install it: %v\n%s", what, err, out)
		}
	}
	chromium, _ := exec.LookPath("chromium")
	return chromium
}

// pixelVariance is the variance of the image's luminance: 0 for a blank screen.
func pixelVariance(t *testing.T, shot []byte) float64 {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("decoding the screenshot: %v", err)
	}
	var sum, sumSq, n float64
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			l := (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
			sum += l
			sumSq += l * l
			n++
		}
	}
	if n == 0 {
		return 0
	}
	mean := sum / n
	return sumSq/n - mean*mean
}

func sameImage(a, b []byte) bool {
	ia, errA := png.Decode(bytes.NewReader(a))
	ib, errB := png.Decode(bytes.NewReader(b))
	if errA != nil || errB != nil || ia.Bounds() != ib.Bounds() {
		return false
	}
	for y := ia.Bounds().Min.Y; y < ia.Bounds().Max.Y; y++ {
		for x := ia.Bounds().Min.X; x < ia.Bounds().Max.X; x++ {
			if ia.At(x, y) != ib.At(x, y) {
				return false
			}
		}
	}
	return true
}

func TestVNCWebWithGuest(t *testing.T) {
	needGuestTools(t)
	chromium := needBrowserTools(t)
	guest := bootGuest(t, guestUserData(newGuestUserKey(t)))
	kubeconfig := serveStreams(t, &guestSubresources{guest: guest})

	ctx, stopD8 := context.WithCancel(context.Background())
	defer stopD8()
	d8 := startD8(ctx, strings.NewReader(""), nil, "v", "vnc", "--kubeconfig", kubeconfig, "--web", "--proxy-only", "linux-vm")
	line := waitFor(t, "stdout", d8.out.String, regexp.MustCompile(`^(\{.*\})\n`))[1]
	var printed struct {
		Port int
		URL  string
	}
	if err := json.Unmarshal([]byte(line), &printed); err != nil || printed.Port == 0 || !strings.HasPrefix(printed.URL, fmt.Sprintf("http://127.0.0.1:%d/", printed.Port)) {
		t.Fatalf("stdout %q: %v", line, err)
	}

	t.Run("only the printed URL serves", func(t *testing.T) {
		for _, path := range []string{"/", "/vnc.html", "/core/rfb.js", "/0123456789abcdef0123456789abcdef/"} {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", printed.Port, path))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: %s, want 404", path, resp.Status)
			}
		}
	})

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1024, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	// The first run starts the browser and must have no deadline; later ones are bounded.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	bounded := func(timeout time.Duration) context.Context {
		ctx, cancel := context.WithTimeout(browser, timeout)
		t.Cleanup(cancel)
		return ctx
	}
	do := func(timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bounded(timeout), steps...); err != nil {
			t.Fatalf("browser: %v; d8's stderr %q", err, d8.errOut.String())
		}
	}
	screenshot := func() []byte {
		t.Helper()
		shot, err := chromedp.Run(bounded(30*time.Second), chromedp.Screenshot(chromedp.CSS("#screen canvas")))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		return shot
	}

	do(2*time.Minute, chromedp.Navigate(printed.URL), chromedp.WaitVisible(chromedp.CSS("#screen canvas")))
	for deadline := time.Now().Add(time.Minute); ; {
		status, err := chromedp.Run(bounded(10*time.Second), chromedp.Text(chromedp.CSS("#status")))
		if err != nil {
			t.Fatal(err)
		}
		if status == "Connected" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page says %q, not Connected; d8's stderr %q", status, d8.errOut.String())
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The guest's text console is on the screen: not a blank canvas.
	var before []byte
	for deadline := time.Now().Add(time.Minute); ; {
		before = screenshot()
		if pixelVariance(t, before) > 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the screen stays blank (luminance variance %.2f)", pixelVariance(t, before))
		}
		time.Sleep(time.Second)
	}

	// Log in on tty1 and run mark, whose output on the serial console proves the keys reached
	// the guest's shell. login drops what is typed before it asks, so a round that typed too
	// early is typed again: a failed login asks again, a lost command runs the next time.
	n := rand.IntN(9000) + 1000
	evidence := fmt.Sprintf("MARK-%d-%d", n, 2*n)
	do(10*time.Second, chromedp.Click(chromedp.CSS("#screen canvas")))
	typed := false
	for round := 0; round < 4 && !typed; round++ {
		do(time.Minute, chromedp.KeyEvent("cloud\r"), chromedp.Sleep(3*time.Second),
			chromedp.KeyEvent("cloud\r"), chromedp.Sleep(4*time.Second),
			chromedp.KeyEvent(fmt.Sprintf("sudo mark %d\r", n)))
		typed = guest.serialShows(evidence, 30*time.Second)
	}
	if !typed {
		data, _ := os.ReadFile(guest.machine.SerialLog())
		t.Fatalf("the serial console never showed %s: the keys typed in noVNC did not reach the guest; it holds:\n%s", evidence, data)
	}
	if sameImage(before, screenshot()) {
		t.Errorf("the screen did not change after logging in on it")
	}

	stopD8()
	if code := d8.exitCode(t); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, d8.errOut.String())
	}
}

// Without a browser or a guest: the page and noVNC's files are served under the token, the
// websocket carries the VM's stream both ways, and a missing noVNC is exit 1.
func TestVNCWebServer(t *testing.T) {
	kubeconfig := startStreamServer(t)
	novnc := t.TempDir()
	if err := os.MkdirAll(filepath.Join(novnc, "core"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(novnc, "core", "rfb.js"), []byte("export default class RFB {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("serves and relays", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		d8 := startD8(ctx, strings.NewReader(""), nil, "v", "vnc", "--kubeconfig", kubeconfig, "--web", "--proxy-only", "--novnc-dir", novnc, "linux-vm")
		line := waitFor(t, "stdout", d8.out.String, regexp.MustCompile(`^(\{.*\})\n`))[1]
		var printed struct{ URL string }
		if err := json.Unmarshal([]byte(line), &printed); err != nil {
			t.Fatal(err)
		}
		get := func(url string) string {
			t.Helper()
			resp, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s", url, resp.Status)
			}
			return string(body)
		}
		if page := get(printed.URL); !strings.Contains(page, `import RFB from "./novnc/core/rfb.js"`) || !strings.Contains(page, "linux-vm.prod") {
			t.Errorf("the page: %q", page)
		}
		if js := get(printed.URL + "novnc/core/rfb.js"); js != "export default class RFB {}\n" {
			t.Errorf("core/rfb.js: %q", js)
		}

		wsURL := "ws" + strings.TrimPrefix(printed.URL, "http") + "websockify"
		for range 2 { // each tab gets its own stream
			dialCtx, cancelDial := context.WithTimeout(ctx, 10*time.Second)
			conn, _, err := websocket.Dial(dialCtx, wsURL, &websocket.DialOptions{Subprotocols: []string{"binary"}})
			if err != nil {
				cancelDial()
				t.Fatalf("dial %s: %v; stderr %q", wsURL, err, d8.errOut.String())
			}
			if _, greeting, err := conn.Read(dialCtx); err != nil || string(greeting) != "RFB 003.008\n" {
				t.Fatalf("greeting %q: %v", greeting, err)
			}
			if err := conn.Write(dialCtx, websocket.MessageBinary, []byte("RFB 003.008\n")); err != nil {
				t.Fatal(err)
			}
			if typ, echoed, err := conn.Read(dialCtx); err != nil || typ != websocket.MessageBinary || string(echoed) != "RFB 003.008\n" {
				t.Fatalf("echo %v %q: %v", typ, echoed, err)
			}
			conn.Close(websocket.StatusNormalClosure, "")
			cancelDial()
		}
		cancel()
		if code := d8.exitCode(t); code != 0 {
			t.Fatalf("exit %d, stderr %q", code, d8.errOut.String())
		}
	})

	t.Run("a missing noVNC exits 1", func(t *testing.T) {
		d8 := startD8(context.Background(), strings.NewReader(""), nil, "v", "vnc", "--kubeconfig", kubeconfig, "--web", "--novnc-dir", t.TempDir(), "linux-vm")
		if code := d8.exitCode(t); code != 1 || !strings.Contains(d8.errOut.String(), "no core/rfb.js") {
			t.Fatalf("exit %d, stderr %q", code, d8.errOut.String())
		}
	})
}
