package virtualmachine

import (
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/virtplane/virtplane/pkg/subresources/vmstream"
)

// NewPortForwardREST serves virtualmachines/portforward in both groups: one connection to a
// port of the guest (?port=&protocol=), bridged to KubeVirt's portforward of the VM's VMI. VMs
// are read from main.
func NewPortForwardREST(main rest.Getter, proxy *vmstream.Proxy) *vmstream.Connecter {
	return &vmstream.Connecter{Getter: main, Stream: vmstream.PortForward, Proxy: proxy}
}
