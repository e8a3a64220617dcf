package virt

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
)

// Launcher Pods, as KubeVirt's virt-controller makes them: the label kubevirt.io=virt-launcher
// marks them, kubevirt.io/created-by holds the VMI's UID.
const (
	LauncherLabelValue  = "virt-launcher"
	LauncherContainer   = "compute"
	LauncherImage       = "virt-launcher"
	IPAddressAnnotation = "cni.cilium.io/ipAddress"
	// IPPrefixAnnotation (on the VMI) is the subnet the guest address belongs to, e.g.
	// 10.66.0.0/16; without it the guest gets the /24 around its address.
	IPPrefixAnnotation = "localnode.virtplane.io/ip-prefix"
)

// launcherOverhead is added to the guest memory in the launcher Pod's memory request: qemu's
// own memory under TCG (KubeVirt computes a larger overhead for libvirt and its helpers).
var launcherOverhead = resource.MustParse("64Mi")

// LauncherSelector selects launcher Pods.
var LauncherSelector = kvv1.AppLabel + "=" + LauncherLabelValue

// LauncherPod returns the Pod that reserves a node for the VMI: the real kube-scheduler
// places it (resources, node selector, affinity, tolerations, spread, claims), and the node
// it lands on runs the VM. Its name is generated: virt-launcher-<vmi>-<5 chars>.
func LauncherPod(vmi *kvv1.VirtualMachineInstance) *corev1.Pod {
	labels := map[string]string{}
	for k, v := range vmi.Labels {
		labels[k] = v
	}
	labels[kvv1.AppLabel] = LauncherLabelValue
	labels[kvv1.CreatedByLabel] = string(vmi.UID)
	labels[kvv1.DeprecatedVirtualMachineNameLabel] = vmi.Name
	annotations := map[string]string{}
	for k, v := range vmi.Annotations {
		if k != corev1.LastAppliedConfigAnnotation {
			annotations[k] = v
		}
	}
	spec := &vmi.Spec
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "virt-launcher-" + vmi.Name + "-",
			Namespace:    vmi.Namespace,
			Labels:       labels,
			Annotations:  annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: kvv1.SchemeGroupVersion.String(), Kind: "VirtualMachineInstance",
				Name: vmi.Name, UID: vmi.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:      LauncherContainer,
				Image:     LauncherImage,
				Resources: launcherResources(vmi),
			}},
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  ptr.To(false),
			NodeSelector:                  spec.NodeSelector,
			Affinity:                      spec.Affinity,
			Tolerations:                   spec.Tolerations,
			TopologySpreadConstraints:     spec.TopologySpreadConstraints,
			PriorityClassName:             spec.PriorityClassName,
			SchedulerName:                 spec.SchedulerName,
			TerminationGracePeriodSeconds: spec.TerminationGracePeriodSeconds,
			Hostname:                      spec.Hostname,
			Subdomain:                     spec.Subdomain,
			DNSPolicy:                     spec.DNSPolicy,
			DNSConfig:                     spec.DNSConfig,
			Volumes:                       launcherVolumes(vmi),
		},
	}
	return pod
}

// launcherResources are the VMI's requests and limits, with memory raised to hold the guest
// and qemu.
func launcherResources(vmi *kvv1.VirtualMachineInstance) corev1.ResourceRequirements {
	res := vmi.Spec.Domain.Resources
	out := corev1.ResourceRequirements{Requests: res.Requests.DeepCopy(), Limits: res.Limits.DeepCopy()}
	guest := guestMemory(vmi)
	withOverhead := func(list corev1.ResourceList) {
		q := list[corev1.ResourceMemory]
		if guest != nil && q.Cmp(*guest) < 0 {
			q = guest.DeepCopy()
		}
		q.Add(launcherOverhead)
		list[corev1.ResourceMemory] = q
	}
	if out.Requests == nil {
		out.Requests = corev1.ResourceList{}
	}
	if guest != nil || !out.Requests.Memory().IsZero() {
		withOverhead(out.Requests)
	}
	if _, ok := out.Limits[corev1.ResourceMemory]; ok {
		withOverhead(out.Limits)
	}
	if len(out.Requests) == 0 {
		out.Requests = nil
	}
	if len(out.Limits) == 0 {
		out.Limits = nil
	}
	return out
}

// guestMemory is the guest's RAM: spec.domain.memory.guest, else the memory request, else
// the limit; nil when the VMI gives none.
func guestMemory(vmi *kvv1.VirtualMachineInstance) *resource.Quantity {
	d := &vmi.Spec.Domain
	if d.Memory != nil && d.Memory.Guest != nil && !d.Memory.Guest.IsZero() {
		return d.Memory.Guest
	}
	for _, list := range []corev1.ResourceList{d.Resources.Requests, d.Resources.Limits} {
		if q, ok := list[corev1.ResourceMemory]; ok && !q.IsZero() {
			return &q
		}
	}
	return nil
}

// launcherVolumes gives the Pod a claim for every VMI volume backed by a PVC (a DataVolume's
// claim has the DataVolume's name), so the scheduler binds WaitForFirstConsumer claims and
// honours the volumes' node affinity.
func launcherVolumes(vmi *kvv1.VirtualMachineInstance) []corev1.Volume {
	var out []corev1.Volume
	for _, v := range vmi.Spec.Volumes {
		var claim *corev1.PersistentVolumeClaimVolumeSource
		switch {
		case v.PersistentVolumeClaim != nil:
			claim = v.PersistentVolumeClaim.PersistentVolumeClaimVolumeSource.DeepCopy()
		case v.DataVolume != nil:
			claim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: v.DataVolume.Name}
		default:
			continue
		}
		out = append(out, corev1.Volume{Name: v.Name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: claim}})
	}
	return out
}

// MigrationTargetPod returns the launcher Pod that receives the VMI's guest in a migration:
// the VMI's launcher Pod labelled kubevirt.io/migrationJobUID with the migration's UID, the
// migration's addedNodeSelector merged into the node selector (the VMI's values win, so it
// only narrows the choice), and KubeVirt's anti-affinity to the VMI's other launcher Pods so
// that the scheduler picks another node.
func MigrationTargetPod(vmi *kvv1.VirtualMachineInstance, m *kvv1.VirtualMachineInstanceMigration) *corev1.Pod {
	pod := LauncherPod(vmi)
	pod.Labels[kvv1.MigrationJobLabel] = string(m.UID)
	if len(m.Spec.AddedNodeSelector) > 0 {
		sel := map[string]string{}
		for k, v := range m.Spec.AddedNodeSelector {
			sel[k] = v
		}
		for k, v := range vmi.Spec.NodeSelector {
			sel[k] = v
		}
		pod.Spec.NodeSelector = sel
	}
	// LauncherPod shares the VMI's affinity; this one is the Pod's own.
	aff := pod.Spec.Affinity.DeepCopy()
	if aff == nil {
		aff = &corev1.Affinity{}
	}
	if aff.PodAntiAffinity == nil {
		aff.PodAntiAffinity = &corev1.PodAntiAffinity{}
	}
	aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
		corev1.PodAffinityTerm{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{kvv1.CreatedByLabel: string(vmi.UID)}},
			TopologyKey:   corev1.LabelHostname,
		})
	pod.Spec.Affinity = aff
	return pod
}
