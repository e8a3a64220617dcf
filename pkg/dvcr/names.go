// Package dvcr is the platform's image registry (DVCR): its server, its access tokens, the
// layout of the images the importer writes, and garbage collection.
package dvcr

import "path"

// Repository names, as upstream: cvi/<name>, vi/<namespace>/<name>, vd/<namespace>/<name>.
// The tag is the object's UID, so a re-created object never reads its predecessor's data.
const (
	KindCVI = "cvi"
	KindVI  = "vi"
	KindVD  = "vd"
)

// Repository returns the repository of an object's image; namespace is empty for cvi.
func Repository(kind, namespace, name string) string {
	if kind == KindCVI {
		return path.Join(kind, name)
	}
	return path.Join(kind, namespace, name)
}

// ImageRef returns host/repository:uid.
func ImageRef(host, kind, namespace, name, uid string) string {
	return host + "/" + Repository(kind, namespace, name) + ":" + uid
}

// Image layout. A DVCR image has one layer whose blob is the disk file itself (media type
// DiskLayerMediaType, not a tar): a tar header needs the size before the data, which a
// streamed, decompressed source does not know, and a plain blob can be read with ranges.
// Images users build for ContainerImage sources are ordinary tar layers with the disk under
// DiskDir/ (FROM scratch, COPY x /disk/x); the importer reads both.
// The manifest carries the facts the controller and the fill step need as annotations.
const (
	DiskDir            = "disk"
	DiskLayerMediaType = "application/vnd.virtplane.disk.layer.v1"
	// AnnotationFormat: qcow2, raw, vmdk, vdi, iso.
	AnnotationFormat = "virtualization.deckhouse.io/format"
	// AnnotationUnpackedSize: virtual size of the disk in bytes (decimal).
	AnnotationUnpackedSize = "virtualization.deckhouse.io/unpacked-size"
	// AnnotationStoredSize: size of the disk file in the layer in bytes (decimal).
	AnnotationStoredSize = "virtualization.deckhouse.io/stored-size"
)
