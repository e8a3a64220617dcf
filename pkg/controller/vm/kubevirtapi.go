package vm

import (
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"

	"github.com/virtplane/virtplane/pkg/kubevirt"
)

// kubevirtProbe asks discovery whether the cluster serves KubeVirt's VMIs. Without them the
// VMI cache never fills and the controller could not tell a VM why it does not start; with
// discovery's word that the API is absent, it knows there are no VMIs at all.
type kubevirtProbe struct {
	disc discovery.DiscoveryInterface
	now  func() time.Time

	mu      sync.Mutex
	checked time.Time
	absent  bool
}

// probeTTL spares discovery a request per VM while many VMs are synced.
const probeTTL = 10 * time.Second

func newKubeVirtProbe(disc discovery.DiscoveryInterface) *kubevirtProbe {
	return &kubevirtProbe{disc: disc, now: time.Now}
}

// missing is true only when discovery answers that virtualmachineinstances.kubevirt.io/v1
// is not served; any other error means "do not know", and the caller keeps waiting.
func (p *kubevirtProbe) missing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := p.now(); p.checked.IsZero() || now.Sub(p.checked) >= probeTTL {
		p.absent, p.checked = p.ask(), now
	}
	return p.absent
}

func (p *kubevirtProbe) ask() bool {
	list, err := p.disc.ServerResourcesForGroupVersion(kubevirt.GroupVersion.String())
	if apierrors.IsNotFound(err) {
		return true
	}
	if err != nil {
		return false
	}
	return !slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == kubevirt.VMIResource.Resource })
}
