package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

type listResult struct {
	latencies    []time.Duration
	items, bytes int
}

// runResult is one run of one setup.
type runResult struct {
	setup                string
	run                  int
	startup              time.Duration
	create, createSmall  createResult
	createCost, listCost cost
	listSmall, listLarge listResult
	memBefore, memAfter  map[string]procMem
	cpuProfiled          bool
	// Diagnostics of setup A: straight to virtualization-apiserver.
	hasDirect    bool
	directCreate createResult
	directList   listResult
}

const mib = 1 << 20

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

// growth is a process's growth per 1k created objects, in MiB (RSS, and Go heap or NaN).
func (r *runResult) growth(name string) (rss, heap float64, heapOK bool) {
	b, a := r.memBefore[name], r.memAfter[name]
	k := float64(r.create.n) / 1000
	rss = float64(a.rss-b.rss) / mib / k
	if a.heapInuse >= 0 && b.heapInuse >= 0 {
		return rss, float64(a.heapInuse-b.heapInuse) / mib / k, true
	}
	return rss, 0, false
}

func (r *runResult) print(w io.Writer) {
	fmt.Fprintf(w, "stack ready in %s\n", r.startup.Round(time.Millisecond))
	fmt.Fprintf(w, "create %d VMs: %.0f creates/s in %s, p50 %s ms, p99 %s ms\n",
		r.create.n, r.create.rate(), r.create.elapsed.Round(time.Millisecond),
		ms(percentile(r.create.latencies, 0.5)), ms(percentile(r.create.latencies, 0.99)))
	fmt.Fprintf(w, "  client-side mean %s ms\n", ms3(mean(r.create.latencies)))
	fmt.Fprintf(w, "create %d more VMs (small namespace): %.0f creates/s, p50 %s ms, p99 %s ms\n",
		r.createSmall.n, r.createSmall.rate(),
		ms(percentile(r.createSmall.latencies, 0.5)), ms(percentile(r.createSmall.latencies, 0.99)))
	for _, l := range []struct {
		name string
		r    listResult
	}{{"small", r.listSmall}, {"large", r.listLarge}} {
		fmt.Fprintf(w, "LIST %s: %d items, %.1f MiB, p50 %s ms over %d (all: %s)\n", l.name, l.r.items,
			float64(l.r.bytes)/mib, ms(percentile(l.r.latencies, 0.5)), len(l.r.latencies), msList(l.r.latencies))
	}
	fmt.Fprintf(w, "memory (MiB; after a forced GC; growth over the %d creates):\n", r.create.n)
	fmt.Fprintf(w, "  %-26s %9s %9s %9s %9s %11s %11s %11s\n", "process", "RSS", "RSS", "RssAnon", "RssAnon", "heap inuse", "heap inuse", "")
	fmt.Fprintf(w, "  %-26s %9s %9s %9s %9s %11s %11s %11s\n", "", "before", "after", "before", "after", "before", "after", "RSS/1k obj")
	for _, name := range allProcs(r.setup) {
		b, a := r.memBefore[name], r.memAfter[name]
		rss, _, _ := r.growth(name)
		fmt.Fprintf(w, "  %-26s %9.1f %9.1f %9.1f %9.1f %11s %11s %11.2f\n", name,
			float64(b.rss)/mib, float64(a.rss)/mib, float64(b.rssAnon)/mib, float64(a.rssAnon)/mib,
			heapStr(b.heapInuse), heapStr(a.heapInuse), rss)
	}
	printCost(w, "CPU per create", r.createCost, r.setup)
	printCost(w, fmt.Sprintf("CPU per LIST of %d", r.listLarge.items), r.listCost, r.setup)
	if r.hasDirect {
		fmt.Fprintf(w, "direct to virtualization-apiserver (no kube-apiserver hop): create %d VMs %.0f creates/s, p50 %s ms, p99 %s ms, mean %s ms; LIST large p50 %s ms (all: %s)\n",
			r.directCreate.n, r.directCreate.rate(), ms(percentile(r.directCreate.latencies, 0.5)),
			ms(percentile(r.directCreate.latencies, 0.99)), ms3(mean(r.directCreate.latencies)),
			ms(percentile(r.directList.latencies, 0.5)), msList(r.directList.latencies))
	}
	if r.cpuProfiled {
		fmt.Fprintln(w, "(CPU profiles were taken during this run's create phase)")
	}
}

