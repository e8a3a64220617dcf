package virt

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/virtplane/virtplane/pkg/kubevirt"
)

// Scheme knows the core kinds and KubeVirt's: event recorders of the stand-in need both.
var Scheme = runtime.NewScheme()

func init() {
	if err := clientgoscheme.AddToScheme(Scheme); err != nil {
		panic(err)
	}
	if err := kvv1.AddToScheme(Scheme); err != nil {
		panic(err)
	}
}

// Leader election of the virt-controller part: one Lease for all local nodes.
const (
	ControllerLeaseNamespace = "kube-system"
	ControllerLeaseName      = "local-node-virt-controller"
)

// PodIPs hands out launcher Pod addresses (the node's Pod address allocator).
type PodIPs interface {
	Allocate(uid string) (netip.Addr, error)
	Release(uid string)
}

// Host is what the local node lends its KubeVirt stand-in.
type Host struct {
	NodeName string
	// StateDir is the node's own directory; VMs live in <StateDir>/vms/<ns>_<name>_<uid>/ and
	// pulled containerDisks in <StateDir>/containerdisks/.
	StateDir string
	Client   kubernetes.Interface
	KubeVirt kubevirt.Interface
	// Recorder records events on Pods and VMIs; it must be made with Scheme.
	Recorder events.EventRecorder
	PodIPs   PodIPs
	// ClaimPath is the host path of a claim's volume: a file (Block) or a directory
	// (Filesystem). It fails while the claim is not bound.
	ClaimPath func(ctx context.Context, namespace, claim string) (string, error)
}

// Config tunes the stand-in.
type Config struct {
	// Runtime runs the VMs; nil means Hollow.
	Runtime Runtime
	// Registry is how containerDisk images are pulled.
	Registry RegistryOptions
	// AgentPoll is the interval between guest agent polls of a running VM; zero means 5 s.
	AgentPoll time.Duration
	// Migration bounds live migrations.
	Migration MigrationConfig
}

// MigrationConfig bounds the steps of a live migration; zero values take the defaults.
type MigrationConfig struct {
	// TargetTimeout is how long a migration's target Pod may stay unscheduled, or its
	// target VM unprepared, before the migration fails (KubeVirt's unschedulable timeout);
	// 2 min by default.
	TargetTimeout time.Duration
	// Timeout bounds the transfer of the guest from the source node; the source cancels
	// the migration then and the guest runs on there. 5 min by default.
	Timeout time.Duration
}

// Migration defaults.
const (
	defaultMigrationTargetTimeout = 2 * time.Minute
	defaultMigrationTimeout       = 5 * time.Minute
)

// KubeVirt is the stand-in for KubeVirt on one local node: virt-handler and the launcher for
// the VMIs whose launcher Pods are bound to this node, and, while this node holds the
// Lease, virt-controller for all VMIs.
type KubeVirt struct {
	host    Host
	cfg     Config
	handler *handler
}

// New checks the host and configuration; Run starts the stand-in.
func New(host Host, cfg Config) (*KubeVirt, error) {
	if host.NodeName == "" || host.StateDir == "" || host.Client == nil || host.KubeVirt == nil || host.Recorder == nil || host.PodIPs == nil || host.ClaimPath == nil {
		return nil, errors.New("the KubeVirt stand-in needs the node's name, state directory, clients, recorder, Pod addresses and claim paths")
	}
	if cfg.Runtime == nil {
		cfg.Runtime = Hollow{}
	}
	if cfg.AgentPoll == 0 {
		cfg.AgentPoll = 5 * time.Second
	}
	if cfg.Migration.TargetTimeout == 0 {
		cfg.Migration.TargetTimeout = defaultMigrationTargetTimeout
	}
	if cfg.Migration.Timeout == 0 {
		cfg.Migration.Timeout = defaultMigrationTimeout
	}
	puller, err := newPuller(host, cfg.Registry, filepath.Join(host.StateDir, "containerdisks"))
	if err != nil {
		return nil, err
	}
	return &KubeVirt{host: host, cfg: cfg, handler: newHandler(host, cfg, puller)}, nil
}

// Sockets returns the socket paths of the VM of a VMI this node runs.
func (k *KubeVirt) Sockets(namespace, name string) (Sockets, bool) {
	return k.handler.sockets(namespace + "/" + name)
}

// QMP returns the QMP of the VM of a VMI this node runs; false when it runs none or its
// runtime has none (hollow). QEMU's QMP socket takes one client and the running machine
// holds it, so other users of the monitor (port-forward's hostfwd rules) go through here.
func (k *KubeVirt) QMP(namespace, name string) (QMP, bool) {
	return k.handler.qmp(namespace + "/" + name)
}

// Run serves until ctx ends; then the VMs this node runs are killed, as they die with a node.
func (k *KubeVirt) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); k.handler.run(ctx) }()
	go func() { defer wg.Done(); k.runController(ctx) }()
	wg.Wait()
}

// runController competes for the controller Lease and runs the virt-controller part while it
// leads.
func (k *KubeVirt) runController(ctx context.Context) {
	logger := klog.FromContext(ctx).WithValues("lease", ControllerLeaseName)
	for ctx.Err() == nil {
		lock, err := resourcelock.New(resourcelock.LeasesResourceLock, ControllerLeaseNamespace, ControllerLeaseName,
			k.host.Client.CoreV1(), k.host.Client.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: k.host.NodeName})
		if err != nil {
			logger.Error(err, "Creating the virt-controller lock")
			return
		}
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   15 * time.Second,
			RenewDeadline:   10 * time.Second,
			RetryPeriod:     2 * time.Second,
			ReleaseOnCancel: true,
			Name:            ControllerLeaseName,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					logger.Info("Leading: running virt-controller (stand-in)")
					newController(k.host, k.cfg).run(ctx)
				},
				OnStoppedLeading: func() { logger.Info("No longer running virt-controller") },
			},
		})
	}
}
