package ipam

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// Index names; the informers may be shared with other controllers, hence the prefix.
const (
	// vmByVMIPIndex: namespace/name of each VirtualMachineIPAddress a VM uses or names.
	vmByVMIPIndex = "ipam/vmip"
	// vmipByOwnerIndex: namespace/name of the VM that controls an address.
	vmipByOwnerIndex = "ipam/owner-vm"
	// vmipByAddressIndex: the address an address object asks for or holds.
	vmipByAddressIndex = "ipam/address"
	// vmipWaitingIndex: waitingForPool for addresses that found no free address.
	vmipWaitingIndex = "ipam/waiting"
	waitingForPool   = "pool"
	// leaseByRefIndex: namespace/name of the address object a lease is bound to.
	leaseByRefIndex = "ipam/ref"
)

func addIndexers(inf Informers) error {
	if err := inf.VirtualMachines.Informer().AddIndexers(cache.Indexers{vmByVMIPIndex: func(obj any) ([]string, error) {
		vm, ok := obj.(*v1alpha2.VirtualMachine)
		if !ok {
			return nil, nil
		}
		var keys []string
		for _, n := range vmipNamesOf(vm) {
			keys = append(keys, key(vm.Namespace, n))
		}
		return keys, nil
	}}); err != nil {
		return fmt.Errorf("index VirtualMachines by address: %w", err)
	}
	if err := inf.VirtualMachineIPAddresses.Informer().AddIndexers(cache.Indexers{
		vmipByOwnerIndex: func(obj any) ([]string, error) {
			ip, ok := obj.(*v1alpha2.VirtualMachineIPAddress)
			if !ok || ownerVM(ip) == "" {
				return nil, nil
			}
			return []string{key(ip.Namespace, ownerVM(ip))}, nil
		},
		vmipByAddressIndex: func(obj any) ([]string, error) {
			ip, ok := obj.(*v1alpha2.VirtualMachineIPAddress)
			if !ok {
				return nil, nil
			}
			var keys []string
			for _, a := range []string{ip.Spec.StaticIP, ip.Status.Address} {
				if a != "" && (len(keys) == 0 || keys[0] != a) {
					keys = append(keys, a)
				}
			}
			return keys, nil
		},
		vmipWaitingIndex: func(obj any) ([]string, error) {
			ip, ok := obj.(*v1alpha2.VirtualMachineIPAddress)
			if ok && conditionReason(ip.Status.Conditions, BoundType) == string(LeaseNotFound) {
				return []string{waitingForPool}, nil
			}
			return nil, nil
		},
	}); err != nil {
		return fmt.Errorf("index VirtualMachineIPAddresses: %w", err)
	}
	if err := inf.Leases.Informer().AddIndexers(cache.Indexers{leaseByRefIndex: func(obj any) ([]string, error) {
		l, ok := obj.(*v1alpha2.VirtualMachineIPAddressLease)
		if !ok {
			return nil, nil
		}
		if k := leaseRefKey(l.Spec.VirtualMachineIPAddressRef); k != "" {
			return []string{k}, nil
		}
		return nil, nil
	}}); err != nil {
		return fmt.Errorf("index VirtualMachineIPAddressLeases by address: %w", err)
	}
	return nil
}

// vmipNamesOf lists the address objects a VM names or uses: its spec's, its status's, and
// its automatic one when the spec names none.
func vmipNamesOf(vm *v1alpha2.VirtualMachine) []string {
	names := []string{IPAddressNameOf(vm)}
	if s := vm.Status.VirtualMachineIPAddress; s != "" && s != names[0] {
		names = append(names, s)
	}
	return names
}

// ownerVM is the name of the VirtualMachine that controls the address, if any.
func ownerVM(ip *v1alpha2.VirtualMachineIPAddress) string {
	ref := v1.GetControllerOfNoCopy(ip)
	if ref == nil || ref.Kind != vmKind {
		return ""
	}
	if gv, err := schema.ParseGroupVersion(ref.APIVersion); err != nil || gv.Group != v1alpha2.SchemeGroupVersion.Group {
		return ""
	}
	return ref.Name
}

const vmKind = "VirtualMachine"
