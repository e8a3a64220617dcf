package localnode_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/virtplane/virtplane/pkg/localnode"
	"github.com/virtplane/virtplane/pkg/localnode/virt"
	"github.com/virtplane/virtplane/pkg/localnode/virtapi"
)

// TestKubeVirtSubresourcesThroughKubeAPIServer: node-1 plays virt-api behind the APIService
// the local stack registers, node-1 and node-2 serve their VMs' streams on handler
// endpoints. Through kube-apiserver, discovery lists the group; a console websocket reaches
// the serial port of a VMI on either node, for an admin and for a user whose Role allows
// it; a user without one, a missing VMI and a VMI that does not run are refused with the
// API's statuses. Directly, virt-api itself answers 401 without an identity and 403 when
// the SubjectAccessReview denies.
func TestKubeVirtSubresourcesThroughKubeAPIServer(t *testing.T) {
	sockets, err := os.MkdirTemp("", "serial") // unix socket paths are short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockets) })
	virtAPIPort := freeLocalPort(t)
	e := startVirtEnv(t, serialRuntime{dir: sockets, node: "node-1"}, 4*time.Minute, withStreams(virtAPIPort))
	node2Dir := filepath.Join(filepath.Dir(e.nodeDir), "node-2")
	e.runNode(t, localnode.Config{NodeName: "node-2", StateDir: node2Dir, VolumesDir: e.volumes,
		BinDir: filepath.Join(node2Dir, "bin"), PodIPIndex: 2, KubeVirt: e.kv, VMRuntime: serialRuntime{dir: sockets, node: "node-2"}})
	if err := e.stack.RegisterKubeVirtAPI(e.ctx, virtAPIPort); err != nil {
		t.Fatal(err)
	}

	out, err := e.stack.Kubectl(e.ctx, nil, "get", "--raw", "/apis/subresources.kubevirt.io/v1")
	var resources metav1.APIResourceList
	if err != nil || json.Unmarshal(out, &resources) != nil {
		t.Fatalf("discovery: %v\n%s", err, out)
	}
	if names := resourceNames(resources); !strings.Contains(names, "virtualmachineinstances/console") ||
		!strings.Contains(names, "virtualmachineinstances/portforward") {
		t.Errorf("discovery lists %s", names)
	}

	for _, node := range []string{"node-1", "node-2"} {
		vmi := testVMI("vm-"+node, "128Mi")
		vmi.Spec.NodeSelector = map[string]string{corev1.LabelHostname: node}
		e.createVMI(t, vmi)
	}
	admin, err := clientcmd.BuildConfigFromFlags("", e.stack.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"node-1", "node-2"} {
		if vmi := e.waitPhase(t, "vm-"+node, kvv1.Running, "", time.Minute); vmi.Status.NodeName != node {
			t.Fatalf("VMI vm-%s runs on %q", node, vmi.Status.NodeName)
		}
		ws := dialConsole(t, e.ctx, admin, "vm-"+node)
		if got := readN(t, e.ctx, ws, len(node)+2); got != node+"> " {
			t.Errorf("the console of vm-%s greets with %q: not its node's serial port", node, got)
		}
		roundTrip(t, e.ctx, ws, "echo \x00\xffbinary\r\n")
		ws.Close(websocket.StatusNormalClosure, "")
	}

	// A user without RBAC is refused; a Role allowing the console subresource lets her in,
	// which also passes virt-api's own SubjectAccessReview (she is no system:master).
	alice := rest.CopyConfig(admin)
	alice.Impersonate = rest.ImpersonationConfig{UserName: "alice", Groups: []string{"system:authenticated"}}
	if code, msg := refusedConsole(t, e.ctx, alice, "vm-node-1"); code != http.StatusForbidden {
		t.Errorf("alice without RBAC: %d %s", code, msg)
	}
	grantConsole(t, e, "alice")
	eventually(t, 30*time.Second, "alice's console stream", func() (bool, string) {
		ws, resp, err := websocketDial(e.ctx, alice, consoleURL(alice, "default", "vm-node-2"))
		if err != nil {
			return false, fmt.Sprintf("%v %v", err, statusOf(resp))
		}
		defer ws.CloseNow()
		readN(t, e.ctx, ws, len("node-2> "))
		roundTrip(t, e.ctx, ws, "alice\n")
		return true, ""
	})

	if code, msg := refusedConsole(t, e.ctx, admin, "missing"); code != http.StatusNotFound || !strings.Contains(msg, "not found") {
		t.Errorf("missing VMI: %d %s", code, msg)
	}
	huge := testVMI("huge", "64Ti") // no node holds it: it never runs
	e.createVMI(t, huge)
	if code, msg := refusedConsole(t, e.ctx, admin, "huge"); code != http.StatusConflict || !strings.Contains(msg, "not running") {
		t.Errorf("VMI that does not run: %d %s", code, msg)
	}

	// The handler endpoints take only clients with a certificate of the KubeVirt CA.
	certs := e.stack.KubeVirtCerts()
	for _, node := range []string{"node-1", "node-2"} {
		healthz := "https://" + handlerOf(t, e, node) + "/healthz"
		if _, err := getHTTPS(t, e, healthz, certs.CAFile, "", nil); err == nil {
			t.Errorf("the handler of %s answered a client without a certificate", node)
		}
		if code, err := getHTTPS(t, e, healthz, certs.CAFile, strings.TrimSuffix(certs.HandlerCertFile, ".crt"), nil); err != nil || code != http.StatusOK {
			t.Errorf("the handler of %s with virt-api's certificate: %d %v", node, code, err)
		}
	}

	// virt-api's own checks, without kube-apiserver in front: the front proxy's client
	// certificate with a user the SubjectAccessReview denies, and no identity at all.
	direct := "https://127.0.0.1:" + strconv.Itoa(virtAPIPort) + "/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachineinstances/vm-node-1/console"
	proxyCert := filepath.Join(filepath.Dir(e.stack.Kubeconfig), "pki", "front-proxy-client")
	for _, tc := range []struct {
		name       string
		clientCert string
		user       string
		want       int32
	}{
		{"front proxy, user without RBAC", proxyCert, "bob", http.StatusForbidden},
		{"no identity", "", "", http.StatusUnauthorized},
	} {
		status := getDirect(t, e, direct, tc.clientCert, tc.user)
		if status.Kind != "Status" || status.Code != tc.want {
			t.Errorf("%s: %+v, want a Status %d", tc.name, status, tc.want)
		}
	}
}