func heapStr(v int64) string {
	if v < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", float64(v)/mib)
}

func msList(d []time.Duration) string {
	s := make([]string, len(d))
	for i, v := range d {
		s[i] = ms(v)
	}
	return strings.Join(s, " ")
}

func printCost(w io.Writer, title string, c cost, setup string) {
	names := append(allProcs(setup), "client (this program)")
	var parts []string
	var total time.Duration
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %s", n, ms3(c.cpuPerOp[n])))
		total += c.cpuPerOp[n]
	}
	fmt.Fprintf(w, "%s (ms, over %d ops in %s): %s; total %s\n", title, c.ops, c.wall.Round(time.Millisecond),
		strings.Join(parts, ", "), ms3(total))
	var m []string
	for _, n := range servers(setup) {
		if d, ok := c.serverMean[n]; ok {
			m = append(m, fmt.Sprintf("%s %s ms", n, ms3(d)))
		} else {
			m = append(m, n+" none recorded (it proxies)")
		}
		if d, ok := c.etcdMean[n]; ok {
			m = append(m, fmt.Sprintf("its etcd create %s ms", ms3(d)))
		}
	}
	fmt.Fprintf(w, "  mean duration the servers recorded (apiserver_request_duration_seconds): %s\n", strings.Join(m, "; "))
	if c.fsyncsPerOp >= 0 {
		fmt.Fprintf(w, "  etcd: %.3f WAL fsyncs per op, mean fsync %s ms, mean backend commit %s ms\n",
			c.fsyncsPerOp, ms3(c.fsyncMean), ms3(c.backendCommit))
	}
}

func ms3(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }

// summary pools a setup's runs.
type summary struct {
	runs                      int
	rate                      float64
	p50, p99, list1k, list10k time.Duration
	memServers, heapServers   float64 // MiB per 1k objects, the setup's servers
	heapOK                    bool
	memEtcd, heapEtcd         float64
	memKCM                    float64
	cpuCreate                 map[string]time.Duration
	cpuList                   map[string]time.Duration
	serverCreate, serverList  map[string][]time.Duration
	items1k, items10k         int
	clientCreate, clientList  []time.Duration // per run: the client's mean create, p50 large LIST
	// Setup A's diagnostics, pooled like the rest.
	directRuns                       int
	directRate                       float64
	directP50, directP99, directList time.Duration
	directMean, viaMean              time.Duration
}

func summarize(setup string, rs []*runResult) summary {
	s := summary{cpuCreate: map[string]time.Duration{}, cpuList: map[string]time.Duration{},
		serverCreate: map[string][]time.Duration{}, serverList: map[string][]time.Duration{}, heapOK: true}
	var n int
	var elapsed time.Duration
	var lat, l1k, l10k, dlat, dlist []time.Duration
	var dn int
	var delapsed time.Duration
	for _, r := range rs {
		if r.setup != setup {
			continue
		}
		if r.hasDirect {
			s.directRuns++
			dn += r.directCreate.n
			delapsed += r.directCreate.elapsed
			dlat = append(dlat, r.directCreate.latencies...)
			dlist = append(dlist, r.directList.latencies...)
		}
		s.runs++
		n += r.create.n
		elapsed += r.create.elapsed
		lat = append(lat, r.create.latencies...)
		l1k = append(l1k, r.listSmall.latencies...)
		l10k = append(l10k, r.listLarge.latencies...)
		s.items1k, s.items10k = r.listSmall.items, r.listLarge.items
		s.clientCreate = append(s.clientCreate, mean(r.create.latencies))
		s.clientList = append(s.clientList, mean(r.listLarge.latencies))
		for _, name := range servers(setup) {
			rss, heap, ok := r.growth(name)
			s.memServers += rss
			s.heapServers += heap
			s.heapOK = s.heapOK && ok
		}
		rss, heap, _ := r.growth("etcd")
		s.memEtcd += rss
		s.heapEtcd += heap
		rss, _, _ = r.growth("kube-controller-manager")
		s.memKCM += rss
		for k, v := range r.createCost.cpuPerOp {
			s.cpuCreate[k] += v
		}
		for k, v := range r.listCost.cpuPerOp {
			s.cpuList[k] += v
		}
		for k, v := range r.createCost.serverMean {
			s.serverCreate[k] = append(s.serverCreate[k], v)
		}
		for k, v := range r.listCost.serverMean {
			s.serverList[k] = append(s.serverList[k], v)
		}
	}
	if s.runs == 0 {
		return s
	}
	f := float64(s.runs)
	s.rate = float64(n) / elapsed.Seconds()
	s.p50, s.p99 = percentile(lat, 0.5), percentile(lat, 0.99)
	s.list1k, s.list10k = percentile(l1k, 0.5), percentile(l10k, 0.5)
	s.viaMean = mean(lat)
	if s.directRuns > 0 {
		s.directRate = float64(dn) / delapsed.Seconds()
		s.directP50, s.directP99 = percentile(dlat, 0.5), percentile(dlat, 0.99)
		s.directMean, s.directList = mean(dlat), percentile(dlist, 0.5)
	}
	s.memServers /= f
	s.heapServers /= f
	s.memEtcd /= f
	s.heapEtcd /= f
	s.memKCM /= f
	for k := range s.cpuCreate {
		s.cpuCreate[k] /= time.Duration(s.runs)
	}
	for k := range s.cpuList {
		s.cpuList[k] /= time.Duration(s.runs)
	}
	return s
}

