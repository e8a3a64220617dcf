package vmstream

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/rest"

	"github.com/virtplane/virtplane/pkg/apis/subresources/install"
	"github.com/virtplane/virtplane/pkg/apis/subresources/v1alpha2"
	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

// fakeToken is the credential the fake KubeVirt expects from the proxy.
const fakeToken = "proxy-token"

// fakeKubeVirt plays kube-apiserver in front of KubeVirt's subresources.kubevirt.io: console
// and vnc greet with "<stream> NS/NAME" and echo every message; portforward greets with the
// port and protocol and echoes. The VMIs "missing", "forbidden" and "unavailable" answer
// 404 and 403 as metav1.Status and 503 as plain text; a message "bye" closes the stream with
// 1000 "the VM closed the stream".
type fakeKubeVirt struct {
	*httptest.Server
	mu sync.Mutex
	// open counts the open streams by NS/NAME/stream; maxOpen is its peak.
	open, maxOpen map[string]int
	// paths are the paths dialed, subprotocols what the proxy offered.
	paths, subprotocols []string
	// events are the Events the proxy created.
	events []corev1.Event
}

func newFakeKubeVirt(t *testing.T) *fakeKubeVirt {
	f := &fakeKubeVirt{open: map[string]int{}, maxOpen: map[string]int{}}
	mux := http.NewServeMux()
	const vmi = "/apis/subresources.kubevirt.io/v1/namespaces/{ns}/virtualmachineinstances/{name}"
	mux.HandleFunc("GET "+vmi+"/console", f.serve)
	mux.HandleFunc("GET "+vmi+"/vnc", f.serve)
	mux.HandleFunc("GET "+vmi+"/portforward/{port}/{protocol}", f.serve)
	mux.HandleFunc("POST /api/v1/namespaces/{ns}/events", f.createEvent)
	f.Server = httptest.NewTLSServer(mux)
	t.Cleanup(f.Close)
	return f
}

// config reaches the fake as the server's kube-apiserver client config would: its CA, a
// bearer token.
func (f *fakeKubeVirt) config() *rest.Config {
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.Certificate().Raw})
	return &rest.Config{Host: f.URL, BearerToken: fakeToken, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
}

func (f *fakeKubeVirt) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+fakeToken {
		writeStatus(w, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized")
		return
	}
	ns, name := r.PathValue("ns"), r.PathValue("name")
	stream := r.URL.Path[strings.LastIndex(r.URL.Path, name+"/")+len(name)+1:]
	f.mu.Lock()
	f.paths = append(f.paths, r.URL.Path)
	f.subprotocols = append(f.subprotocols, r.Header.Get("Sec-WebSocket-Protocol"))
	f.mu.Unlock()
	switch name {
	case "missing":
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound,
			fmt.Sprintf(`virtualmachineinstances.kubevirt.io "%s" not found`, name))
		return
	case "forbidden":
		writeStatus(w, http.StatusForbidden, metav1.StatusReasonForbidden,
			`User "system:serviceaccount:d8-virtualization:virtualization-apiserver" cannot get resource "virtualmachineinstances/console"`)
		return
	case "unavailable":
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{KubeVirtSubprotocol}})
	if err != nil {
		return
	}
	ws.SetReadLimit(-1)
	key := ns + "/" + name + "/" + strings.SplitN(stream, "/", 2)[0]
	f.mu.Lock()
	f.open[key]++
	f.maxOpen[key] = max(f.maxOpen[key], f.open[key])
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.open[key]--
		f.mu.Unlock()
	}()
	ctx := context.Background()
	if err := ws.Write(ctx, websocket.MessageBinary, []byte(stream+" "+ns+"/"+name)); err != nil {
		return
	}
	for {
		typ, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		if string(data) == "bye" {
			ws.Close(websocket.StatusNormalClosure, "the VM closed the stream")
			return
		}
		if err := ws.Write(ctx, typ, data); err != nil {
			return
		}
	}
}

// createEvent keeps an Event the proxy records, as kube-apiserver would store it.
func (f *fakeKubeVirt) createEvent(w http.ResponseWriter, r *http.Request) {
	var e corev1.Event
	if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	f.events = append(f.events, e)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(&e)
}

// waitEvent waits (bounded) for an Event with reason and returns it.
func (f *fakeKubeVirt) waitEvent(t *testing.T, reason string) corev1.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		for _, e := range f.events {
			if e.Reason == reason {
				f.mu.Unlock()
				return e
			}
		}
		f.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no Event with reason %s was recorded", reason)
	return corev1.Event{}
}

// peak is the most streams of key (NS/NAME/stream) that were open at once.
func (f *fakeKubeVirt) peak(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxOpen[key]
}

func (f *fakeKubeVirt) dialed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...)
}

func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(&metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Code: int32(code), Reason: reason, Message: message,
	})
}

// vmGetter is the main storage: VMs by NS/NAME.
type vmGetter map[string]*virtualization.VirtualMachine

func (g vmGetter) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	vm, ok := g[ns+"/"+name]
	if !ok {
		return nil, apierrors.NewNotFound(virtualization.Resource("virtualmachines"), name)
	}
	return vm.DeepCopy(), nil
}

