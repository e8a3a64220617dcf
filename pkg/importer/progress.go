package importer

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Progress stages.
const (
	StageWaiting      = "Waiting"
	StageTransferring = "Transferring"
	StageConverting   = "Converting"
	StageDone         = "Done"
)

// Tracker counts source bytes and answers GET /progress. Counters are atomics updated on
// every read, so the document is always current; the current speed is recomputed every
// Config.ProgressInterval from the counter's difference.
type Tracker struct {
	done  atomic.Int64
	total atomic.Int64

	mu         sync.Mutex
	stage      string
	percent    float64 // set directly while converting, where bytes mean nothing
	start      time.Time
	lastBytes  int64
	lastTime   time.Time
	currentBPS int64
}

// NewTracker returns a tracker in stage.
func NewTracker(stage string) *Tracker {
	now := time.Now()
	return &Tracker{stage: stage, start: now, lastTime: now, percent: -1}
}

// SetStage moves to stage. Entering Transferring restarts the average speed clock, so the
// time spent waiting for an upload does not count.
func (t *Tracker) SetStage(stage string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stage == stage {
		return
	}
	if stage == StageTransferring {
		now := time.Now()
		t.start, t.lastTime, t.lastBytes = now, now, t.done.Load()
	}
	if stage == StageConverting {
		t.percent = 0
	}
	t.stage = stage
}

// Stage returns the current stage.
func (t *Tracker) Stage() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stage
}

// SetTotal sets the expected number of source bytes (0: unknown).
func (t *Tracker) SetTotal(n int64) { t.total.Store(n) }

// Add counts n more source bytes.
func (t *Tracker) Add(n int64) { t.done.Add(n) }

// SetConvertPercent reports progress of a conversion, which has no byte count.
func (t *Tracker) SetConvertPercent(p float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.percent = p
}

// tick recomputes the current speed.
func (t *Tracker) tick(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	done := t.done.Load()
	if dt := now.Sub(t.lastTime).Seconds(); dt > 0 {
		t.currentBPS = int64(float64(done-t.lastBytes) / dt)
	}
	t.lastBytes, t.lastTime = done, now
}

// Run recomputes speeds every interval until ctx ends.
func (t *Tracker) Run(ctx context.Context, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			t.tick(now)
		}
	}
}

// Snapshot returns the Progress document.
func (t *Tracker) Snapshot() Progress {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := Progress{
		Stage:        t.stage,
		BytesDone:    t.done.Load(),
		BytesTotal:   t.total.Load(),
		CurrentSpeed: t.currentBPS,
		Percent:      -1,
	}
	if el := time.Since(t.start).Seconds(); el > 0 && t.stage != StageWaiting {
		p.AvgSpeed = int64(float64(p.BytesDone) / el)
	}
	switch {
	case t.stage == StageDone:
		p.Percent = 100
	case t.stage == StageConverting:
		p.Percent = t.percent
	case t.stage == StageWaiting:
		p.Percent = 0
	case p.BytesTotal > 0:
		p.Percent = min(100, float64(p.BytesDone)*100/float64(p.BytesTotal))
	}
	return p
}

// ServeHTTP answers GET /progress.
func (t *Tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(t.Snapshot())
}

// countingReader counts bytes read from r into a tracker.
type countingReader struct {
	r io.Reader
	t *Tracker
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.t.Add(int64(n))
	}
	return n, err
}
