package localnode_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/virtplane/virtplane/internal/localstack"
	"github.com/virtplane/virtplane/pkg/kubevirt"
	"github.com/virtplane/virtplane/pkg/localnode"
	"github.com/virtplane/virtplane/pkg/localnode/virt"
)

// virtEnv is a real kube-apiserver, kube-controller-manager (garbage collector, PV binder)
// and kube-scheduler with the KubeVirt CRDs, and one local node standing in for KubeVirt.
type virtEnv struct {
	ctx     context.Context
	stack   *localstack.Stack
	client  kubernetes.Interface
	kv      *kubevirt.Client
	node    *localnode.Node
	volumes string
	// nodeDir is the node's state directory.
	nodeDir string
	// stopNode stops the node and waits for it.
	stopNode func()
	// configure adjusts the configuration of every node the test starts.
	configure func(*localnode.Config)
}

// startNode starts the local node node-1 in process; the test stops it.
func (e *virtEnv) startNode(t *testing.T, rt virt.Runtime) {
	t.Helper()
	e.node, e.stopNode = e.runNode(t, localnode.Config{NodeName: "node-1", StateDir: e.nodeDir,
		VolumesDir: e.volumes, BinDir: filepath.Join(e.nodeDir, "bin"), PodIPIndex: 1, Provisioner: true,
		KubeVirt: e.kv, VMRuntime: rt})
}

// runNode runs a node in process and returns it with its stop function, which waits for it;
// the test stops it at the latest.
func (e *virtEnv) runNode(t *testing.T, cfg localnode.Config) (*localnode.Node, func()) {
	t.Helper()
	if e.configure != nil {
		e.configure(&cfg)
	}
	node, err := localnode.New(cfg, e.client)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("node %s: %v", cfg.NodeName, err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("node %s did not stop", cfg.NodeName)
			}
		})
	}
	t.Cleanup(stop)
	return node, stop
}

