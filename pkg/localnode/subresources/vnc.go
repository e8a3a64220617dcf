package subresources

import "net/http"

func (h *handler) serveVNC(w http.ResponseWriter, r *http.Request) {
	namespace, name, sockets, ok := h.vmSockets(w, r)
	if !ok {
		return
	}
	if sockets.VNC == "" {
		writeStatus(w, http.StatusServiceUnavailable, "ServiceUnavailable",
			"the VM of virtualmachineinstance "+namespace+"/"+name+" has no VNC display")
		return
	}
	log := logger(r.Context(), namespace, name, "vnc")
	// QEMU's VNC server takes several clients, so VNC sessions do not take over each other.
	conn, err := dial(r.Context(), "unix", sockets.VNC)
	if err != nil {
		log.V(2).Info("VNC display does not answer", "err", err)
		writeStatus(w, http.StatusServiceUnavailable, "ServiceUnavailable",
			"the VNC display of virtualmachineinstance "+namespace+"/"+name+" does not answer")
		return
	}
	ws, ok := accept(w, r)
	if !ok {
		_ = conn.Close()
		return
	}
	log.V(2).Info("VNC session started")
	bridge(r.Context(), ws, conn)
	log.V(2).Info("VNC session ended")
}
