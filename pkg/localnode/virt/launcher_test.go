package virt

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kvv1 "kubevirt.io/api/core/v1"
)

func TestLauncherPodPlacesTheVMI(t *testing.T) {
	vmi := testVMI()
	pod := LauncherPod(vmi)

	if pod.GenerateName != "virt-launcher-linux-" || pod.Namespace != "prod" {
		t.Errorf("name %q in %q", pod.GenerateName, pod.Namespace)
	}
	for k, want := range map[string]string{
		"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": string(vmi.UID), "vm.kubevirt.io/name": "linux",
		"vm": "linux", "virtualization.deckhouse.io/virtual-machine-name": "linux",
	} {
		if pod.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, pod.Labels[k], want)
		}
	}
	if pod.Annotations[IPAddressAnnotation] != "10.66.10.20" {
		t.Errorf("annotations %v", pod.Annotations)
	}
	if len(pod.OwnerReferences) != 1 || pod.OwnerReferences[0].UID != vmi.UID || !*pod.OwnerReferences[0].Controller ||
		pod.OwnerReferences[0].Kind != "VirtualMachineInstance" || pod.OwnerReferences[0].APIVersion != "kubevirt.io/v1" {
		t.Errorf("owner %+v", pod.OwnerReferences)
	}
	s := pod.Spec
	if !equality.Semantic.DeepEqual(s.NodeSelector, vmi.Spec.NodeSelector) || !equality.Semantic.DeepEqual(s.Affinity, vmi.Spec.Affinity) ||
		!equality.Semantic.DeepEqual(s.Tolerations, vmi.Spec.Tolerations) || s.PriorityClassName != "vm-high" ||
		*s.TerminationGracePeriodSeconds != 60 || s.Hostname != "linux-host" || s.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("placement %+v", s)
	}
	if len(s.Containers) != 1 || s.Containers[0].Name != "compute" || s.Containers[0].Image != "virt-launcher" {
		t.Fatalf("containers %+v", s.Containers)
	}
	res := s.Containers[0].Resources
	for name, q := range map[string]struct{ got, want resource.Quantity }{
		"memory request": {res.Requests[corev1.ResourceMemory], resource.MustParse("1088Mi")},
		"memory limit":   {res.Limits[corev1.ResourceMemory], resource.MustParse("1088Mi")},
		"cpu request":    {res.Requests[corev1.ResourceCPU], resource.MustParse("500m")},
		"cpu limit":      {res.Limits[corev1.ResourceCPU], resource.MustParse("2")},
	} {
		if q.got.Cmp(q.want) != 0 {
			t.Errorf("%s = %s, want %s", name, q.got.String(), q.want.String())
		}
	}
	// Claims only: the scheduler binds them; the ISO and cloud-init are the node's business.
	want := map[string]string{"vd-root": "vd-root-pvc", "vd-data": "vd-data-pvc"}
	if len(s.Volumes) != len(want) {
		t.Fatalf("volumes %+v", s.Volumes)
	}
	for _, v := range s.Volumes {
		if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != want[v.Name] {
			t.Errorf("volume %+v", v)
		}
	}
	// The VMI is not changed by building its Pod.
	if _, ok := vmi.Labels["kubevirt.io"]; ok {
		t.Error("the VMI's labels were modified")
	}
}

func TestLauncherPodRequestsAtLeastTheGuestMemory(t *testing.T) {
	vmi := testVMI()
	// A guest larger than its request (as with a memory overcommit class): the node must
	// still hold the guest.
	vmi.Spec.Domain.Resources = kvv1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}}
	res := LauncherPod(vmi).Spec.Containers[0].Resources
	if got := res.Requests[corev1.ResourceMemory]; got.Cmp(resource.MustParse("1088Mi")) != 0 {
		t.Errorf("memory request %s", got.String())
	}
	if _, ok := res.Limits[corev1.ResourceMemory]; ok {
		t.Errorf("a memory limit appeared: %v", res.Limits)
	}
}

func TestMigrationTargetPod(t *testing.T) {
	vmi := testVMI()
	m := &kvv1.VirtualMachineInstanceMigration{
		ObjectMeta: metav1.ObjectMeta{Name: "linux-migration", Namespace: "prod", UID: "7f1c0c3e-0d7e-4a57-9b1f-3f4f8d2e6a10"},
		// arch collides with the VMI's selector: the VMI's value stays.
		Spec: kvv1.VirtualMachineInstanceMigrationSpec{VMIName: "linux",
			AddedNodeSelector: map[string]string{"rack": "r2", "kubernetes.io/arch": "arm64"}},
	}
	pod := MigrationTargetPod(vmi, m)

	if pod.Labels[kvv1.MigrationJobLabel] != string(m.UID) || pod.Labels[kvv1.CreatedByLabel] != string(vmi.UID) ||
		!metav1.IsControlledBy(pod, vmi) {
		t.Errorf("labels %v, owners %+v", pod.Labels, pod.OwnerReferences)
	}
	if want := map[string]string{"rack": "r2", "kubernetes.io/arch": "amd64"}; !equality.Semantic.DeepEqual(pod.Spec.NodeSelector, want) {
		t.Errorf("node selector %v, want %v", pod.Spec.NodeSelector, want)
	}
	aff := pod.Spec.Affinity
	if !equality.Semantic.DeepEqual(aff.NodeAffinity, vmi.Spec.Affinity.NodeAffinity) {
		t.Errorf("node affinity %+v, want the VMI's", aff.NodeAffinity)
	}
	terms := aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if len(terms) != 1 || terms[0].TopologyKey != corev1.LabelHostname ||
		terms[0].LabelSelector.MatchLabels[kvv1.CreatedByLabel] != string(vmi.UID) {
		t.Errorf("pod anti-affinity %+v: want none of the VMI's launcher pods on the node", terms)
	}
	// Same resources and claims as the VMI's launcher.
	launcher := LauncherPod(vmi)
	if !equality.Semantic.DeepEqual(pod.Spec.Containers, launcher.Spec.Containers) || !equality.Semantic.DeepEqual(pod.Spec.Volumes, launcher.Spec.Volumes) {
		t.Errorf("containers or volumes differ from the launcher's")
	}
	// The VMI, as the informer's cache holds it, is not changed.
	if vmi.Spec.Affinity.PodAntiAffinity != nil || vmi.Spec.NodeSelector["rack"] != "" {
		t.Errorf("the VMI was modified: %+v %v", vmi.Spec.Affinity, vmi.Spec.NodeSelector)
	}
}

func TestMigrationPort(t *testing.T) {
	for _, tc := range []struct {
		ports map[string]int
		want  string
	}{
		{map[string]int{"41234": 0}, "41234"},
		{map[string]int{"49153": 49153, "49152": 0}, "49152"},
		{map[string]int{"49153": 49153}, "49153"},
		{nil, ""},
	} {
		if got := migrationPort(tc.ports); got != tc.want {
			t.Errorf("migrationPort(%v) = %q, want %q", tc.ports, got, tc.want)
		}
	}
}
