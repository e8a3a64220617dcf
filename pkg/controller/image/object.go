package image

import (
	"context"
	"fmt"
	"strings"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
	"github.com/virtplane/virtplane/pkg/dvcr"
)

// Kinds as they appear in owner references, labels and events.
const (
	KindVI  = "VirtualImage"
	KindCVI = "ClusterVirtualImage"
)

// image is a VirtualImage or a ClusterVirtualImage seen through one lens: the two kinds
// provision the same way and differ in scope, storage and a few status fields, so the sync
// works on this view and converts the status back at the end.
type image struct {
	vi  *virtv1.VirtualImage
	cvi *virtv1.ClusterVirtualImage
	// status is the working copy, in the VirtualImage shape.
	status virtv1.VirtualImageStatus
	src    source
}

// source is the data source of either kind, flattened.
type source struct {
	Type           virtv1.DataSourceType
	HTTP           *virtv1.DataSourceHTTP
	Upload         *virtv1.DataSourceUpload
	Image          string
	ImageCABundle  []byte
	SecretName     string
	SecretNS       string
	RefKind        string
	RefName, RefNS string
}

func fromVI(vi *virtv1.VirtualImage) *image {
	img := &image{vi: vi, status: *vi.Status.DeepCopy()}
	ds := vi.Spec.DataSource
	img.src = source{Type: ds.Type, HTTP: ds.HTTP, Upload: ds.Upload}
	if ci := ds.ContainerImage; ci != nil {
		img.src.Image, img.src.ImageCABundle = ci.Image, ci.CABundle
		img.src.SecretName, img.src.SecretNS = ci.ImagePullSecret.Name, vi.Namespace
	}
	if ref := ds.ObjectRef; ref != nil {
		img.src.RefKind, img.src.RefName, img.src.RefNS = string(ref.Kind), ref.Name, vi.Namespace
	}
	return img
}

func fromCVI(cvi *virtv1.ClusterVirtualImage) *image {
	s := cvi.Status.DeepCopy()
	img := &image{cvi: cvi, status: virtv1.VirtualImageStatus{
		Phase: s.Phase, DownloadSpeed: s.DownloadSpeed, Size: s.Size, Format: s.Format, CDROM: s.CDROM,
		Target:   virtv1.VirtualImageStatusTarget{RegistryURL: s.Target.RegistryURL},
		Progress: s.Progress, SourceUID: s.SourceUID, Conditions: s.Conditions,
		ObservedGeneration: s.ObservedGeneration, UploadCommand: s.UploadCommand, ImageUploadURLs: s.ImageUploadURLs,
	}}
	ds := cvi.Spec.DataSource
	img.src = source{Type: ds.Type, HTTP: ds.HTTP, Upload: ds.Upload}
	if ci := ds.ContainerImage; ci != nil {
		img.src.Image, img.src.ImageCABundle = ci.Image, ci.CABundle
		img.src.SecretName, img.src.SecretNS = ci.ImagePullSecret.Name, ci.ImagePullSecret.Namespace
	}
	if ref := ds.ObjectRef; ref != nil {
		img.src.RefKind, img.src.RefName, img.src.RefNS = string(ref.Kind), ref.Name, ref.Namespace
	}
	return img
}

func (i *image) meta() *metav1.ObjectMeta {
	if i.vi != nil {
		return &i.vi.ObjectMeta
	}
	return &i.cvi.ObjectMeta
}

func (i *image) object() runtime.Object {
	if i.vi != nil {
		return i.vi
	}
	return i.cvi
}

func (i *image) kind() string {
	if i.vi != nil {
		return KindVI
	}
	return KindCVI
}

// prefix is the DVCR kind and the prefix of Pod names.
func (i *image) prefix() string {
	if i.vi != nil {
		return dvcr.KindVI
	}
	return dvcr.KindCVI
}

func (i *image) blockDeviceKind() virtv1.BlockDeviceKind {
	if i.vi != nil {
		return virtv1.ImageDevice
	}
	return virtv1.ClusterImageDevice
}

func (i *image) name() string      { return i.meta().Name }
func (i *image) namespace() string { return i.meta().Namespace }
func (i *image) uid() types.UID    { return i.meta().UID }
func (i *image) generation() int64 { return i.meta().Generation }
func (i *image) key() string       { return queueKey(i.prefix(), i.namespace(), i.name()) }
func (i *image) pvcStorage() bool {
	return i.vi != nil && provisioning.PVCStored(i.vi.Spec.Storage)
}
func (i *image) repository() string { return dvcr.Repository(i.prefix(), i.namespace(), i.name()) }
func (i *image) pvcName() string {
	return provisioning.PVCName(provisioning.PrefixVI, i.name(), i.uid())
}
func (i *image) subject() string { return fmt.Sprintf("%s/%s", i.prefix(), i.key()) }
func (i *image) podName(step string) string {
	return provisioning.PodName(i.prefix(), i.name(), i.uid(), i.generation(), step)
}

