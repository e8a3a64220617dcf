// Package vmstream serves the stream subresources of a virtual machine — console, vnc and
// portforward — for both groups that have them: virtualization.deckhouse.io and
// subresources.virtualization.deckhouse.io (the upstream d8 CLI's).
//
// A stream is a websocket whose binary messages carry raw bytes both ways. The server does
// not speak to the VM itself: it bridges the client's websocket to KubeVirt's subresource of
// the VM's VirtualMachineInstance (same namespace and name), which it opens through
// kube-apiserver with its own credentials:
//
//	GET /apis/subresources.kubevirt.io/v1/namespaces/NS/virtualmachineinstances/NAME/console
//	GET .../vnc
//	GET .../portforward/PORT/PROTOCOL
//
// with the websocket subprotocol plain.kubevirt.io. On a cluster virt-api answers; on one
// machine the local node does.
//
// The console and VNC serve one client at a time, in this server: a new session takes over
// and the previous client's websocket is closed with status 1001 (going away, as KubeVirt
// does; the upstream d8 stops on it instead of reconnecting) and a reason naming the user who
// took over. Port-forward streams are independent of each other.
package vmstream
