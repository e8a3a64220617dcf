package localnode

import (
	"context"
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
}

// NewOptions returns the defaults: node-1, .local/nodes, .local/volumes, bin, KubeVirt's
// stand-in with qemu.
func NewOptions() *Options {
	return &Options{NodeName: "node-1", StateDir: ".local/nodes", VolumesDir: ".local/volumes", BinDir: "bin", PodIPIndex: -1,
		KubeVirt: true, Runtime: "qemu"}
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
	fs.BoolVar(&o.RegistryInsecure, "registry-insecure", o.RegistryInsecure, "pull containerDisk images over plain HTTP or unverified TLS")
	fs.StringVar(&o.RegistryCAFile, "registry-ca-file", o.RegistryCAFile, "PEM bundle trusted for containerDisk registries besides the system's roots")
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
		cfg.Registry.Insecure = o.RegistryInsecure
		if o.RegistryCAFile != "" {
			if cfg.Registry.CABundle, err = os.ReadFile(o.RegistryCAFile); err != nil {
				return Config{}, fmt.Errorf("--registry-ca-file: %w", err)
			}
		}
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
