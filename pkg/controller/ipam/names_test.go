package ipam

import (
	"net/netip"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

func vmNamed(name string, uid types.UID) *v1alpha2.VirtualMachine {
	return &v1alpha2.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: uid}}
}

func TestAutoName(t *testing.T) {
	a := AutoName(vmNamed("linux-vm", "4b9c4f5e-0001"))
	if !strings.HasPrefix(a, "linux-vm-") || len(a) != len("linux-vm-")+5 {
		t.Fatalf("AutoName = %q, want linux-vm-<5 characters>", a)
	}
	if again := AutoName(vmNamed("linux-vm", "4b9c4f5e-0001")); again != a {
		t.Fatalf("AutoName is not deterministic: %q then %q", a, again)
	}
	if other := AutoName(vmNamed("linux-vm", "4b9c4f5e-0002")); other == a {
		t.Fatalf("a VM made again under the same name gets the same address name %q", a)
	}
	long := vmNamed(strings.Repeat("a", 56)+"-"+strings.Repeat("b", 6), "u")
	n := AutoName(long)
	if len(n) > validation.DNS1123LabelMaxLength || len(validation.IsDNS1123Label(n)) != 0 {
		t.Fatalf("AutoName of a 63-character VM name = %q (%d characters), not a DNS label", n, len(n))
	}
	if strings.Contains(n, "--") {
		t.Fatalf("the cut name keeps a trailing dash: %q", n)
	}
}

func TestIPAddressNameOf(t *testing.T) {
	vm := vmNamed("vm", "u")
	if got := IPAddressNameOf(vm); got != AutoName(vm) {
		t.Fatalf("a VM naming no address uses %q, want its automatic %q", got, AutoName(vm))
	}
	vm.Spec.VirtualMachineIPAddress = "linux-vm-custom-ip"
	if got := IPAddressNameOf(vm); got != "linux-vm-custom-ip" {
		t.Fatalf("a VM naming linux-vm-custom-ip uses %q", got)
	}
}

func TestLeaseName(t *testing.T) {
	addr := netip.MustParseAddr("10.66.10.14")
	if got := LeaseName(addr); got != "ip-10-66-10-14" {
		t.Fatalf("LeaseName(10.66.10.14) = %q", got)
	}
	if got, ok := AddressOfLease("ip-10-66-10-14"); !ok || got != addr {
		t.Fatalf("AddressOfLease(ip-10-66-10-14) = %v, %v", got, ok)
	}
	for _, bad := range []string{"ip-10-66-10", "10-66-10-14", "ip-10-66-10-014", "ip-10-66-10-256", "ip-fd00--1"} {
		if a, ok := AddressOfLease(bad); ok {
			t.Errorf("AddressOfLease(%q) = %v, want not a lease name", bad, a)
		}
	}
}