// ownerRef is set only for VirtualImages: a cluster-scoped owner cannot own namespaced
// objects, so Pods of ClusterVirtualImages are found by label and deleted by the cleanup
// finalizer instead.
func (i *image) ownerRef() *metav1.OwnerReference {
	if i.vi == nil {
		return nil
	}
	return provisioning.ControllerRef(virtv1.SchemeGroupVersion.String(), KindVI, i.name(), i.uid())
}

// queueKey is "vi/<namespace>/<name>" or "cvi/<name>": one queue serves both kinds.
func queueKey(prefix, namespace, name string) string {
	if namespace == "" {
		return prefix + "/" + name
	}
	return prefix + "/" + namespace + "/" + name
}

func splitKey(key string) (prefix, namespace, name string, err error) {
	parts := strings.Split(key, "/")
	switch {
	case len(parts) == 2 && parts[0] == dvcr.KindCVI:
		return parts[0], "", parts[1], nil
	case len(parts) == 3 && parts[0] == dvcr.KindVI:
		return parts[0], parts[1], parts[2], nil
	}
	return "", "", "", fmt.Errorf("unexpected image queue key %q", key)
}

// get reads the object from the cache; nil when it is gone.
func (c *Controller) get(key string) (*image, error) {
	prefix, ns, name, err := splitKey(key)
	if err != nil {
		return nil, err
	}
	if prefix == dvcr.KindVI {
		vi, err := c.viLister.VirtualImages(ns).Get(name)
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("get VirtualImage %s/%s: %w", ns, name, err)
		}
		return fromVI(vi.DeepCopy()), nil
	}
	cvi, err := c.cviLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get ClusterVirtualImage %s: %w", name, err)
	}
	return fromCVI(cvi.DeepCopy()), nil
}

// setFinalizer adds or removes a finalizer with an Update of the object's metadata.
func (c *Controller) setFinalizer(ctx context.Context, img *image, f string, present bool) error {
	list, changed := provisioning.WithFinalizer(img.meta().Finalizers, f, present)
	if !changed {
		return nil
	}
	img.meta().Finalizers = list
	if img.vi != nil {
		vi := img.vi.DeepCopy()
		vi.Finalizers = list
		out, err := c.virt.VirtualizationV1alpha2().VirtualImages(vi.Namespace).Update(ctx, vi, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("update finalizers of VirtualImage %s/%s: %w", vi.Namespace, vi.Name, err)
		}
		img.vi = out
		return nil
	}
	cvi := img.cvi.DeepCopy()
	cvi.Finalizers = list
	out, err := c.virt.VirtualizationV1alpha2().ClusterVirtualImages().Update(ctx, cvi, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update finalizers of ClusterVirtualImage %s: %w", cvi.Name, err)
	}
	img.cvi = out
	return nil
}

// writeStatus stores the working status through /status, and only when it changed.
func (c *Controller) writeStatus(ctx context.Context, img *image, users []*virtv1.VirtualMachine) error {
	if img.vi != nil {
		if apiequality.Semantic.DeepEqual(img.vi.Status, img.status) {
			return nil
		}
		vi := img.vi.DeepCopy()
		vi.Status = img.status
		if _, err := c.virt.VirtualizationV1alpha2().VirtualImages(vi.Namespace).UpdateStatus(ctx, vi, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update status of VirtualImage %s/%s: %w", vi.Namespace, vi.Name, err)
		}
		return nil
	}
	s := img.status
	st := virtv1.ClusterVirtualImageStatus{
		Phase: s.Phase, DownloadSpeed: s.DownloadSpeed, Size: s.Size, Format: s.Format, CDROM: s.CDROM,
		Target:   virtv1.ClusterVirtualImageStatusTarget{RegistryURL: s.Target.RegistryURL},
		Progress: s.Progress, SourceUID: s.SourceUID, Conditions: s.Conditions,
		ObservedGeneration: s.ObservedGeneration, UploadCommand: s.UploadCommand, ImageUploadURLs: s.ImageUploadURLs,
		UsedInNamespaces: usedInNamespaces(users),
	}
	if apiequality.Semantic.DeepEqual(img.cvi.Status, st) {
		return nil
	}
	cvi := img.cvi.DeepCopy()
	cvi.Status = st
	if _, err := c.virt.VirtualizationV1alpha2().ClusterVirtualImages().UpdateStatus(ctx, cvi, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update status of ClusterVirtualImage %s: %w", cvi.Name, err)
	}
	return nil
}

func usedInNamespaces(users []*virtv1.VirtualMachine) []string {
	var out []string
	for _, vm := range users {
		if len(out) == 0 || out[len(out)-1] != vm.Namespace {
			out = append(out, vm.Namespace)
		}
	}
	return out
}
