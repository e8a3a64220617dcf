package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procMem is one process's memory: VmRSS and RssAnon from /proc/<pid>/status (bytes), and
// for Go servers whose /metrics we read, go_memstats_heap_inuse_bytes after a forced GC
// (-1 when unknown).
type procMem struct{ rss, rssAnon, heapInuse int64 }

func readRSS(pid int) (rss, anon int64, err error) {
	if pid == 0 {
		return 0, 0, fmt.Errorf("not running")
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb << 10
		case "RssAnon:":
			anon = kb << 10
		}
	}
	return rss, anon, sc.Err()
}

// clockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on Linux.
const clockTick = 100

// readCPU is the user+system CPU time of a process, all threads, from /proc/<pid>/stat.
func readCPU(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, fmt.Errorf("not running")
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields after it are fixed. utime and stime are
	// fields 14 and 15, i.e. 12th and 13th after the closing parenthesis.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// selfCPU is the CPU time of this program (the clients).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// freeEtcdPort picks a free loopback port p with p+1 free too (etcd's peer URL), so we know
// etcd's address before the stack starts.
func freeEtcdPort() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1)); err == nil {
			l2.Close()
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free pair of ports")
}

// metricSum adds the values of the samples of a metric in Prometheus text format whose labels
// contain every fragment (e.g. `verb="POST"`).
func metricSum(text, name string, labels ...string) (float64, bool) {
	var sum float64
	found := false
	for line := range strings.SplitSeq(text, "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		sp := strings.LastIndexByte(rest, ' ')
		v, err := strconv.ParseFloat(rest[sp+1:], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}

// snapshot is the CPU time of each process and the servers' metrics at one moment.
type snapshot struct {
	at      time.Time
	cpu     map[string]time.Duration
	metrics map[string]string
}

// cost is what one phase cost: CPU per operation of each process, and the mean duration the
// servers themselves measured for the phase's requests (apiserver_request_duration_seconds)
// and for their etcd calls (etcd_request_duration_seconds).
type cost struct {
	ops        int
	wall       time.Duration
	cpuPerOp   map[string]time.Duration
	serverMean map[string]time.Duration // by server; absent when it recorded none
	etcdMean   map[string]time.Duration // by server, for creates only
	// etcd's disk: WAL fsyncs per operation and their mean duration, and the mean duration of
	// a backend (bbolt) commit; fsyncs < 0 when unknown.
	fsyncsPerOp              float64
	fsyncMean, backendCommit time.Duration
}

func costs(a, b snapshot, procs []string, verb string, ops int) cost {
	c := cost{ops: ops, wall: b.at.Sub(a.at), cpuPerOp: map[string]time.Duration{},
		serverMean: map[string]time.Duration{}, etcdMean: map[string]time.Duration{}}
	for name, t := range b.cpu {
		c.cpuPerOp[name] = (t - a.cpu[name]) / time.Duration(ops)
	}
	c.fsyncsPerOp = -1
	if ea, eb := a.metrics["etcd"], b.metrics["etcd"]; ea != "" && eb != "" {
		n0, _ := metricSum(ea, "etcd_disk_wal_fsync_duration_seconds_count")
		n1, ok := metricSum(eb, "etcd_disk_wal_fsync_duration_seconds_count")
		if ok {
			c.fsyncsPerOp = (n1 - n0) / float64(ops)
		}
		c.fsyncMean, _ = histMean(ea, eb, "etcd_disk_wal_fsync_duration_seconds")
		c.backendCommit, _ = histMean(ea, eb, "etcd_disk_backend_commit_duration_seconds")
	}
	for _, name := range procs {
		ta, tb := a.metrics[name], b.metrics[name]
		if ta == "" || tb == "" || name == "etcd" {
			continue
		}
		if m, ok := histMean(ta, tb, "apiserver_request_duration_seconds", `resource="virtualmachines"`, `verb="`+verb+`"`); ok {
			c.serverMean[name] = m
		}
		if verb == "POST" {
			if m, ok := histMean(ta, tb, "etcd_request_duration_seconds", `operation="create"`, `virtualmachines`); ok {
				c.etcdMean[name] = m
			}
		}
	}
	return c
}

// histMean is the mean of the observations a histogram got between two scrapes.
func histMean(a, b, name string, labels ...string) (time.Duration, bool) {
	sa, _ := metricSum(a, name+"_sum", labels...)
	sb, okS := metricSum(b, name+"_sum", labels...)
	ca, _ := metricSum(a, name+"_count", labels...)
	cb, okC := metricSum(b, name+"_count", labels...)
	if !okS || !okC || cb-ca <= 0 {
		return 0, false
	}
	return time.Duration((sb - sa) / (cb - ca) * float64(time.Second)), true
}
