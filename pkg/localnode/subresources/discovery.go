package subresources

import (
	"encoding/json"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// streamResources are the subresources kube-apiserver's discovery lists for the group.
var streamResources = []string{
	"virtualmachineinstances/console",
	"virtualmachineinstances/vnc",
	"virtualmachineinstances/portforward",
}

// Discovery serves the group's discovery documents and health checks alone, for a server
// that answers those itself and passes the streams on (the local node's virt-api).
func Discovery() http.Handler {
	mux := http.NewServeMux()
	registerDiscovery(mux)
	return mux
}

func registerDiscovery(mux *http.ServeMux) {
	mux.HandleFunc("GET /apis/"+Group, serveAPIGroup)
	mux.HandleFunc("GET "+groupVersionPath, serveAPIResourceList)
	mux.HandleFunc("GET "+groupVersionPath+"/healthz", serveHealthz)
	mux.HandleFunc("GET /healthz", serveHealthz)
}

func serveAPIResourceList(w http.ResponseWriter, _ *http.Request) {
	list := metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: Group + "/" + Version,
	}
	for _, name := range streamResources {
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name:       name,
			Namespaced: true,
			Kind:       "VirtualMachineInstance",
			Group:      "kubevirt.io",
			Version:    "v1",
			Verbs:      metav1.Verbs{"get"},
		})
	}
	writeJSON(w, http.StatusOK, list)
}

func serveAPIGroup(w http.ResponseWriter, _ *http.Request) {
	gv := metav1.GroupVersionForDiscovery{GroupVersion: Group + "/" + Version, Version: Version}
	writeJSON(w, http.StatusOK, metav1.APIGroup{
		TypeMeta:         metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
		Name:             Group,
		Versions:         []metav1.GroupVersionForDiscovery{gv},
		PreferredVersion: gv,
	})
}

func serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}

// writeStatus answers a failed request with a metav1.Status, which kubectl-like clients
// print as the error's message.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	writeJSON(w, code, metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Code:     int32(code),
		Reason:   reason,
		Message:  message,
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
