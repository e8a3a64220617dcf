// Package manager runs the controller program: clients, informers, leader election, the
// image and disk controllers, events, and the /metrics and /healthz endpoints.
package manager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/virtplane/virtplane/pkg/config"
	"github.com/virtplane/virtplane/pkg/controller/disk"
	"github.com/virtplane/virtplane/pkg/controller/image"
	"github.com/virtplane/virtplane/pkg/controller/ipam"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
	"github.com/virtplane/virtplane/pkg/controller/vm"
	"github.com/virtplane/virtplane/pkg/controller/vmclass"
	"github.com/virtplane/virtplane/pkg/controller/vmop"
	"github.com/virtplane/virtplane/pkg/dvcr"
	versioned "github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
	virtscheme "github.com/virtplane/virtplane/pkg/generated/clientset/versioned/scheme"
	virtinformers "github.com/virtplane/virtplane/pkg/generated/informers/externalversions"
	"github.com/virtplane/virtplane/pkg/kubevirt"
)

// LeaseName is the leader-election Lease in the controller's namespace.
const LeaseName = "virtualization-controller"

// Options are the program's flags.
type Options struct {
	Kubeconfig         string
	ConfigFile         string
	Namespace          string
	LeaderElect        bool
	MetricsBindAddress string
	Workers            int
	// KubeAPIQPS and KubeAPIBurst limit the controller's requests, as kube-controller-manager's
	// flags of the same names do.
	KubeAPIQPS   float32
	KubeAPIBurst int
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{Namespace: "d8-virtualization", LeaderElect: true, MetricsBindAddress: "127.0.0.1:8082", Workers: 4,
		KubeAPIQPS: 200, KubeAPIBurst: 400}
}

// AddFlags registers the flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "Path to a kubeconfig; empty uses the in-cluster configuration.")
	fs.StringVar(&o.ConfigFile, "config", o.ConfigFile, "Platform configuration file (DVCR, uploads, importer, storage classes).")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "The controller's own namespace: the leader-election Lease and importer Pods of ClusterVirtualImages.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Run only while holding the Lease "+LeaseName+", so replicas do not work twice.")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress, "Address of /metrics and /healthz; empty or 0 disables them.")
	fs.IntVar(&o.Workers, "workers", o.Workers, "Workers per controller.")
	fs.Float32Var(&o.KubeAPIQPS, "kube-api-qps", o.KubeAPIQPS, "Requests per second to the API server, sustained (a VM takes about ten writes to start).")
	fs.IntVar(&o.KubeAPIBurst, "kube-api-burst", o.KubeAPIBurst, "Requests to the API server in a burst.")
}

// Run runs the program until ctx ends.
func (o *Options) Run(ctx context.Context) error {
	cfg, err := config.Load(o.ConfigFile)
	if err != nil {
		return fmt.Errorf("load config: %w", err)
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return fmt.Errorf("client configuration: %w", err)
	}
	restCfg.UserAgent = "virtualization-controller"
	restCfg.QPS, restCfg.Burst = o.KubeAPIQPS, o.KubeAPIBurst
	kube, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	virt, err := versioned.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("virtualization client: %w", err)
	}
	kv, err := kubevirt.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	settings, err := o.settings(cfg)
	if err != nil {
		return err
	}
	cidrs, err := ipam.ParseCIDRs(cfg.VirtualMachineCIDRs)
	if err != nil {
		return err
	}
	retention, err := cfg.LeaseRetention()
	if err != nil {
		return err
	}
	addrs := ipam.Settings{CIDRs: cidrs, Retention: retention}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	workqueue.SetProvider(newWorkqueueMetrics(reg))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	if o.MetricsBindAddress != "" && o.MetricsBindAddress != "0" {
		srv, err := serveMetrics(ctx, o.MetricsBindAddress, reg, &wg)
		if err != nil {
			return err
		}
		klog.InfoS("Serving metrics", "address", srv)
	}

	run := func(ctx context.Context) {
		if err := runControllers(ctx, clients{kube: kube, virt: virt, kv: kv}, settings, addrs, o.Workers); err != nil {
			klog.ErrorS(err, "Controllers stopped")
		}
		cancel()
	}
	if !o.LeaderElect {
		run(ctx)
		return nil
	}
	return o.leaderElect(ctx, kube, run, cancel)
}

func (o *Options) settings(cfg *config.Config) (provisioning.Settings, error) {
	s := provisioning.Settings{
		Config:    cfg,
		Namespace: o.Namespace,
		Pods:      provisioning.PodDefaults{Image: cfg.Importer.Image, DVCRInsecure: cfg.DVCR.Insecure},
	}
	if cfg.DVCR.CABundleFile != "" {
		b, err := os.ReadFile(cfg.DVCR.CABundleFile)
		if err != nil {
			return s, fmt.Errorf("read DVCR CA bundle: %w", err)
		}
		s.Pods.DVCRCABundle = string(b)
	}
	if cfg.DVCR.TokenKeyFile != "" {
		signer, err := dvcr.LoadSigner(cfg.DVCR.TokenKeyFile)
		if err != nil {
			return s, fmt.Errorf("load DVCR token key: %w", err)
		}
		s.Signer = signer
	} else if cfg.DVCR.AuthFile != "" {
		b, err := os.ReadFile(cfg.DVCR.AuthFile)
		if err != nil {
			return s, fmt.Errorf("read the registry credentials: %w", err)
		}
		s.RegistryAuth = b
	}
	return s, s.Defaults()
}

