package ipam

import (
	"crypto/sha256"
	"net/netip"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// ReleaseFinalizer stays on a VirtualMachineIPAddress until its Lease is released, so a
// deleted address keeps its namespace's claim for the retention time instead of vanishing.
const ReleaseFinalizer = "virtualization.deckhouse.io/ip-lease-release"

// Annotations on a released VirtualMachineIPAddressLease. A released lease has no
// spec.virtualMachineIPAddressRef (the API server refuses a reference without a name), so
// the namespace it is kept for and the start of the retention live here.
const (
	// RetainedForAnnotation is the namespace the released address is kept for.
	RetainedForAnnotation = "virtualization.deckhouse.io/retained-for-namespace"
	// ReleasedAtAnnotation is when the lease was released (RFC 3339); it is deleted one
	// retention time later, also across controller restarts.
	ReleasedAtAnnotation = "virtualization.deckhouse.io/released-at"
)

// hashAlphabet has no vowels (no words) and no look-alikes such as 0/o, 1/l.
const hashAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// AutoName is the name of the VirtualMachineIPAddress made for a VM that names none:
// <vm name>-<5 characters from a hash of the VM's UID>. It depends only on the VM, so a
// restarted controller (or a second one) finds the object instead of making another, and a
// VM deleted and made again under the same name gets a fresh one.
func AutoName(vm *v1alpha2.VirtualMachine) string {
	sum := sha256.Sum256([]byte(vm.UID))
	suffix := make([]byte, 5)
	for i := range suffix {
		suffix[i] = hashAlphabet[int(sum[i])%len(hashAlphabet)]
	}
	name := vm.Name
	if max := validation.DNS1123LabelMaxLength - len(suffix) - 1; len(name) > max {
		name = strings.TrimRight(name[:max], "-.")
	}
	return name + "-" + string(suffix)
}

// IPAddressNameOf is the VirtualMachineIPAddress a VM uses: the one its spec names, or its
// automatic one.
func IPAddressNameOf(vm *v1alpha2.VirtualMachine) string {
	if vm.Spec.VirtualMachineIPAddress != "" {
		return vm.Spec.VirtualMachineIPAddress
	}
	return AutoName(vm)
}

// LeaseName is the name of the lease that locks an address: ip-10-66-10-14.
func LeaseName(addr netip.Addr) string {
	return "ip-" + strings.ReplaceAll(addr.String(), ".", "-")
}

// AddressOfLease is the address a lease name locks; ok is false for names that are not
// LeaseName of an IPv4 address.
func AddressOfLease(name string) (addr netip.Addr, ok bool) {
	rest, found := strings.CutPrefix(name, "ip-")
	if !found {
		return netip.Addr{}, false
	}
	addr, err := netip.ParseAddr(strings.ReplaceAll(rest, "-", "."))
	if err != nil || !addr.Is4() || LeaseName(addr) != name {
		return netip.Addr{}, false
	}
	return addr, true
}

// key is the namespace/name of a namespaced object.
func key(namespace, name string) string { return namespace + "/" + name }

func leaseRefKey(ref *v1alpha2.VirtualMachineIPAddressLeaseIPAddressRef) string {
	if ref == nil || ref.Name == "" {
		return ""
	}
	return key(ref.Namespace, ref.Name)
}
