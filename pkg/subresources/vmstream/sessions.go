package vmstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// takeoverWait bounds how long a new console or VNC session waits for the one it replaces to
// close, so that KubeVirt's side has let go of the VM's socket before the new one dials.
const takeoverWait = 10 * time.Second

// errShutdown ends every stream when the server stops.
var errShutdown = errors.New("virtualization-apiserver is shutting down")

// takenOverError ends a console or VNC session when a newer one starts.
type takenOverError struct {
	stream Stream
	user   string
}

func (e *takenOverError) Error() string {
	return fmt.Sprintf("the %s was taken over by %s", e.stream.noun(), e.user)
}

// sessionKey names a stream of one VM.
type sessionKey struct {
	stream          Stream
	namespace, name string
}

// session is one open stream. Its context ends, with the reason as cause, when it is taken
// over or the server stops.
type session struct {
	key    sessionKey
	user   string
	since  time.Time
	ctx    context.Context
	cancel context.CancelCauseFunc
	// released closes once KubeVirt's side is closed (or was never opened): a session that
	// takes over waits for it, not for the old client's close handshake.
	released    chan struct{}
	releaseOnce sync.Once
}

// release marks KubeVirt's side of the session closed.
func (s *session) release() { s.releaseOnce.Do(func() { close(s.released) }) }

// sessions holds the open streams of this server: the one holder of each VM's console and
// VNC, and every stream for the shutdown.
type sessions struct {
	mu       sync.Mutex
	holders  map[sessionKey]*session
	open     map[*session]struct{}
	stopping bool
}

func newSessions() *sessions {
	return &sessions{holders: map[sessionKey]*session{}, open: map[*session]struct{}{}}
}

// start opens a session of user. For an exclusive stream it becomes the holder and the
// previous holder is ended, start waiting (at most takeoverWait) until it has closed its
// stream to KubeVirt; replaced is that holder's user, "" when there was none. The caller
// must call end when the session is over.
func (s *sessions) start(key sessionKey, user string) (sess *session, replaced string) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sess = &session{key: key, user: user, since: time.Now(), ctx: ctx, cancel: cancel, released: make(chan struct{})}
	s.mu.Lock()
	var prev *session
	if key.stream.exclusive() {
		prev = s.holders[key]
		s.holders[key] = sess
	}
	s.open[sess] = struct{}{}
	stopping := s.stopping
	s.mu.Unlock()

	if stopping {
		cancel(errShutdown)
	}
	if prev != nil {
		replaced = prev.user
		prev.cancel(&takenOverError{stream: key.stream, user: user})
		wait := time.NewTimer(takeoverWait)
		select {
		case <-prev.released:
		case <-wait.C:
		case <-ctx.Done():
		}
		wait.Stop()
	}
	return sess, replaced
}

// end forgets the session.
func (s *sessions) end(sess *session) {
	s.mu.Lock()
	if s.holders[sess.key] == sess {
		delete(s.holders, sess.key)
	}
	delete(s.open, sess)
	s.mu.Unlock()
	sess.cancel(context.Canceled)
	sess.release()
}

// SessionStatus is the answer to a probe of a VM's console or VNC (a plain GET of
// virtualmachines/console or /vnc with ?probe=true):
//
//	{"open": true, "holder": "alice", "startTime": "2025-06-01T10:00:00Z"}
//	{"open": false}
//
// open says whether a session is open in this server; holder is the user who opened it and
// startTime when (RFC 3339, UTC).
type SessionStatus struct {
	Open      bool   `json:"open"`
	Holder    string `json:"holder,omitempty"`
	StartTime string `json:"startTime,omitempty"`
}

// status reports the holder of an exclusive stream.
func (s *sessions) status(key sessionKey) SessionStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.holders[key]
	if !ok {
		return SessionStatus{}
	}
	return SessionStatus{Open: true, Holder: sess.user, StartTime: sess.since.UTC().Format(time.RFC3339)}
}

// stop ends every session, and every session started later, with errShutdown.
func (s *sessions) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = true
	for sess := range s.open {
		sess.cancel(errShutdown)
	}
}