func (o *Options) leaderElect(ctx context.Context, kube kubernetes.Interface, run func(context.Context), cancel context.CancelFunc) error {
	host, _ := os.Hostname()
	id := host + "_" + string(uuid.NewUUID())
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, o.Namespace, LeaseName,
		kube.CoreV1(), kube.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: id})
	if err != nil {
		return fmt.Errorf("leader election lock: %w", err)
	}
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   15 * time.Second,
		RenewDeadline:   10 * time.Second,
		RetryPeriod:     2 * time.Second,
		ReleaseOnCancel: true,
		Name:            LeaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: run,
			// Losing the lease means another replica may already work: stop at once.
			OnStoppedLeading: cancel,
			OnNewLeader: func(identity string) {
				if identity != id {
					klog.InfoS("Another replica leads", "leader", identity)
				}
			},
		},
	})
	return nil
}

// clients are the API clients the controllers share.
type clients struct {
	kube kubernetes.Interface
	virt versioned.Interface
	kv   kubevirt.Interface
}

// runControllers builds the informers and controllers and runs them until ctx ends.
func runControllers(ctx context.Context, cl clients, settings provisioning.Settings, addrs ipam.Settings, workers int) error {
	kube, virt := cl.kube, cl.virt
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("scheme: %w", err)
	}
	if err := virtscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("scheme: %w", err)
	}
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartStructuredLogging(3)
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme, corev1.EventSource{Component: "virtualization-controller"})

	ownedOnly := informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
		lo.LabelSelector = provisioning.ManagedByLabel + "=" + provisioning.ManagedByValue
	})
	owned := informers.NewSharedInformerFactoryWithOptions(kube, 0, ownedOnly)
	core := informers.NewSharedInformerFactory(kube, 0)
	virtFactory := virtinformers.NewSharedInformerFactory(virt, 0)
	v := virtFactory.Virtualization().V1alpha2()
	if err := provisioning.AddBlockDeviceIndex(v.VirtualMachines().Informer()); err != nil {
		return err
	}

	imgs, err := image.New(virt, kube, image.Informers{
		VirtualImages: v.VirtualImages(), ClusterVirtualImages: v.ClusterVirtualImages(), VirtualDisks: v.VirtualDisks(),
		VirtualMachines: v.VirtualMachines(), Pods: owned.Core().V1().Pods(), PVCs: owned.Core().V1().PersistentVolumeClaims(),
		Secrets: core.Core().V1().Secrets(), StorageClasses: core.Storage().V1().StorageClasses(),
	}, settings, recorder)
	if err != nil {
		return err
	}
	disks, err := disk.New(virt, kube, disk.Informers{
		VirtualDisks: v.VirtualDisks(), VirtualImages: v.VirtualImages(), ClusterVirtualImages: v.ClusterVirtualImages(),
		VirtualMachines: v.VirtualMachines(), Pods: owned.Core().V1().Pods(), PVCs: owned.Core().V1().PersistentVolumeClaims(),
		Secrets: core.Core().V1().Secrets(), StorageClasses: core.Storage().V1().StorageClasses(),
	}, settings, recorder)
	if err != nil {
		return err
	}
	vmis := kubevirt.NewVMIInformer(cl.kv, "", 0, nil)
	vms, err := vm.New(virt, cl.kv, kube, vm.Informers{
		VirtualMachines: v.VirtualMachines(), VirtualDisks: v.VirtualDisks(), VirtualImages: v.VirtualImages(),
		ClusterVirtualImages: v.ClusterVirtualImages(), VirtualMachineClasses: v.VirtualMachineClasses(),
		VirtualMachineIPAddresses: v.VirtualMachineIPAddresses(), VMIs: vmis, Secrets: core.Core().V1().Secrets(),
	}, vm.Registry{Signer: settings.Signer, Auth: settings.RegistryAuth}, recorder)
	if err != nil {
		return err
	}
	classes, err := vmclass.New(virt, kube, vmclass.Informers{
		VirtualMachineClasses: v.VirtualMachineClasses(), VirtualMachines: v.VirtualMachines(), Nodes: core.Core().V1().Nodes(),
	}, recorder)
	if err != nil {
		return err
	}
	ips, err := ipam.New(virt, ipam.Informers{
		VirtualMachines: v.VirtualMachines(), VirtualMachineIPAddresses: v.VirtualMachineIPAddresses(), Leases: v.VirtualMachineIPAddressLeases(),
	}, addrs, recorder)
	if err != nil {
		return err
	}
	ops, err := vmop.New(virt, cl.kv, vmop.Informers{
		VirtualMachineOperations: v.VirtualMachineOperations(), VirtualMachines: v.VirtualMachines(), VMIs: vmis,
	}, vmop.Settings{}, recorder)
	if err != nil {
		return err
	}
	owned.Start(ctx.Done())
	core.Start(ctx.Done())
	virtFactory.Start(ctx.Done())
	go vmis.Informer.RunWithContext(ctx)
	defer owned.Shutdown()
	defer core.Shutdown()
	defer virtFactory.Shutdown()

	runs := []func(context.Context, int) error{imgs.Run, disks.Run, vms.Run, ops.Run, classes.Run, ips.Run}
	errs := make(chan error, len(runs))
	for _, run := range runs {
		go func() { errs <- run(ctx, workers) }()
	}
	var all []error
	for range runs {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, wg *sync.WaitGroup) (string, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.ErrorS(err, "Metrics server stopped")
		}
	})
	wg.Go(func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	return ln.Addr().String(), nil
}
