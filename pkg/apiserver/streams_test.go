package apiserver_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/apiserver"
	"github.com/virtplane/virtplane/pkg/apiserver/testserver"
)

const (
	mainGroup     = "virtualization.deckhouse.io/v1alpha2"
	upstreamGroup = "subresources.virtualization.deckhouse.io/v1alpha2"
)

// fakeKubeVirt answers KubeVirt's console of every VMI through "kube-apiserver": a greeting
// naming the VMI, then an echo.
func fakeKubeVirt(t *testing.T) *rest.Config {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /apis/subresources.kubevirt.io/v1/namespaces/{ns}/virtualmachineinstances/{name}/console",
		func(w http.ResponseWriter, r *http.Request) {
			ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"plain.kubevirt.io"}})
			if err != nil {
				return
			}
			ctx := context.Background()
			_ = ws.Write(ctx, websocket.MessageBinary, []byte("console of "+r.PathValue("ns")+"/"+r.PathValue("name")))
			for {
				typ, data, err := ws.Read(ctx)
				if err != nil || ws.Write(ctx, typ, data) != nil {
					return
				}
			}
		})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return &rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
}

func startServer(t *testing.T) *testserver.Server {
	t.Helper()
	kubevirt := fakeKubeVirt(t)
	srv, err := testserver.Start(t.TempDir(), nil, func(o *apiserver.Options) { o.StreamsClientConfig = kubevirt })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// createVM creates a VM in phase.
func createVM(t *testing.T, srv *testserver.Server, ns, name string, phase v1alpha2.MachinePhase) *v1alpha2.VirtualMachine {
	t.Helper()
	ctx := context.Background()
	vm := &v1alpha2.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha2.VirtualMachineSpec{
			VirtualMachineClassName: "generic",
			CPU:                     v1alpha2.CPUSpec{Cores: 1},
			Memory:                  v1alpha2.MemorySpec{Size: "1Gi"},
			BlockDeviceRefs:         []v1alpha2.BlockDeviceSpecRef{{Kind: v1alpha2.DiskDevice, Name: name + "-root"}},
		},
	}
	vms := srv.Client.VirtualizationV1alpha2().VirtualMachines(ns)
	created, err := vms.Create(ctx, vm, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating VM %s: %v", name, err)
	}
	created.Status.Phase = phase
	if created, err = vms.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("setting the phase of VM %s: %v", name, err)
	}
	return created
}

// dial opens a websocket to a subresource as the server's loopback client, over HTTP/1.1.
func dial(t *testing.T, srv *testserver.Server, groupVersion, ns, name, sub string) (*websocket.Conn, int, string) {
	t.Helper()
	tlsConfig, err := rest.TLSConfigFor(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig.NextProtos = []string{"http/1.1"}
	rt, err := rest.HTTPWrappersForConfig(srv.Config, &http.Transport{TLSClientConfig: tlsConfig})
	if err != nil {
		t.Fatal(err)
	}
	u := srv.Config.Host + "/apis/" + groupVersion + "/namespaces/" + ns + "/virtualmachines/" + name + "/" + sub
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		HTTPClient:   &http.Client{Transport: rt},
		Subprotocols: []string{"plain.virtualization.deckhouse.io"},
	})
	if err == nil {
		t.Cleanup(func() { ws.CloseNow() })
		return ws, http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		t.Fatalf("dialing %s: %v", u, err)
	}
	body, _ := io.ReadAll(resp.Body)
	var status metav1.Status
	_ = json.Unmarshal(body, &status)
	return nil, resp.StatusCode, status.Message
}

func readMessage(t *testing.T, ws *websocket.Conn) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, data, err := ws.Read(ctx)
	return string(data), err
}

