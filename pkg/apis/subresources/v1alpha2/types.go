package v1alpha2

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachine is a virtual machine of virtualization.deckhouse.io/v1alpha2 as this group
// shows it: its metadata only. It is the parent of the console, vnc, portforward and action
// subresources; read the VM itself from virtualization.deckhouse.io.
type VirtualMachine struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object's metadata, the same as the VM's in virtualization.deckhouse.io.
	metav1.ObjectMeta `json:"metadata,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +k8s:conversion-gen:explicit-from=net/url.Values

// VirtualMachineConsole are the query options of virtualmachines/console: a websocket
// (subprotocol plain.virtualization.deckhouse.io or plain.kubevirt.io) carrying the VM's
// serial console as raw bytes in binary messages. One client holds it at a time: a new
// session closes the previous one with status 1001 (going away) naming who took over. A plain
// GET with ?probe=true answers {"open":true,"holder":"<user>","startTime":"<RFC 3339>"} or
// {"open":false}.
type VirtualMachineConsole struct {
	metav1.TypeMeta `json:",inline"`
	// Probe, on a plain GET without an upgrade, answers whether a console session is open,
	// by whom and since when, instead of opening one.
	// +optional
	Probe bool `json:"probe,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +k8s:conversion-gen:explicit-from=net/url.Values

// VirtualMachineVNC are the query options of virtualmachines/vnc: a websocket carrying the
// VM's VNC (RFB) stream as raw bytes in binary messages, one client at a time as for the
// console.
type VirtualMachineVNC struct {
	metav1.TypeMeta `json:",inline"`
	// Probe, on a plain GET without an upgrade, answers whether a VNC session is open, by
	// whom and since when, instead of opening one.
	// +optional
	Probe bool `json:"probe,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +k8s:conversion-gen:explicit-from=net/url.Values

// VirtualMachinePortForward are the query options of virtualmachines/portforward: a websocket
// carrying one connection to a port of the guest as raw bytes in binary messages.
type VirtualMachinePortForward struct {
	metav1.TypeMeta `json:",inline"`
	// Protocol of the port: tcp (the default) or udp.
	// +optional
	Protocol string `json:"protocol,omitempty"`
	// Port of the guest, 1-65535.
	Port int `json:"port"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineFreeze is the request body of virtualmachines/freeze (PUT): freeze the
// guest's file systems through its agent, as before a consistent snapshot.
type VirtualMachineFreeze struct {
	metav1.TypeMeta `json:",inline"`
	// UnfreezeTimeout thaws the file systems by itself after this long, e.g. "5m".
	// +optional
	UnfreezeTimeout *metav1.Duration `json:"unfreezeTimeout,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineUnfreeze is the kind of virtualmachines/unfreeze (PUT): thaw the guest's file
// systems. It takes no options.
type VirtualMachineUnfreeze struct {
	metav1.TypeMeta `json:",inline"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +k8s:conversion-gen:explicit-from=net/url.Values

// VirtualMachineAddVolume are the query options of virtualmachines/addvolume (PUT): hot-plug
// a volume into the running VM.
type VirtualMachineAddVolume struct {
	metav1.TypeMeta `json:",inline"`
	// Name of the volume in the VM.
	Name string `json:"name"`
	// VolumeKind is the kind of the volume's source: VirtualDisk, VirtualImage or
	// ClusterVirtualImage.
	// +optional
	VolumeKind string `json:"volumeKind,omitempty"`
	// PVCName is the PersistentVolumeClaim of a disk.
	// +optional
	PVCName string `json:"pvcName,omitempty"`
	// Image is the container image of an image in DVCR.
	// +optional
	Image string `json:"image,omitempty"`
	// Serial is the serial number the guest sees.
	// +optional
	Serial string `json:"serial,omitempty"`
	// IsCdrom attaches the volume as a CD-ROM.
	// +optional
	IsCdrom bool `json:"isCdrom,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +k8s:conversion-gen:explicit-from=net/url.Values

// VirtualMachineRemoveVolume are the query options of virtualmachines/removevolume (PUT):
// unplug a hot-plugged volume from the running VM.
type VirtualMachineRemoveVolume struct {
	metav1.TypeMeta `json:",inline"`
	// Name of the volume in the VM.
	Name string `json:"name"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineCancelEvacuation is the kind of virtualmachines/cancelevacuation (PUT): stop
// moving the VM off a node that is being drained. It takes no options.
type VirtualMachineCancelEvacuation struct {
	metav1.TypeMeta `json:",inline"`
}