func vm(ns, name string, phase virtualization.MachinePhase) *virtualization.VirtualMachine {
	return &virtualization.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Status:     virtualization.VirtualMachineStatus{Phase: phase},
	}
}

// apiServer stands in for the generic server around the Connecters: it decodes the query
// into the stream's options with the group's generated conversions, puts the namespace and
// the user (header X-Test-User) in the context, and writes errors as metav1.Status.
type apiServer struct {
	*httptest.Server
	proxy *Proxy
}

func newAPIServer(t *testing.T, upstream *rest.Config, vms vmGetter) *apiServer {
	t.Helper()
	proxy, err := NewProxy(upstream)
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	install.Install(scheme)
	codec := runtime.NewParameterCodec(scheme)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /namespaces/{ns}/virtualmachines/{name}/{stream}", func(w http.ResponseWriter, r *http.Request) {
		c := &Connecter{Getter: vms, Stream: Stream(r.PathValue("stream")), Proxy: proxy}
		ctx := genericapirequest.WithNamespace(r.Context(), r.PathValue("ns"))
		if name := r.Header.Get("X-Test-User"); name != "" {
			ctx = genericapirequest.WithUser(ctx, &user.DefaultInfo{Name: name})
		}
		opts, _, _ := c.NewConnectOptions()
		if err := codec.DecodeParameters(r.URL.Query(), v1alpha2.SchemeGroupVersion, opts); err != nil {
			respondError(w, apierrors.NewBadRequest(err.Error()))
			return
		}
		h, err := c.Connect(ctx, r.PathValue("name"), opts, responder{w})
		if err != nil {
			respondError(w, err)
			return
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	})
	s := &apiServer{Server: httptest.NewServer(mux), proxy: proxy}
	t.Cleanup(s.Close)
	t.Cleanup(proxy.Stop)
	return s
}

type responder struct{ w http.ResponseWriter }

func (r responder) Object(code int, obj runtime.Object) {
	r.w.WriteHeader(code)
	_ = json.NewEncoder(r.w).Encode(obj)
}

func (r responder) Error(err error) { respondError(r.w, err) }

func respondError(w http.ResponseWriter, err error) {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		status = apierrors.NewInternalError(err)
	}
	s := status.Status()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(s.Code))
	_ = json.NewEncoder(w).Encode(&s)
}

// dial opens a stream as user; a refusal is returned as its code and metav1.Status.
func (s *apiServer) dial(t *testing.T, user, path string, subprotocols ...string) (*websocket.Conn, int, metav1.Status) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, s.URL+path, &websocket.DialOptions{
		Subprotocols: subprotocols,
		HTTPHeader:   http.Header{"X-Test-User": {user}},
	})
	if err == nil {
		ws.SetReadLimit(-1)
		t.Cleanup(func() { ws.CloseNow() })
		return ws, http.StatusSwitchingProtocols, metav1.Status{}
	}
	if resp == nil {
		t.Fatalf("dialing %s: %v", path, err)
	}
	var status metav1.Status
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &status); err != nil {
		t.Errorf("%s answered %d with a body that is not a Status: %q", path, resp.StatusCode, body)
	}
	return nil, resp.StatusCode, status
}

// mustDial opens a stream as user or fails the test.
func (s *apiServer) mustDial(t *testing.T, user, path string, subprotocols ...string) *websocket.Conn {
	t.Helper()
	ws, code, status := s.dial(t, user, path, subprotocols...)
	if ws == nil {
		t.Fatalf("%s could not open %s: %d %s", user, path, code, status.Message)
	}
	return ws
}

// read reads one message within a bounded time.
func read(t *testing.T, ws *websocket.Conn) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, data, err := ws.Read(ctx)
	return string(data), err
}

func mustRead(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	got, err := read(t, ws)
	if err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	return got
}

func write(t *testing.T, ws *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ws.Write(ctx, websocket.MessageBinary, []byte(msg)); err != nil {
		t.Fatalf("writing %q: %v", msg, err)
	}
}

// closeOf reads until the stream ends and returns how it was closed.
func closeOf(t *testing.T, ws *websocket.Conn) websocket.CloseError {
	t.Helper()
	for range 100 {
		_, err := read(t, ws)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("the stream ended without a close frame: %v", err)
		}
		return ce
	}
	t.Fatal("the stream did not end after 100 messages")
	return websocket.CloseError{}
}

// closing reads ws in the background, as a client always does (control frames are handled
// while reading), and delivers how it was closed.
func closing(t *testing.T, ws *websocket.Conn) <-chan websocket.CloseError {
	ch := make(chan websocket.CloseError, 1)
	go func() {
		for {
			_, _, err := ws.Read(context.Background())
			if err != nil {
				var ce websocket.CloseError
				if !errors.As(err, &ce) {
					t.Errorf("the stream ended without a close frame: %v", err)
				}
				ch <- ce
				return
			}
		}
	}()
	return ch
}

// get does a plain GET and returns the code and body.
func (s *apiServer) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(s.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}
