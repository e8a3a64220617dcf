// Command sidebyside compares virtualization-apiserver behind its APIService with the upstream
// VirtualMachine CRD, both reached through kube-apiserver, on the same machine in one run:
//
//   - setup A: etcd, kube-apiserver, kube-controller-manager and virtualization-apiserver behind
//     the APIService (internal/localstack). virtualization-apiserver stores in the stack's etcd
//     process (--etcd-servers), as the product's deployment does with its own etcd, so etcd's
//     memory is counted apart for both setups.
//   - setup B: etcd, kube-apiserver and kube-controller-manager only, with the peer CRD
//     (/work/shared/peer-crds/virtualmachines.yaml) applied.
//
// Each setup runs in its own temporary directory on free ports, and only one runs at a time.
// With -rounds 2 (the default) the order is A, B, B, A, so a load that rises or falls during
// the run weighs on both setups alike. For each run, through kube-apiserver with the admin
// kubeconfig and JSON both ways, the same client code does:
//
//  1. warm-up: 200 creates and two LISTs in a namespace of their own;
//  2. memory before: force a GC in each API server, settle, force another, read heap and RSS;
//  3. create phase: 16 concurrent clients create -n VMs (the seed's linux-vm as vm-<i>);
//  4. memory after: the same as 2, so growth per 1k objects = (after - before) / n * 1000;
//  5. a second namespace is filled with 1k VMs the same way;
//  6. LISTs (default options: a consistent read) of the 1k and of the 10k namespace.
//
// It prints the runs, a table with the ratios A/B and whether the goals are met, and where the
// time and CPU go. Run it with bench/sidebyside.sh, which builds bin/ and keeps the output.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/virtplane/virtplane/internal/localstack"
)

const (
	group   = "virtualization.deckhouse.io"
	version = "v1alpha2"
	crdName = "virtualmachines." + group

	warmupObjects = 200
	// requestTimeout bounds one request, phaseTimeout one create phase.
	requestTimeout = time.Minute
	phaseTimeout   = 15 * time.Minute
	startTimeout   = 5 * time.Minute
)

type config struct {
	repo, bin, kubectl, seed, peerCRD, rbac string
	n, small, clients                       int
	list1k, list10k                         int
	rounds                                  int
	first                                   string
	settle                                  time.Duration
	profileDir                              string
	cpuProfile                              bool
	cpuProfileSeconds                       int
	keep                                    bool
	timeout                                 time.Duration
	direct                                  bool
	directN                                 int
	virtArgs                                string
	only                                    string
}

