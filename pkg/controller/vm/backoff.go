package vm

import (
	"sync"
	"time"
)

// crashBackoff spaces out restarts of a VM whose VMI keeps failing (qemu crashes, a guest
// that cannot start), as KubeVirt does for its VMs: 5 s, 10 s, 20 s ... up to 5 minutes. A VM
// that then runs for a minute starts again from zero. The count lives in memory: a
// controller restart forgives old failures.
type crashBackoff struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]crashes
}

type crashes struct {
	count int
	until time.Time
}

const (
	backoffBase   = 5 * time.Second
	backoffMax    = 5 * time.Minute
	backoffForget = time.Minute
)

func newCrashBackoff() *crashBackoff {
	return &crashBackoff{now: time.Now, m: map[string]crashes{}}
}

// failed records a failure and returns how long the next start waits.
func (b *crashBackoff) failed(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.m[key]
	c.count++
	d := backoffBase
	for i := 1; i < c.count && d < backoffMax; i++ {
		d *= 2
	}
	d = min(d, backoffMax)
	c.until = b.now().Add(d)
	b.m[key] = c
	return d
}

// wait says how long a start must still wait, and after how many failures.
func (b *crashBackoff) wait(key string) (time.Duration, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.m[key]
	if !ok {
		return 0, 0
	}
	return max(c.until.Sub(b.now()), 0), c.count
}

// running forgets the failures of a VM that has run long enough since it started.
func (b *crashBackoff) running(key string, since time.Time) {
	if b.now().Sub(since) < backoffForget {
		return
	}
	b.mu.Lock()
	delete(b.m, key)
	b.mu.Unlock()
}

// forget drops a VM that is gone.
func (b *crashBackoff) forget(key string) {
	b.mu.Lock()
	delete(b.m, key)
	b.mu.Unlock()
}