// TestStreamSubresources: discovery of both groups lists the VM's stream subresources (and
// the upstream group's actions) with their kinds and verbs; a console opened through either
// group reaches KubeVirt and back, and the second takes over the first; a stopped VM is 409;
// the upstream group shows the VM's metadata; its actions answer 501.
func TestStreamSubresources(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()

	want := map[string]map[string]string{ // group version -> resource -> "Kind verbs"
		mainGroup: {
			"virtualmachines/console":     "VirtualMachineConsole get",
			"virtualmachines/vnc":         "VirtualMachineVNC get",
			"virtualmachines/portforward": "VirtualMachinePortForward get",
		},
		upstreamGroup: {
			"virtualmachines":                  "VirtualMachine get",
			"virtualmachines/console":          "VirtualMachineConsole get",
			"virtualmachines/vnc":              "VirtualMachineVNC get",
			"virtualmachines/portforward":      "VirtualMachinePortForward get",
			"virtualmachines/freeze":           "VirtualMachineFreeze update",
			"virtualmachines/unfreeze":         "VirtualMachineUnfreeze update",
			"virtualmachines/addvolume":        "VirtualMachineAddVolume update",
			"virtualmachines/removevolume":     "VirtualMachineRemoveVolume update",
			"virtualmachines/cancelevacuation": "VirtualMachineCancelEvacuation update",
		},
	}
	for gv, resources := range want {
		list, err := srv.Client.Discovery().ServerResourcesForGroupVersion(gv)
		if err != nil {
			t.Fatalf("discovery of %s: %v", gv, err)
		}
		got := map[string]string{}
		for _, r := range list.APIResources {
			got[r.Name] = r.Kind + " " + strings.Join(r.Verbs, ",")
			if strings.HasPrefix(r.Name, "virtualmachines") && !r.Namespaced {
				t.Errorf("%s %s is not namespaced", gv, r.Name)
			}
		}
		for name, w := range resources {
			if got[name] != w {
				t.Errorf("discovery of %s: %s is %q, want %q", gv, name, got[name], w)
			}
		}
		if gv == upstreamGroup && len(got) != len(resources) {
			t.Errorf("discovery of %s lists %v, want exactly %d resources", gv, got, len(resources))
		}
	}
	groups, err := srv.Client.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	// Both groups, the main one first: a client resolving "virtualmachines" takes the first.
	order := map[string]int{}
	for i, g := range groups.Groups {
		order[g.PreferredVersion.GroupVersion] = i + 1
	}
	if order[mainGroup] == 0 || order[upstreamGroup] == 0 || order[mainGroup] > order[upstreamGroup] {
		t.Errorf("/apis lists %v, want %s before %s", order, mainGroup, upstreamGroup)
	}

	vm := createVM(t, srv, "prod", "linux-vm", v1alpha2.MachineRunning)
	createVM(t, srv, "prod", "stopped-vm", v1alpha2.MachineStopped)

	first, code, msg := dial(t, srv, mainGroup, "prod", "linux-vm", "console")
	if first == nil {
		t.Fatalf("console through %s: %d %s", mainGroup, code, msg)
	}
	if got, err := readMessage(t, first); err != nil || got != "console of prod/linux-vm" {
		t.Fatalf("console through %s read %q, %v", mainGroup, got, err)
	}
	if err := first.Write(ctx, websocket.MessageBinary, []byte("hello\r")); err != nil {
		t.Fatal(err)
	}
	if got, err := readMessage(t, first); err != nil || got != "hello\r" {
		t.Errorf("echo through %s: %q, %v", mainGroup, got, err)
	}
	firstEnd := make(chan error, 1)
	go func() {
		for {
			if _, err := readMessage(t, first); err != nil {
				firstEnd <- err
				return
			}
		}
	}()

	second, code, msg := dial(t, srv, upstreamGroup, "prod", "linux-vm", "console")
	if second == nil {
		t.Fatalf("console through %s: %d %s", upstreamGroup, code, msg)
	}
	if second.Subprotocol() != "plain.virtualization.deckhouse.io" {
		t.Errorf("subprotocol %q, want plain.virtualization.deckhouse.io", second.Subprotocol())
	}
	if got, err := readMessage(t, second); err != nil || got != "console of prod/linux-vm" {
		t.Errorf("console through %s read %q, %v", upstreamGroup, got, err)
	}
	var ce websocket.CloseError
	if err := <-firstEnd; !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || !strings.Contains(ce.Reason, "taken over") {
		t.Errorf("the first console ended with %v, want 1001 taken over", err)
	}

	for _, gv := range []string{mainGroup, upstreamGroup} {
		if _, code, msg := dial(t, srv, gv, "prod", "stopped-vm", "console"); code != http.StatusConflict ||
			msg != "virtual machine stopped-vm is Stopped, not Running" {
			t.Errorf("console of a stopped VM through %s: %d %q, want 409", gv, code, msg)
		}
	}

	// The upstream group's virtualmachines: the VM's metadata.
	var meta struct {
		Kind       string            `json:"kind"`
		APIVersion string            `json:"apiVersion"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
		Spec       json.RawMessage   `json:"spec"`
	}
	body, err := srv.Client.Discovery().RESTClient().Get().
		AbsPath("/apis/" + upstreamGroup + "/namespaces/prod/virtualmachines/linux-vm").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(body, &meta); err != nil || meta.Kind != "VirtualMachine" || meta.APIVersion != upstreamGroup ||
		meta.Metadata.UID != vm.UID || meta.Metadata.Name != "linux-vm" || meta.Spec != nil {
		t.Errorf("GET virtualmachines/linux-vm of %s: %s", upstreamGroup, body)
	}

	// Actions are not implemented yet, and say so.
	res := srv.Client.Discovery().RESTClient().Put().
		AbsPath("/apis/" + upstreamGroup + "/namespaces/prod/virtualmachines/linux-vm/freeze").
		Body([]byte(`{"unfreezeTimeout":"1m"}`)).Do(ctx)
	var status int
	res.StatusCode(&status)
	if err := res.Error(); status != http.StatusNotImplemented || err == nil ||
		!strings.Contains(err.Error(), "freezing the file systems of virtual machine linux-vm is not implemented yet") {
		t.Errorf("PUT freeze: %d %v, want 501 saying it is not implemented yet", status, err)
	}

	// OpenAPI v3 describes the upstream group, or kubectl and the server would fail on it.
	doc, err := srv.Client.Discovery().RESTClient().Get().AbsPath("/openapi/v3/apis/" + upstreamGroup).DoRaw(ctx)
	if err != nil || !strings.Contains(string(doc), "/virtualmachines/{name}/console") {
		t.Errorf("OpenAPI v3 of %s: %v", upstreamGroup, err)
	}
}
