package v1alpha2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group served by this project.
const GroupName = "virtualization.deckhouse.io"

// SchemeGroupVersion is the group and version of the types in this package.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha2"}

var (
	localSchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// SchemeBuilder wires the types, conversions and defaults of this version.
	SchemeBuilder = &localSchemeBuilder
	// AddToScheme adds this version to a scheme.
	AddToScheme = localSchemeBuilder.AddToScheme
)

func init() {
	// Defaulters and conversions are registered by the generated code.
	localSchemeBuilder.Register(addDefaultingFuncs, addFieldLabelConversionFuncs)
}

// Resource returns a GroupResource for the given resource name.
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
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}
