package virtualmachine

import (
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/virtplane/virtplane/pkg/subresources/vmstream"
)

// NewConsoleREST serves virtualmachines/console in both groups: the VM's serial console,
// bridged to KubeVirt's console of the VM's VMI. VMs are read from main.
func NewConsoleREST(main rest.Getter, proxy *vmstream.Proxy) *vmstream.Connecter {
	return &vmstream.Connecter{Getter: main, Stream: vmstream.Console, Proxy: proxy}
}
