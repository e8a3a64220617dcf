package vmstream

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/virtplane/virtplane/pkg/apis/subresources"
)

// Stream is one of a VM's stream subresources; its value is the subresource's name.
type Stream string

const (
	// Console is the VM's serial console.
	Console Stream = "console"
	// VNC is the VM's screen, keyboard and mouse over RFB.
	VNC Stream = "vnc"
	// PortForward is one connection to a port of the guest.
	PortForward Stream = "portforward"
)

// exclusive streams serve one client at a time: QEMU's serial port and VNC server each take
// one, and the newest user is the one who wants it.
func (s Stream) exclusive() bool { return s != PortForward }

// noun names the stream in messages.
func (s Stream) noun() string {
	switch s {
	case VNC:
		return "VNC session"
	case PortForward:
		return "port forwarding"
	default:
		return string(s)
	}
}

// options returns a new (internal) options object of the stream's kind.
func (s Stream) options() runtime.Object {
	switch s {
	case Console:
		return &subresources.VirtualMachineConsole{}
	case VNC:
		return &subresources.VirtualMachineVNC{}
	case PortForward:
		return &subresources.VirtualMachinePortForward{}
	}
	panic(fmt.Sprintf("vmstream: unknown stream %q", string(s)))
}
