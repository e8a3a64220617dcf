// Package v1alpha2 is the served version of subresources.virtualization.deckhouse.io, the
// group the upstream d8 CLI calls for a VM's console, VNC, port forwarding and actions.
//
// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=github.com/virtplane/virtplane/pkg/apis/subresources
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=io.deckhouse.virtualization.subresources.v1alpha2
// +groupName=subresources.virtualization.deckhouse.io
package v1alpha2