// withStreams gives every node the test starts a handler endpoint and node-1 virt-api on
// virtAPIPort, with the stack's KubeVirt certificates, as the local stack does.
func withStreams(virtAPIPort int) func(*virtEnv, *localnode.Config) {
	return func(e *virtEnv, cfg *localnode.Config) {
		certs := e.stack.KubeVirtCerts()
		cfg.Handler = &localnode.HandlerConfig{BindAddress: "127.0.0.1:0",
			CertFile: certs.HandlerCertFile, KeyFile: certs.HandlerKeyFile, CAFile: certs.CAFile}
		if cfg.NodeName == "node-1" {
			cfg.VirtAPI = &localnode.VirtAPIConfig{BindAddress: "127.0.0.1:" + strconv.Itoa(virtAPIPort),
				CertFile: certs.VirtAPICertFile, KeyFile: certs.VirtAPIKeyFile, Kubeconfig: e.stack.Kubeconfig}
		}
	}
}

// serialRuntime runs hollow VMs whose serial console is a unix socket that greets with the
// node's name and echoes what it gets, so a stream shows which node answered and carries
// bytes both ways.
type serialRuntime struct {
	dir, node string
}

func (serialRuntime) Name() string { return "serial-echo" }
func (serialRuntime) Hollow() bool { return true }

func (r serialRuntime) Start(ctx context.Context, spec virt.MachineSpec) (virt.Machine, error) {
	m, err := virt.Hollow{}.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(r.dir, spec.Name+".sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	go func() { <-m.Exited(); l.Close() }()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := io.WriteString(c, r.node+"> "); err == nil {
					_, _ = io.Copy(c, c)
				}
			}()
		}
	}()
	return serialMachine{Machine: m, serial: path}, nil
}

type serialMachine struct {
	virt.Machine
	serial string
}

func (m serialMachine) Sockets() virt.Sockets { return virt.Sockets{Serial: m.serial} }

func freeLocalPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func resourceNames(l metav1.APIResourceList) string {
	var names []string
	for _, r := range l.APIResources {
		names = append(names, r.Name)
	}
	return strings.Join(names, ",")
}

func consoleURL(cfg *rest.Config, namespace, name string) string {
	return streamURL(cfg, namespace, name, "console")
}

// streamURL is a VMI stream subresource's address on kube-apiserver.
func streamURL(cfg *rest.Config, namespace, name, stream string) string {
	return strings.Replace(cfg.Host, "https://", "wss://", 1) + "/apis/subresources.kubevirt.io/v1/namespaces/" +
		namespace + "/virtualmachineinstances/" + name + "/" + stream
}

// websocketDial opens a console stream through kube-apiserver with cfg's credentials, over
// HTTP/1.1 as an upgrade needs.
func websocketDial(ctx context.Context, cfg *rest.Config, url string) (*websocket.Conn, *http.Response, error) {
	tlsConfig, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return nil, nil, err
	}
	tlsConfig.NextProtos = []string{"http/1.1"}
	rt, err := rest.HTTPWrappersForConfig(cfg, &http.Transport{TLSClientConfig: tlsConfig})
	if err != nil {
		return nil, nil, err
	}
	return websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: &http.Client{Transport: rt},
		Subprotocols: []string{"plain.kubevirt.io"}})
}

