// Package localstack runs the project's stack on one machine with real programs: etcd,
// kube-apiserver (RBAC, aggregation, service accounts) and virtualization-apiserver behind an
// APIService, with delegated authentication and authorization. `make run`, `make up` and the
// end-to-end tests use it. KubeVirt does not run here: the local nodes stand in for it (VMIs,
// launcher Pods, qemu guests, and its subresources.kubevirt.io streams behind an APIService).
package localstack

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options say where the stack keeps its state and finds its programs.
type Options struct {
	// Dir holds certificates, data, logs and kubeconfigs (e.g. .local).
	Dir string
	// Bin holds etcd, kube-apiserver and virtualization-apiserver.
	Bin string
	// RBAC is the directory of RBAC manifests applied after start (artifacts/rbac).
	RBAC string
	// Kubectl is the kubectl binary; "kubectl" from PATH when empty.
	Kubectl string
	// Ports; 0 picks free loopback ports (for tests). make run uses fixed ones so the
	// kubeconfig stays valid across runs.
	EtcdPort, KubePort, VirtualizationPort int
	// DVCRPort, UploadPort (the token upload URLs) and ControllerMetricsPort of the platform;
	// 0 picks free ports.
	DVCRPort, UploadPort, ControllerMetricsPort int
	// Nodes is the number of local nodes (default 2).
	Nodes int
	// UploadWaitTimeout fails uploads not started in time ("" is the controller's default).
	UploadWaitTimeout string
	// VirtualMachineCIDRs are the VM address ranges (default 10.66.10.0/24, as in the guides).
	VirtualMachineCIDRs []string
	// IPAddressLeaseRetention keeps released addresses for their namespace ("" is 10m).
	IPAddressLeaseRetention string
	// NodeRuntime runs the VMs of the local nodes: "qemu" (default) or "hollow" (no guest,
	// for control-plane benchmarks).
	NodeRuntime string
	// NodeCPU and NodeMemory override the capacity the local nodes report ("" is the
	// machine's), so hollow nodes can hold many VMs.
	NodeCPU, NodeMemory string
	// NodeMaxPods is the Pod capacity of each local node (0: 110).
	NodeMaxPods int
	// MigrationTargetTimeout fails a live migration whose target Pod is not running in time
	// ("" is the local node's default, 2m).
	MigrationTargetTimeout string
	// WithoutPlatform starts the API only: no scheduler, DVCR, controller or local nodes.
	WithoutPlatform bool
	// ExtraVirtualizationArgs are appended to virtualization-apiserver's flags.
	ExtraVirtualizationArgs []string
	// ExtraControllerArgs are appended to virtualization-controller's flags.
	ExtraControllerArgs []string
	// WithoutVirtualization starts etcd, kube-apiserver and kube-controller-manager only: the
	// peer setup of the benchmarks, where the group is served as CRDs instead.
	WithoutVirtualization bool
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Stack is a running local stack.
type Stack struct {
	// Kubeconfig is the admin kubeconfig (system:masters) of kube-apiserver.
	Kubeconfig string
	// KubeURL and VirtualizationURL are the servers' addresses.
	KubeURL, VirtualizationURL string

	opts  Options
	procs []*process
	exit  chan string
}

type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start brings the stack up and returns once kubectl can use the virtualization API through
// kube-apiserver. On error everything started is stopped.
func Start(ctx context.Context, o Options) (s *Stack, err error) {
	if o.Kubectl == "" {
		o.Kubectl = "kubectl"
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	// Kubeconfigs name certificate files; relative paths would resolve against their directory.
	for _, p := range []*string{&o.Dir, &o.Bin, &o.RBAC} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				return nil, err
			}
		}
	}
	// etcd also takes EtcdPort+1 for its peer URL. Fixed ports must be free: say which is not.
	if o.Nodes == 0 {
		o.Nodes = 2
	}
	for _, p := range []int{o.EtcdPort, o.EtcdPort + 1, o.KubePort, o.VirtualizationPort, o.DVCRPort, o.UploadPort, o.ControllerMetricsPort} {
		if p > 1 && !portFree(p) {
			return nil, fmt.Errorf("port %d on 127.0.0.1 is in use (another stack running? make down)", p)
		}
	}
	for _, p := range []*int{&o.EtcdPort, &o.KubePort, &o.VirtualizationPort, &o.DVCRPort, &o.UploadPort, &o.ControllerMetricsPort} {
		for *p == 0 {
			if *p, err = freePort(); err != nil {
				return nil, err
			}
			if p == &o.EtcdPort && !portFree(*p+1) {
				*p = 0
			}
		}
	}
	for _, d := range []string{"logs", "etcd", "virtualization", "kubectl-cache", "dvcr", "volumes", "nodes"} {
		if err := os.MkdirAll(filepath.Join(o.Dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	certs := pki{dir: filepath.Join(o.Dir, "pki")}
	if err := certs.ensure(); err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	s = &Stack{
		opts:              o,
		exit:              make(chan string, 3),
		Kubeconfig:        filepath.Join(o.Dir, "kubeconfig"),
		KubeURL:           "https://127.0.0.1:" + strconv.Itoa(o.KubePort),
		VirtualizationURL: "https://127.0.0.1:" + strconv.Itoa(o.VirtualizationPort),
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()

	etcdURL := "http://127.0.0.1:" + strconv.Itoa(o.EtcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(o.EtcdPort+1)
	if err := s.run("etcd", filepath.Join(o.Bin, "etcd"),
		"--name=local", "--data-dir="+filepath.Join(o.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=local="+peerURL, "--log-level=warn"); err != nil {
		return s, err
	}
	if err := waitHTTP(ctx, etcdURL+"/health", nil, time.Minute); err != nil {
		return s, fmt.Errorf("etcd: %w", err)
	}
	fmt.Fprintln(o.Log, "etcd is up on", etcdURL)

	pk := certs.path
	if err := s.run("kube-apiserver", filepath.Join(o.Bin, "kube-apiserver"),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(o.KubePort),
		"--etcd-servers="+etcdURL,
		"--tls-cert-file="+pk(kubeServing+".crt"), "--tls-private-key-file="+pk(kubeServing+".key"),
		"--client-ca-file="+pk(clusterCA+".crt"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+pk(serviceAccountKey+".pub"),
		"--service-account-signing-key-file="+pk(serviceAccountKey+".key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		// No node runs here, so kube-apiserver must not publish its loopback address.
		"--endpoint-reconciler-type=none",
		// The aggregation layer: the front-proxy identity and the headers it sets.
		"--requestheader-client-ca-file="+pk(frontProxyCA+".crt"),
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file="+pk(frontProxyClient+".crt"),
		"--proxy-client-key-file="+pk(frontProxyClient+".key"),
	); err != nil {
		return s, err
	}
	if err := s.writeKubeconfig(s.Kubeconfig, s.KubeURL, admin); err != nil {
		return s, err
	}
	clientCfg, err := certs.tlsClient(admin)
	if err != nil {
		return s, err
	}
	if err := waitHTTP(ctx, s.KubeURL+"/readyz", clientCfg, 2*time.Minute); err != nil {
		return s, fmt.Errorf("kube-apiserver: %w (see %s)", err, s.logPath("kube-apiserver"))
	}
	fmt.Fprintln(o.Log, "kube-apiserver is up on", s.KubeURL)

	// kube-controller-manager for what a cluster does behind the API: aggregated ClusterRoles
	// (admin, edit, view), namespace deletion, garbage collection, service account tokens.
	kcmKubeconfig := filepath.Join(o.Dir, "kube-controller-manager.kubeconfig")
	if err := s.writeKubeconfig(kcmKubeconfig, s.KubeURL, controllerManager); err != nil {
		return s, err
	}
	if err := s.run("kube-controller-manager", filepath.Join(o.Bin, "kube-controller-manager"),
		"--kubeconfig="+kcmKubeconfig,
		"--authentication-kubeconfig="+kcmKubeconfig,
		"--authorization-kubeconfig="+kcmKubeconfig,
		"--bind-address=127.0.0.1", "--secure-port=0",
		"--leader-elect=false",
		// Each controller acts as its own ServiceAccount, as the bootstrap RBAC expects.
		"--use-service-account-credentials=true",
		// With the platform: nodes lose their not-ready taint once Ready (and are tainted when
		// their leases stop), claims bind to volumes, in-use claims are protected, Pods of
		// deleted nodes are collected.
		"--controllers=clusterrole-aggregation-controller,namespace-controller,garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller,"+
			"node-lifecycle-controller,persistentvolume-binder-controller,persistentvolumeclaim-protection-controller,persistentvolume-protection-controller,pod-garbage-collector-controller",
		"--service-account-private-key-file="+pk(serviceAccountKey+".key"),
		"--root-ca-file="+pk(clusterCA+".crt"),
	); err != nil {
		return s, err
	}
	withPlatform := !o.WithoutVirtualization && !o.WithoutPlatform
	if withPlatform {
		if err := s.startScheduler(); err != nil {
			return s, err
		}
	}

	// RBAC first: virtualization-apiserver needs its bindings to read the authentication
	// configuration and to delegate checks.
	if o.RBAC != "" {
		if out, err := s.Kubectl(ctx, nil, "apply", "-f", o.RBAC); err != nil {
			return s, fmt.Errorf("applying %s: %v\n%s", o.RBAC, err, out)
		}
	}
	if o.WithoutVirtualization {
		return s, nil
	}
	virtKubeconfig := filepath.Join(o.Dir, "virtualization-apiserver.kubeconfig")
	if err := s.writeKubeconfig(virtKubeconfig, s.KubeURL, virtClient); err != nil {
		return s, err
	}
	args := []string{
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(o.VirtualizationPort),
		"--tls-cert-file=" + pk(virtServing+".crt"), "--tls-private-key-file=" + pk(virtServing+".key"),
		"--data-dir=" + filepath.Join(o.Dir, "virtualization"),
		"--kubeconfig=" + virtKubeconfig,
		"--authentication-kubeconfig=" + virtKubeconfig,
		"--authorization-kubeconfig=" + virtKubeconfig,
	}
	var configPath string
	if withPlatform {
		if configPath, err = s.writeConfig(certs); err != nil {
			return s, err
		}
		args = append(args, "--config="+configPath, "--upload-bind-address=127.0.0.1:"+strconv.Itoa(o.UploadPort))
	}
	if err := s.run("virtualization-apiserver", filepath.Join(o.Bin, "virtualization-apiserver"),
		append(args, o.ExtraVirtualizationArgs...)...); err != nil {
		return s, err
	}
	if err := s.register(ctx, certs); err != nil {
		return s, err
	}
	if err := s.waitAPI(ctx, 2*time.Minute); err != nil {
		return s, err
	}
	fmt.Fprintln(o.Log, "virtualization-apiserver is up on", s.VirtualizationURL, "behind the APIService")
	if withPlatform {
		if err := s.startPlatform(ctx, configPath); err != nil {
			return s, err
		}
		fmt.Fprintf(o.Log, "DVCR on 127.0.0.1:%d, uploads on http://127.0.0.1:%d, %d local nodes, controller running\n",
			o.DVCRPort, o.UploadPort, o.Nodes)
	}
	return s, nil
}

// register creates the Service and the APIServices that route our two groups to our server:
// virtualization.deckhouse.io and subresources.virtualization.deckhouse.io (the group of the
// upstream d8 CLI's streams and actions).
func (s *Stack) register(ctx context.Context, certs pki) error {
	ca, err := os.ReadFile(certs.path(virtCA + ".crt"))
	if err != nil {
		return err
	}
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: d8-virtualization
  labels:
    # As artifacts/deploy/00-namespace.yaml: importer Pods of cluster images run here.
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
---
# On one machine kube-apiserver reaches an ExternalName Service as https://<externalName>:<port>.
apiVersion: v1
kind: Service
metadata:
  name: virtualization-apiserver
  namespace: d8-virtualization
spec:
  type: ExternalName
  externalName: localhost
  ports:
  - name: https
    port: %[1]d
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1alpha2.virtualization.deckhouse.io
spec:
  group: virtualization.deckhouse.io
  version: v1alpha2
  groupPriorityMinimum: 1000
  versionPriority: 15
  caBundle: %[2]s
  service:
    namespace: d8-virtualization
    name: virtualization-apiserver
    port: %[1]d
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1alpha2.subresources.virtualization.deckhouse.io
spec:
  group: subresources.virtualization.deckhouse.io
  version: v1alpha2
  groupPriorityMinimum: 999
  versionPriority: 15
  caBundle: %[2]s
  service:
    namespace: d8-virtualization
    name: virtualization-apiserver
    port: %[1]d
`, s.opts.VirtualizationPort, base64.StdEncoding.EncodeToString(ca))
	if out, err := s.Kubectl(ctx, strings.NewReader(manifest), "apply", "-f", "-"); err != nil {
		return fmt.Errorf("registering the APIServices: %v\n%s", err, out)
	}
	return nil
}

// waitAPI waits until kubectl lists VMs through kube-apiserver, kube-apiserver publishes our
// OpenAPI (kubectl explain and server-side apply need it; it is fetched a moment later) and
// routes the upstream CLI's group subresources.virtualization.deckhouse.io.
func (s *Stack) waitAPI(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		if name, ok := s.exited(); ok {
			return fmt.Errorf("%s exited (see %s)", name, s.logPath(name))
		}
		out, err := s.Kubectl(ctx, nil, "get", "virtualmachines.virtualization.deckhouse.io", "-A")
		if err == nil {
			out, err = s.Kubectl(ctx, nil, "get", "--raw", "/openapi/v3")
			if err == nil && bytes.Contains(out, []byte("apis/virtualization.deckhouse.io/v1alpha2")) {
				out, err = s.Kubectl(ctx, nil, "get", "--raw", "/apis/subresources.virtualization.deckhouse.io/v1alpha2")
				if err == nil && bytes.Contains(out, []byte("virtualmachines/console")) {
					return nil
				}
			}
		}
		last = strings.TrimSpace(string(out))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("the virtualization API is not served through kube-apiserver after %s: %s (see %s)",
		timeout, last, s.logPath("virtualization-apiserver"))
}

// Kubectl runs kubectl with the admin kubeconfig.
func (s *Stack) Kubectl(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, s.opts.Kubectl, append([]string{"--kubeconfig", s.Kubeconfig}, args...)...)
	cmd.Stdin = stdin
	cmd.Env = append(os.Environ(), "KUBECACHEDIR="+filepath.Join(s.opts.Dir, "kubectl-cache"))
	return cmd.CombinedOutput()
}

// Done receives the name of the first program that exits on its own.
func (s *Stack) Done() <-chan string { return s.exit }

func (s *Stack) exited() (string, bool) {
	select {
	case name := <-s.exit:
		s.exit <- name
		return name, true
	default:
		return "", false
	}
}

// PID returns the process id of a program of the stack (etcd, kube-apiserver,
// kube-controller-manager, virtualization-apiserver), 0 when it does not run.
func (s *Stack) PID(name string) int {
	for _, p := range s.procs {
		if p.name == name {
			return p.cmd.Process.Pid
		}
	}
	return 0
}

// Stop stops the programs in reverse order of start, each with SIGTERM then SIGKILL.
func (s *Stack) Stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	s.procs = nil
}

func (s *Stack) logPath(name string) string {
	return filepath.Join(s.opts.Dir, "logs", name+".log")
}

func (s *Stack) run(name, bin string, args ...string) error {
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s is missing (run hack/build-tools.sh and go build): %w", bin, err)
	}
	logFile, err := os.Create(s.logPath(name))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Own process group: a Ctrl-C reaches only us, and we stop the programs in order. If we die,
	// the kernel stops them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(p.done)
		select {
		case s.exit <- name:
		default:
		}
	}()
	s.procs = append(s.procs, p)
	return nil
}

func (s *Stack) writeKubeconfig(path, server, user string) error {
	certs := pki{dir: filepath.Join(s.opts.Dir, "pki")}
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: %s
  user:
    client-certificate: %s
    client-key: %s
contexts:
- name: local
  context:
    cluster: local
    user: %s
    namespace: default
current-context: local
`, server, certs.path(clusterCA+".crt"), user, certs.path(user+".crt"), certs.path(user+".key"), user)
	return os.WriteFile(path, []byte(cfg), 0o600)
}

func (p pki) tlsClient(user string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(p.path(user+".crt"), p.path(user+".key"))
	if err != nil {
		return nil, err
	}
	// The CA is ours and the client only probes readiness on loopback.
	return &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true}, nil //nolint:gosec
}

func waitHTTP(ctx context.Context, url string, tlsConfig *tls.Config, timeout time.Duration) error {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("%s: %d %s", url, resp.StatusCode, bytes.TrimSpace(body))
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.Join(fmt.Errorf("not ready after %s", timeout), last)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
