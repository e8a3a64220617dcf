package v1alpha2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the group of the upstream CLI's subresources.
const GroupName = "subresources.virtualization.deckhouse.io"

// SchemeGroupVersion is the group and version of the types in this package.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha2"}

var (
	localSchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// SchemeBuilder wires the types and conversions of this version.
	SchemeBuilder = &localSchemeBuilder
	// AddToScheme adds this version to a scheme.
	AddToScheme = localSchemeBuilder.AddToScheme
)

// Resource returns a GroupResource for the given resource name.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

// StreamOptions are the option kinds of the stream subresources, which the main group's
// virtualmachines/console, /vnc and /portforward take too.
func StreamOptions() []runtime.Object {
	return []runtime.Object{&VirtualMachineConsole{}, &VirtualMachineVNC{}, &VirtualMachinePortForward{}}
}

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion, &VirtualMachine{})
	scheme.AddKnownTypes(SchemeGroupVersion, StreamOptions()...)
	scheme.AddKnownTypes(SchemeGroupVersion,
		&VirtualMachineFreeze{},
		&VirtualMachineUnfreeze{},
		&VirtualMachineAddVolume{},
		&VirtualMachineRemoveVolume{},
		&VirtualMachineCancelEvacuation{},
	)
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}
