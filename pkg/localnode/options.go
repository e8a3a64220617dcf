package localnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/virtplane/virtplane/pkg/kubevirt"
	"github.com/virtplane/virtplane/pkg/localnode/virt"
	"github.com/virtplane/virtplane/pkg/localnode/virtapi"
)

// Options are the flags of the local-node program.
type Options struct {
	Kubeconfig  string
	NodeName    string
	StateDir    string
	VolumesDir  string
	BinDir      string
	PodIPIndex  int
	Provisioner bool
	Labels      map[string]string
	CPU         string
	Memory      string
	MaxPods     int
	// KubeVirt makes the node a KubeVirt stand-in too; Runtime runs its VMs.
	KubeVirt         bool
	Runtime          string
	RegistryInsecure bool
	RegistryCAFile   string
	// Migration bounds live migrations.
	Migration virt.MigrationConfig
	// The handler endpoint (every node with KubeVirt) and virt-api (one node).
	HandlerBindAddress, HandlerCertFile, HandlerKeyFile, HandlerCAFile string
	VirtAPIBindAddress, VirtAPICertFile, VirtAPIKeyFile                string
}

// NewOptions returns the defaults: node-1, .local/nodes, .local/volumes, bin, KubeVirt's
// stand-in with qemu.
func NewOptions() *Options {
	return &Options{NodeName: "node-1", StateDir: ".local/nodes", VolumesDir: ".local/volumes", BinDir: "bin", PodIPIndex: -1,
		KubeVirt: true, Runtime: "qemu", HandlerBindAddress: "127.0.0.1:0"}
}

// AddFlags registers the flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "admin kubeconfig of kube-apiserver")
	fs.StringVar(&o.NodeName, "node-name", o.NodeName, "name of the Node this process stands in for")
	fs.StringVar(&o.StateDir, "state-dir", o.StateDir, "directory of node state; this node uses <state-dir>/<node-name>")
	fs.StringVar(&o.VolumesDir, "volumes-dir", o.VolumesDir, "directory of the volumes, shared by all local nodes (shared storage)")
	fs.StringVar(&o.BinDir, "bin-dir", o.BinDir, "directory of this project's programs: the only images the node runs")
	fs.IntVar(&o.PodIPIndex, "pod-ip-index", o.PodIPIndex, "Pod addresses are 127.(10+index).x.y; distinct per node (default: the node name's trailing number, node-2 → 2)")
	fs.BoolVar(&o.Provisioner, "provisioner", o.Provisioner, "run the "+ProvisionerName+" PV provisioner and resizer (one node at a time leads, through a Lease)")
	fs.StringToStringVar(&o.Labels, "labels", o.Labels, "extra node labels k=v,...")
	fs.StringVar(&o.CPU, "cpu", o.CPU, "CPU capacity (default: the machine's CPU count)")
	fs.IntVar(&o.MaxPods, "max-pods", o.MaxPods, "Pod capacity, as kubelet's flag (default 110; raise it for hollow nodes)")
	fs.StringVar(&o.Memory, "memory", o.Memory, "memory capacity, e.g. 8Gi (default: the machine's MemTotal)")
	fs.BoolVar(&o.KubeVirt, "kubevirt", o.KubeVirt, "stand in for KubeVirt: run the VMs of VirtualMachineInstances (needs the KubeVirt CRDs, see package virt)")
	fs.StringVar(&o.Runtime, "runtime", o.Runtime, "how VMs run: qemu (a qemu process per VM) or hollow (no process; VMs report Running at once, for control-plane benchmarks)")
	fs.DurationVar(&o.Migration.TargetTimeout, "migration-target-timeout", o.Migration.TargetTimeout, "how long a live migration's target launcher Pod may stay unscheduled, or its nodes not start the migration, before it fails (default 2m)")
	fs.DurationVar(&o.Migration.Timeout, "migration-timeout", o.Migration.Timeout, "how long the source node may send a migrating VM before it cancels the migration; the VM runs on there (default 5m)")
	fs.BoolVar(&o.RegistryInsecure, "registry-insecure", o.RegistryInsecure, "pull containerDisk images over plain HTTP or unverified TLS")
	fs.StringVar(&o.RegistryCAFile, "registry-ca-file", o.RegistryCAFile, "PEM bundle trusted for containerDisk registries besides the system's roots")
	fs.StringVar(&o.HandlerBindAddress, "handler-bind-address", o.HandlerBindAddress, "host:port of the handler endpoint (KubeVirt's virt-handler side of console, vnc and portforward), served when the --handler-tls-* flags are set; port 0 picks one. The address is published in the Node annotation "+virtapi.HandlerAddressAnnotation)
	fs.StringVar(&o.HandlerCertFile, "handler-tls-cert-file", o.HandlerCertFile, "this node's certificate (server and client usage): the handler endpoint serves it and virt-api presents it to the handlers of other nodes")
	fs.StringVar(&o.HandlerKeyFile, "handler-tls-private-key-file", o.HandlerKeyFile, "the key of --handler-tls-cert-file")
	fs.StringVar(&o.HandlerCAFile, "handler-client-ca-file", o.HandlerCAFile, "CA of the handler certificates (mutual TLS between virt-api and the handlers): handlers require client certificates it signed, virt-api verifies the handlers with it")
	fs.StringVar(&o.VirtAPIBindAddress, "virt-api-bind-address", o.VirtAPIBindAddress, "host:port on which to serve KubeVirt's subresources.kubevirt.io/v1 to kube-apiserver's aggregation (KubeVirt's virt-api), with delegated authentication and authorization through --kubeconfig; one node of the machine does; needs the --handler-tls-* flags (default: not served)")
	fs.StringVar(&o.VirtAPICertFile, "virt-api-tls-cert-file", o.VirtAPICertFile, "serving certificate of virt-api, signed by the CA in the APIService v1.subresources.kubevirt.io caBundle")
	fs.StringVar(&o.VirtAPIKeyFile, "virt-api-tls-private-key-file", o.VirtAPIKeyFile, "the key of --virt-api-tls-cert-file")
}