func dialConsole(t *testing.T, ctx context.Context, cfg *rest.Config, name string) *websocket.Conn {
	t.Helper()
	ws, resp, err := websocketDial(ctx, cfg, consoleURL(cfg, "default", name))
	if err != nil {
		t.Fatalf("console of %s: %v %s", name, err, statusOf(resp))
	}
	t.Cleanup(func() { ws.CloseNow() })
	if ws.Subprotocol() != "plain.kubevirt.io" {
		t.Errorf("subprotocol %q", ws.Subprotocol())
	}
	return ws
}

// refusedConsole dials a console that must be refused and returns the answer's code and
// its Status message.
func refusedConsole(t *testing.T, ctx context.Context, cfg *rest.Config, name string) (int, string) {
	t.Helper()
	ws, resp, err := websocketDial(ctx, cfg, consoleURL(cfg, "default", name))
	if err == nil {
		ws.CloseNow()
		t.Fatalf("the console of %s was opened", name)
	}
	if resp == nil {
		t.Fatalf("console of %s: %v", name, err)
	}
	return resp.StatusCode, statusOf(resp)
}

// statusOf is the message of a refused request's metav1.Status, or its body.
func statusOf(resp *http.Response) string {
	if resp == nil || resp.Body == nil {
		return ""
	}
	body, _ := io.ReadAll(resp.Body)
	var s metav1.Status
	if json.Unmarshal(body, &s) == nil && s.Kind == "Status" {
		return s.Message
	}
	return string(body)
}

// readN reads whole messages until it has at least n bytes.
func readN(t *testing.T, ctx context.Context, ws *websocket.Conn, n int) string {
	t.Helper()
	var got bytes.Buffer
	for got.Len() < n {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("read after %q: %v", got.String(), err)
		}
		got.Write(b)
	}
	return got.String()
}

// roundTrip sends msg and expects it back from the echoing serial port.
func roundTrip(t *testing.T, ctx context.Context, ws *websocket.Conn, msg string) {
	t.Helper()
	if err := ws.Write(ctx, websocket.MessageBinary, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, ctx, ws, len(msg)); got != msg {
		t.Fatalf("echo %q, want %q", got, msg)
	}
}

// grantConsole gives user the console of the VMIs in default, as a namespace admin would.
func grantConsole(t *testing.T, e *virtEnv, user string) {
	t.Helper()
	rbac := e.client.RbacV1()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "vmi-console", Namespace: "default"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"subresources.kubevirt.io"},
			Resources: []string{"virtualmachineinstances/console"}, Verbs: []string{"get"}}}}
	if _, err := rbac.Roles("default").Create(e.ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "vmi-console-" + user, Namespace: "default"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}}}
	if _, err := rbac.RoleBindings("default").Create(e.ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// getDirect asks virt-api itself, presenting clientCert (<name>.crt/.key, none if "") and
// the front proxy's user header, and returns its Status answer.
func getDirect(t *testing.T, e *virtEnv, url, clientCert, user string) metav1.Status {
	t.Helper()
	header := http.Header{}
	if user != "" {
		header.Set("X-Remote-User", user)
		header.Set("X-Remote-Group", "system:authenticated")
	}
	var status metav1.Status
	code, err := getHTTPS(t, e, url, e.stack.KubeVirtCerts().CAFile, clientCert, header, &status)
	if err != nil {
		t.Fatalf("%s: %d %v", url, code, err)
	}
	return status
}

// getHTTPS GETs url trusting caFile, presenting clientCert (<name>.crt/.key, none if "") and
// header, and decodes the JSON answer into out if given.
func getHTTPS(t *testing.T, e *virtEnv, url, caFile, clientCert string, header http.Header, out ...any) (int, error) {
	t.Helper()
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	tlsConfig := &tls.Config{RootCAs: roots}
	if clientCert != "" {
		pair, err := tls.LoadX509KeyPair(clientCert+".crt", clientCert+".key")
		if err != nil {
			t.Fatal(err)
		}
		tlsConfig.Certificates = []tls.Certificate{pair}
	}
	req, err := http.NewRequestWithContext(e.ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, header)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}, Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if len(out) > 0 {
		if err := json.NewDecoder(resp.Body).Decode(out[0]); err != nil {
			return resp.StatusCode, fmt.Errorf("not JSON: %w", err)
		}
	}
	return resp.StatusCode, nil
}

// handlerOf is the handler endpoint's address node publishes.
func handlerOf(t *testing.T, e *virtEnv, node string) string {
	t.Helper()
	n, err := e.client.CoreV1().Nodes().Get(e.ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	addr := n.Annotations[virtapi.HandlerAddressAnnotation]
	if host, _, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" {
		t.Fatalf("node %s publishes the handler address %q", node, addr)
	}
	return addr
}
