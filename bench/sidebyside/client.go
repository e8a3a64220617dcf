package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/virtplane/virtplane/internal/localstack"
)

// vmTemplate is the seed VM as JSON, with placeholders for the name and namespace.
type vmTemplate struct{ json []byte }

const (
	namePlaceholder      = "@@NAME@@"
	namespacePlaceholder = "@@NAMESPACE@@"
)

func loadSeed(path string) (vmTemplate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return vmTemplate{}, err
	}
	var vm map[string]any
	if err := yaml.Unmarshal(data, &vm); err != nil {
		return vmTemplate{}, fmt.Errorf("%s: %w", path, err)
	}
	if vm["apiVersion"] != group+"/"+version || vm["kind"] != "VirtualMachine" {
		return vmTemplate{}, fmt.Errorf("%s is not a %s/%s VirtualMachine", path, group, version)
	}
	meta, _ := vm["metadata"].(map[string]any)
	if meta == nil {
		return vmTemplate{}, fmt.Errorf("%s has no metadata", path)
	}
	meta["name"], meta["namespace"] = namePlaceholder, namespacePlaceholder
	out, err := json.Marshal(vm)
	return vmTemplate{json: out}, err
}

func (t vmTemplate) body(namespace, name string) []byte {
	b := bytes.Replace(t.json, []byte(namePlaceholder), []byte(name), 1)
	return bytes.Replace(b, []byte(namespacePlaceholder), []byte(namespace), 1)
}

// clients hold one HTTP client for kube-apiserver (the admin kubeconfig: every measured
// request goes through it, for both setups), one for virtualization-apiserver directly (only
// for /metrics and /debug/pprof) and one for etcd's /metrics.
type clients struct {
	kube, virt, etcd          *http.Client
	kubeURL, virtURL, etcdURL string
}

func newClients(s *localstack.Stack, etcdURL string) (*clients, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		return nil, err
	}
	// One HTTP/2 connection shared by all clients, as a clientset would use; no client-side
	// rate limit applies to a plain http.Client.
	kube, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	c := &clients{kube: kube, kubeURL: s.KubeURL, etcd: &http.Client{}, etcdURL: etcdURL}
	if s.PID("virtualization-apiserver") != 0 {
		vcfg := rest.CopyConfig(cfg)
		vcfg.Host = s.VirtualizationURL
		// The admin client certificate is accepted by delegated authentication; the serving
		// certificate is signed by the APIService's CA, which the kubeconfig does not name.
		vcfg.TLSClientConfig.Insecure = true
		vcfg.TLSClientConfig.CAFile, vcfg.TLSClientConfig.CAData = "", nil
		if c.virt, err = rest.HTTPClientFor(vcfg); err != nil {
			return nil, err
		}
		c.virtURL = s.VirtualizationURL
	}
	return c, nil
}

// serverURL is where a process serves /metrics and /debug/pprof, "" for none we read.
func (c *clients) serverURL(name string) string {
	switch name {
	case "kube-apiserver":
		return c.kubeURL
	case "virtualization-apiserver":
		return c.virtURL
	case "etcd":
		return c.etcdURL
	}
	return ""
}

func (c *clients) httpFor(url string) *http.Client {
	switch url {
	case c.virtURL:
		return c.virt
	case c.etcdURL:
		return c.etcd
	}
	return c.kube
}

// target is where measured requests go: kube-apiserver, or for the diagnostics of setup A
// virtualization-apiserver itself, without the hop through kube-apiserver.
type target struct {
	url string
	hc  *http.Client
}

func (c *clients) viaKube() target { return target{c.kubeURL, c.kube} }
func (c *clients) direct() target  { return target{c.virtURL, c.virt} }

// do sends one request through kube-apiserver and reads the whole answer.
func (c *clients) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	return c.viaKube().do(ctx, method, path, body)
}

// do sends one request and reads the whole answer.
func (t target) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.url+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

func statusError(method, path string, code int, body []byte) error {
	msg := strings.TrimSpace(string(body))
	if len(msg) > 400 {
		msg = msg[:400] + "..."
	}
	return fmt.Errorf("%s %s: %d %s", method, path, code, msg)
}

