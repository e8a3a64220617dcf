package d8

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// defaultNoVNCDir is where Debian's novnc package puts noVNC.
const defaultNoVNCDir = "/usr/share/novnc"

// browserReadLimit bounds one message from the browser: noVNC sends keys, pointer moves and
// clipboard text, never large frames.
const browserReadLimit = 1 << 20

//go:embed vncweb.html
var vncWebPage string

var vncWebTemplate = template.Must(template.New("vnc").Parse(vncWebPage))

// runWeb serves noVNC and a websocket per browser tab that carries noVNC's frames to a VNC
// stream of the VM. Everything is under /TOKEN/, a random path only the printed URL holds:
// other users of this machine reach 127.0.0.1 too.
func (o *vncOptions) runWeb(ctx context.Context, streams Streams, d *vmDialer) error {
	dir := o.novncDir
	if dir == "" {
		dir = defaultNoVNCDir
	}
	if _, err := os.Stat(filepath.Join(dir, "core", "rfb.js")); err != nil {
		return fmt.Errorf("noVNC is not in %s (no core/rfb.js): install Debian's novnc package, or give --novnc-dir, e.g. node_modules/@novnc/novnc after npm install @novnc/novnc", dir)
	}
	token, err := randomToken()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.port)))
	if err != nil {
		return err
	}
	base := fmt.Sprintf("http://%s/%s/", ln.Addr(), token)
	srv := &http.Server{
		Handler:           &vncWebHandler{token: token, dir: dir, dialer: d, errOut: streams.ErrOut},
		ReadHeaderTimeout: 10 * time.Second,
		// Request contexts end with d8's, which ends the websockets (hijacked, so Shutdown
		// does not see them).
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
	}()

	if o.proxyOnly {
		line, _ := json.Marshal(struct {
			Port int    `json:"port"`
			URL  string `json:"url"`
		}{ln.Addr().(*net.TCPAddr).Port, base})
		fmt.Fprintln(streams.Out, string(line))
	} else {
		fmt.Fprintf(streams.Out, "The screen of VirtualMachine %s/%s: %s\n", d.namespace, d.name, base)
		if _, err := os.Stat(filepath.Join(dir, "vnc.html")); err == nil {
			fmt.Fprintf(streams.Out, "noVNC's full client: %snovnc/vnc.html?autoconnect=true&resize=scale&path=%s/websockify\n", base, token)
		}
		if opener, err := exec.LookPath("xdg-open"); err == nil {
			openBrowser(opener, base, streams.ErrOut)
		} else {
			fmt.Fprintln(streams.Out, "Open it in a browser.")
		}
		fmt.Fprintln(streams.Out, "Press Ctrl+C to stop.")
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-served:
		return err
	}
}

// openBrowser runs xdg-open without waiting on it: it may stay until the browser exits.
func openBrowser(opener, url string, errOut io.Writer) {
	c := exec.Command(opener, url)
	if err := c.Start(); err != nil {
		fmt.Fprintf(errOut, "warning: %s: %v\n", opener, err)
		return
	}
	go c.Wait()
}

func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// vncWebHandler serves /TOKEN/ (the page), /TOKEN/novnc/... (noVNC's files) and
// /TOKEN/websockify (the VM's screen).
type vncWebHandler struct {
	token  string
	dir    string
	dialer *vmDialer
	errOut io.Writer
}

func (h *vncWebHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if subtle.ConstantTimeCompare([]byte(token), []byte(h.token)) != 1 {
		http.NotFound(w, r)
		return
	}
	switch {
	case r.URL.Path == "/"+token:
		http.Redirect(w, r, "/"+token+"/", http.StatusMovedPermanently)
	case rest == "":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		vncWebTemplate.Execute(w, struct{ VM string }{h.dialer.name + "." + h.dialer.namespace})
	case rest == "websockify":
		h.serveWebsocket(w, r)
	case strings.HasPrefix(rest, "novnc/"):
		http.StripPrefix("/"+token+"/novnc", http.FileServer(http.Dir(h.dir))).ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

// serveWebsocket dials the VM's VNC stream first, so a refusal is the browser's HTTP error,
// then relays messages both ways.
func (h *vncWebHandler) serveWebsocket(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := h.dialer
	vm, err := d.dial(ctx, "vnc", nil)
	if err != nil {
		fmt.Fprintf(h.errOut, "error: opening the VNC stream of VirtualMachine %s/%s: %v\n", d.namespace, d.name, err)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer vm.CloseNow()
	// The default origin check stands: only the page served here may connect.
	browser, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"binary"}})
	if err != nil {
		return
	}
	defer browser.CloseNow()
	browser.SetReadLimit(browserReadLimit)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fromVM := make(chan error, 1)
	fromBrowser := make(chan error, 1)
	go func() { fromVM <- relayMessages(ctx, browser, vm) }()
	go func() { fromBrowser <- relayMessages(ctx, vm, browser) }()
	select {
	case err := <-fromVM:
		reason := "the VM closed the VNC stream"
		var ce websocket.CloseError
		if errors.As(err, &ce) && ce.Reason != "" {
			reason = ce.Reason
		} else if ctx.Err() == nil && websocket.CloseStatus(err) == -1 {
			fmt.Fprintf(h.errOut, "error: the VNC stream of VirtualMachine %s/%s ended: %v\n", d.namespace, d.name, err)
		}
		browser.Close(websocket.StatusNormalClosure, truncateReason(reason))
		vm.Close(websocket.StatusNormalClosure, "")
	case <-fromBrowser:
		vm.Close(websocket.StatusNormalClosure, "")
		browser.Close(websocket.StatusNormalClosure, "")
	case <-ctx.Done():
		vm.Close(websocket.StatusNormalClosure, "")
		browser.Close(websocket.StatusGoingAway, "d8 stopped")
	}
}

// relayMessages copies each message of src to dst as a binary message until src ends.
func relayMessages(ctx context.Context, dst, src *websocket.Conn) error {
	for {
		_, r, err := src.Reader(ctx)
		if err != nil {
			return err
		}
		w, err := dst.Writer(ctx, websocket.MessageBinary)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, r); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
}

// truncateReason fits a close reason in a control frame (123 bytes).
func truncateReason(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}
