package subresources

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachine is a virtual machine of virtualization.deckhouse.io as this group shows it:
// its metadata only. It is the parent of the subresources.
type VirtualMachine struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineConsole are the options of virtualmachines/console.
type VirtualMachineConsole struct {
	metav1.TypeMeta `json:",inline"`
	// Probe asks who holds the console instead of opening it.
	Probe bool `json:"probe,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineVNC are the options of virtualmachines/vnc.
type VirtualMachineVNC struct {
	metav1.TypeMeta `json:",inline"`
	// Probe asks who holds the VNC session instead of opening it.
	Probe bool `json:"probe,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachinePortForward are the options of virtualmachines/portforward.
type VirtualMachinePortForward struct {
	metav1.TypeMeta `json:",inline"`
	// Protocol is tcp or udp; empty means tcp.
	Protocol string `json:"protocol,omitempty"`
	// Port is the guest's port, 1-65535.
	Port int `json:"port"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineFreeze is the request body of virtualmachines/freeze.
type VirtualMachineFreeze struct {
	metav1.TypeMeta `json:",inline"`
	// UnfreezeTimeout thaws the file systems by itself after this long.
	UnfreezeTimeout *metav1.Duration `json:"unfreezeTimeout,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineUnfreeze is the kind of virtualmachines/unfreeze, which takes no options.
type VirtualMachineUnfreeze struct {
	metav1.TypeMeta `json:",inline"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineAddVolume are the options of virtualmachines/addvolume.
type VirtualMachineAddVolume struct {
	metav1.TypeMeta `json:",inline"`
	// Name of the volume in the VM.
	Name string `json:"name"`
	// VolumeKind is the kind of the volume's source (VirtualDisk, VirtualImage,
	// ClusterVirtualImage).
	VolumeKind string `json:"volumeKind,omitempty"`
	// PVCName is the PersistentVolumeClaim of a disk.
	PVCName string `json:"pvcName,omitempty"`
	// Image is the container image of an image.
	Image string `json:"image,omitempty"`
	// Serial is the serial number the guest sees.
	Serial string `json:"serial,omitempty"`
	// IsCdrom attaches the volume as a CD-ROM.
	IsCdrom bool `json:"isCdrom,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineRemoveVolume are the options of virtualmachines/removevolume.
type VirtualMachineRemoveVolume struct {
	metav1.TypeMeta `json:",inline"`
	// Name of the volume in the VM.
	Name string `json:"name"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineCancelEvacuation is the kind of virtualmachines/cancelevacuation, which takes
// no options.
type VirtualMachineCancelEvacuation struct {
	metav1.TypeMeta `json:",inline"`
}
