// Package virtapi is the local node's stand-in for KubeVirt's virt-api: it serves
// subresources.kubevirt.io/v1 to kube-apiserver's aggregation layer and passes each stream
// (console, vnc, portforward) on to the handler endpoint of the node that runs the VMI.
//
// As virt-api does, it authenticates kube-apiserver's front proxy and checks every caller
// with a SubjectAccessReview (k8s.io/apiserver's delegating authentication and
// authorization), reads the VMI for status.nodeName, and reaches that node's handler over
// mutual TLS at the address the node publishes in HandlerAddressAnnotation. The handler
// endpoint (package subresources behind a TLS listener that requires client certificates)
// answers with the same paths.
//
//	client ──► kube-apiserver ──(APIService v1.subresources.kubevirt.io)──► virt-api (one node)
//	                                              mutual TLS, same path ──► handler (the VMI's node) ──► QEMU sockets
package virtapi

// HandlerAddressAnnotation is the Node annotation in which a local node publishes the
// host:port of its handler endpoint; virt-api reads it to reach the node of a VMI.
const HandlerAddressAnnotation = "localnode.virtplane.io/handler-address"
