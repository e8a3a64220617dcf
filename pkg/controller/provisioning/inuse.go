package provisioning

import (
	"fmt"
	"sort"

	"k8s.io/client-go/tools/cache"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// BlockDeviceIndex is the name of the VM informer index from referenced images and disks to
// VMs: "<Kind>/<namespace>/<name>" ("ClusterVirtualImage//<name>" for cluster images).
const BlockDeviceIndex = "blockDevice"

// BlockDeviceKey is the index key of a referenced object.
func BlockDeviceKey(kind virtv1.BlockDeviceKind, namespace, name string) string {
	if kind == virtv1.ClusterImageDevice {
		namespace = ""
	}
	return fmt.Sprintf("%s/%s/%s", kind, namespace, name)
}

// IndexBlockDevices indexes VMs by the images and disks in spec.blockDeviceRefs.
func IndexBlockDevices(obj any) ([]string, error) {
	vm, ok := obj.(*virtv1.VirtualMachine)
	if !ok {
		return nil, nil
	}
	var keys []string
	for _, ref := range vm.Spec.BlockDeviceRefs {
		keys = append(keys, BlockDeviceKey(ref.Kind, vm.Namespace, ref.Name))
	}
	return keys, nil
}

// AddBlockDeviceIndex installs the index on a VM informer before it starts.
func AddBlockDeviceIndex(inf cache.SharedIndexInformer) error {
	if err := inf.AddIndexers(cache.Indexers{BlockDeviceIndex: IndexBlockDevices}); err != nil {
		return fmt.Errorf("add VM block device index: %w", err)
	}
	return nil
}

// UsersOf returns the VMs that reference an object, sorted by namespace and name.
func UsersOf(indexer cache.Indexer, kind virtv1.BlockDeviceKind, namespace, name string) ([]*virtv1.VirtualMachine, error) {
	objs, err := indexer.ByIndex(BlockDeviceIndex, BlockDeviceKey(kind, namespace, name))
	if err != nil {
		return nil, fmt.Errorf("look up VMs using %s %s/%s: %w", kind, namespace, name, err)
	}
	vms := make([]*virtv1.VirtualMachine, 0, len(objs))
	for _, o := range objs {
		if vm, ok := o.(*virtv1.VirtualMachine); ok {
			vms = append(vms, vm)
		}
	}
	sort.Slice(vms, func(i, j int) bool {
		if vms[i].Namespace != vms[j].Namespace {
			return vms[i].Namespace < vms[j].Namespace
		}
		return vms[i].Name < vms[j].Name
	})
	return vms, nil
}

// BlockDeviceKeysOf lists the index keys a VM references, to enqueue the referenced objects
// when the VM changes.
func BlockDeviceKeysOf(vm *virtv1.VirtualMachine) []virtv1.BlockDeviceSpecRef {
	return vm.Spec.BlockDeviceRefs
}
