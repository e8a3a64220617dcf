// Package bench measures virtualization-apiserver through the generated clientset: create, get
// and list of VirtualMachines against a real server running in this process on embedded etcd,
// over loopback HTTPS. It holds benchmarks only; `go test ./...` starts no server and runs
// nothing here. Run it with bench/run.sh, or:
//
//	go test ./bench/ -run '^$' -bench . -benchtime 5s -timeout 30m
//
// See bench/README.md for what each benchmark measures and the baseline numbers.
package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/apiserver/testserver"
	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
	typed "github.com/virtplane/virtplane/pkg/generated/clientset/versioned/typed/virtualization/v1alpha2"
)

const (
	// seedFile is the seed's linux-vm, relative to this package (go test runs in bench/).
	seedFile = "../test/corpus/validation/virtualmachine/valid-linux-vm.yaml"
	// requestTimeout bounds every request, so a stuck server fails the run instead of hanging it.
	requestTimeout = time.Minute
	// fillWorkers is how many clients fill the LIST namespaces at once.
	fillWorkers = 16
	// parallelClients is the least number of goroutines BenchmarkCreateVMParallel runs.
	parallelClients = 16
)

// env is the server shared by every benchmark of the process, started by the first one that
// needs it, so a run without -bench never starts it.
var env struct {
	once   sync.Once
	err    error
	dir    string
	srv    *testserver.Server
	client versioned.Interface
	seed   *v1alpha2.VirtualMachine
	stderr *os.File // the process's stderr while the server's logs are redirected
}

// nameSeq numbers created VMs across all runs of the create benchmarks (-count, ramp-up),
// so names never collide.
var nameSeq atomic.Int64

func TestMain(m *testing.M) {
	code := m.Run()
	if env.srv != nil {
		env.srv.Stop()
	}
	if env.stderr != nil {
		os.Stderr = env.stderr
	}
	if env.dir != "" {
		os.RemoveAll(env.dir)
	}
	os.Exit(code)
}

// setup starts the server once and returns the VirtualMachines client of the namespace.
func setup(b *testing.B, namespace string) typed.VirtualMachineInterface {
	b.Helper()
	env.once.Do(func() { env.err = start() })
	if env.err != nil {
		b.Fatal(env.err)
	}
	return env.client.VirtualizationV1alpha2().VirtualMachines(namespace)
}

func start() error {
	seed, err := loadSeed()
	if err != nil {
		return err
	}
	env.seed = seed
	env.dir, err = os.MkdirTemp("", "virtualization-bench-")
	if err != nil {
		return err
	}
	if err := redirectServerLog(); err != nil {
		return err
	}
	env.srv, err = testserver.Start(env.dir, nil)
	if err != nil {
		return fmt.Errorf("starting the server: %w", err)
	}
	// The server's own clientset, with the wire format and limits pinned so the numbers do not
	// move with client-go defaults: JSON both ways (what a CRD serves too), no client-side rate
	// limit, and a deadline on every request.
	cfg := rest.CopyConfig(env.srv.Config)
	cfg.ContentType = "application/json"
	cfg.AcceptContentTypes = "application/json"
	cfg.QPS, cfg.Burst = -1, 0
	cfg.Timeout = requestTimeout
	env.client, err = versioned.NewForConfig(cfg)
	return err
}

// redirectServerLog sends what the server and its etcd log (klog and zap, both on stderr) to
// $BENCH_SERVER_LOG, or drops it when that is unset ("-" keeps it on stderr): go test merges
// the test's stderr into its stdout, and the log lines would bury the results. Both loggers
// look os.Stderr up when they write or start, after this runs; the results, b.Log lines and
// failures go to stdout, and a crash still reaches file descriptor 2.
func redirectServerLog() error {
	path := os.Getenv("BENCH_SERVER_LOG")
	switch path {
	case "-":
		return nil
	case "":
		path = os.DevNull
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	env.stderr, os.Stderr = os.Stderr, f
	return nil
}

// loadSeed reads the seed's linux-vm from the shared corpus.
func loadSeed() (*v1alpha2.VirtualMachine, error) {
	data, err := os.ReadFile(seedFile)
	if err != nil {
		return nil, err
	}
	vm := &v1alpha2.VirtualMachine{}
	if err := yaml.UnmarshalStrict(data, vm); err != nil {
		return nil, fmt.Errorf("%s: %w", seedFile, err)
	}
	if gvk := vm.GroupVersionKind(); gvk != v1alpha2.SchemeGroupVersion.WithKind("VirtualMachine") {
		return nil, fmt.Errorf("%s: %v is not a VirtualMachine of %v", seedFile, gvk, v1alpha2.SchemeGroupVersion)
	}
	return vm, nil
}

// newVM is the seed VM under another name and namespace.
func newVM(namespace, name string) *v1alpha2.VirtualMachine {
	vm := env.seed.DeepCopy()
	vm.TypeMeta = metav1.TypeMeta{}
	vm.Namespace = namespace
	vm.Name = name
	return vm
}

func nextName() string { return fmt.Sprintf("linux-vm-%07d", nameSeq.Add(1)) }

// reportRate adds objects/s: objects handled per second of the timed part.
func reportRate(b *testing.B, objects float64) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(objects/s, "objects/s")
	}
}

