// Package v1alpha2 is the public version of the virtualization.deckhouse.io API.
//
// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=github.com/virtplane/virtplane/pkg/apis/virtualization
// +k8s:defaulter-gen=TypeMeta
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=io.deckhouse.virtualization.v1alpha2
// +groupName=virtualization.deckhouse.io
package v1alpha2
