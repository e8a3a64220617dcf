package virt

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
)

// sources reads what a VMI's volumes refer to; the handler's implementation reads the API
// and the node's files, tests give their own.
type sources interface {
	// claimFile is the disk file of a claim's volume (<pv>.img, or disk.img in a
	// Filesystem volume).
	claimFile(ctx context.Context, namespace, claim string) (string, error)
	// containerDisk pulls an image's disk into the node's cache: its file and format.
	containerDisk(ctx context.Context, namespace, image, pullSecret string) (path, format string, err error)
	secret(ctx context.Context, namespace, name string) (map[string][]byte, error)
	configMap(ctx context.Context, namespace, name string) (map[string][]byte, error)
}

// unsupportedError says the VMI asks for something the stand-in cannot run; the VMI fails
// with its message. Other errors are retried (a claim not bound yet, a registry down).
type unsupportedError struct{ msg string }

func (e unsupportedError) Error() string { return e.msg }

func unsupported(format string, args ...any) error {
	return unsupportedError{fmt.Sprintf(format, args...)}
}

func isUnsupported(err error) bool {
	var u unsupportedError
	return errors.As(err, &u)
}

// Default guest address when the VMI carries no IPAddressAnnotation: qemu's user-mode
// network default. Every such guest has its own private network, so they do not collide.
var (
	defaultGuestAddress = netip.MustParseAddr("10.0.2.15")
	defaultGuestPrefix  = netip.MustParsePrefix("10.0.2.0/24")
)

// buildMachineSpec describes the VM of a VMI. With src nil (a hollow runtime) nothing is
// read: disks have no paths and Secrets are not fetched, but the VMI is checked the same.
func buildMachineSpec(ctx context.Context, vmi *kvv1.VirtualMachineInstance, dir string, src sources) (MachineSpec, error) {
	spec := MachineSpec{
		Name:     vmi.Namespace + "_" + vmi.Name,
		Dir:      dir,
		CPU:      guestCPU(vmi),
		UUID:     string(vmi.UID),
		Hostname: vmi.Name,
	}
	if vmi.Spec.Hostname != "" {
		spec.Hostname = vmi.Spec.Hostname
	}
	if fw := vmi.Spec.Domain.Firmware; fw != nil && fw.UUID != "" {
		spec.UUID = string(fw.UUID)
	}
	mem := guestMemory(vmi)
	if mem == nil {
		return MachineSpec{}, unsupported("the VMI gives no memory: set spec.domain.memory.guest or spec.domain.resources.requests.memory")
	}
	spec.MemoryBytes = mem.Value()

	volumes := map[string]*kvv1.Volume{}
	for i := range vmi.Spec.Volumes {
		v := &vmi.Spec.Volumes[i]
		volumes[v.Name] = v
		var err error
		switch {
		case v.CloudInitNoCloud != nil:
			spec.CloudInit, err = cloudInit(ctx, vmi, spec.Hostname, v.CloudInitNoCloud, src)
		case v.Sysprep != nil:
			spec.Sysprep, err = sysprep(ctx, vmi.Namespace, v.Sysprep, src)
		case v.PersistentVolumeClaim != nil, v.DataVolume != nil, v.ContainerDisk != nil:
		default:
			err = unsupported("volume %q: its type is not supported by the local node (a KubeVirt stand-in runs persistentVolumeClaim, dataVolume, containerDisk, cloudInitNoCloud and sysprep volumes)", v.Name)
		}
		if err != nil {
			return MachineSpec{}, err
		}
	}
	for _, d := range vmi.Spec.Domain.Devices.Disks {
		v := volumes[d.Name]
		if v == nil {
			return MachineSpec{}, unsupported("disk %q has no volume of that name", d.Name)
		}
		if v.CloudInitNoCloud != nil || v.Sysprep != nil {
			continue // the runtime attaches these media itself
		}
		disk, err := diskOf(ctx, vmi.Namespace, d, v, src)
		if err != nil {
			return MachineSpec{}, err
		}
		spec.Disks = append(spec.Disks, disk)
	}
	var err error
	if spec.Network, err = guestNetwork(vmi); err != nil {
		return MachineSpec{}, err
	}
	return spec, nil
}