// Config checks the options and turns them into a node Config.
func (o *Options) Config() (Config, error) {
	if o.NodeName == "" {
		return Config{}, fmt.Errorf("--node-name is required")
	}
	if errs := validation.IsDNS1123Subdomain(o.NodeName); len(errs) > 0 {
		return Config{}, fmt.Errorf("--node-name %q: %s", o.NodeName, strings.Join(errs, "; "))
	}
	cfg := Config{
		NodeName:    o.NodeName,
		StateDir:    filepath.Join(o.StateDir, o.NodeName),
		VolumesDir:  o.VolumesDir,
		BinDir:      o.BinDir,
		PodIPIndex:  o.PodIPIndex,
		Provisioner: o.Provisioner,
		Labels:      o.Labels,
		MaxPods:     o.MaxPods,
	}
	if o.KubeVirt {
		rt, err := virt.RuntimeByName(o.Runtime)
		if err != nil {
			return Config{}, fmt.Errorf("--runtime: %w", err)
		}
		cfg.VMRuntime = rt
		cfg.Migration = o.Migration
		if cfg.Handler, cfg.VirtAPI, err = o.streamConfigs(); err != nil {
			return Config{}, err
		}
		cfg.Registry.Insecure = o.RegistryInsecure
		if o.RegistryCAFile != "" {
			if cfg.Registry.CABundle, err = os.ReadFile(o.RegistryCAFile); err != nil {
				return Config{}, fmt.Errorf("--registry-ca-file: %w", err)
			}
		}
	}
	if !o.KubeVirt && o.VirtAPIBindAddress != "" {
		return Config{}, errors.New("--virt-api-bind-address needs --kubevirt")
	}
	if cfg.PodIPIndex < 0 {
		cfg.PodIPIndex = DefaultPodIPIndex(o.NodeName)
	}
	for _, q := range []struct {
		flag, value string
		into        *resource.Quantity
	}{{"--cpu", o.CPU, &cfg.CPU}, {"--memory", o.Memory, &cfg.Memory}} {
		if q.value == "" {
			continue
		}
		v, err := resource.ParseQuantity(q.value)
		if err != nil {
			return Config{}, fmt.Errorf("%s: %w", q.flag, err)
		}
		*q.into = v
	}
	return cfg, nil
}

// streamConfigs checks the handler and virt-api flags: each certificate comes with its key,
// and virt-api needs the handler's certificates to reach the handlers.
func (o *Options) streamConfigs() (*HandlerConfig, *VirtAPIConfig, error) {
	var handler *HandlerConfig
	switch set := countSet(o.HandlerCertFile, o.HandlerKeyFile, o.HandlerCAFile); set {
	case 0:
	case 3:
		handler = &HandlerConfig{BindAddress: o.HandlerBindAddress, CertFile: o.HandlerCertFile, KeyFile: o.HandlerKeyFile, CAFile: o.HandlerCAFile}
	default:
		return nil, nil, errors.New("--handler-tls-cert-file, --handler-tls-private-key-file and --handler-client-ca-file go together")
	}
	if o.VirtAPIBindAddress == "" {
		return handler, nil, nil
	}
	if o.VirtAPICertFile == "" || o.VirtAPIKeyFile == "" {
		return nil, nil, errors.New("--virt-api-bind-address needs --virt-api-tls-cert-file and --virt-api-tls-private-key-file")
	}
	if handler == nil {
		return nil, nil, errors.New("--virt-api-bind-address needs the --handler-tls-* flags: virt-api reaches the handlers with that certificate")
	}
	return handler, &VirtAPIConfig{BindAddress: o.VirtAPIBindAddress, CertFile: o.VirtAPICertFile, KeyFile: o.VirtAPIKeyFile,
		Kubeconfig: o.Kubeconfig}, nil
}

func countSet(values ...string) int {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}

// Run starts a node from the options and serves it until ctx ends.
func (o *Options) Run(ctx context.Context) error {
	cfg, err := o.Config()
	if err != nil {
		return err
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig %s: %w", o.Kubeconfig, err)
	}
	// A node agent talks a lot (Pods, volumes, and hundreds of VMIs on a hollow node): the
	// default 5 QPS is a kubelet's for one node, and here the machine's API server is local.
	restCfg.QPS, restCfg.Burst = 300, 600
	restCfg.UserAgent = "local-node/" + o.NodeName
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("creating the client: %w", err)
	}
	if o.KubeVirt {
		if cfg.KubeVirt, err = kubevirt.NewForConfig(restCfg); err != nil {
			return err
		}
	}
	n, err := New(cfg, client)
	if err != nil {
		return err
	}
	return n.Run(ctx)
}
