package subresources

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
)

// errTakenOver ends a console session when a newer one starts: QEMU's serial chardev serves
// one client at a time, and the newest user is the one who wants the console.
var errTakenOver = errors.New("another console session took over this VM's serial console")

// takeoverWait bounds how long a new console session waits for the one it replaces to let
// go of the serial socket (the websocket close handshake).
const takeoverWait = 10 * time.Second

// consoleSessions holds the one console session of each VM.
type consoleSessions struct {
	mu   sync.Mutex
	byVM map[string]*consoleSession
}

type consoleSession struct {
	cancel context.CancelCauseFunc
	// done closes once the session let go of the serial socket.
	done chan struct{}
}

func newConsoleSessions() *consoleSessions {
	return &consoleSessions{byVM: map[string]*consoleSession{}}
}

// open makes a new session the VM's console session and ends the previous one, waiting for it
// to release the serial socket. The returned context ends with errTakenOver when a later
// session takes over; release must be called when the session ends.
func (s *consoleSessions) open(ctx context.Context, vm string) (context.Context, func()) {
	sctx, cancel := context.WithCancelCause(ctx)
	sess := &consoleSession{cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	prev := s.byVM[vm]
	s.byVM[vm] = sess
	s.mu.Unlock()

	if prev != nil {
		prev.cancel(errTakenOver)
		wait := time.NewTimer(takeoverWait)
		select {
		case <-prev.done:
		case <-wait.C:
		case <-sctx.Done():
		}
		wait.Stop()
	}
	release := func() {
		s.mu.Lock()
		if s.byVM[vm] == sess {
			delete(s.byVM, vm)
		}
		s.mu.Unlock()
		cancel(context.Canceled)
		close(sess.done)
	}
	return sctx, release
}

func (h *handler) serveConsole(w http.ResponseWriter, r *http.Request) {
	namespace, name, sockets, ok := h.vmSockets(w, r)
	if !ok {
		return
	}
	if sockets.Serial == "" {
		writeStatus(w, http.StatusServiceUnavailable, "ServiceUnavailable",
			"the VM of virtualmachineinstance "+namespace+"/"+name+" has no serial console")
		return
	}
	// Only a stream takes the console over: a plain request must not end the session.
	if !isUpgrade(r) {
		writeStatus(w, http.StatusUpgradeRequired, "BadRequest",
			"the console of virtualmachineinstance "+namespace+"/"+name+" is a websocket stream: request an upgrade")
		return
	}
	log := logger(r.Context(), namespace, name, "console")
	ctx, release := h.consoles.open(r.Context(), namespace+"/"+name)
	defer release()

	conn, err := dial(ctx, "unix", sockets.Serial)
	if err != nil {
		log.V(2).Info("Serial console does not answer", "err", err)
		writeStatus(w, http.StatusServiceUnavailable, "ServiceUnavailable",
			"the serial console of virtualmachineinstance "+namespace+"/"+name+" does not answer")
		return
	}
	if cause := context.Cause(ctx); cause != nil {
		_ = conn.Close()
		writeStatus(w, http.StatusConflict, "Conflict", cause.Error())
		return
	}
	ws, ok := accept(w, r)
	if !ok {
		_ = conn.Close()
		return
	}
	log.V(2).Info("Console session started")
	bridge(ctx, ws, conn)
	log.V(2).Info("Console session ended")
}

// isUpgrade says whether r asks for a websocket; Accept checks the rest of the handshake.
func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}