// BenchmarkCreateVM creates the seed VM under a new name, one request at a time: the latency
// of a write (admission, validation, etcd commit with its fsync) seen by one client.
func BenchmarkCreateVM(b *testing.B) {
	const ns = "bench-create"
	vms := setup(b, ns)
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := vms.Create(ctx, newVM(ns, nextName()), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	reportRate(b, float64(n))
}

// BenchmarkCreateVMParallel creates VMs from at least 16 goroutines sharing one clientset (one
// HTTP/2 connection): write throughput under concurrency, where etcd batches commits.
func BenchmarkCreateVMParallel(b *testing.B) {
	const ns = "bench-create-parallel"
	vms := setup(b, ns)
	ctx := context.Background()
	procs := runtime.GOMAXPROCS(0)
	p := (parallelClients + procs - 1) / procs
	b.SetParallelism(p)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := vms.Create(ctx, newVM(ns, nextName()), metav1.CreateOptions{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b, float64(b.N))
	b.ReportMetric(float64(p*procs), "clients")
}

// BenchmarkGetVM reads one VM by name, one request at a time. A GET goes to etcd (it is not
// served from the watch cache), so this is the read round trip through the whole stack.
func BenchmarkGetVM(b *testing.B) {
	const ns = "bench-get"
	vms := setup(b, ns)
	ctx := context.Background()
	if _, err := vms.Create(ctx, newVM(ns, env.seed.Name), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		vm, err := vms.Get(ctx, env.seed.Name, metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if vm.Name != env.seed.Name {
			b.Fatalf("got VM %q, want %q", vm.Name, env.seed.Name)
		}
		n++
	}
	reportRate(b, float64(n))
}

// fills remembers which LIST namespaces are filled, so -count and repeated runs fill once.
var fills sync.Map // namespace -> *fill

type fill struct {
	once sync.Once
	err  error
}

// BenchmarkListVMs lists a whole namespace holding 1,000 or 10,000 VMs, without paging:
//   - default: the options a client passes by default (resourceVersion unset), a consistent
//     read; with ConsistentListFromCache (GA) the server asks etcd for its current revision,
//     waits for the watch cache to reach it and serves from the cache.
//   - rv0: resourceVersion "0", any cached state is fine; served from the watch cache without
//     the round trip to etcd.
//
// The time is dominated by encoding the items to JSON on the server and decoding them in the
// client, so objects/s is the figure to compare across sizes.
func BenchmarkListVMs(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"1k", 1000}, {"10k", 10000}} {
		b.Run(size.name, func(b *testing.B) {
			ns := "bench-list-" + size.name
			vms := setup(b, ns)
			f, _ := fills.LoadOrStore(ns, &fill{})
			f.(*fill).once.Do(func() { f.(*fill).err = fillNamespace(vms, ns, size.n) })
			if err := f.(*fill).err; err != nil {
				b.Fatal(err)
			}
			for _, variant := range []struct {
				name string
				opts metav1.ListOptions
			}{
				{"default", metav1.ListOptions{}},
				{"rv0", metav1.ListOptions{ResourceVersion: "0"}},
			} {
				b.Run(variant.name, func(b *testing.B) { benchmarkList(b, vms, variant.opts, size.n) })
			}
		})
	}
}

func benchmarkList(b *testing.B, vms typed.VirtualMachineInterface, opts metav1.ListOptions, want int) {
	ctx := context.Background()
	list := func() {
		l, err := vms.List(ctx, opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(l.Items) != want {
			b.Fatalf("listed %d VMs, want %d", len(l.Items), want)
		}
	}
	list() // warm up outside the timer; checks the cache holds all of them
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		list()
		n++
	}
	reportRate(b, float64(n*want))
	b.ReportMetric(float64(want), "items/op")
}

// fillNamespace creates n seed VMs in the namespace with fillWorkers concurrent clients, and
// returns once a consistent LIST sees all of them (so the watch cache has them too).
func fillNamespace(vms typed.VirtualMachineInterface, ns string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	begin := time.Now()
	next := make(chan int)
	errs := make(chan error, fillWorkers)
	var wg sync.WaitGroup
	for range fillWorkers {
		wg.Go(func() {
			for i := range next {
				_, err := vms.Create(ctx, newVM(ns, fmt.Sprintf("linux-vm-%05d", i)), metav1.CreateOptions{})
				if err != nil && !apierrors.IsAlreadyExists(err) {
					errs <- fmt.Errorf("filling %s: %w", ns, err)
					cancel()
					return
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	var err error
	for e := range errs {
		err = errors.Join(err, e)
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("filling %s: %w", ns, ctx.Err())
	}
	l, err := vms.List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	if len(l.Items) != n {
		return fmt.Errorf("filled %s with %d VMs, a LIST returns %d", ns, n, len(l.Items))
	}
	// On stdout as a comment line: b.Log output of a benchmark with sub-benchmarks is not
	// shown, and benchstat skips lines starting with '#'.
	elapsed := time.Since(begin)
	fmt.Printf("# filled %s with %d VMs by %d clients in %s (%.0f objects/s)\n",
		ns, n, fillWorkers, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	return nil
}
