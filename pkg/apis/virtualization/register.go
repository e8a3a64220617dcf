package virtualization

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group served by this project.
const GroupName = "virtualization.deckhouse.io"

// SchemeGroupVersion is the internal version of the group.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: runtime.APIVersionInternal}

var (
	// SchemeBuilder registers the internal types.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the internal types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Kind returns a GroupKind for the given kind.
func Kind(kind string) schema.GroupKind {
	return SchemeGroupVersion.WithKind(kind).GroupKind()
}

// Resource returns a GroupResource for the given resource.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion,
		&ClusterVirtualImage{}, &ClusterVirtualImageList{},
		&VirtualImage{}, &VirtualImageList{},
		&UploadOptions{},
		&VirtualDisk{}, &VirtualDiskList{},
		&VirtualDiskSnapshot{}, &VirtualDiskSnapshotList{},
		&VirtualMachine{}, &VirtualMachineList{},
		&VirtualMachineClass{}, &VirtualMachineClassList{},
		&VirtualMachineOperation{}, &VirtualMachineOperationList{},
		&VirtualMachineBlockDeviceAttachment{}, &VirtualMachineBlockDeviceAttachmentList{},
		&VirtualMachineIPAddress{}, &VirtualMachineIPAddressList{},
		&VirtualMachineIPAddressLease{}, &VirtualMachineIPAddressLeaseList{},
		&VirtualMachineSnapshot{}, &VirtualMachineSnapshotList{},
		&VirtualMachineRestore{}, &VirtualMachineRestoreList{},
	)
	return nil
}
