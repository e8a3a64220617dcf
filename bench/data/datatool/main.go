// Command datatool is the helper of bench/data.sh, the data path benchmark. It is not part
// of the platform. Subcommands:
//
//	datatool serve -listen ADDR -dir DIR -sink FILE
//	    the peer HTTP server: GET serves the files of DIR (with Range), PUT or POST writes
//	    the request body to FILE, fsyncs it and answers 201 with the byte count
//	datatool keys DIR
//	    writes a DVCR token signing key and its certificate (token.key, token.crt)
//	datatool token -key FILE -repo NAME
//	    prints a DVCR bearer token with pull and push on the repository NAME
//	datatool tus -url URL -file FILE [-chunk 8Mi]
//	    uploads FILE with the tus 1.0 protocol: POST with Upload-Length, then PATCH chunks,
//	    all to URL (for example the upload subresource through kubectl proxy)
//	datatool watch -bin DIR -names a,b,c -out FILE [-interval 200ms] [-ancestor PID] [-importer-env S]
//	    samples every process whose executable is DIR/<name> (and, with -ancestor, that
//	    descends from PID; with -importer-env, importers only if their environment holds S)
//	    until SIGTERM or SIGINT, then
//	    writes one line per process: name, pid, samples, max VmRSS, VmHWM, write_bytes
//	    (first and last seen) and wall time seen
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/virtplane/virtplane/pkg/dvcr"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("datatool: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: datatool serve|keys|token|tus|watch ...")
	}
	args := os.Args[2:]
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(args)
	case "keys":
		err = keys(args)
	case "token":
		err = token(args)
	case "tus":
		err = tus(args)
	case "watch":
		err = watch(args)
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}

// serve is the peer: a plain loopback HTTP server that writes an upload to disk and serves
// files for downloads.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address")
	dir := fs.String("dir", ".", "directory served to GET")
	sink := fs.String("sink", "upload.bin", "file a PUT or POST body is written to")
	_ = fs.Parse(args)

	files := http.FileServer(http.Dir(*dir))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			files.ServeHTTP(w, r)
		case http.MethodPut, http.MethodPost:
			n, err := writeBody(r.Body, *sink)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, "%d bytes written to %s\n", n, *sink)
		default:
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	return (&http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}).Serve(ln)
}

func writeBody(body io.Reader, path string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	n, err := io.CopyBuffer(f, body, make([]byte, 1<<20))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

func keys(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: datatool keys DIR")
	}
	keyPEM, certPEM, err := dvcr.GenerateTokenKeyPair()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(args[0], "token.key"), keyPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(args[0], "token.crt"), certPEM, 0o644)
}

func token(args []string) error {
	fs := flag.NewFlagSet("token", flag.ExitOnError)
	key := fs.String("key", "", "PEM signing key")
	repo := fs.String("repo", "", "repository")
	_ = fs.Parse(args)
	s, err := dvcr.LoadSigner(*key)
	if err != nil {
		return err
	}
	t, err := s.Token("bench", []dvcr.Access{{Type: "repository", Name: *repo, Actions: []string{"pull", "push"}}}, 2*time.Hour)
	if err != nil {
		return err
	}
	fmt.Println(t)
	return nil
}

// tus uploads a file in chunks. Every request goes to the given URL: the platform's upload
// subresource takes POST, HEAD and PATCH on the same path.
func tus(args []string) error {
	fs := flag.NewFlagSet("tus", flag.ExitOnError)
	target := fs.String("url", "", "upload URL")
	file := fs.String("file", "", "file to upload")
	chunkQ := fs.String("chunk", "8Mi", "chunk size")
	_ = fs.Parse(args)
	chunk, err := resource.ParseQuantity(*chunkQ)
	if err != nil {
		return fmt.Errorf("chunk: %w", err)
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	client := &http.Client{Timeout: 5 * time.Minute}
	do := func(method string, body io.Reader, n int64, hdr map[string]string) (*http.Response, error) {
		req, err := http.NewRequest(method, *target, body)
		if err != nil {
			return nil, err
		}
		req.ContentLength = n
		if n == 0 {
			req.Body = http.NoBody
		}
		req.Header.Set("Tus-Resumable", "1.0.0")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return nil, fmt.Errorf("%s: %s: %s", method, resp.Status, strings.TrimSpace(string(msg)))
		}
		return resp, nil
	}
	start := time.Now()
	if _, err := do(http.MethodPost, nil, 0, map[string]string{"Upload-Length": strconv.FormatInt(size, 10)}); err != nil {
		return err
	}
	var off int64
	requests := 0
	for off < size {
		n := min(chunk.Value(), size-off)
		resp, err := do(http.MethodPatch, io.NewSectionReader(f, off, n), n, map[string]string{
			"Upload-Offset": strconv.FormatInt(off, 10), "Content-Type": "application/offset+octet-stream",
		})
		if err != nil {
			return fmt.Errorf("at offset %d: %w", off, err)
		}
		requests++
		next, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
		if err != nil || next != off+n {
			return fmt.Errorf("at offset %d: the server answered Upload-Offset %q, want %d", off, resp.Header.Get("Upload-Offset"), off+n)
		}
		off = next
	}
	d := time.Since(start)
	fmt.Printf("tus: %d bytes in %d PATCH requests of %s in %.3f s, %.1f MiB/s\n",
		size, requests, *chunkQ, d.Seconds(), float64(size)/d.Seconds()/(1<<20))
	return nil
}

