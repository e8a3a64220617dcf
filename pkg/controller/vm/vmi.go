package vm

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/powerstate"
)

// device is a block device of the VM resolved to what KubeVirt attaches.
type device struct {
	ref       v1alpha2.BlockDeviceSpecRef
	name      string // disk and volume name in the VMI
	pvc       string // claim of a disk, or of an image stored in a PVC
	image     string // registry reference of an image stored in DVCR
	cdrom     bool
	readOnly  bool
	size      string
	bootOrder int
	// pullSecret names the Secret with DVCR credentials for image.
	pullSecret string
}

// machine is everything the VMI is built from.
type machine struct {
	vm      *v1alpha2.VirtualMachine
	cpu     kvv1.CPU // model and features of the class
	nodeSel map[string]string
	terms   []corev1.NodeSelectorRequirement
	tols    []corev1.Toleration
	devices []device
	ip      string
	// fraction is the effective coreFraction (the spec's, else the class's default), and
	// fractionFrom the field that set it, for a message when it cannot be used.
	fraction     string
	fractionFrom string
}

// deviceName is the VMI disk name of a block device: the kind's short prefix and its name,
// as the upstream platform names them.
func deviceName(ref v1alpha2.BlockDeviceSpecRef) string {
	switch ref.Kind {
	case v1alpha2.DiskDevice:
		return "vd-" + ref.Name
	case v1alpha2.ImageDevice:
		return "vi-" + ref.Name
	default:
		return "cvi-" + ref.Name
	}
}

