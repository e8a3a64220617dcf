// Package disk reconciles VirtualDisks: a PVC per disk, filled by importer Pods from HTTP,
// a registry, an upload (through DVCR) or an image, resized when the spec grows, and
// guarded while VirtualMachines use it.
package disk

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	coreinformers "k8s.io/client-go/informers/core/v1"
	storageinformers "k8s.io/client-go/informers/storage/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
	versioned "github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
	virtinformers "github.com/virtplane/virtplane/pkg/generated/informers/externalversions/virtualization/v1alpha2"
	virtlisters "github.com/virtplane/virtplane/pkg/generated/listers/virtualization/v1alpha2"
)

// Kind of the owner in labels and references.
const Kind = "VirtualDisk"

// Informers are the caches the controller reads.
type Informers struct {
	VirtualDisks         virtinformers.VirtualDiskInformer
	VirtualImages        virtinformers.VirtualImageInformer
	ClusterVirtualImages virtinformers.ClusterVirtualImageInformer
	// VirtualMachines must carry provisioning.BlockDeviceIndex.
	VirtualMachines virtinformers.VirtualMachineInformer
	// Pods and PVCs should be filtered to provisioning.ManagedByLabel.
	Pods           coreinformers.PodInformer
	PVCs           coreinformers.PersistentVolumeClaimInformer
	Secrets        coreinformers.SecretInformer
	StorageClasses storageinformers.StorageClassInformer
}

// Controller reconciles disks.
type Controller struct {
	virt     versioned.Interface
	kube     kubernetes.Interface
	settings provisioning.Settings
	recorder record.EventRecorder

	vdLister  virtlisters.VirtualDiskLister
	viLister  virtlisters.VirtualImageLister
	cviLister virtlisters.ClusterVirtualImageLister
	vmIndexer cache.Indexer
	pvcLister corelisters.PersistentVolumeClaimLister
	secLister corelisters.SecretLister
	scLister  storagelisters.StorageClassLister
	synced    []cache.InformerSynced

	queue   workqueue.TypedRateLimitingInterface[string]
	poller  *provisioning.Poller
	exp     *provisioning.Expectations
	retries *provisioning.Retries
	pods    provisioning.Pods
}

// New wires the controller to its informers; call it before the informers start.
func New(virt versioned.Interface, kube kubernetes.Interface, inf Informers, settings provisioning.Settings, recorder record.EventRecorder) (*Controller, error) {
	if err := settings.Defaults(); err != nil {
		return nil, err
	}
	c := &Controller{
		virt: virt, kube: kube, settings: settings, recorder: recorder,
		vdLister:  inf.VirtualDisks.Lister(),
		viLister:  inf.VirtualImages.Lister(),
		cviLister: inf.ClusterVirtualImages.Lister(),
		vmIndexer: inf.VirtualMachines.Informer().GetIndexer(),
		pvcLister: inf.PVCs.Lister(),
		secLister: inf.Secrets.Lister(),
		scLister:  inf.StorageClasses.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "disk"}),
		exp:     provisioning.NewExpectations(5 * time.Minute),
		retries: provisioning.NewRetries(),
	}
	c.poller = provisioning.NewPoller(time.Second, c.queue.Add)
	c.pods = provisioning.Pods{Kube: kube, Lister: inf.Pods.Lister(), Exp: c.exp, Poller: c.poller}
	c.synced = []cache.InformerSynced{
		inf.VirtualDisks.Informer().HasSynced, inf.VirtualImages.Informer().HasSynced,
		inf.ClusterVirtualImages.Informer().HasSynced, inf.VirtualMachines.Informer().HasSynced,
		inf.Pods.Informer().HasSynced, inf.PVCs.Informer().HasSynced,
		inf.Secrets.Informer().HasSynced, inf.StorageClasses.Informer().HasSynced,
	}
	add, update, del := provisioning.PodEvents(c.exp, c.poller, func(p *corev1.Pod) string { return ownerKey(p.Labels, p.Annotations) }, c.queue.Add)
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{inf.VirtualDisks.Informer(), provisioning.EnqueueHandler(func(obj any) {
			if vd, ok := obj.(*virtv1.VirtualDisk); ok {
				c.queue.Add(vd.Namespace + "/" + vd.Name)
			}
		})},
		{inf.VirtualImages.Informer(), provisioning.EnqueueHandler(func(obj any) {
			if vi, ok := obj.(*virtv1.VirtualImage); ok {
				c.enqueueDependents(virtv1.VirtualDiskObjectRefKindVirtualImage, vi.Namespace, vi.Name)
			}
		})},
		{inf.ClusterVirtualImages.Informer(), provisioning.EnqueueHandler(func(obj any) {
			if cvi, ok := obj.(*virtv1.ClusterVirtualImage); ok {
				c.enqueueDependents(virtv1.VirtualDiskObjectRefKindClusterVirtualImage, "", cvi.Name)
			}
		})},
		{inf.VirtualMachines.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueueVMDisks,
			UpdateFunc: func(o, n any) { c.enqueueVMDisks(o); c.enqueueVMDisks(n) },
			DeleteFunc: c.enqueueVMDisks,
		}},
		{inf.Pods.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: add, UpdateFunc: func(_, n any) { update(n) }, DeleteFunc: del}},
		{inf.PVCs.Informer(), provisioning.EnqueueHandler(func(obj any) {
			if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok {
				c.exp.ObservedCreate(provisioning.ObjKey("pvc", pvc.Namespace, pvc.Name))
				if k := ownerKey(pvc.Labels, pvc.Annotations); k != "" {
					c.queue.Add(k)
				}
			}
		})},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("add disk event handler: %w", err)
		}
	}
	return c, nil
}

// Poller exposes the progress poller (tests point its URL at an httptest server).
func (c *Controller) Poller() *provisioning.Poller { return c.poller }

// Queue exposes the work queue.
func (c *Controller) Queue() workqueue.TypedRateLimitingInterface[string] { return c.queue }

// Run waits for the caches, then works until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return provisioning.Run(ctx, "disk", c.queue, c.synced, c.poller, workers, c.Sync)
}

// enqueueDependents enqueues disks waiting for (or made from) an image.
func (c *Controller) enqueueDependents(kind virtv1.VirtualDiskObjectRefKind, namespace, name string) {
	vds, err := c.vdLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, vd := range vds {
		ds := vd.Spec.DataSource
		if ds == nil || ds.ObjectRef == nil || ds.ObjectRef.Kind != kind || ds.ObjectRef.Name != name {
			continue
		}
		if namespace == "" || vd.Namespace == namespace {
			c.queue.Add(vd.Namespace + "/" + vd.Name)
		}
	}
}

func (c *Controller) enqueueVMDisks(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	vm, ok := obj.(*virtv1.VirtualMachine)
	if !ok {
		return
	}
	for _, ref := range vm.Spec.BlockDeviceRefs {
		if ref.Kind == virtv1.DiskDevice {
			c.queue.Add(vm.Namespace + "/" + ref.Name)
		}
	}
}

func ownerKey(l, a map[string]string) string {
	if l[provisioning.OwnerKindLabel] != Kind {
		return ""
	}
	return a[provisioning.OwnerKeyAnnotation]
}

// get reads a disk from the cache; nil when it is gone.
func (c *Controller) get(key string) (*virtv1.VirtualDisk, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil, fmt.Errorf("disk queue key %q: %w", key, err)
	}
	vd, err := c.vdLister.VirtualDisks(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get VirtualDisk %s: %w", key, err)
	}
	return vd.DeepCopy(), nil
}