// proc is what watch learns of one process.
type proc struct {
	name              string
	pid               int
	samples           int
	maxRSS, hwm       int64 // KiB
	firstWB, lastWB   int64 // bytes
	firstSeen, lastAt time.Time
}

func watch(args []string) error {
	fs := flag.NewFlagSet("watch", flag.ExitOnError)
	bin := fs.String("bin", "bin", "directory of the executables")
	namesFlag := fs.String("names", "", "comma-separated executable names")
	out := fs.String("out", "", "output file (default stdout)")
	interval := fs.Duration("interval", 200*time.Millisecond, "sampling interval")
	ancestor := fs.Int("ancestor", 0, "only descendants of this process")
	importerEnv := fs.String("importer-env", "", "only importers whose environment contains this")
	_ = fs.Parse(args)
	f := filter{ancestor: *ancestor, importerEnv: *importerEnv}
	absBin, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	names := map[string]bool{}
	for _, n := range strings.Split(*namesFlag, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names[n] = true
		}
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	procs := map[int]*proc{}
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for {
		sample(absBin, names, f, procs)
		select {
		case <-stop:
			sample(absBin, names, f, procs)
			return report(procs, *out)
		case <-tick.C:
		}
	}
}

// filter narrows the processes watch counts: on a shared machine other stacks run the
// same binaries, and other users of the same stack run importers of their own.
type filter struct {
	ancestor    int
	importerEnv string
}

func (f filter) match(pid int, name string) bool {
	if f.ancestor > 0 && !descends(pid, f.ancestor) {
		return false
	}
	if f.importerEnv != "" && name == "virtualization-importer" {
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil || !strings.Contains(string(env), f.importerEnv) {
			return false
		}
	}
	return true
}

// descends reports whether ancestor is an ancestor of pid.
func descends(pid, ancestor int) bool {
	for i := 0; i < 64 && pid > 1; i++ {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		// The command may hold spaces and parentheses: the fields start after the last ')'.
		rest := string(data[strings.LastIndexByte(string(data), ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) < 2 {
			return false
		}
		ppid, err := strconv.Atoi(fields[1])
		if err != nil {
			return false
		}
		if ppid == ancestor {
			return true
		}
		pid = ppid
	}
	return false
}

func sample(bin string, names map[string]bool, f filter, procs map[int]*proc) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	now := time.Now()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p := procs[pid]
		if p == nil {
			exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
			// A binary rebuilt while its process runs reads "<path> (deleted)".
			exe = strings.TrimSuffix(exe, " (deleted)")
			if err != nil || filepath.Dir(exe) != bin || !names[filepath.Base(exe)] || !f.match(pid, filepath.Base(exe)) {
				continue
			}
			p = &proc{name: filepath.Base(exe), pid: pid, firstWB: -1, firstSeen: now}
		}
		rss, hwm, ok := status(pid)
		if !ok {
			continue
		}
		wb := writeBytes(pid)
		procs[pid] = p
		p.samples++
		p.maxRSS = max(p.maxRSS, rss)
		p.hwm = max(p.hwm, hwm)
		if wb >= 0 {
			if p.firstWB < 0 {
				p.firstWB = wb
			}
			p.lastWB = wb
		}
		p.lastAt = now
	}
}

func status(pid int) (rss, hwm int64, ok bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, found := strings.Cut(sc.Text(), ":")
		if !found {
			continue
		}
		switch k {
		case "VmRSS", "VmHWM":
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if k == "VmRSS" {
				rss = n
			} else {
				hwm = n
			}
			ok = true
		}
	}
	return rss, hwm, ok
}

func writeBytes(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

func report(procs map[int]*proc, out string) error {
	list := make([]*proc, 0, len(procs))
	for _, p := range procs {
		list = append(list, p)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].name != list[j].name {
			return list[i].name < list[j].name
		}
		return list[i].pid < list[j].pid
	})
	w := io.Writer(os.Stdout)
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	for _, p := range list {
		fmt.Fprintf(w, "%s pid=%d samples=%d max_rss_kib=%d hwm_kib=%d write_bytes=%d seen_s=%.1f\n",
			p.name, p.pid, p.samples, p.maxRSS, p.hwm, max(p.lastWB-p.firstWB, 0), p.lastAt.Sub(p.firstSeen).Seconds())
	}
	return nil
}
