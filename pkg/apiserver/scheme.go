package apiserver

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/virtplane/virtplane/pkg/apis/subresources"
	subresourcesinstall "github.com/virtplane/virtplane/pkg/apis/subresources/install"
	subresourcesv1alpha2 "github.com/virtplane/virtplane/pkg/apis/subresources/v1alpha2"
	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/install"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

var (
	// Scheme holds the internal and served versions of both groups.
	Scheme = runtime.NewScheme()
	// Codecs encodes and decodes the group's objects.
	Codecs = serializer.NewCodecFactory(Scheme)
)

func init() {
	install.Install(Scheme)
	subresourcesinstall.Install(Scheme)
	// The main group's virtualmachines/console, /vnc and /portforward take the upstream
	// group's option kinds, so one conversion from the query serves both groups.
	Scheme.AddKnownTypes(virtualization.SchemeGroupVersion, subresources.StreamOptions()...)
	Scheme.AddKnownTypes(v1alpha2.SchemeGroupVersion, subresourcesv1alpha2.StreamOptions()...)
	// Options, Status and other unversioned meta types, as every API server registers them.
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
	unversioned := schema.GroupVersion{Group: "", Version: "v1"}
	Scheme.AddUnversionedTypes(unversioned,
		&metav1.Status{},
		&metav1.APIVersions{},
		&metav1.APIGroupList{},
		&metav1.APIGroup{},
		&metav1.APIResourceList{},
	)
}

// ParameterCodec decodes query parameters into options.
var ParameterCodec = runtime.NewParameterCodec(Scheme)

// withoutProtobuf offers the group's objects as JSON and YAML only: the types have no protobuf
// marshalling, and a client that accepts protobuf first (the metadata client of the namespace
// controller, for one) must get JSON rather than a 500 from a failed encode.
type withoutProtobuf struct {
	runtime.NegotiatedSerializer
}

func (s withoutProtobuf) SupportedMediaTypes() []runtime.SerializerInfo {
	var out []runtime.SerializerInfo
	for _, info := range s.NegotiatedSerializer.SupportedMediaTypes() {
		if info.MediaType != runtime.ContentTypeProtobuf && info.MediaType != "application/vnd.kubernetes.protobuf;stream=watch" {
			out = append(out, info)
		}
	}
	return out
}