func (c *clients) createNamespace(ctx context.Context, ns string) error {
	body := fmt.Sprintf(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":%q}}`, ns)
	code, data, err := c.do(ctx, http.MethodPost, "/api/v1/namespaces", []byte(body))
	if err != nil {
		return err
	}
	if code != http.StatusCreated {
		return statusError("POST", "/api/v1/namespaces", code, data)
	}
	return nil
}

func vmPath(ns string) string {
	return fmt.Sprintf("/apis/%s/%s/namespaces/%s/virtualmachines", group, version, ns)
}

// createResult is one create phase: wall time and every request's latency.
type createResult struct {
	n         int
	elapsed   time.Duration
	latencies []time.Duration
}

func (r createResult) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

// createPhase creates n VMs named <prefix>-<i> with `workers` concurrent clients. It stops at
// the first error and is bounded by phaseTimeout.
func (c *clients) createPhase(ctx context.Context, t vmTemplate, ns, prefix string, n, workers int) (createResult, error) {
	return c.viaKube().createPhase(ctx, t, ns, prefix, n, workers)
}

func (tg target) createPhase(ctx context.Context, t vmTemplate, ns, prefix string, n, workers int) (createResult, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, phaseTimeout, errors.New("create phase timed out"))
	defer cancel()
	path := vmPath(ns)
	next := make(chan int)
	lat := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
	begin := time.Now()
	for w := range workers {
		wg.Go(func() {
			for i := range next {
				body := t.body(ns, fmt.Sprintf("%s-%d", prefix, i))
				start := time.Now()
				code, data, err := tg.do(ctx, http.MethodPost, path, body)
				d := time.Since(start)
				if err == nil && code != http.StatusCreated {
					err = statusError("POST", path, code, data)
				}
				if err != nil {
					fail(err)
					return
				}
				lat[w] = append(lat[w], d)
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
	res := createResult{n: n, elapsed: time.Since(begin)}
	if firstErr != nil {
		return res, fmt.Errorf("creating in %s: %w", ns, firstErr)
	}
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil && !errors.Is(ctx.Err(), context.Canceled) {
		return res, err
	}
	for _, l := range lat {
		res.latencies = append(res.latencies, l...)
	}
	if len(res.latencies) != n {
		return res, fmt.Errorf("creating in %s: %d of %d created", ns, len(res.latencies), n)
	}
	return res, nil
}

type oneList struct {
	latency      time.Duration
	items, bytes int
}

// list is one full LIST with default options (no resourceVersion: a consistent read). The
// latency runs until the last byte is read; the items are counted afterwards and must be want.
func (c *clients) list(ctx context.Context, ns string, want int) (oneList, error) {
	return c.viaKube().list(ctx, ns, want)
}

func (t target) list(ctx context.Context, ns string, want int) (oneList, error) {
	path := vmPath(ns)
	start := time.Now()
	code, data, err := t.do(ctx, http.MethodGet, path, nil)
	d := time.Since(start)
	if err != nil {
		return oneList{}, err
	}
	if code != http.StatusOK {
		return oneList{}, statusError("GET", path, code, data)
	}
	var l struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Continue string `json:"continue"`
		} `json:"metadata"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(data, &l); err != nil {
		return oneList{}, fmt.Errorf("GET %s: %w", path, err)
	}
	if l.Kind != "VirtualMachineList" || l.Metadata.Continue != "" || len(l.Items) != want {
		return oneList{}, fmt.Errorf("GET %s: %s of %d items (continue %q), want %d", path, l.Kind, len(l.Items), l.Metadata.Continue, want)
	}
	return oneList{latency: d, items: len(l.Items), bytes: len(data)}, nil
}

// get writes what a server answers on path to w.
func (c *clients) get(ctx context.Context, url, path string, w io.Writer, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.httpFor(url).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(resp.Body)
		return statusError("GET", path, resp.StatusCode, data)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

func (c *clients) metrics(ctx context.Context, url string) (string, error) {
	var b strings.Builder
	err := c.get(ctx, url, "/metrics", &b, requestTimeout)
	return b.String(), err
}

func (c *clients) saveProfile(ctx context.Context, url, path, file string, timeout time.Duration) error {
	var b bytes.Buffer
	if err := c.get(ctx, url, path, &b, timeout); err != nil {
		return err
	}
	return os.WriteFile(file, b.Bytes(), 0o644)
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return s[i]
}