func report(w io.Writer, c config, rs []*runResult) {
	a, b := summarize("A", rs), summarize("B", rs)
	fmt.Fprintf(w, "\n## results: A = APIService (virtualization-apiserver behind kube-apiserver), B = peer CRD in kube-apiserver\n")
	fmt.Fprintf(w, "%d run(s) of each; latencies pooled over the runs; creates/s = all creates / all create time; memory = mean over the runs.\n\n", a.runs)
	fmt.Fprintln(w, "| metric | A: APIService | B: CRD | A/B | goal | met |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|---|")
	row := func(name, av, bv string, ratio float64, goal string, met string) {
		fmt.Fprintf(w, "| %s | %s | %s | %.2f | %s | %s |\n", name, av, bv, ratio, goal, met)
	}
	goalHigher := func(r, g float64) string {
		if r >= g {
			return "yes"
		}
		return fmt.Sprintf("**no**: %.2f× short of the goal", g/r)
	}
	goalLower := func(r, g float64) string {
		if r <= g {
			return "yes"
		}
		return fmt.Sprintf("**no**: %.2f× over the goal", r/g)
	}
	dr := func(x, y time.Duration) float64 { return float64(x) / float64(y) }
	rate := a.rate / b.rate
	row(fmt.Sprintf("creates/s (%d clients, %d VMs)", c.clients, c.n), fmt.Sprintf("%.0f", a.rate), fmt.Sprintf("%.0f", b.rate), rate, "≥ 1.5 (higher is better)", goalHigher(rate, 1.5))
	row("create p50 (ms)", ms(a.p50), ms(b.p50), dr(a.p50, b.p50), "", "")
	row("create p99 (ms)", ms(a.p99), ms(b.p99), dr(a.p99, b.p99), "", "")
	row(fmt.Sprintf("LIST %d p50 (ms)", a.items1k), ms(a.list1k), ms(b.list1k), dr(a.list1k, b.list1k), "", "")
	l10 := dr(a.list10k, b.list10k)
	row(fmt.Sprintf("LIST %d p50 (ms)", a.items10k), ms(a.list10k), ms(b.list10k), l10, "≤ 0.5", goalLower(l10, 0.5))
	mem := a.memServers / b.memServers
	row("server RSS growth per 1k objects (MiB)", fmt.Sprintf("%.2f", a.memServers), fmt.Sprintf("%.2f", b.memServers), mem, "≤ 0.2", goalLower(mem, 0.2))
	if a.heapOK && b.heapOK {
		row("server Go heap growth per 1k objects (MiB)", fmt.Sprintf("%.2f", a.heapServers), fmt.Sprintf("%.2f", b.heapServers), a.heapServers/b.heapServers, "(information)", "")
	}
	row("etcd RSS growth per 1k objects (MiB, not in the goal)", fmt.Sprintf("%.2f", a.memEtcd), fmt.Sprintf("%.2f", b.memEtcd), a.memEtcd/b.memEtcd, "", "")
	row("kube-controller-manager RSS growth per 1k (MiB, not in the goal)", fmt.Sprintf("%.2f", a.memKCM), fmt.Sprintf("%.2f", b.memKCM), a.memKCM/b.memKCM, "", "")
	ca, cb := total(a.cpuCreate), total(b.cpuCreate)
	row("CPU per create, all processes (ms)", ms3(ca), ms3(cb), dr(ca, cb), "", "")
	la, lb := total(a.cpuList), total(b.cpuList)
	row(fmt.Sprintf("CPU per LIST of %d, all processes (ms)", a.items10k), ms(la), ms(lb), dr(la, lb), "", "")
	fmt.Fprintln(w, "\nServer memory: A counts kube-apiserver + virtualization-apiserver, B kube-apiserver.")

	if a.directRuns > 0 {
		fmt.Fprintf(w, "\nSetup A without the hop through kube-apiserver (diagnostics: -direct, %d VMs per run in a namespace of their own, after the measurements):\n", c.directN)
		fmt.Fprintln(w, "| metric | A via kube-apiserver | A direct | direct / via | B: CRD |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
		fmt.Fprintf(w, "| creates/s | %.0f | %.0f | %.2f | %.0f |\n", a.rate, a.directRate, a.directRate/a.rate, b.rate)
		fmt.Fprintf(w, "| create mean (ms) | %s | %s | %.2f | %s |\n", ms(a.viaMean), ms(a.directMean), dr(a.directMean, a.viaMean), ms(b.viaMean))
		fmt.Fprintf(w, "| create p50 (ms) | %s | %s | %.2f | %s |\n", ms(a.p50), ms(a.directP50), dr(a.directP50, a.p50), ms(b.p50))
		fmt.Fprintf(w, "| create p99 (ms) | %s | %s | %.2f | %s |\n", ms(a.p99), ms(a.directP99), dr(a.directP99, a.p99), ms(b.p99))
		fmt.Fprintf(w, "| LIST %d p50 (ms) | %s | %s | %.2f | %s |\n", a.items10k, ms(a.list10k), ms(a.directList), dr(a.directList, a.list10k), ms(b.list10k))
	}

	fmt.Fprintln(w, "\nCPU per create by process (ms, mean over the runs):")
	fmt.Fprintln(w, "| process | A | B |")
	fmt.Fprintln(w, "|---|---:|---:|")
	for _, n := range procNames(a.cpuCreate, b.cpuCreate) {
		fmt.Fprintf(w, "| %s | %s | %s |\n", n, ms3(a.cpuCreate[n]), ms3(b.cpuCreate[n]))
	}
	fmt.Fprintf(w, "\nCPU per LIST of %d by process (ms, mean over the runs):\n", a.items10k)
	fmt.Fprintln(w, "| process | A | B |")
	fmt.Fprintln(w, "|---|---:|---:|")
	for _, n := range procNames(a.cpuList, b.cpuList) {
		fmt.Fprintf(w, "| %s | %s | %s |\n", n, ms(a.cpuList[n]), ms(b.cpuList[n]))
	}
	fmt.Fprintln(w, "\nMean request duration per run (ms): as the client saw it, and as the servers recorded it (apiserver_request_duration_seconds; kube-apiserver records none for what it proxies):")
	for _, s := range []struct {
		name string
		s    summary
	}{{"A", a}, {"B", b}} {
		fmt.Fprintf(w, "  %s client (this program): create %s; LIST large %s\n", s.name, msList(s.s.clientCreate), msList(s.s.clientList))
		for _, n := range servers(s.name) {
			fmt.Fprintf(w, "  %s %s: create %s; LIST large %s\n", s.name, n, msList(s.s.serverCreate[n]), msList(s.s.serverList[n]))
		}
	}
}

func total(m map[string]time.Duration) time.Duration {
	var t time.Duration
	for _, v := range m {
		t += v
	}
	return t
}

func procNames(ms ...map[string]time.Duration) []string {
	var names []string
	for _, m := range ms {
		for k := range m {
			if !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	sort.Strings(names)
	return names
}

func mean(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	var t time.Duration
	for _, v := range d {
		t += v
	}
	return t / time.Duration(len(d))
}
