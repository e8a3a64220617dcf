package provisioning

import (
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Expectations remembers the objects a worker created or deleted until the informer shows
// the change. Without it, a second sync that runs before the watch event arrives would see
// the old cache and create the Pod or PVC again (or count a deleted, failed Pod a second
// time). Entries expire so a lost event cannot block an object forever.
type Expectations struct {
	ttl     time.Duration
	mu      sync.Mutex
	created map[string]time.Time
	deleted map[types.UID]time.Time
	now     func() time.Time
}

// NewExpectations returns expectations that expire after ttl.
func NewExpectations(ttl time.Duration) *Expectations {
	return &Expectations{ttl: ttl, created: map[string]time.Time{}, deleted: map[types.UID]time.Time{}, now: time.Now}
}

// ExpectCreate records that key (kind/namespace/name) was created.
func (e *Expectations) ExpectCreate(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.created[key] = e.now()
}

// Create runs create (an API Create call) with the expectation recorded first: the informer
// may show the object before the call returns, and an expectation set after that event
// would never be cleared. A failed call forgets it; AlreadyExists counts as created.
func (e *Expectations) Create(key string, create func() error) error {
	e.ExpectCreate(key)
	err := create()
	if err != nil && !apierrors.IsAlreadyExists(err) {
		e.ObservedCreate(key)
	}
	return err
}

// CreatePending reports whether key was created and the cache has not shown it yet. Call
// it only when the cache lacks the object.
func (e *Expectations) CreatePending(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.created[key]
	if ok && e.now().Sub(t) > e.ttl {
		delete(e.created, key)
		return false
	}
	return ok
}

// ObservedCreate forgets key: the cache has it.
func (e *Expectations) ObservedCreate(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.created, key)
}

// ExpectDelete records that the object with uid was deleted.
func (e *Expectations) ExpectDelete(uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.deleted[uid] = e.now()
}

// DeletePending reports whether the cached object with uid is already being deleted by us.
func (e *Expectations) DeletePending(uid types.UID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.deleted[uid]
	if ok && e.now().Sub(t) > e.ttl {
		delete(e.deleted, uid)
		return false
	}
	return ok
}

// ObservedDelete forgets uid: the cache no longer has it.
func (e *Expectations) ObservedDelete(uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.deleted, uid)
}

// Retries counts failed attempts of a step and when the next may start, in memory: after a
// restart of the controller a step gets its attempts again, which errs on the side of trying.
type Retries struct {
	mu      sync.Mutex
	entries map[string]retry
}

type retry struct {
	count     int
	notBefore time.Time
}

// NewRetries returns an empty counter.
func NewRetries() *Retries { return &Retries{entries: map[string]retry{}} }

// Add counts one more failure of key at now and returns the total; the next attempt waits
// Backoff(total).
func (r *Retries) Add(key string, now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[key]
	e.count++
	e.notBefore = now.Add(Backoff(e.count))
	r.entries[key] = e
	return e.count
}

// Get returns the failures of key.
func (r *Retries) Get(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.entries[key].count
}

// Wait returns how long the next attempt of key must still wait (0: go).
func (r *Retries) Wait(key string, now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d := r.entries[key].notBefore.Sub(now); d > 0 {
		return d
	}
	return 0
}

// Forget drops key.
func (r *Retries) Forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.entries, key)
}

// Backoff is the wait before attempt n+1: 2s, 4s, 8s, ... capped at a minute.
func Backoff(n int) time.Duration {
	d := 2 * time.Second
	for i := 1; i < n && d < time.Minute; i++ {
		d *= 2
	}
	if d > time.Minute {
		d = time.Minute
	}
	return d
}
