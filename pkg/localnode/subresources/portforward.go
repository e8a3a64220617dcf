package subresources

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"k8s.io/klog/v2"
)

// hostForwardAttempts bounds the retries when a free host port chosen for a hostfwd was taken
// before QEMU bound it.
const hostForwardAttempts = 3

// hostForwardRemoveTimeout bounds removing a stream's hostfwd after the stream ended.
const hostForwardRemoveTimeout = 10 * time.Second

func (h *handler) servePortForward(w http.ResponseWriter, r *http.Request) {
	port, err := strconv.ParseUint(r.PathValue("port"), 10, 16)
	if err != nil || port == 0 {
		writeStatus(w, http.StatusBadRequest, "BadRequest",
			fmt.Sprintf("port %q is not a TCP port number (1-65535)", r.PathValue("port")))
		return
	}
	if protocol := r.PathValue("protocol"); protocol != "" && protocol != "tcp" {
		writeStatus(w, http.StatusBadRequest, "BadRequest",
			fmt.Sprintf("protocol %q is not supported: only tcp is forwarded", protocol))
		return
	}
	namespace, name, sockets, ok := h.vmSockets(w, r)
	if !ok {
		return
	}
	log := logger(r.Context(), namespace, name, "portforward").WithValues("port", port)
	vm := "virtualmachineinstance " + namespace + "/" + name

	mon := h.monitor(namespace, name, sockets)
	hostPort, err := addHostForward(r.Context(), mon, int(port))
	if err != nil {
		log.V(2).Info("Adding the host forward failed", "err", err)
		writeStatus(w, http.StatusServiceUnavailable, "ServiceUnavailable",
			fmt.Sprintf("cannot forward to port %d of %s: %v", port, vm, err))
		return
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), hostForwardRemoveTimeout)
		defer cancel()
		if err := removeHostForward(ctx, mon, hostPort); err != nil {
			log.Info("Removing the host forward failed", "hostPort", hostPort, "err", err)
		}
	}()

	conn, err := dial(r.Context(), "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(hostPort)))
	if err != nil {
		log.V(2).Info("Host forward does not answer", "hostPort", hostPort, "err", err)
		writeStatus(w, http.StatusServiceUnavailable, "ServiceUnavailable",
			fmt.Sprintf("port %d of %s does not answer", port, vm))
		return
	}
	ws, ok := accept(w, r)
	if !ok {
		_ = conn.Close()
		return
	}
	log.V(2).Info("Port-forward stream started", "hostPort", hostPort)
	bridge(r.Context(), ws, conn)
	log.V(2).Info("Port-forward stream ended")
}

// addHostForward forwards a free port of 127.0.0.1 to guestPort of the guest (QEMU user
// networking, whose default guest address is the guest's DHCP address) and returns it.
func addHostForward(ctx context.Context, mon Monitor, guestPort int) (int, error) {
	var lastErr error
	for range hostForwardAttempts {
		hostPort, err := freeLocalPort()
		if err != nil {
			return 0, err
		}
		out, err := mon.HumanMonitorCommand(ctx, fmt.Sprintf("hostfwd_add tcp:127.0.0.1:%d-:%d", hostPort, guestPort))
		if err != nil {
			return 0, err
		}
		// hostfwd_add prints nothing on success and why it failed otherwise.
		if out = strings.TrimSpace(out); out == "" {
			return hostPort, nil
		}
		lastErr = fmt.Errorf("hostfwd_add: %s", out)
		klog.FromContext(ctx).V(4).Info("Retrying hostfwd_add", "hostPort", hostPort, "output", out)
	}
	return 0, lastErr
}

// removeHostForward removes the forward of hostPort.
func removeHostForward(ctx context.Context, mon Monitor, hostPort int) error {
	out, err := mon.HumanMonitorCommand(ctx, fmt.Sprintf("hostfwd_remove tcp:127.0.0.1:%d", hostPort))
	if err != nil {
		return err
	}
	// On success it prints "host forwarding rule for ... removed".
	if !strings.Contains(out, "removed") {
		return fmt.Errorf("hostfwd_remove: %s", strings.TrimSpace(out))
	}
	return nil
}

// freeLocalPort returns a TCP port of 127.0.0.1 that was free a moment ago; QEMU may lose it
// to another process before binding it, which addHostForward retries.
func freeLocalPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free local port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
