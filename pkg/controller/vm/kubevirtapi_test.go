package vm

import (
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	fakediscovery "k8s.io/client-go/discovery/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/virtplane/virtplane/pkg/kubevirt"
)

func TestKubeVirtProbe(t *testing.T) {
	kube := kubefake.NewSimpleClientset()
	disc := kube.Discovery().(*fakediscovery.FakeDiscovery)
	now := time.Now()
	p := newKubeVirtProbe(disc)
	p.now = func() time.Time { return now }

	if !p.missing() {
		t.Fatal("kubevirt.io/v1 not in discovery: want missing")
	}
	// Installed: the answer is kept a while, then asked again.
	disc.Resources = []*metav1.APIResourceList{{GroupVersion: kubevirt.GroupVersion.String(),
		APIResources: []metav1.APIResource{{Name: "virtualmachineinstances", Namespaced: true, Kind: "VirtualMachineInstance"}}}}
	if !p.missing() {
		t.Fatal("the answer was not kept for probeTTL")
	}
	now = now.Add(probeTTL)
	if p.missing() {
		t.Fatal("KubeVirt served: want not missing")
	}
	// A group without the VMI resource does not serve VMIs.
	disc.Resources[0].APIResources = nil
	now = now.Add(probeTTL)
	if !p.missing() {
		t.Fatal("kubevirt.io/v1 without virtualmachineinstances: want missing")
	}
	// An error that is not a 404 says nothing: do not claim KubeVirt is missing.
	kube.PrependReactor("get", "resource", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	now = now.Add(probeTTL)
	if p.missing() {
		t.Fatal("discovery failed: want not missing")
	}
}
