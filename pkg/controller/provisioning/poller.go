package provisioning

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/virtplane/virtplane/pkg/importer"
)

// Poller reads GET /progress of running importer Pods about once a second, off the work
// queue: a worker must not block on a Pod's HTTP server. When a Pod's progress changes, the
// owner's key is enqueued and its sync copies the latest value into status.
type Poller struct {
	interval time.Duration
	client   *http.Client
	enqueue  func(key string)
	// URL builds the progress URL from the Pod IP; tests point it at an httptest server.
	URL func(podIP string) string

	mu      sync.Mutex
	ctx     context.Context
	entries map[types.UID]*pollEntry
}

type pollEntry struct {
	cancel   context.CancelFunc
	progress *importer.Progress
	key      string
}

// NewPoller returns a Poller that calls enqueue with the owner's key on every change.
func NewPoller(interval time.Duration, enqueue func(key string)) *Poller {
	return &Poller{
		interval: interval,
		client:   &http.Client{Timeout: interval},
		enqueue:  enqueue,
		URL: func(podIP string) string {
			return "http://" + net.JoinHostPort(podIP, strconv.Itoa(importer.Port)) + importer.PathProgress
		},
		ctx:     context.Background(),
		entries: map[types.UID]*pollEntry{},
	}
}

// Run binds the pollers to ctx and stops them all when it ends.
func (p *Poller) Run(ctx context.Context) {
	p.mu.Lock()
	p.ctx = ctx
	p.mu.Unlock()
	<-ctx.Done()
	p.mu.Lock()
	defer p.mu.Unlock()
	for uid, e := range p.entries {
		e.cancel()
		delete(p.entries, uid)
	}
}

// Ensure starts polling the Pod unless it is polled already, and returns the latest progress
// (nil until the first answer).
func (p *Poller) Ensure(uid types.UID, podIP, key string) *importer.Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.entries[uid]; ok {
		return e.progress
	}
	ctx, cancel := context.WithCancel(p.ctx)
	e := &pollEntry{cancel: cancel, key: key}
	p.entries[uid] = e
	go p.poll(ctx, uid, p.URL(podIP))
	return nil
}

// Latest returns the last progress read from the Pod, or nil.
func (p *Poller) Latest(uid types.UID) *importer.Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.entries[uid]; ok {
		return e.progress
	}
	return nil
}

// Stop ends polling of the Pod.
func (p *Poller) Stop(uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.entries[uid]; ok {
		e.cancel()
		delete(p.entries, uid)
	}
}

func (p *Poller) poll(ctx context.Context, uid types.UID, url string) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		pr, err := p.fetch(ctx, url)
		if err != nil {
			// The importer may not listen yet or may just have exited; the Pod's own events
			// drive the sync in those cases.
			klog.V(5).InfoS("Progress not available", "url", url, "err", err)
		} else {
			p.mu.Lock()
			e, ok := p.entries[uid]
			changed := ok && (e.progress == nil || *e.progress != *pr)
			var key string
			if changed {
				e.progress = pr
				key = e.key
			}
			p.mu.Unlock()
			if changed {
				p.enqueue(key)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *Poller) fetch(ctx context.Context, url string) (*importer.Progress, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var pr importer.Progress
	if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
		return nil, fmt.Errorf("decode progress from %s: %w", url, err)
	}
	return &pr, nil
}
