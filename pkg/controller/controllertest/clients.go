package controllertest

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	fakediscovery "k8s.io/client-go/discovery/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	kvv1 "kubevirt.io/api/core/v1"

	virtfake "github.com/virtplane/virtplane/pkg/generated/clientset/versioned/fake"
	virtscheme "github.com/virtplane/virtplane/pkg/generated/clientset/versioned/scheme"
	"github.com/virtplane/virtplane/pkg/kubevirt"
)

// Clients are the fake API clients a controller under test talks to.
type Clients struct {
	Virt *virtfake.Clientset
	Kube *kubefake.Clientset
	// KubeVirt is the fake behind KubeVirtClient.
	KubeVirt       *KubeVirt
	KubeVirtClient kubevirt.Interface
}

// NewClients puts each object in the client that serves its kind: ours, KubeVirt's VMIs and
// migrations, or client-go's for everything else. Discovery of the fake kube client lists
// KubeVirt's resources, as a cluster with KubeVirt does.
func NewClients(t testing.TB, objs ...runtime.Object) *Clients {
	t.Helper()
	var virt, kube []runtime.Object
	var vmis []*kvv1.VirtualMachineInstance
	var migrations []*kvv1.VirtualMachineInstanceMigration
	for _, o := range objs {
		switch obj := o.(type) {
		case *kvv1.VirtualMachineInstance:
			vmis = append(vmis, obj)
		case *kvv1.VirtualMachineInstanceMigration:
			migrations = append(migrations, obj)
		default:
			if kinds, _, err := virtscheme.Scheme.ObjectKinds(o); err == nil && len(kinds) > 0 {
				virt = append(virt, o)
			} else {
				kube = append(kube, o)
			}
		}
	}
	c := &Clients{Virt: virtfake.NewSimpleClientset(virt...), Kube: kubefake.NewSimpleClientset(kube...)}
	c.KubeVirt, c.KubeVirtClient = NewKubeVirt(t, vmis...)
	for _, m := range migrations {
		c.KubeVirt.PutMigration(m)
	}
	c.discovery().Resources = append(c.discovery().Resources, &metav1.APIResourceList{
		GroupVersion: kubevirt.GroupVersion.String(),
		APIResources: []metav1.APIResource{
			{Name: kubevirt.VMIResource.Resource, Namespaced: true, Kind: "VirtualMachineInstance"},
			{Name: kubevirt.MigrationResource.Resource, Namespaced: true, Kind: "VirtualMachineInstanceMigration"},
		},
	})
	return c
}

// UnserveKubeVirt turns the cluster into one without KubeVirt: its API answers 404 and
// discovery no longer lists kubevirt.io/v1.
func (c *Clients) UnserveKubeVirt() {
	c.KubeVirt.Unserve()
	d := c.discovery()
	kept := d.Resources[:0]
	for _, r := range d.Resources {
		if r.GroupVersion != kubevirt.GroupVersion.String() {
			kept = append(kept, r)
		}
	}
	d.Resources = kept
}

func (c *Clients) discovery() *fakediscovery.FakeDiscovery {
	return c.Kube.Discovery().(*fakediscovery.FakeDiscovery)
}