// startVirtEnv starts the stack and node-1; configure, if given, adjusts the configuration
// of the nodes the test starts.
func startVirtEnv(t *testing.T, rt virt.Runtime, timeout time.Duration, configure ...func(*virtEnv, *localnode.Config)) *virtEnv {
	t.Helper()
	bin := os.Getenv("E2E_BIN")
	if bin == "" {
		t.Skip("E2E_BIN is not set: point it at a bin/ with etcd, kube-apiserver, kube-controller-manager and kube-scheduler (hack/build-tools.sh)")
	}
	for _, p := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		if _, err := os.Stat(filepath.Join(bin, p)); err != nil {
			t.Skipf("E2E_BIN=%s lacks %s (hack/build-tools.sh builds it)", bin, p)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	dir := t.TempDir()
	stack, err := localstack.Start(ctx, localstack.Options{Dir: filepath.Join(dir, "stack"), Bin: bin, WithoutVirtualization: true})
	if err != nil {
		t.Fatalf("starting the stack: %v", err)
	}
	t.Cleanup(stack.Stop)
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	startProgram(t, logs, filepath.Join(bin, "kube-scheduler"), "--kubeconfig="+stack.Kubeconfig,
		"--authentication-kubeconfig="+stack.Kubeconfig, "--authorization-kubeconfig="+stack.Kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false")
	restCfg, err := clientcmd.BuildConfigFromFlags("", stack.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := virt.InstallCRDs(ctx, apiextensionsclient.NewForConfigOrDie(restCfg)); err != nil {
		t.Fatal(err)
	}
	env := &virtEnv{ctx: ctx, stack: stack, client: kubernetes.NewForConfigOrDie(restCfg), volumes: filepath.Join(dir, "volumes"),
		nodeDir: filepath.Join(dir, "nodes", "node-1")}
	if env.kv, err = kubevirt.NewForConfig(restCfg); err != nil {
		t.Fatal(err)
	}
	if len(configure) > 0 {
		env.configure = func(cfg *localnode.Config) { configure[0](env, cfg) }
	}
	env.startNode(t, rt)
	for _, sc := range []struct {
		name string
		mode storagev1.VolumeBindingMode
	}{{"local", storagev1.VolumeBindingImmediate}, {"local-wffc", storagev1.VolumeBindingWaitForFirstConsumer}} {
		class := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: sc.name}, Provisioner: localnode.ProvisionerName,
			VolumeBindingMode: &sc.mode, ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimDelete)}
		if _, err := env.client.StorageV1().StorageClasses().Create(ctx, class, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

func (e *virtEnv) createClaim(t *testing.T, name, class string, mode corev1.PersistentVolumeMode, size string) {
	t.Helper()
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: ptr.To(class), VolumeMode: &mode,
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
	}
	if _, err := e.client.CoreV1().PersistentVolumeClaims("default").Create(e.ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (e *virtEnv) vmi(t *testing.T, name string) (*kvv1.VirtualMachineInstance, error) {
	return e.kv.VirtualMachineInstances("default").Get(e.ctx, name, metav1.GetOptions{})
}

// launcherPods lists the launcher Pods of a VMI, as a user would find them.
func (e *virtEnv) launcherPods(t *testing.T, vmi *kvv1.VirtualMachineInstance) []corev1.Pod {
	t.Helper()
	pods, err := e.client.CoreV1().Pods("default").List(e.ctx, metav1.ListOptions{LabelSelector: kvv1.CreatedByLabel + "=" + string(vmi.UID)})
	if err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

func vmiCondition(vmi *kvv1.VirtualMachineInstance, t kvv1.VirtualMachineInstanceConditionType) *kvv1.VirtualMachineInstanceCondition {
	for i := range vmi.Status.Conditions {
		if vmi.Status.Conditions[i].Type == t {
			return &vmi.Status.Conditions[i]
		}
	}
	return nil
}

// deleteAndWait deletes a VMI and waits until it and its launcher Pods are gone.
func (e *virtEnv) deleteAndWait(t *testing.T, vmi *kvv1.VirtualMachineInstance) {
	t.Helper()
	if err := e.kv.VirtualMachineInstances("default").Delete(e.ctx, vmi.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "VMI "+vmi.Name+" and its launcher pod gone", func() (bool, string) {
		_, err := e.vmi(t, vmi.Name)
		pods := e.launcherPods(t, vmi)
		return apierrors.IsNotFound(err) && len(pods) == 0, fmt.Sprintf("vmi: %v, %d pods", err, len(pods))
	})
}

func testVMI(name string, memory string) *kvv1.VirtualMachineInstance {
	return &kvv1.VirtualMachineInstance{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": name}},
		Spec: kvv1.VirtualMachineInstanceSpec{
			Domain: kvv1.DomainSpec{
				CPU:    &kvv1.CPU{Sockets: 1, Cores: 1, Threads: 1},
				Memory: &kvv1.Memory{Guest: ptr.To(resource.MustParse(memory))},
				Resources: kvv1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse(memory)}},
			},
			TerminationGracePeriodSeconds: ptr.To[int64](20),
		},
	}
}

// waitPhase waits until the VMI reaches phase (and reason, if given) and returns it.
func (e *virtEnv) waitPhase(t *testing.T, name string, phase kvv1.VirtualMachineInstancePhase, reason string, timeout time.Duration) *kvv1.VirtualMachineInstance {
	t.Helper()
	var vmi *kvv1.VirtualMachineInstance
	eventually(t, timeout, fmt.Sprintf("VMI %s %s %s", name, phase, reason), func() (bool, string) {
		var err error
		if vmi, err = e.vmi(t, name); err != nil {
			return false, err.Error()
		}
		return vmi.Status.Phase == phase && (reason == "" || vmi.Status.Reason == reason),
			fmt.Sprintf("phase %q reason %q %+v", vmi.Status.Phase, vmi.Status.Reason, vmi.Status.Conditions)
	})
	return vmi
}

func (e *virtEnv) createVMI(t *testing.T, vmi *kvv1.VirtualMachineInstance) *kvv1.VirtualMachineInstance {
	t.Helper()
	vmi, err := e.kv.VirtualMachineInstances("default").Create(e.ctx, vmi, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return vmi
}

// deleteLauncherPod deletes the VMI's one launcher Pod, as a user or a drain would.
func (e *virtEnv) deleteLauncherPod(t *testing.T, vmi *kvv1.VirtualMachineInstance) {
	t.Helper()
	pods := e.launcherPods(t, vmi)
	if len(pods) != 1 {
		t.Fatalf("VMI %s has %d launcher pods", vmi.Name, len(pods))
	}
	if err := e.client.CoreV1().Pods("default").Delete(e.ctx, pods[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestKubeVirtStandInHollow: a VMI with a WaitForFirstConsumer disk gets a launcher Pod the
// real kube-scheduler places (binding the claim), runs on the hollow runtime with its
// annotated address and shows in kubectl's columns; it fails when its node restarts. A VMI
// whose launcher Pod is deleted fails; a VMI no node can hold stays Scheduling with the
// scheduler's reason, and fails when its Pod is deleted. Deleted VMIs go with their Pods.
func TestKubeVirtStandInHollow(t *testing.T) {
	e := startVirtEnv(t, virt.Hollow{}, 4*time.Minute)
	e.createClaim(t, "root", "local-wffc", corev1.PersistentVolumeFilesystem, "16Mi")

	web := testVMI("web", "128Mi")
	web.Annotations = map[string]string{virt.IPAddressAnnotation: "10.66.10.20"}
	web.Spec.Domain.Devices.Disks = []kvv1.Disk{{Name: "root", BootOrder: ptr.To[uint](1), DiskDevice: kvv1.DiskDevice{Disk: &kvv1.DiskTarget{Bus: "virtio"}}}}
	web.Spec.Volumes = []kvv1.Volume{{Name: "root", VolumeSource: kvv1.VolumeSource{PersistentVolumeClaim: &kvv1.PersistentVolumeClaimVolumeSource{
		PersistentVolumeClaimVolumeSource: corev1.PersistentVolumeClaimVolumeSource{ClaimName: "root"}}}}}
	e.createVMI(t, web)
	web = e.waitPhase(t, "web", kvv1.Running, "", 90*time.Second)
	if web.Status.NodeName != "node-1" || len(web.Status.Interfaces) != 1 || web.Status.Interfaces[0].IP != "10.66.10.20" {
		t.Errorf("running VMI: node %q interfaces %+v", web.Status.NodeName, web.Status.Interfaces)
	}
	if c := vmiCondition(web, kvv1.VirtualMachineInstanceReady); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("Ready %+v", c)
	}
	pods := e.launcherPods(t, web)
	if len(pods) != 1 {
		t.Fatalf("%d launcher pods", len(pods))
	}
	pod := pods[0]
	if !regexp.MustCompile(`^virt-launcher-web-[a-z0-9]{5}$`).MatchString(pod.Name) || pod.Spec.NodeName != "node-1" ||
		pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" || pod.Labels["kubevirt.io"] != "virt-launcher" || pod.Labels["app"] != "web" {
		t.Errorf("launcher pod %s on %q: %s, ip %q, labels %v", pod.Name, pod.Spec.NodeName, pod.Status.Phase, pod.Status.PodIP, pod.Labels)
	}
	claim, err := e.client.CoreV1().PersistentVolumeClaims("default").Get(e.ctx, "root", metav1.GetOptions{})
	if err != nil || claim.Status.Phase != corev1.ClaimBound {
		t.Errorf("the WaitForFirstConsumer claim is not bound: %+v %v", claim.Status, err)
	}
	out, err := e.stack.Kubectl(e.ctx, nil, "get", "vmi", "web", "-n", "default")
	if err != nil || !regexp.MustCompile(`web\s+\S+\s+Running\s+10\.66\.10\.20\s+node-1\s+True`).Match(out) {
		t.Errorf("kubectl get vmi:\n%s %v", out, err)
	}

	// The node restarts: its VMs died with it.
	e.stopNode()
	e.startNode(t, virt.Hollow{})
	e.waitPhase(t, "web", kvv1.Failed, virt.ReasonNodeRestarted, time.Minute)
	eventually(t, 30*time.Second, "the launcher pod of web Failed", func() (bool, string) {
		p, err := e.client.CoreV1().Pods("default").Get(e.ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return p.Status.Phase == corev1.PodFailed, string(p.Status.Phase)
	})

	api := e.createVMI(t, testVMI("api", "128Mi"))
	e.waitPhase(t, "api", kvv1.Running, "", time.Minute)
	e.deleteLauncherPod(t, api)
	e.waitPhase(t, "api", kvv1.Failed, virt.ReasonPodDeleted, time.Minute)

	huge := e.createVMI(t, testVMI("huge", "64Ti"))
	eventually(t, time.Minute, "VMI huge unschedulable", func() (bool, string) {
		v, err := e.vmi(t, "huge")
		if err != nil {
			return false, err.Error()
		}
		c := vmiCondition(v, "PodScheduled")
		return v.Status.Phase == kvv1.Scheduling && c != nil && c.Status == corev1.ConditionFalse && c.Reason == "Unschedulable",
			fmt.Sprintf("phase %q %+v", v.Status.Phase, v.Status.Conditions)
	})
	e.deleteLauncherPod(t, huge)
	e.waitPhase(t, "huge", kvv1.Failed, virt.ReasonPodNotExists, time.Minute)

	for _, v := range []*kvv1.VirtualMachineInstance{web, api, huge} {
		e.deleteAndWait(t, v)
	}
}

// TestKubeVirtStandInQEMU boots the project's guest from a PVC-backed disk: the VMI runs,
// the guest agent connects and reports the annotated address, the guest's SSH server
// answers a port-forward, and a poweroff typed on the serial console ends the VMI
// Succeeded; both streams go through kube-apiserver and KubeVirt's subresource API.
func TestKubeVirtStandInQEMU(t *testing.T) {
	guest := needGuest(t)
	virtAPIPort := freeLocalPort(t)
	e := startVirtEnv(t, virt.QEMU{}, 5*time.Minute, withStreams(virtAPIPort))
	if err := e.stack.RegisterKubeVirtAPI(e.ctx, virtAPIPort); err != nil {
		t.Fatal(err)
	}
	e.logVMsOnFailure(t, e.nodeDir)
	e.guestDisk(t, guest, "guest-root")
	vmi := guestVMI("guest", "guest-root", "10.66.10.21", guestUserData)
	var err error
	vmi = e.createVMI(t, vmi)
	eventually(t, 3*time.Minute, "VMI guest Running with its agent connected", func() (bool, string) {
		vmi, err = e.vmi(t, "guest")
		if err != nil {
			return false, err.Error()
		}
		if vmi.IsFinal() {
			t.Fatalf("VMI ended: %s %s %+v", vmi.Status.Phase, vmi.Status.Reason, vmi.Status.Conditions)
		}
		c := vmiCondition(vmi, kvv1.VirtualMachineInstanceAgentConnected)
		return vmi.Status.Phase == kvv1.Running && c != nil && c.Status == corev1.ConditionTrue && len(vmi.Status.Interfaces) == 1 &&
				vmi.Status.Interfaces[0].InterfaceName != "",
			fmt.Sprintf("phase %q conditions %+v interfaces %+v", vmi.Status.Phase, vmi.Status.Conditions, vmi.Status.Interfaces)
	})
	iface := vmi.Status.Interfaces[0]
	if iface.IP != "10.66.10.21" || iface.InfoSource != "domain, guest-agent" {
		t.Errorf("interface %+v", iface)
	}
	if vmi.Status.GuestOSInfo.KernelRelease == "" || vmi.Status.GuestOSInfo.ID == "" {
		t.Errorf("guestOSInfo %+v", vmi.Status.GuestOSInfo)
	}

	if _, ok := e.node.VMSockets("default", "guest"); !ok {
		t.Fatal("the node does not report the VM's sockets")
	}
	// The guest's SSH server, forwarded through kube-apiserver, virt-api and the node's
	// hostfwd rule added on the QMP connection the machine holds.
	admin, err := clientcmd.BuildConfigFromFlags("", e.stack.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ssh, resp, err := websocketDial(e.ctx, admin, streamURL(admin, "default", "guest", "portforward/22"))
	if err != nil {
		t.Fatalf("port-forward to 22: %v %s", err, statusOf(resp))
	}
	if banner := readN(t, e.ctx, ssh, len("SSH-2.0-")); !strings.HasPrefix(banner, "SSH-2.0-") {
		t.Errorf("port 22 of the guest says %q", banner)
	}
	ssh.Close(websocket.StatusNormalClosure, "")

	// The serial console, through kube-apiserver as a user would open it.
	ws := dialConsole(t, e.ctx, admin, "guest")
	c := newSerial(t, websocket.NetConn(e.ctx, ws, websocket.MessageBinary))
	c.send("")
	c.waitFor(t, "guest login: ")
	c.send("cloud")
	c.waitFor(t, "Password: ")
	c.send("cloud")
	c.waitFor(t, "$ ")
	c.send("sudo poweroff")
	eventually(t, 2*time.Minute, "VMI guest Succeeded after the poweroff", func() (bool, string) {
		vmi, err = e.vmi(t, "guest")
		if err != nil {
			return false, err.Error()
		}
		return vmi.Status.Phase == kvv1.Succeeded, fmt.Sprintf("phase %q reason %q", vmi.Status.Phase, vmi.Status.Reason)
	})
	if vmi.Status.Reason != virt.ReasonGuestShutdown {
		t.Errorf("reason %q", vmi.Status.Reason)
	}
	pods := e.launcherPods(t, vmi)
	if len(pods) != 1 || pods[0].Status.Phase != corev1.PodSucceeded {
		t.Errorf("launcher pods after the poweroff: %+v", pods)
	}
	e.deleteAndWait(t, vmi)
}

// serial is the VM's serial console.
type serial struct {
	conn net.Conn
	mu   sync.Mutex
	out  bytes.Buffer
	seen int
}

// newSerial reads the console conn into a buffer that waitFor searches.
func newSerial(t *testing.T, conn net.Conn) *serial {
	t.Helper()
	t.Cleanup(func() { conn.Close() })
	s := &serial{conn: conn}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := conn.Read(b)
			s.mu.Lock()
			s.out.Write(b[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return s
}

func (s *serial) send(line string) { _, _ = s.conn.Write([]byte(line + "\r")) }

// waitForMatch waits for a match of re after what was already matched and returns its
// submatches.
func (s *serial) waitForMatch(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	var m []string
	eventually(t, 2*time.Minute, "serial console shows "+re.String(), func() (bool, string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		rest := s.out.Bytes()[s.seen:]
		if loc := re.FindSubmatchIndex(rest); loc != nil {
			for i := 0; i < len(loc); i += 2 {
				m = append(m, string(rest[loc[i]:loc[i+1]]))
			}
			s.seen += loc[1]
			return true, ""
		}
		if len(rest) > 300 {
			rest = rest[len(rest)-300:]
		}
		return false, string(rest)
	})
	return m
}

// waitFor waits for text after what was already matched.
func (s *serial) waitFor(t *testing.T, text string) {
	t.Helper()
	eventually(t, 2*time.Minute, "serial console shows "+text, func() (bool, string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		rest := s.out.Bytes()[s.seen:]
		if i := bytes.Index(rest, []byte(text)); i >= 0 {
			s.seen += i + len(text)
			return true, ""
		}
		if len(rest) > 300 {
			rest = rest[len(rest)-300:]
		}
		return false, string(rest)
	})
}

// needGuest returns the project's guest disk, skipping the test without it or qemu.
func needGuest(t *testing.T) string {
	t.Helper()
	guest, err := filepath.Abs("../../bin/guest/guest.qcow2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(guest); err != nil {
		t.Skip("no guest image: hack/guest/build.sh makes bin/guest/guest.qcow2")
	}
	for _, p := range []string{"qemu-system-x86_64", "qemu-img"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed (hack/install-deps.sh)", p)
		}
	}
	return guest
}

// logVMsOnFailure logs the end of the VM logs under a node's state directory when the test
// failed.
func (e *virtEnv) logVMsOnFailure(t *testing.T, nodeDir string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		logs, _ := filepath.Glob(filepath.Join(nodeDir, "vms", "*", "*.log"))
		for _, l := range logs {
			data, _ := os.ReadFile(l)
			if len(data) > 3000 {
				data = data[len(data)-3000:]
			}
			t.Logf("%s (end):\n%s", l, data)
		}
	})
}

// guestDisk makes a Block claim holding the guest, as the platform's importer would: the
// disk converted to raw on the volume.
func (e *virtEnv) guestDisk(t *testing.T, guest, claim string) {
	t.Helper()
	e.createClaim(t, claim, "local", corev1.PersistentVolumeBlock, "128Mi")
	var file string
	eventually(t, time.Minute, "claim "+claim+" bound", func() (bool, string) {
		c, err := e.client.CoreV1().PersistentVolumeClaims("default").Get(e.ctx, claim, metav1.GetOptions{})
		if err != nil || c.Status.Phase != corev1.ClaimBound {
			return false, fmt.Sprintf("%v %v", c.Status.Phase, err)
		}
		file = localnode.VolumePath(e.volumes, c.Spec.VolumeName, corev1.PersistentVolumeBlock)
		return true, ""
	})
	if out, err := exec.Command("qemu-img", "convert", "-n", "-O", "raw", guest, file).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img convert: %v\n%s", err, out)
	}
}

// guestUserData gives the guest a user cloud/cloud with sudo.
const guestUserData = `#cloud-config
users:
- name: cloud
  plain_text_passwd: cloud
  lock_passwd: false
  sudo: ALL=(ALL) NOPASSWD:ALL
`

// guestVMI is a VMI booting the guest from claim, with its address and cloud-init
// user-data.
func guestVMI(name, claim, ip, userData string) *kvv1.VirtualMachineInstance {
	vmi := testVMI(name, "256Mi")
	vmi.Annotations = map[string]string{virt.IPAddressAnnotation: ip}
	vmi.Spec.Domain.Devices.Disks = []kvv1.Disk{
		{Name: "root", BootOrder: ptr.To[uint](1), DiskDevice: kvv1.DiskDevice{Disk: &kvv1.DiskTarget{Bus: "virtio"}}},
		{Name: "cloudinit", DiskDevice: kvv1.DiskDevice{Disk: &kvv1.DiskTarget{Bus: "virtio"}}},
	}
	vmi.Spec.Volumes = []kvv1.Volume{
		{Name: "root", VolumeSource: kvv1.VolumeSource{PersistentVolumeClaim: &kvv1.PersistentVolumeClaimVolumeSource{
			PersistentVolumeClaimVolumeSource: corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}},
		{Name: "cloudinit", VolumeSource: kvv1.VolumeSource{CloudInitNoCloud: &kvv1.CloudInitNoCloudSource{UserData: userData}}},
	}
	return vmi
}