// diskOf turns a VMI disk and its volume into a block device: disk (virtio) and lun are disks,
// cdrom a read-only CD; a containerDisk is always read-only (its cached file is shared).
func diskOf(ctx context.Context, namespace string, d kvv1.Disk, v *kvv1.Volume, src sources) (Disk, error) {
	disk := Disk{Name: d.Name, BootOrder: ptr.Deref(d.BootOrder, 0), Serial: d.Serial, Format: FormatRaw}
	switch {
	case d.CDRom != nil:
		disk.CDROM, disk.ReadOnly = true, true
	case d.LUN != nil:
		disk.ReadOnly = d.LUN.ReadOnly
	case d.Disk != nil:
		disk.ReadOnly = d.Disk.ReadOnly
	}
	var err error
	switch {
	case v.PersistentVolumeClaim != nil:
		disk.ReadOnly = disk.ReadOnly || v.PersistentVolumeClaim.ReadOnly
		if src != nil {
			disk.Path, err = src.claimFile(ctx, namespace, v.PersistentVolumeClaim.ClaimName)
		}
	case v.DataVolume != nil:
		if src != nil {
			disk.Path, err = src.claimFile(ctx, namespace, v.DataVolume.Name)
		}
	case v.ContainerDisk != nil:
		disk.ReadOnly = true
		if src != nil {
			disk.Path, disk.Format, err = src.containerDisk(ctx, namespace, v.ContainerDisk.Image, v.ContainerDisk.ImagePullSecret)
		}
	}
	if err != nil {
		return Disk{}, fmt.Errorf("disk %s: %w", d.Name, err)
	}
	return disk, nil
}

// guestCPU is the VMI's topology (1 where unset); without any, one socket per requested CPU
// (limit first), as KubeVirt derives vCPUs from resources.
func guestCPU(vmi *kvv1.VirtualMachineInstance) CPU {
	cpu := CPU{}
	if c := vmi.Spec.Domain.CPU; c != nil {
		cpu = CPU{Sockets: c.Sockets, Cores: c.Cores, Threads: c.Threads, Model: c.Model}
		for _, f := range c.Features {
			cpu.Features = append(cpu.Features, CPUFeature{Name: f.Name, Policy: f.Policy})
		}
	}
	if cpu.Sockets == 0 && cpu.Cores == 0 && cpu.Threads == 0 {
		res := vmi.Spec.Domain.Resources
		for _, q := range []*int64{ptr.To(res.Limits.Cpu().MilliValue()), ptr.To(res.Requests.Cpu().MilliValue())} {
			if *q > 0 {
				cpu.Sockets = uint32((*q + 999) / 1000)
				break
			}
		}
	}
	for _, n := range []*uint32{&cpu.Sockets, &cpu.Cores, &cpu.Threads} {
		if *n == 0 {
			*n = 1
		}
	}
	return cpu
}

// cloudInit gathers a NoCloud data source: user and network data inline, base64 or from a
// Secret (keys userdata/userData, networkdata/networkData); meta-data names the instance by
// the VMI's UID, so cloud-init runs once per VMI.
func cloudInit(ctx context.Context, vmi *kvv1.VirtualMachineInstance, hostname string, s *kvv1.CloudInitNoCloudSource, src sources) (*CloudInit, error) {
	ci := &CloudInit{MetaData: fmt.Sprintf("instance-id: %s\nlocal-hostname: %s\n", vmi.UID, hostname)}
	var err error
	if ci.UserData, err = cloudInitData(ctx, vmi.Namespace, "user", s.UserData, s.UserDataBase64, refName(s.UserDataSecretRef), src); err != nil {
		return nil, err
	}
	if ci.NetworkData, err = cloudInitData(ctx, vmi.Namespace, "network", s.NetworkData, s.NetworkDataBase64, refName(s.NetworkDataSecretRef), src); err != nil {
		return nil, err
	}
	return ci, nil
}

