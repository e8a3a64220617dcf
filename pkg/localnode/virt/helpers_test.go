package virt

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
)

// fakeSources answers claims as <claim>.img under /vols, images from a map, and Secrets and
// ConfigMaps from maps; it records what was asked.
type fakeSources struct {
	images  map[string][2]string // image → path, format
	secrets map[string]map[string][]byte
	asked   []string
}

func (f *fakeSources) claimFile(_ context.Context, ns, claim string) (string, error) {
	f.asked = append(f.asked, "claim "+ns+"/"+claim)
	return "/vols/" + claim + ".img", nil
}

func (f *fakeSources) containerDisk(_ context.Context, ns, image, secret string) (string, string, error) {
	f.asked = append(f.asked, "image "+ns+"/"+image+" secret "+secret)
	i, ok := f.images[image]
	if !ok {
		return "", "", fmt.Errorf("no image %s", image)
	}
	return i[0], i[1], nil
}

func (f *fakeSources) secret(_ context.Context, ns, name string) (map[string][]byte, error) {
	f.asked = append(f.asked, "secret "+ns+"/"+name)
	s, ok := f.secrets[name]
	if !ok {
		return nil, fmt.Errorf("secret %s not found", name)
	}
	return s, nil
}

func (f *fakeSources) configMap(_ context.Context, ns, name string) (map[string][]byte, error) {
	return f.secret(context.Background(), ns, name)
}

// testVMI is a VMI as the platform's controller writes one: a root disk on a claim, an ISO
// from DVCR as a CD, cloud-init from a Secret, its address annotated.
func testVMI() *kvv1.VirtualMachineInstance {
	return &kvv1.VirtualMachineInstance{
		ObjectMeta: metav1.ObjectMeta{
			Name: "linux", Namespace: "prod", UID: "0b8e4d0c-1c4e-4c8e-9a38-6c1f2a3b4c5d",
			Labels:      map[string]string{"vm": "linux", "virtualization.deckhouse.io/virtual-machine-name": "linux"},
			Annotations: map[string]string{IPAddressAnnotation: "10.66.10.20", "virtualization.deckhouse.io/applied-spec": "{}"},
		},
		Spec: kvv1.VirtualMachineInstanceSpec{
			Domain: kvv1.DomainSpec{
				CPU:    &kvv1.CPU{Sockets: 1, Cores: 2, Threads: 1, Model: "Nehalem", Features: []kvv1.CPUFeature{{Name: "vmx", Policy: "disable"}}},
				Memory: &kvv1.Memory{Guest: ptr.To(resource.MustParse("1Gi"))},
				Resources: kvv1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1Gi")},
				},
				Firmware: &kvv1.Firmware{UUID: "5d7e4a42-6a4e-5bd1-9c43-0c1a8d1a9e11"},
				Devices: kvv1.Devices{
					Disks: []kvv1.Disk{
						{Name: "vd-root", DiskDevice: kvv1.DiskDevice{Disk: &kvv1.DiskTarget{Bus: "virtio"}}, BootOrder: ptr.To[uint](1), Serial: "root"},
						{Name: "vi-iso", DiskDevice: kvv1.DiskDevice{CDRom: &kvv1.CDRomTarget{Bus: "sata"}}, BootOrder: ptr.To[uint](2)},
						{Name: "vd-data", DiskDevice: kvv1.DiskDevice{LUN: &kvv1.LunTarget{ReadOnly: true}}},
						{Name: "cloudinit", DiskDevice: kvv1.DiskDevice{Disk: &kvv1.DiskTarget{Bus: "virtio"}}},
					},
					Interfaces: []kvv1.Interface{{Name: "default", MacAddress: "52:54:00:AA:BB:CC"}},
				},
			},
			Networks: []kvv1.Network{{Name: "default", NetworkSource: kvv1.NetworkSource{Pod: &kvv1.PodNetwork{}}}},
			Volumes: []kvv1.Volume{
				{Name: "vd-root", VolumeSource: kvv1.VolumeSource{PersistentVolumeClaim: &kvv1.PersistentVolumeClaimVolumeSource{
					PersistentVolumeClaimVolumeSource: corev1.PersistentVolumeClaimVolumeSource{ClaimName: "vd-root-pvc"}}}},
				{Name: "vi-iso", VolumeSource: kvv1.VolumeSource{ContainerDisk: &kvv1.ContainerDiskSource{
					Image: "dvcr.local/vi/prod/iso:uid", ImagePullSecret: "dvcr-pull"}}},
				{Name: "vd-data", VolumeSource: kvv1.VolumeSource{DataVolume: &kvv1.DataVolumeSource{Name: "vd-data-pvc"}}},
				{Name: "cloudinit", VolumeSource: kvv1.VolumeSource{CloudInitNoCloud: &kvv1.CloudInitNoCloudSource{
					UserDataSecretRef: &corev1.LocalObjectReference{Name: "linux-cloud-init"}}}},
			},
			NodeSelector:                  map[string]string{"kubernetes.io/arch": "amd64"},
			Tolerations:                   []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}},
			Affinity:                      &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}}}}},
			PriorityClassName:             "vm-high",
			TerminationGracePeriodSeconds: ptr.To[int64](60),
			Hostname:                      "linux-host",
		},
	}
}
