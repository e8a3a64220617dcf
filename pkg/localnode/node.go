package localnode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"

	"github.com/virtplane/virtplane/pkg/kubevirt"
	"github.com/virtplane/virtplane/pkg/localnode/virt"
)

// Config describes one local node.
type Config struct {
	// NodeName is the Node's name (node-1).
	NodeName string
	// StateDir is this node's own directory (<state-dir>/<node-name>): Pod directories.
	StateDir string
	// VolumesDir holds the volumes of all nodes (shared storage).
	VolumesDir string
	// BinDir holds this project's programs, the only images the node runs.
	BinDir string
	// PodIPIndex picks the Pod address range 127.(10+index).0.0/16; distinct per node.
	PodIPIndex int
	// Provisioner runs the PV provisioner and resizer when this node wins the Lease.
	Provisioner bool
	// Labels are added to the Node's labels.
	Labels map[string]string
	// CPU and Memory are the capacity; zero means the machine's.
	CPU    resource.Quantity
	Memory resource.Quantity
	// MaxPods is the Pod capacity (kubelet's --max-pods); zero means 110.
	MaxPods int
	// Runtime runs containers; nil means a ProcessRuntime.
	Runtime Runtime
	// RestartBackoff is the first delay before a container restarts (doubling up to 5 min);
	// zero means 10 s as the kubelet.
	RestartBackoff time.Duration
	// KubeVirt, when set, makes the node a stand-in for KubeVirt as well (package virt): it
	// runs the VMs of the launcher Pods bound to it, and virt-controller while it holds the
	// Lease. Nil leaves VMIs alone.
	KubeVirt kubevirt.Interface
	// VMRuntime runs the VMs; nil means virt.Hollow.
	VMRuntime virt.Runtime
	// Registry is how containerDisk images are pulled.
	Registry virt.RegistryOptions
	// Migration bounds live migrations of VMs between nodes.
	Migration virt.MigrationConfig
	// Handler, with KubeVirt, serves the console, VNC and port-forward streams of this
	// node's VMs to virt-api over mutual TLS; nil serves none.
	Handler *HandlerConfig
	// VirtAPI, with Handler, makes this node serve subresources.kubevirt.io/v1 to
	// kube-apiserver as KubeVirt's virt-api does; nil leaves that to another node.
	VirtAPI *VirtAPIConfig
}

// DefaultPodIPIndex derives the Pod address index from the node name's trailing number
// (node-2 → 2), 0 without one.
func DefaultPodIPIndex(nodeName string) int {
	m := regexp.MustCompile(`(\d+)$`).FindString(nodeName)
	if n, err := strconv.Atoi(m); err == nil && n <= maxNodeIndex {
		return n
	}
	return 0
}

// Node is a running local node.
type Node struct {
	cfg      Config
	client   kubernetes.Interface
	recorder events.EventRecorder
	runtime  Runtime
	ips      *ipAllocator
	pods     *podController
	virt     atomic.Pointer[virt.KubeVirt]
	// handlerAddr is the handler endpoint's address, published on the Node; "" without one.
	handlerAddr string
}

// registerBackoff bounds the attempts to register: about a minute in all.
var registerBackoff = wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 9}

// New checks the configuration and prepares a node; Run starts it.
func New(cfg Config, client kubernetes.Interface) (*Node, error) {
	if cfg.NodeName == "" || cfg.StateDir == "" || cfg.VolumesDir == "" || cfg.BinDir == "" {
		return nil, errors.New("node name, state, volumes and bin directories are required")
	}
	for _, d := range []*string{&cfg.StateDir, &cfg.VolumesDir, &cfg.BinDir} {
		abs, err := filepath.Abs(*d)
		if err != nil {
			return nil, fmt.Errorf("resolving %s: %w", *d, err)
		}
		*d = abs
	}
	for _, d := range []string{cfg.StateDir, filepath.Join(cfg.StateDir, "pods"), cfg.VolumesDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	if cfg.CPU.IsZero() {
		cfg.CPU = *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI)
	}
	if cfg.MaxPods <= 0 {
		cfg.MaxPods = defaultMaxPods
	}
	if cfg.Memory.IsZero() {
		total, err := memTotal()
		if err != nil {
			return nil, err
		}
		cfg.Memory = *resource.NewQuantity(total, resource.BinarySI)
	}
	if cfg.RestartBackoff == 0 {
		cfg.RestartBackoff = 10 * time.Second
	}
	ips, err := newIPAllocator(cfg.PodIPIndex)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, client: client, ips: ips}
	return n, nil
}