// buildVMI renders the KubeVirt VirtualMachineInstance of a VM.
func buildVMI(m machine) (*kvv1.VirtualMachineInstance, error) {
	vm := m.vm
	spec := vm.Spec
	applied, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	mem, err := resource.ParseQuantity(spec.Memory.Size)
	if err != nil {
		return nil, fmt.Errorf("spec.memory.size %q: %w", spec.Memory.Size, err)
	}
	fraction, err := CoreFraction(m.fraction)
	if err != nil {
		from := m.fractionFrom
		if from == "" {
			from = "the coreFraction"
		}
		return nil, fmt.Errorf("%s is %q, which the VM cannot use: set a percentage from 1%% to 100%%", from, m.fraction)
	}
	sockets, perSocket := Topology(spec.CPU.Cores)
	cpu := m.cpu
	cpu.Sockets, cpu.Cores, cpu.Threads = uint32(sockets), uint32(perSocket), 1

	labels := map[string]string{}
	for k, v := range vm.Labels {
		labels[k] = v
	}
	labels[powerstate.VMNameLabel] = vm.Name
	annotations := map[string]string{powerstate.AppliedSpecAnnotation: string(applied)}
	if m.ip != "" {
		annotations[powerstate.IPAddressAnnotation] = m.ip
	}

	vmi := &kvv1.VirtualMachineInstance{
		TypeMeta: metav1.TypeMeta{APIVersion: kvv1.SchemeGroupVersion.String(), Kind: "VirtualMachineInstance"},
		ObjectMeta: metav1.ObjectMeta{
			Name: vm.Name, Namespace: vm.Namespace, Labels: labels, Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(vm, v1alpha2.SchemeGroupVersion.WithKind("VirtualMachine"))},
		},
		Spec: kvv1.VirtualMachineInstanceSpec{
			Domain: kvv1.DomainSpec{
				CPU:    &cpu,
				Memory: &kvv1.Memory{Guest: &mem},
				Resources: kvv1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: RequestedCPU(spec.CPU.Cores, fraction), corev1.ResourceMemory: mem},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: *resource.NewQuantity(int64(spec.CPU.Cores), resource.DecimalSI)},
				},
				Firmware: &kvv1.Firmware{UUID: vm.UID},
				Devices: kvv1.Devices{
					AutoattachSerialConsole:  ptr.To(true),
					AutoattachGraphicsDevice: ptr.To(true),
					Interfaces:               []kvv1.Interface{{Name: "default", InterfaceBindingMethod: kvv1.InterfaceBindingMethod{Masquerade: &kvv1.InterfaceMasquerade{}}}},
				},
			},
			Networks:                      []kvv1.Network{{Name: "default", NetworkSource: kvv1.NetworkSource{Pod: &kvv1.PodNetwork{}}}},
			Hostname:                      vm.Name,
			NodeSelector:                  mergeSelectors(m.nodeSel, spec.NodeSelector),
			Tolerations:                   append(append([]corev1.Toleration{}, m.tols...), spec.Tolerations...),
			PriorityClassName:             spec.PriorityClassName,
			TerminationGracePeriodSeconds: spec.TerminationGracePeriodSeconds,
			Affinity:                      affinity(spec.Affinity, m.terms),
			TopologySpreadConstraints:     spreads(spec.TopologySpreadConstraints),
		},
	}
	if spec.Bootloader == v1alpha2.EFI || spec.Bootloader == v1alpha2.EFIWithSecureBoot {
		vmi.Spec.Domain.Firmware.Bootloader = &kvv1.Bootloader{EFI: &kvv1.EFI{SecureBoot: ptr.To(spec.Bootloader == v1alpha2.EFIWithSecureBoot)}}
	}
	bus := kvv1.DiskBusVirtio
	if spec.EnableParavirtualization != nil && !*spec.EnableParavirtualization {
		bus = kvv1.DiskBusSATA
	}
	for _, d := range m.devices {
		disk := kvv1.Disk{Name: d.name, BootOrder: ptr.To(uint(d.bootOrder)), Serial: d.name}
		switch {
		case d.cdrom:
			disk.CDRom = &kvv1.CDRomTarget{Bus: kvv1.DiskBusSATA, ReadOnly: ptr.To(true)}
		default:
			disk.Disk = &kvv1.DiskTarget{Bus: bus, ReadOnly: d.readOnly}
		}
		vol := kvv1.Volume{Name: d.name}
		if d.pvc != "" {
			vol.PersistentVolumeClaim = &kvv1.PersistentVolumeClaimVolumeSource{
				PersistentVolumeClaimVolumeSource: corev1.PersistentVolumeClaimVolumeSource{ClaimName: d.pvc, ReadOnly: d.readOnly},
			}
		} else {
			vol.ContainerDisk = &kvv1.ContainerDiskSource{Image: d.image, ImagePullSecret: d.pullSecret, ImagePullPolicy: corev1.PullIfNotPresent}
		}
		vmi.Spec.Domain.Devices.Disks = append(vmi.Spec.Domain.Devices.Disks, disk)
		vmi.Spec.Volumes = append(vmi.Spec.Volumes, vol)
	}
	if p := spec.Provisioning; p != nil {
		const name = "cloudinit"
		switch {
		case p.Type == v1alpha2.ProvisioningTypeUserData:
			vmi.Spec.Volumes = append(vmi.Spec.Volumes, kvv1.Volume{Name: name, VolumeSource: kvv1.VolumeSource{
				CloudInitNoCloud: &kvv1.CloudInitNoCloudSource{UserData: p.UserData}}})
		case p.Type == v1alpha2.ProvisioningTypeUserDataRef && p.UserDataRef != nil:
			vmi.Spec.Volumes = append(vmi.Spec.Volumes, kvv1.Volume{Name: name, VolumeSource: kvv1.VolumeSource{
				CloudInitNoCloud: &kvv1.CloudInitNoCloudSource{UserDataSecretRef: &corev1.LocalObjectReference{Name: p.UserDataRef.Name}}}})
		case p.Type == v1alpha2.ProvisioningTypeSysprepRef && p.SysprepRef != nil:
			vmi.Spec.Volumes = append(vmi.Spec.Volumes, kvv1.Volume{Name: "sysprep", VolumeSource: kvv1.VolumeSource{
				Sysprep: &kvv1.SysprepSource{Secret: &corev1.LocalObjectReference{Name: p.SysprepRef.Name}}}})
		}
		for _, v := range vmi.Spec.Volumes {
			if v.CloudInitNoCloud != nil || v.Sysprep != nil {
				vmi.Spec.Domain.Devices.Disks = append(vmi.Spec.Domain.Devices.Disks,
					kvv1.Disk{Name: v.Name, DiskDevice: kvv1.DiskDevice{CDRom: &kvv1.CDRomTarget{Bus: kvv1.DiskBusSATA, ReadOnly: ptr.To(true)}}})
			}
		}
	}
	return vmi, nil
}

