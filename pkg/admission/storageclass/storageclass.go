// Package storageclass refuses VirtualDisks and VirtualImages that name a storage class
// outside the allowed list of the platform configuration.
package storageclass

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/admission"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/config"
)

// PluginName is the name of the plugin in the admission chain.
const PluginName = "StorageClassAllowed"

// Plugin checks storage class names against the configuration.
type Plugin struct {
	*admission.Handler
	disks, images config.StorageClassSettings
}

var _ admission.ValidationInterface = &Plugin{}

// New returns the plugin for the given settings.
func New(cfg *config.Config) *Plugin {
	return &Plugin{
		Handler: admission.NewHandler(admission.Create, admission.Update),
		disks:   cfg.VirtualDisks,
		images:  cfg.VirtualImages,
	}
}

var classPath = field.NewPath("spec", "persistentVolumeClaim", "storageClassName")

// Validate implements admission.ValidationInterface.
func (p *Plugin) Validate(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetSubresource() != "" {
		return nil
	}
	var name, oldName *string
	var settings config.StorageClassSettings
	var kind string
	switch obj := a.GetObject().(type) {
	case *virtualization.VirtualDisk:
		name, settings, kind = obj.Spec.PersistentVolumeClaim.StorageClassName, p.disks, "VirtualDisk"
		if old, ok := a.GetOldObject().(*virtualization.VirtualDisk); ok {
			oldName = old.Spec.PersistentVolumeClaim.StorageClassName
		}
	case *virtualization.VirtualImage:
		name, settings, kind = obj.Spec.PersistentVolumeClaim.StorageClassName, p.images, "VirtualImage"
		if old, ok := a.GetOldObject().(*virtualization.VirtualImage); ok {
			oldName = old.Spec.PersistentVolumeClaim.StorageClassName
		}
	default:
		return nil
	}
	if name == nil || (oldName != nil && *oldName == *name) || settings.Allows(*name) {
		return nil
	}
	err := field.NotSupported(classPath, *name, settings.AllowedStorageClassNames)
	err.Detail = fmt.Sprintf("storage class %q is not allowed for %ss by the platform configuration; allowed: %s",
		*name, kind, strings.Join(settings.AllowedStorageClassNames, ", "))
	return apierrors.NewInvalid(virtualization.Kind(kind), a.GetName(), field.ErrorList{err})
}