// Run registers the Node and serves it until ctx ends; then it kills the Pods' processes.
func (n *Node) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithValues("node", n.cfg.NodeName)
	ctx = klog.NewContext(ctx, logger)

	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: n.client.EventsV1()})
	if err := broadcaster.StartRecordingToSinkWithContext(ctx); err != nil {
		return fmt.Errorf("recording events: %w", err)
	}
	defer broadcaster.Shutdown()
	n.recorder = broadcaster.NewRecorder(scheme.Scheme, "local-node/"+n.cfg.NodeName)

	streams, err := n.listenStreams()
	if err != nil {
		return err
	}
	n.handlerAddr = streams.handlerAddr

	// Registration races with the control plane (the node lifecycle controller writes the
	// same Node) and may meet a busy kube-apiserver: try again, as the kubelet does, rather
	// than exit.
	err = retry.OnError(registerBackoff, func(err error) bool {
		if ctx.Err() != nil {
			return false
		}
		logger.Info("Registering the node failed; trying again", "err", err)
		return true
	}, func() error { return n.register(ctx) })
	if err != nil {
		streams.close()
		return err
	}
	logger.Info("Node registered", "podAddresses", fmt.Sprintf("127.%d.0.0/16", 10+n.cfg.PodIPIndex))

	n.pods = newPodController(n)
	n.runtime = n.cfg.Runtime
	if n.runtime == nil {
		n.runtime = NewProcessRuntime(n.pods.enqueueKey)
	}
	defer n.runtime.KillAll()

	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	run(n.heartbeat)
	run(n.pods.run)
	if n.cfg.KubeVirt != nil {
		kv, err := virt.New(virt.Host{
			NodeName: n.cfg.NodeName, StateDir: n.cfg.StateDir,
			Client: n.client, KubeVirt: n.cfg.KubeVirt,
			Recorder: broadcaster.NewRecorder(virt.Scheme, "local-node/"+n.cfg.NodeName),
			PodIPs:   n.ips, ClaimPath: n.claimPath,
		}, virt.Config{Runtime: n.cfg.VMRuntime, Registry: n.cfg.Registry, Migration: n.cfg.Migration})
		if err != nil {
			streams.close()
			return fmt.Errorf("the KubeVirt stand-in: %w", err)
		}
		n.virt.Store(kv)
		run(kv.Run)
		if streams.handler != nil {
			run(func(ctx context.Context) { n.serveHandler(ctx, streams.handler, streams.handlerTLS) })
		}
		if streams.virtAPI != nil {
			run(func(ctx context.Context) {
				if err := streams.virtAPI.Run(ctx); err != nil {
					logger.Error(err, "virt-api stopped")
				}
			})
		}
	}
	if n.cfg.Provisioner {
		run(n.runStorage)
	}
	<-ctx.Done()
	wg.Wait()
	logger.Info("Node stopped")
	return nil
}

// memTotal reads MemTotal from /proc/meminfo.
func memTotal() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("reading the machine's memory: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kib, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing MemTotal: %w", err)
			}
			return kib * 1024, nil
		}
	}
	return 0, errors.New("no MemTotal in /proc/meminfo")
}

// VMSockets returns the console, VNC and QMP sockets of the VM of a VMI this node runs.
func (n *Node) VMSockets(namespace, name string) (virt.Sockets, bool) {
	kv := n.virt.Load()
	if kv == nil {
		return virt.Sockets{}, false
	}
	return kv.Sockets(namespace, name)
}

// podDir is the directory of a Pod's processes, logs and volumes.
func (n *Node) podDir(uid string) string {
	return filepath.Join(n.cfg.StateDir, "pods", uid)
}
