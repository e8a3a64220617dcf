// Package subresources holds the internal types of subresources.virtualization.deckhouse.io,
// the group the upstream d8 CLI calls for a VM's streams (console, vnc, portforward) and
// actions (freeze, unfreeze, addvolume, removevolume, cancelevacuation). The group stores
// nothing: virtualmachines shows the metadata of the VMs of virtualization.deckhouse.io, and
// every other kind here is the options of one subresource.
//
// +k8s:deepcopy-gen=package
// +groupName=subresources.virtualization.deckhouse.io
package subresources