func mergeSelectors(maps ...map[string]string) map[string]string {
	var out map[string]string
	for _, m := range maps {
		for k, v := range m {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// affinity turns the VM's placement rules into Pod affinity: node affinity as it is (plus
// the class's required node terms, added to every term), and the VM-and-Pod (anti-)affinity
// terms as Pod terms, which select launcher Pods by the VM labels they carry.
func affinity(a *v1alpha2.VMAffinity, classTerms []corev1.NodeSelectorRequirement) *corev1.Affinity {
	out := &corev1.Affinity{}
	if a != nil && a.NodeAffinity != nil {
		out.NodeAffinity = a.NodeAffinity.DeepCopy()
	}
	if len(classTerms) > 0 {
		if out.NodeAffinity == nil {
			out.NodeAffinity = &corev1.NodeAffinity{}
		}
		req := out.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
		if req == nil || len(req.NodeSelectorTerms) == 0 {
			req = &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{}}}
		}
		for i := range req.NodeSelectorTerms {
			req.NodeSelectorTerms[i].MatchExpressions = append(req.NodeSelectorTerms[i].MatchExpressions, classTerms...)
		}
		out.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = req
	}
	if a != nil && a.VirtualMachineAndPodAffinity != nil {
		out.PodAffinity = &corev1.PodAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution:  a.VirtualMachineAndPodAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
			PreferredDuringSchedulingIgnoredDuringExecution: weighted(a.VirtualMachineAndPodAffinity.PreferredDuringSchedulingIgnoredDuringExecution),
		}
	}
	if a != nil && a.VirtualMachineAndPodAntiAffinity != nil {
		out.PodAntiAffinity = &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution:  a.VirtualMachineAndPodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
			PreferredDuringSchedulingIgnoredDuringExecution: weighted(a.VirtualMachineAndPodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution),
		}
	}
	if out.NodeAffinity == nil && out.PodAffinity == nil && out.PodAntiAffinity == nil {
		return nil
	}
	return out
}

func weighted(in []v1alpha2.WeightedVirtualMachineAndPodAffinityTerm) []corev1.WeightedPodAffinityTerm {
	var out []corev1.WeightedPodAffinityTerm
	for _, t := range in {
		out = append(out, corev1.WeightedPodAffinityTerm{Weight: t.Weight, PodAffinityTerm: t.VirtualMachineAndPodAffinityTerm})
	}
	return out
}

func spreads(in []v1alpha2.TopologySpreadConstraint) []corev1.TopologySpreadConstraint {
	var out []corev1.TopologySpreadConstraint
	for _, c := range in {
		out = append(out, corev1.TopologySpreadConstraint{
			MaxSkew: c.MaxSkew, TopologyKey: c.TopologyKey, WhenUnsatisfiable: c.WhenUnsatisfiable, LabelSelector: c.LabelSelector,
		})
	}
	return out
}

// appliedSpec reads the VM spec a VMI was built from.
func appliedSpec(vmi *kvv1.VirtualMachineInstance) (*v1alpha2.VirtualMachineSpec, bool) {
	raw, ok := vmi.Annotations[powerstate.AppliedSpecAnnotation]
	if !ok {
		return nil, false
	}
	spec := &v1alpha2.VirtualMachineSpec{}
	if err := json.Unmarshal([]byte(raw), spec); err != nil {
		return nil, false
	}
	return spec, true
}
