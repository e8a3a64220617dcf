// Package subresources serves KubeVirt's subresources.kubevirt.io/v1 stream subresources of
// the VMIs the local node runs: console (the serial port), vnc and portforward. It is the
// part of virt-api that virtualization-apiserver reaches through kube-apiserver when a user
// runs `d8 v console|vnc|port-forward`.
//
// Every stream is a websocket (subprotocol plain.kubevirt.io, or none) whose binary messages
// carry raw bytes both ways, bridged to a unix socket of the VM's QEMU or, for portforward, to
// a TCP port of the guest reached through a QEMU user-network hostfwd added for the stream.
//
// The handler does not authenticate: the caller puts it behind kube-apiserver's aggregation
// (front-proxy client certificates) before serving it.
package subresources
