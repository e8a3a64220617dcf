// Package virtualization holds the internal (hub) types of the virtualization.deckhouse.io
// group. The server validates and stores through these; every served version converts to them.
//
// +k8s:deepcopy-gen=package
// +groupName=virtualization.deckhouse.io
package virtualization
