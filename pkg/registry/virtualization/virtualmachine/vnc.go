package virtualmachine

import (
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/virtplane/virtplane/pkg/subresources/vmstream"
)

// NewVNCREST serves virtualmachines/vnc in both groups: the VM's screen, keyboard and mouse
// (RFB), bridged to KubeVirt's vnc of the VM's VMI. VMs are read from main.
func NewVNCREST(main rest.Getter, proxy *vmstream.Proxy) *vmstream.Connecter {
	return &vmstream.Connecter{Getter: main, Stream: vmstream.VNC, Proxy: proxy}
}
