// Package isodisk refuses VirtualDisks made from ISO images: an ISO is attached to a VM as a
// CD-ROM, never copied into a disk. An image counts as ISO once its status.cdrom is true.
package isodisk

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/admission"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	listers "github.com/virtplane/virtplane/pkg/generated/listers/virtualization/v1alpha2"
)

// PluginName is the name of the plugin in the admission chain.
const PluginName = "NoDiskFromISO"

// Plugin checks the image a disk is made from.
type Plugin struct {
	*admission.Handler
	images        listers.VirtualImageLister
	clusterImages listers.ClusterVirtualImageLister
}

var _ admission.ValidationInterface = &Plugin{}

// New returns the plugin; it is ready once synced reports both image informers synced.
func New(images listers.VirtualImageLister, clusterImages listers.ClusterVirtualImageLister, synced func() bool) *Plugin {
	p := &Plugin{Handler: admission.NewHandler(admission.Create, admission.Update), images: images, clusterImages: clusterImages}
	p.SetReadyFunc(synced)
	return p
}

var refPath = field.NewPath("spec", "dataSource", "objectRef")

// Validate implements admission.ValidationInterface.
func (p *Plugin) Validate(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	disk, ok := a.GetObject().(*virtualization.VirtualDisk)
	if !ok || a.GetSubresource() != "" {
		return nil
	}
	ds := disk.Spec.DataSource
	if ds == nil || ds.Type != virtualization.DataSourceTypeObjectRef || ds.ObjectRef == nil {
		return nil
	}
	if old, ok := a.GetOldObject().(*virtualization.VirtualDisk); ok && old.Spec.DataSource != nil &&
		old.Spec.DataSource.ObjectRef != nil && *old.Spec.DataSource.ObjectRef == *ds.ObjectRef {
		return nil
	}
	if !p.WaitForReady() {
		return admission.NewForbidden(a, errNotReady{})
	}
	var cdrom bool
	switch ds.ObjectRef.Kind {
	case virtualization.VirtualDiskObjectRefKindVirtualImage:
		img, err := p.images.VirtualImages(a.GetNamespace()).Get(ds.ObjectRef.Name)
		if err != nil {
			return ignoreNotFound(err)
		}
		cdrom = img.Status.CDROM
	case virtualization.VirtualDiskObjectRefKindClusterVirtualImage:
		img, err := p.clusterImages.Get(ds.ObjectRef.Name)
		if err != nil {
			return ignoreNotFound(err)
		}
		cdrom = img.Status.CDROM
	}
	if !cdrom {
		return nil
	}
	errs := field.ErrorList{field.Invalid(refPath.Child("name"), ds.ObjectRef.Name,
		"the image is an ISO (status.cdrom is true); attach it to a VM as a CD-ROM instead of making a disk from it")}
	return apierrors.NewInvalid(virtualization.Kind("VirtualDisk"), disk.Name, errs)
}

// ignoreNotFound lets a disk wait for an image that does not exist yet.
func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return apierrors.NewInternalError(err)
}

type errNotReady struct{}

func (errNotReady) Error() string { return "images are not loaded yet, retry" }