func main() {
	var c config
	flag.StringVar(&c.repo, "repo", ".", "repository root (bin/, artifacts/rbac, the seed corpus)")
	flag.StringVar(&c.bin, "bin", "", "directory of etcd, kube-apiserver, kube-controller-manager, virtualization-apiserver (default <repo>/bin)")
	flag.StringVar(&c.kubectl, "kubectl", "kubectl", "kubectl binary")
	flag.StringVar(&c.seed, "seed", "", "the seed VM (default <repo>/test/corpus/validation/virtualmachine/valid-linux-vm.yaml)")
	flag.StringVar(&c.peerCRD, "peer-crd", "", "the peer CRD (default <repo>/../shared/peer-crds/virtualmachines.yaml)")
	flag.IntVar(&c.n, "n", 10000, "VMs created in the create phase; this namespace is the large LIST")
	flag.IntVar(&c.small, "small", 1000, "VMs in the small LIST namespace")
	flag.IntVar(&c.clients, "clients", 16, "concurrent clients that create")
	flag.IntVar(&c.list1k, "lists-small", 10, "timed LISTs of the small namespace per run")
	flag.IntVar(&c.list10k, "lists-large", 5, "timed LISTs of the large namespace per run")
	flag.IntVar(&c.rounds, "rounds", 2, "runs of each setup; the order alternates: A B B A A B ...")
	flag.StringVar(&c.first, "first", "A", "setup of the first run: A (APIService) or B (CRD)")
	flag.DurationVar(&c.settle, "settle", 10*time.Second, "wait between a forced GC and each memory reading")
	flag.StringVar(&c.profileDir, "profile-dir", "", "keep heap profiles (before and after the create phase) and CPU profiles here")
	flag.BoolVar(&c.cpuProfile, "cpuprofile-server", false, "take CPU profiles of the servers during the create phase of each setup's first run (needs -profile-dir)")
	flag.IntVar(&c.cpuProfileSeconds, "cpuprofile-seconds", 10, "length of the CPU profiles, from the start of the create phase (keep it within the phase)")
	flag.BoolVar(&c.keep, "keep", false, "keep the stacks' directories (logs, data)")
	flag.DurationVar(&c.timeout, "timeout", 60*time.Minute, "bound on the whole run")
	flag.BoolVar(&c.direct, "direct", true, "diagnostics of setup A after its measurements: creates and LISTs sent to virtualization-apiserver directly, without the hop through kube-apiserver")
	flag.IntVar(&c.directN, "direct-n", 2000, "VMs created directly for -direct (in a namespace of their own)")
	flag.StringVar(&c.virtArgs, "virt-args", "", "extra flags of virtualization-apiserver in setup A, comma-separated (experiments, e.g. --watch-cache=false)")
	flag.StringVar(&c.only, "only", "", "run one setup only (A or B): no ratios; for experiments")
	flag.Parse()
	if err := c.complete(); err != nil {
		fmt.Fprintln(os.Stderr, "sidebyside:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "sidebyside:", err)
		os.Exit(1)
	}
}

func (c *config) complete() error {
	var err error
	if c.repo, err = filepath.Abs(c.repo); err != nil {
		return err
	}
	if c.bin == "" {
		c.bin = filepath.Join(c.repo, "bin")
	}
	if c.seed == "" {
		c.seed = filepath.Join(c.repo, "test/corpus/validation/virtualmachine/valid-linux-vm.yaml")
	}
	if c.peerCRD == "" {
		c.peerCRD = filepath.Join(c.repo, "..", "shared", "peer-crds", "virtualmachines.yaml")
	}
	c.rbac = filepath.Join(c.repo, "artifacts", "rbac")
	if c.kubectl, err = exec.LookPath(c.kubectl); err != nil {
		return err
	}
	for _, f := range []string{c.seed, c.peerCRD, c.rbac} {
		if _, err := os.Stat(f); err != nil {
			return err
		}
	}
	if c.only != "" && c.only != "A" && c.only != "B" {
		return fmt.Errorf("-only is A or B, not %q", c.only)
	}
	if c.first != "A" && c.first != "B" {
		return fmt.Errorf("-first is A or B, not %q", c.first)
	}
	if c.n < 1 || c.directN < 1 || c.small < 1 || c.clients < 1 || c.rounds < 1 || c.list1k < 1 || c.list10k < 1 {
		return errors.New("-n, -small, -clients, -rounds and the LIST counts must be positive")
	}
	if c.cpuProfile && c.profileDir == "" {
		return errors.New("-cpuprofile-server needs -profile-dir")
	}
	if c.profileDir != "" {
		if err := os.MkdirAll(c.profileDir, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// order is the sequence of setups: rounds alternate the order (A B, B A, A B, ...).
func order(first, only string, rounds int) []string {
	other := map[string]string{"A": "B", "B": "A"}
	var seq []string
	if only != "" {
		for range rounds {
			seq = append(seq, only)
		}
		return seq
	}
	for r := range rounds {
		if r%2 == 0 {
			seq = append(seq, first, other[first])
		} else {
			seq = append(seq, other[first], first)
		}
	}
	return seq
}

func run(ctx context.Context, c config) error {
	tmpl, err := loadSeed(c.seed)
	if err != nil {
		return err
	}
	fmt.Printf("# side-by-side: %d clients create %d VMs; LIST %d and %d; %d round(s), order %s; GOMAXPROCS=%d\n",
		c.clients, c.n, c.small, c.n, c.rounds, strings.Join(order(c.first, c.only, c.rounds), " "), runtime.GOMAXPROCS(0))
	if c.virtArgs != "" {
		fmt.Printf("# virtualization-apiserver (setup A) with the extra flags %s\n", c.virtArgs)
	}
	var results []*runResult
	profiled := map[string]bool{}
	for i, setup := range order(c.first, c.only, c.rounds) {
		if err := ctx.Err(); err != nil {
			return err
		}
		fmt.Printf("\n## run %d: setup %s (%s), load average %s\n", i+1, setup, setupName(setup), loadAvg())
		r := &runner{c: c, setup: setup, run: i + 1, tmpl: tmpl, cpuProfile: c.cpuProfile && !profiled[setup]}
		profiled[setup] = true
		res, err := r.do(ctx)
		if err != nil {
			return fmt.Errorf("run %d (setup %s): %w", i+1, setup, err)
		}
		res.print(os.Stdout)
		results = append(results, res)
	}
	fmt.Printf("\n# load average at the end: %s\n", loadAvg())
	if c.only == "" {
		report(os.Stdout, c, results)
	}
	return nil
}

func setupName(s string) string {
	if s == "A" {
		return "APIService: virtualization-apiserver behind kube-apiserver"
	}
	return "CRD: the peer CRD in kube-apiserver"
}

// servers are the processes whose memory makes the setup's figure; etcd and
// kube-controller-manager are reported apart.
func servers(setup string) []string {
	if setup == "A" {
		return []string{"kube-apiserver", "virtualization-apiserver"}
	}
	return []string{"kube-apiserver"}
}

func allProcs(setup string) []string {
	return append(servers(setup), "etcd", "kube-controller-manager")
}

type runner struct {
	c          config
	setup      string
	run        int
	tmpl       vmTemplate
	cpuProfile bool

	stack *localstack.Stack
	cl    *clients
}

func (r *runner) do(ctx context.Context) (res *runResult, err error) {
	dir, err := os.MkdirTemp("", "sidebyside-"+r.setup+"-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			printLogs(dir)
		}
		if r.c.keep {
			fmt.Println("# kept", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	etcdPort, err := freeEtcdPort()
	if err != nil {
		return nil, err
	}
	opts := localstack.Options{
		Dir: dir, Bin: r.c.bin, RBAC: r.c.rbac, Kubectl: r.c.kubectl,
		EtcdPort:              etcdPort,
		WithoutVirtualization: r.setup == "B",
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	if r.setup == "A" {
		opts.ExtraVirtualizationArgs = []string{"--etcd-servers=" + etcdURL}
		if r.c.virtArgs != "" {
			opts.ExtraVirtualizationArgs = append(opts.ExtraVirtualizationArgs, strings.Split(r.c.virtArgs, ",")...)
		}
	}
	res = &runResult{setup: r.setup, run: r.run}
	begin := time.Now()
	startCtx, cancel := context.WithTimeout(ctx, startTimeout)
	r.stack, err = localstack.Start(startCtx, opts)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("starting the stack: %w", err)
	}
	defer r.stack.Stop()
	if r.setup == "B" {
		if err := r.installCRD(ctx); err != nil {
			return nil, err
		}
	}
	res.startup = time.Since(begin)
	if r.cl, err = newClients(r.stack, etcdURL); err != nil {
		return nil, err
	}
	// A program of the stack that dies fails the run instead of leaving it to time out.
	ctx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	go func() {
		select {
		case name := <-r.stack.Done():
			cancelRun(fmt.Errorf("%s exited (see its log)", name))
		case <-ctx.Done():
		}
	}()
	if err := r.measure(ctx, res); err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", err, cause)
		}
		return nil, err
	}
	return res, nil
}

// installCRD applies the peer CRD and waits until it is Established and the resource answers.
func (r *runner) installCRD(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if out, err := r.stack.Kubectl(ctx, nil, "apply", "-f", r.c.peerCRD); err != nil {
		return fmt.Errorf("applying %s: %v\n%s", r.c.peerCRD, err, out)
	}
	if out, err := r.stack.Kubectl(ctx, nil, "wait", "--for=condition=Established", "crd/"+crdName, "--timeout=2m"); err != nil {
		return fmt.Errorf("waiting for the CRD: %v\n%s", err, out)
	}
	for {
		out, err := r.stack.Kubectl(ctx, nil, "get", crdName, "-A")
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the CRD is not served: %v\n%s", ctx.Err(), out)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

const (
	nsWarmup = "bench-warmup"
	nsLarge  = "bench-large"
	nsSmall  = "bench-small"
	nsDirect = "bench-direct"
)

func (r *runner) measure(ctx context.Context, res *runResult) error {
	for _, ns := range []string{nsWarmup, nsLarge, nsSmall, nsDirect} {
		if err := r.cl.createNamespace(ctx, ns); err != nil {
			return err
		}
	}
	// Warm-up: connections, discovery, authorization caches, informers, the watch cache.
	if _, err := r.cl.createPhase(ctx, r.tmpl, nsWarmup, "warm", warmupObjects, r.c.clients); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	for range 2 {
		if _, err := r.cl.list(ctx, nsWarmup, warmupObjects); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}

	before, err := r.memory(ctx, "before")
	if err != nil {
		return err
	}
	res.memBefore = before

	// The create phase, with the CPU of each process and the servers' own request metrics.
	var profiles sync.WaitGroup
	var profileErrs []error
	var profileMu sync.Mutex
	if r.cpuProfile {
		targets := map[string]string{"kube-apiserver": r.cl.kubeURL}
		if r.setup == "A" {
			targets["virtualization-apiserver"] = r.cl.virtURL
		}
		for name, url := range targets {
			profiles.Go(func() {
				file := filepath.Join(r.c.profileDir, fmt.Sprintf("cpu-%s-run%d-%s.pb.gz", r.setup, r.run, name))
				if err := r.cl.saveProfile(ctx, url, fmt.Sprintf("/debug/pprof/profile?seconds=%d", r.c.cpuProfileSeconds),
					file, time.Duration(r.c.cpuProfileSeconds+60)*time.Second); err != nil {
					profileMu.Lock()
					profileErrs = append(profileErrs, fmt.Errorf("CPU profile of %s: %w", name, err))
					profileMu.Unlock()
				}
			})
		}
		res.cpuProfiled = true
	}
	snap0, err := r.snapshot(ctx)
	if err != nil {
		return err
	}
	res.create, err = r.cl.createPhase(ctx, r.tmpl, nsLarge, "vm", r.c.n, r.c.clients)
	if err != nil {
		return err
	}
	snap1, err := r.snapshot(ctx)
	if err != nil {
		return err
	}
	res.createCost = costs(snap0, snap1, allProcs(r.setup), "POST", r.c.n)
	profiles.Wait()
	for _, e := range profileErrs {
		fmt.Println("# note:", e)
	}

	after, err := r.memory(ctx, "after")
	if err != nil {
		return err
	}
	res.memAfter = after

	if res.createSmall, err = r.cl.createPhase(ctx, r.tmpl, nsSmall, "vm", r.c.small, r.c.clients); err != nil {
		return err
	}
	if res.listSmall, err = r.lists(ctx, r.cl.viaKube(), nsSmall, r.c.small, r.c.list1k); err != nil {
		return err
	}
	snap2, err := r.snapshot(ctx)
	if err != nil {
		return err
	}
	if res.listLarge, err = r.lists(ctx, r.cl.viaKube(), nsLarge, r.c.n, r.c.list10k); err != nil {
		return err
	}
	snap3, err := r.snapshot(ctx)
	if err != nil {
		return err
	}
	res.listCost = costs(snap2, snap3, allProcs(r.setup), "LIST", r.c.list10k+1)

	// Diagnostics: the same requests without the hop through kube-apiserver.
	if r.setup == "A" && r.c.direct {
		d := r.cl.direct()
		if res.directCreate, err = d.createPhase(ctx, r.tmpl, nsDirect, "vm", r.c.directN, r.c.clients); err != nil {
			return fmt.Errorf("direct: %w", err)
		}
		if res.directList, err = r.lists(ctx, d, nsLarge, r.c.n, r.c.list10k); err != nil {
			return fmt.Errorf("direct: %w", err)
		}
		res.hasDirect = true
	}
	return nil
}

// lists runs one untimed LIST, then count timed ones, each checked for want items.
func (r *runner) lists(ctx context.Context, t target, ns string, want, count int) (listResult, error) {
	var lr listResult
	if _, err := t.list(ctx, ns, want); err != nil {
		return lr, err
	}
	for range count {
		l, err := t.list(ctx, ns, want)
		if err != nil {
			return lr, err
		}
		lr.latencies = append(lr.latencies, l.latency)
		lr.items, lr.bytes = l.items, l.bytes
	}
	return lr, nil
}

// memory forces a GC in each API server (the heap profile endpoint with gc=1), settles,
// forces another GC (whose heap profile is kept), then reads each process's RSS and the servers' Go heap in use.
func (r *runner) memory(ctx context.Context, label string) (map[string]procMem, error) {
	// A first GC lowers each server's heap goal, so during the wait the Go scavenger returns
	// what the heap no longer needs to the kernel and RSS comes down to what is held.
	for _, name := range servers(r.setup) {
		_ = r.cl.get(ctx, r.cl.serverURL(name), "/debug/pprof/heap?gc=1", io.Discard, requestTimeout)
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(r.c.settle):
	}
	out := map[string]procMem{}
	for _, name := range allProcs(r.setup) {
		m := procMem{heapInuse: -1}
		if url := r.cl.serverURL(name); url != "" && name != "etcd" {
			file := io.Discard
			var f *os.File
			if r.c.profileDir != "" {
				var err error
				f, err = os.Create(filepath.Join(r.c.profileDir, fmt.Sprintf("heap-%s-run%d-%s-%s.pb.gz", r.setup, r.run, name, label)))
				if err != nil {
					return nil, err
				}
				file = f
			}
			err := r.cl.get(ctx, url, "/debug/pprof/heap?gc=1", file, requestTimeout)
			if f != nil {
				f.Close()
			}
			if err != nil {
				fmt.Printf("# note: forcing a GC in %s: %v\n", name, err)
			}
		}
		if url := r.cl.serverURL(name); url != "" {
			if text, err := r.cl.metrics(ctx, url); err == nil {
				if v, ok := metricSum(text, "go_memstats_heap_inuse_bytes"); ok {
					m.heapInuse = int64(v)
				}
			} else {
				fmt.Printf("# note: metrics of %s: %v\n", name, err)
			}
		}
		rss, anon, err := readRSS(r.stack.PID(name))
		if err != nil {
			return nil, fmt.Errorf("memory of %s: %w", name, err)
		}
		m.rss, m.rssAnon = rss, anon
		out[name] = m
	}
	return out, nil
}

// snapshot reads the CPU time of every process and the metrics of the servers.
func (r *runner) snapshot(ctx context.Context) (snapshot, error) {
	s := snapshot{at: time.Now(), cpu: map[string]time.Duration{}, metrics: map[string]string{}}
	for _, name := range allProcs(r.setup) {
		cpu, err := readCPU(r.stack.PID(name))
		if err != nil {
			return s, fmt.Errorf("CPU of %s: %w", name, err)
		}
		s.cpu[name] = cpu
		if url := r.cl.serverURL(name); url != "" {
			text, err := r.cl.metrics(ctx, url)
			if err != nil {
				return s, fmt.Errorf("metrics of %s: %w", name, err)
			}
			s.metrics[name] = text
		}
	}
	s.cpu["client (this program)"] = selfCPU()
	return s, nil
}

func printLogs(dir string) {
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(os.Stderr, "--- %s (last lines)\n%s\n", filepath.Base(l), strings.Join(lines, "\n"))
	}
}
