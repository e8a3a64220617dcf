package v1alpha2

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// UploadOptions is the kind of the upload subresources (virtualimages/upload,
// clustervirtualimages/upload, virtualdisks/upload). Their request body is the image's data,
// not an object: the kind names the subresource in discovery and OpenAPI, as PodExecOptions
// does for pods/exec. It must not be the parent's kind, or clients would read the
// subresource's PATCH as the parent's and conclude it lacks server-side field validation.
type UploadOptions struct {
	metav1.TypeMeta `json:",inline"`
}
