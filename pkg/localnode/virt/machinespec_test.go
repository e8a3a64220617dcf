package virt

import (
	"context"
	"encoding/base64"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/virtplane/virtplane/pkg/localnode/qemu"
)

func testSources() *fakeSources {
	return &fakeSources{
		images:  map[string][2]string{"dvcr.local/vi/prod/iso:uid": {"/cache/1f2e", "raw"}},
		secrets: map[string]map[string][]byte{"linux-cloud-init": {"userData": []byte("#cloud-config\nusers: [cloud]\n")}},
	}
}

func TestQEMUConfigFromVMI(t *testing.T) {
	vmi := testVMI()
	src := testSources()
	spec, err := buildMachineSpec(context.Background(), vmi, "/state/vms/s/abc", src)
	if err != nil {
		t.Fatal(err)
	}
	cfg := QEMU{}.config(spec)

	want := qemu.Config{
		Name: "prod_linux", Dir: "/state/vms/s/abc",
		CPU:         qemu.CPU{Sockets: 1, Cores: 2, Threads: 1, Model: "Nehalem", Features: []qemu.CPUFeature{{Name: "vmx", Policy: "disable"}}},
		MemoryBytes: 1 << 30,
		Disks: []qemu.Disk{
			{Name: "vd-root", Path: "/vols/vd-root-pvc.img", Format: "raw", BootOrder: 1, Serial: "root"},
			{Name: "vi-iso", Path: "/cache/1f2e", Format: "raw", ReadOnly: true, CDROM: true, BootOrder: 2},
			{Name: "vd-data", Path: "/vols/vd-data-pvc.img", Format: "raw", ReadOnly: true},
		},
		CloudInit: &qemu.CloudInit{
			UserData: "#cloud-config\nusers: [cloud]\n",
			MetaData: "instance-id: 0b8e4d0c-1c4e-4c8e-9a38-6c1f2a3b4c5d\nlocal-hostname: linux-host\n",
		},
		Network: &qemu.Network{Address: netip.MustParseAddr("10.66.10.20"), Prefix: netip.MustParsePrefix("10.66.10.0/24"), MAC: "52:54:00:aa:bb:cc"},
		UUID:    "5d7e4a42-6a4e-5bd1-9c43-0c1a8d1a9e11", Hostname: "linux-host",
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config\n got %+v\nwant %+v", cfg, want)
		for i := range cfg.Disks {
			t.Logf("disk %d: %+v", i, cfg.Disks[i])
		}
	}
	if got := strings.Join(src.asked, "; "); !strings.Contains(got, "image prod/dvcr.local/vi/prod/iso:uid secret dvcr-pull") ||
		!strings.Contains(got, "secret prod/linux-cloud-init") {
		t.Errorf("sources asked: %s", got)
	}
}

