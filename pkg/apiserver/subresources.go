package apiserver

import (
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"

	"github.com/virtplane/virtplane/pkg/apis/subresources"
	subresourcesv1alpha2 "github.com/virtplane/virtplane/pkg/apis/subresources/v1alpha2"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualmachine"
	"github.com/virtplane/virtplane/pkg/subresources/vmstream"
)

// subresourcesGroup is subresources.virtualization.deckhouse.io/v1alpha2, the group the
// upstream d8 CLI calls, so that it works unchanged: virtualmachines (the metadata of the VMs
// of the main group), their console, vnc and portforward (the same streams and sessions as
// the main group's), and the actions freeze, unfreeze, addvolume, removevolume and
// cancelevacuation. vms is the main group's VM storage.
func subresourcesGroup(vms rest.Getter, streams *vmstream.Proxy) *genericapiserver.APIGroupInfo {
	group := genericapiserver.NewDefaultAPIGroupInfo(subresources.GroupName, Scheme, ParameterCodec, Codecs)
	group.NegotiatedSerializer = withoutProtobuf{Codecs}
	plural := virtualmachine.Names.Plural
	storage := map[string]rest.Storage{
		plural:                  virtualmachine.NewMetadataREST(vms),
		plural + "/console":     virtualmachine.NewConsoleREST(vms, streams),
		plural + "/vnc":         virtualmachine.NewVNCREST(vms, streams),
		plural + "/portforward": virtualmachine.NewPortForwardREST(vms, streams),
	}
	for action, r := range virtualmachine.NewActionsREST(vms) {
		storage[plural+"/"+action] = r
	}
	group.VersionedResourcesStorageMap[subresourcesv1alpha2.SchemeGroupVersion.Version] = storage
	return &group
}