func refName(ref *corev1.LocalObjectReference) string {
	if ref == nil {
		return ""
	}
	return ref.Name
}

func cloudInitData(ctx context.Context, namespace, kind, plain, b64, secret string, src sources) (string, error) {
	switch {
	case plain != "":
		return plain, nil
	case b64 != "":
		data, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return "", unsupported("cloud-init %sDataBase64 is not base64: %v", kind, err)
		}
		return string(data), nil
	case secret == "" || src == nil:
		return "", nil
	}
	data, err := src.secret(ctx, namespace, secret)
	if err != nil {
		return "", fmt.Errorf("cloud-init %s data: %w", kind, err)
	}
	for _, key := range []string{kind + "data", kind + "Data"} {
		if v, ok := data[key]; ok {
			return string(v), nil
		}
	}
	return "", unsupported("cloud-init secret %q has no key %sdata or %sData", secret, kind, kind)
}

// sysprep reads the files of a sysprep volume from its Secret or ConfigMap.
func sysprep(ctx context.Context, namespace string, s *kvv1.SysprepSource, src sources) (map[string][]byte, error) {
	if src == nil {
		return map[string][]byte{}, nil
	}
	var (
		files map[string][]byte
		err   error
	)
	switch {
	case s.Secret != nil:
		files, err = src.secret(ctx, namespace, s.Secret.Name)
	case s.ConfigMap != nil:
		files, err = src.configMap(ctx, namespace, s.ConfigMap.Name)
	default:
		return nil, unsupported("sysprep volume names neither a secret nor a configMap")
	}
	if err != nil {
		return nil, fmt.Errorf("sysprep: %w", err)
	}
	return files, nil
}

// guestNetwork is the guest's address (IPAddressAnnotation), its subnet (IPPrefixAnnotation,
// else the /24 around it) and MAC (the first interface's macAddress, else one derived from
// the VMI's UID). A VMI with autoattachPodInterface false and no interfaces has no network.
func guestNetwork(vmi *kvv1.VirtualMachineInstance) (*Network, error) {
	dev := vmi.Spec.Domain.Devices
	if len(dev.Interfaces) == 0 && dev.AutoattachPodInterface != nil && !*dev.AutoattachPodInterface {
		return nil, nil
	}
	n := &Network{Address: defaultGuestAddress, Prefix: defaultGuestPrefix}
	if s := vmi.Annotations[IPAddressAnnotation]; s != "" {
		addr, err := netip.ParseAddr(s)
		if err != nil || !addr.Is4() {
			return nil, unsupported("annotation %s=%q is not an IPv4 address", IPAddressAnnotation, s)
		}
		n.Address, n.Prefix = addr, netip.PrefixFrom(addr, 24).Masked()
		if p := vmi.Annotations[IPPrefixAnnotation]; p != "" {
			prefix, err := netip.ParsePrefix(p)
			if err != nil || !prefix.Contains(addr) || prefix.Bits() > 30 {
				return nil, unsupported("annotation %s=%q is not a subnet of %s", IPPrefixAnnotation, p, addr)
			}
			n.Prefix = prefix.Masked()
		}
	}
	if len(dev.Interfaces) > 0 && dev.Interfaces[0].MacAddress != "" {
		mac, err := net.ParseMAC(dev.Interfaces[0].MacAddress)
		if err != nil {
			return nil, unsupported("interface %q: macAddress %q: %v", dev.Interfaces[0].Name, dev.Interfaces[0].MacAddress, err)
		}
		n.MAC = mac.String()
	} else {
		n.MAC = derivedMAC(string(vmi.UID))
	}
	return n, nil
}

// derivedMAC is a stable, locally administered unicast MAC for a VMI.
func derivedMAC(uid string) string {
	sum := sha256.Sum256([]byte(uid))
	mac := net.HardwareAddr{0x02, sum[0], sum[1], sum[2], sum[3], sum[4]}
	return strings.ToLower(mac.String())
}
