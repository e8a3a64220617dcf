// Package vms measures the control plane with many VMs: N VirtualMachines applied at once
// against hollow local nodes (VMIs go Running without a guest, as kubemark's hollow nodes do),
// and the time until every VMI exists and every VM is Running. It runs only when asked
// (bash bench/vms.sh, or BENCH_VMS=1 go test ./bench/vms -run TestScale -v -timeout 30m);
// `go test ./...` skips it.
package vms

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/virtplane/virtplane/internal/localstack"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
	virtinformers "github.com/virtplane/virtplane/pkg/generated/informers/externalversions"
	"github.com/virtplane/virtplane/pkg/kubevirt"
)

func TestScale(t *testing.T) {
	if os.Getenv("BENCH_VMS") == "" {
		t.Skip("a benchmark: run bash bench/vms.sh (or set BENCH_VMS=1)")
	}
	n := 1000
	if v := os.Getenv("BENCH_VMS_COUNT"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..", "..")
	dir := t.TempDir()
	kubectlBin, _ := exec.LookPath("kubectl")
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	stack, err := localstack.Start(ctx, localstack.Options{
		Dir: dir, Bin: filepath.Join(repo, "bin"), RBAC: filepath.Join(repo, "artifacts", "rbac"), Kubectl: kubectlBin,
		NodeRuntime: "hollow", NodeCPU: "4000", NodeMemory: "64Ti", NodeMaxPods: 2000,
		VirtualMachineCIDRs: []string{"10.64.0.0/16"},
		ExtraControllerArgs: strings.Fields(os.Getenv("BENCH_CONTROLLER_ARGS")),
	})
	if err != nil {
		t.Fatalf("start the stack: %v", err)
	}
	defer stack.Stop()
	cfg, _ := clientcmd.BuildConfigFromFlags("", stack.Kubeconfig)
	cfg.QPS, cfg.Burst = 500, 1000
	virt := versioned.NewForConfigOrDie(cfg)
	kube := kubernetes.NewForConfigOrDie(cfg)
	kv, _ := kubevirt.NewForConfig(cfg)

	const ns = "bench"
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// One blank disk the VMs all name: its readiness is all the VM controller checks; hollow
	// nodes attach nothing.
	if _, err := virt.VirtualizationV1alpha2().VirtualDisks(ns).Create(ctx, &v1alpha2.VirtualDisk{
		ObjectMeta: metav1.ObjectMeta{Name: "shared"},
		Spec:       v1alpha2.VirtualDiskSpec{PersistentVolumeClaim: v1alpha2.VirtualDiskPersistentVolumeClaim{Size: ptr.To(resource.MustParse("16Mi"))}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "the disk Ready", func() bool {
		vd, err := virt.VirtualizationV1alpha2().VirtualDisks(ns).Get(ctx, "shared", metav1.GetOptions{})
		return err == nil && vd.Status.Phase == v1alpha2.DiskReady
	})
	waitFor(t, 2*time.Minute, "class host Ready", func() bool {
		c, err := virt.VirtualizationV1alpha2().VirtualMachineClasses().Get(ctx, "host", metav1.GetOptions{})
		return err == nil && c.Status.Phase == v1alpha2.ClassPhaseReady
	})

	ctrlPID := stack.PID("virtualization-controller")
	cpu0 := cpuSeconds(ctrlPID)
	ours := oursClient(t, stack)
	writes0 := apiWrites(ctx, t, kube)
	oursWrites0 := apiWrites(ctx, t, ours)
	procs0 := processCPU(stack)

	// Watch VMs and VMIs from the start, recording when each first Running / exists.
	running := map[string]time.Time{}
	vmiSeen := map[string]time.Time{}
	var mu sync.Mutex
	// Informers, not bare watches: a watch the server closes must not lose events.
	allRunning := make(chan struct{})
	onVM := func(obj any) {
		vm, ok := obj.(*v1alpha2.VirtualMachine)
		if !ok || vm.Status.Phase != v1alpha2.MachineRunning {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if _, seen := running[vm.Name]; !seen {
			running[vm.Name] = time.Now()
			if len(running) == n {
				close(allRunning)
			}
		}
	}
	vmInf := virtinformers.NewSharedInformerFactoryWithOptions(virt, 0, virtinformers.WithNamespace(ns)).Virtualization().V1alpha2().VirtualMachines().Informer()
	_, _ = vmInf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: onVM, UpdateFunc: func(_, o any) { onVM(o) }})
	vmis := kubevirt.NewVMIInformer(kv, ns, 0, nil)
	_, _ = vmis.Informer.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		if o, ok := obj.(metav1.Object); ok {
			mu.Lock()
			if _, seen := vmiSeen[o.GetName()]; !seen {
				vmiSeen[o.GetName()] = time.Now()
			}
			mu.Unlock()
		}
	}})
	go vmInf.RunWithContext(ctx)
	go vmis.Informer.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), vmInf.HasSynced, vmis.Informer.HasSynced) {
		t.Fatal("informers did not sync")
	}
	var peakRSS int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			peakRSS = max(peakRSS, rss(ctrlPID))
			select {
			case <-stopSampling:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()

	accepted := make([]time.Time, n)
	start := time.Now()
	var wg sync.WaitGroup
	names := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range names {
				vm := &v1alpha2.VirtualMachine{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("vm-%04d", i)},
					Spec: v1alpha2.VirtualMachineSpec{
						VirtualMachineClassName: "host", RunPolicy: v1alpha2.AlwaysOnPolicy,
						CPU: v1alpha2.CPUSpec{Cores: 1, CoreFraction: "5%"}, Memory: v1alpha2.MemorySpec{Size: "256Mi"},
						BlockDeviceRefs: []v1alpha2.BlockDeviceSpecRef{{Kind: v1alpha2.DiskDevice, Name: "shared"}},
					},
				}
				if _, err := virt.VirtualizationV1alpha2().VirtualMachines(ns).Create(ctx, vm, metav1.CreateOptions{}); err != nil {
					t.Errorf("create %s: %v", vm.Name, err)
					continue
				}
				accepted[i] = time.Now()
			}
		})
	}
	for i := range n {
		names <- i
	}
	close(names)
	wg.Wait()
	lastAccepted := slices.MaxFunc(accepted, func(a, b time.Time) int { return a.Compare(b) })
	select {
	case <-allRunning:
	case <-time.After(15 * time.Minute):
		mu.Lock()
		t.Fatalf("%d of %d VMs Running after 15 minutes", len(running), n)
	}
	end := time.Now()
	close(stopSampling)
	<-sampled
	cpu := cpuSeconds(ctrlPID) - cpu0
	writes1 := apiWrites(ctx, t, kube)
	oursWrites1 := apiWrites(ctx, t, ours)
	procs1 := processCPU(stack)

	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	lastVMI := start
	for i := range n {
		name := fmt.Sprintf("vm-%04d", i)
		lat = append(lat, running[name].Sub(accepted[i]))
		if v := vmiSeen[name]; v.After(lastVMI) {
			lastVMI = v
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Printf("VMs                                   %d (hollow nodes: 2)\n", n)
	fmt.Printf("creates accepted in                   %s\n", lastAccepted.Sub(start).Round(time.Millisecond))
	fmt.Printf("every VMI exists, after last create   %s\n", lastVMI.Sub(lastAccepted).Round(time.Millisecond))
	fmt.Printf("every VM Running, after last create   %s\n", end.Sub(lastAccepted).Round(time.Millisecond))
	fmt.Printf("every VM Running, after first create  %s\n", end.Sub(start).Round(time.Millisecond))
	fmt.Printf("create accepted -> Running  p50 %s  p99 %s  max %s\n", pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	var writes int64
	var kinds []string
	for k, v := range writes1 {
		if d := v - writes0[k]; d >= int64(n)/10 {
			kinds = append(kinds, fmt.Sprintf("%s %.1f", k, float64(d)/float64(n)))
		}
		writes += v - writes0[k]
	}
	slices.Sort(kinds)
	fmt.Printf("API writes per VM (kube-apiserver)    %.1f\n", float64(writes)/float64(n))
	for _, k := range kinds {
		fmt.Printf("    %s\n", k)
	}
	writes, kinds = 0, nil
	for k, v := range oursWrites1 {
		if d := v - oursWrites0[k]; d >= int64(n)/10 {
			kinds = append(kinds, fmt.Sprintf("%s %.1f", k, float64(d)/float64(n)))
		}
		writes += v - oursWrites0[k]
	}
	slices.Sort(kinds)
	fmt.Printf("API writes per VM (virtualization-apiserver) %.1f\n", float64(writes)/float64(n))
	for _, k := range kinds {
		fmt.Printf("    %s\n", k)
	}
	var progs []string
	for name := range procs1 {
		progs = append(progs, name)
	}
	slices.Sort(progs)
	fmt.Printf("CPU seconds during the run:")
	for _, name := range progs {
		fmt.Printf(" %s %.1f,", name, procs1[name]-procs0[name])
	}
	fmt.Println()
	fmt.Printf("controller CPU                        %.2f s (%.2f ms per VM)\n", cpu, cpu*1000/float64(n))
	fmt.Printf("controller peak RSS                   %d MiB\n", peakRSS>>20)
}

// oursClient reaches virtualization-apiserver directly (its /metrics) with the admin's
// client certificate, which it accepts through kube-apiserver's client CA.
func oursClient(t *testing.T, stack *localstack.Stack) kubernetes.Interface {
	cfg, err := clientcmd.BuildConfigFromFlags(stack.VirtualizationURL, stack.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Host = stack.VirtualizationURL
	cfg.TLSClientConfig.Insecure, cfg.TLSClientConfig.CAData, cfg.TLSClientConfig.CAFile = true, nil, ""
	return kubernetes.NewForConfigOrDie(cfg)
}

func waitFor(t *testing.T, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s", what, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// cpuSeconds is the user+system CPU time of a process.
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// rss is a process's resident memory in bytes.
func rss(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// apiWrites sums kube-apiserver's write requests (POST, PUT, PATCH, DELETE) of every client,
// our group's requests included (they pass kube-apiserver's aggregator), by verb and resource.
func apiWrites(ctx context.Context, t *testing.T, kube kubernetes.Interface) map[string]int64 {
	raw, err := kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		t.Fatalf("kube-apiserver metrics: %v", err)
	}
	out := map[string]int64{}
	for _, l := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(l, "apiserver_request_total{") {
			continue
		}
		verb := label(l, "verb")
		if verb != "POST" && verb != "PUT" && verb != "PATCH" && verb != "DELETE" && verb != "CREATE" && verb != "UPDATE" {
			continue
		}
		key := verb + " " + label(l, "resource")
		if sub := label(l, "subresource"); sub != "" {
			key += "/" + sub
		}
		v, _ := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
		out[key] += int64(v)
	}
	return out
}

func label(line, name string) string {
	i := strings.Index(line, name+`="`)
	if i < 0 {
		return ""
	}
	rest := line[i+len(name)+2:]
	return rest[:strings.IndexByte(rest, '"')]
}

// processCPU is the CPU time of the stack's processes.
func processCPU(stack *localstack.Stack) map[string]float64 {
	out := map[string]float64{}
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "virtualization-apiserver",
		"virtualization-controller", "local-node-1", "local-node-2"} {
		if pid := stack.PID(name); pid > 0 {
			out[name] = cpuSeconds(pid)
		}
	}
	return out
}