func TestMachineSpecDefaults(t *testing.T) {
	vmi := testVMI()
	vmi.Spec.Domain.CPU = nil
	vmi.Spec.Domain.Memory = nil
	vmi.Spec.Domain.Firmware = nil
	vmi.Spec.Hostname = ""
	vmi.Spec.Domain.Devices.Interfaces = nil
	delete(vmi.Annotations, IPAddressAnnotation)
	vmi.Spec.Volumes[3].CloudInitNoCloud = &kvv1.CloudInitNoCloudSource{
		UserDataBase64: base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hi\n")), NetworkData: "version: 2\n"}
	spec, err := buildMachineSpec(context.Background(), vmi, "/d", testSources())
	if err != nil {
		t.Fatal(err)
	}
	// Two CPUs limited: two sockets; memory from the request; UUID and hostname from the VMI.
	if !equality.Semantic.DeepEqual(spec.CPU, CPU{Sockets: 2, Cores: 1, Threads: 1}) || spec.MemoryBytes != 1<<30 || spec.UUID != string(vmi.UID) || spec.Hostname != "linux" {
		t.Errorf("spec %+v", spec)
	}
	if spec.CloudInit.UserData != "#!/bin/sh\necho hi\n" || spec.CloudInit.NetworkData != "version: 2\n" ||
		!strings.Contains(spec.CloudInit.MetaData, "local-hostname: linux\n") {
		t.Errorf("cloud-init %+v", spec.CloudInit)
	}
	n := spec.Network
	if n.Address.String() != "10.0.2.15" || n.Prefix.String() != "10.0.2.0/24" || !strings.HasPrefix(n.MAC, "02:") {
		t.Errorf("network %+v", n)
	}
	again, _ := buildMachineSpec(context.Background(), vmi, "/d", testSources())
	if again.Network.MAC != n.MAC {
		t.Errorf("the derived MAC changed: %s, %s", n.MAC, again.Network.MAC)
	}
}

func TestGuestSubnetFromAnnotation(t *testing.T) {
	vmi := testVMI()
	vmi.Annotations[IPPrefixAnnotation] = "10.66.0.0/16"
	n, err := guestNetwork(vmi)
	if err != nil || n.Prefix.String() != "10.66.0.0/16" {
		t.Fatalf("network %+v, %v", n, err)
	}
	vmi.Annotations[IPPrefixAnnotation] = "10.77.0.0/16"
	if _, err := guestNetwork(vmi); !isUnsupported(err) {
		t.Errorf("a subnet without the address: %v", err)
	}
	vmi.Spec.Domain.Devices.Interfaces = nil
	vmi.Spec.Domain.Devices.AutoattachPodInterface = ptr.To(false)
	if n, err := guestNetwork(vmi); n != nil || err != nil {
		t.Errorf("no interface wanted: %+v, %v", n, err)
	}
}

func TestMachineSpecRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		change      func(*kvv1.VirtualMachineInstance)
		unsupported bool
		msg         string
	}{
		"emptyDisk volume": {func(v *kvv1.VirtualMachineInstance) {
			v.Spec.Volumes[2] = kvv1.Volume{Name: "vd-data", VolumeSource: kvv1.VolumeSource{EmptyDisk: &kvv1.EmptyDiskSource{Capacity: resource.MustParse("1Gi")}}}
		}, true, `volume "vd-data": its type is not supported`},
		"disk without volume": {func(v *kvv1.VirtualMachineInstance) {
			v.Spec.Domain.Devices.Disks = append(v.Spec.Domain.Devices.Disks, kvv1.Disk{Name: "lost"})
		}, true, `disk "lost" has no volume`},
		"no memory": {func(v *kvv1.VirtualMachineInstance) {
			v.Spec.Domain.Memory, v.Spec.Domain.Resources = nil, kvv1.ResourceRequirements{}
		}, true, "gives no memory"},
		"secret without user data": {func(v *kvv1.VirtualMachineInstance) {
			v.Spec.Volumes[3].CloudInitNoCloud.UserDataSecretRef.Name = "empty"
		}, true, `has no key userdata or userData`},
		"secret not there yet": {func(v *kvv1.VirtualMachineInstance) {
			v.Spec.Volumes[3].CloudInitNoCloud.UserDataSecretRef.Name = "later"
		}, false, "secret later not found"},
		"bad address": {func(v *kvv1.VirtualMachineInstance) { v.Annotations[IPAddressAnnotation] = "fd00::1" }, true, "not an IPv4 address"},
	} {
		t.Run(name, func(t *testing.T) {
			vmi := testVMI()
			tc.change(vmi)
			src := testSources()
			src.secrets["empty"] = map[string][]byte{"other": nil}
			_, err := buildMachineSpec(context.Background(), vmi, "/d", src)
			if err == nil || isUnsupported(err) != tc.unsupported || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v (unsupported %v), want %q (unsupported %v)", err, isUnsupported(err), tc.msg, tc.unsupported)
			}
		})
	}
}

func TestHollowReadsNothing(t *testing.T) {
	spec, err := buildMachineSpec(context.Background(), testVMI(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Disks) != 3 || spec.Disks[0].Path != "" || spec.Network.Address.String() != "10.66.10.20" {
		t.Errorf("spec %+v", spec)
	}
}
