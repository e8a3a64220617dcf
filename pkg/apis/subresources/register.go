package subresources

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the group of the upstream CLI's subresources.
const GroupName = "subresources.virtualization.deckhouse.io"

// SchemeGroupVersion is the internal version of the group.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: runtime.APIVersionInternal}

var (
	// SchemeBuilder registers the internal types.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the internal types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Resource returns a GroupResource for the given resource.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

// StreamOptions are the option kinds of the stream subresources. The main group's
// virtualmachines/console, /vnc and /portforward take them too, registered there under its
// own group (one Go type may have a kind in several groups).
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
	return nil
}
