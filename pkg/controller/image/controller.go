// Package image reconciles VirtualImages and ClusterVirtualImages: it runs importer Pods
// that bring the data into DVCR (and, for PVC-stored VirtualImages, onto a PVC), reports
// progress, and guards images in use by VirtualMachines.
package image

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
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
	"github.com/virtplane/virtplane/pkg/dvcr"
	versioned "github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
	virtinformers "github.com/virtplane/virtplane/pkg/generated/informers/externalversions/virtualization/v1alpha2"
	virtlisters "github.com/virtplane/virtplane/pkg/generated/listers/virtualization/v1alpha2"
)

// Informers are the caches the controller reads.
type Informers struct {
	VirtualImages        virtinformers.VirtualImageInformer
	ClusterVirtualImages virtinformers.ClusterVirtualImageInformer
	VirtualDisks         virtinformers.VirtualDiskInformer
	// VirtualMachines must carry provisioning.BlockDeviceIndex.
	VirtualMachines virtinformers.VirtualMachineInformer
	// Pods should be filtered to provisioning.ManagedByLabel.
	Pods           coreinformers.PodInformer
	PVCs           coreinformers.PersistentVolumeClaimInformer
	Secrets        coreinformers.SecretInformer
	StorageClasses storageinformers.StorageClassInformer
}

// Controller reconciles images.
type Controller struct {
	virt     versioned.Interface
	kube     kubernetes.Interface
	settings provisioning.Settings
	recorder record.EventRecorder

	viLister  virtlisters.VirtualImageLister
	cviLister virtlisters.ClusterVirtualImageLister
	vdLister  virtlisters.VirtualDiskLister
	vmIndexer cache.Indexer
	pods      provisioning.Pods
	pvcLister corelisters.PersistentVolumeClaimLister
	secLister corelisters.SecretLister
	scLister  storagelisters.StorageClassLister
	synced    []cache.InformerSynced

	queue   workqueue.TypedRateLimitingInterface[string]
	poller  *provisioning.Poller
	exp     *provisioning.Expectations
	retries *provisioning.Retries
}

// New wires the controller to its informers; call it before the informers start.
func New(virt versioned.Interface, kube kubernetes.Interface, inf Informers, settings provisioning.Settings, recorder record.EventRecorder) (*Controller, error) {
	if err := settings.Defaults(); err != nil {
		return nil, err
	}
	c := &Controller{
		virt: virt, kube: kube, settings: settings, recorder: recorder,
		viLister:  inf.VirtualImages.Lister(),
		cviLister: inf.ClusterVirtualImages.Lister(),
		vdLister:  inf.VirtualDisks.Lister(),
		vmIndexer: inf.VirtualMachines.Informer().GetIndexer(),
		pvcLister: inf.PVCs.Lister(),
		secLister: inf.Secrets.Lister(),
		scLister:  inf.StorageClasses.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "image"}),
		exp:     provisioning.NewExpectations(5 * time.Minute),
		retries: provisioning.NewRetries(),
	}
	c.poller = provisioning.NewPoller(time.Second, c.queue.Add)
	c.pods = provisioning.Pods{Kube: kube, Lister: inf.Pods.Lister(), Exp: c.exp, Poller: c.poller}
	podAdd, podUpdate, podDelete := provisioning.PodEvents(c.exp, c.poller, func(p *corev1.Pod) string {
		k, _ := ownerKey(p)
		return k
	}, c.queue.Add)
	c.synced = []cache.InformerSynced{
		inf.VirtualImages.Informer().HasSynced, inf.ClusterVirtualImages.Informer().HasSynced,
		inf.VirtualDisks.Informer().HasSynced, inf.VirtualMachines.Informer().HasSynced,
		inf.Pods.Informer().HasSynced, inf.PVCs.Informer().HasSynced,
		inf.Secrets.Informer().HasSynced, inf.StorageClasses.Informer().HasSynced,
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{inf.VirtualImages.Informer(), c.objectHandler()},
		{inf.ClusterVirtualImages.Informer(), c.objectHandler()},
		{inf.VirtualDisks.Informer(), c.objectHandler()},
		{inf.VirtualMachines.Informer(), c.vmHandler()},
		{inf.Pods.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: podAdd, UpdateFunc: func(_, n any) { podUpdate(n) }, DeleteFunc: podDelete}},
		{inf.PVCs.Informer(), c.pvcHandler()},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("add image event handler: %w", err)
		}
	}
	return c, nil
}

// Poller exposes the progress poller (tests point its URL at an httptest server).
func (c *Controller) Poller() *provisioning.Poller { return c.poller }

// Queue exposes the work queue for metrics and tests.
func (c *Controller) Queue() workqueue.TypedRateLimitingInterface[string] { return c.queue }

// Run waits for the caches, then works until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return provisioning.Run(ctx, "image", c.queue, c.synced, c.poller, workers, c.Sync)
}

// objectHandler enqueues an image, and every image made from the changed object: an image
// waiting for its source image or disk to become Ready learns about it here.
func (c *Controller) objectHandler() cache.ResourceEventHandler {
	return provisioning.EnqueueHandler(func(obj any) {
		switch o := obj.(type) {
		case *virtv1.VirtualImage:
			c.queue.Add(queueKey(dvcr.KindVI, o.Namespace, o.Name))
			c.enqueueDependents(KindVI, o.Namespace, o.Name)
		case *virtv1.ClusterVirtualImage:
			c.queue.Add(queueKey(dvcr.KindCVI, "", o.Name))
			c.enqueueDependents(KindCVI, "", o.Name)
		case *virtv1.VirtualDisk:
			c.enqueueDependents("VirtualDisk", o.Namespace, o.Name)
		}
	})
}

// enqueueDependents enqueues the images whose ObjectRef names the object.
func (c *Controller) enqueueDependents(kind, namespace, name string) {
	vis, _ := c.viLister.List(labels.Everything())
	for _, vi := range vis {
		ref := vi.Spec.DataSource.ObjectRef
		if ref != nil && string(ref.Kind) == kind && ref.Name == name && (kind == KindCVI || vi.Namespace == namespace) {
			c.queue.Add(queueKey(dvcr.KindVI, vi.Namespace, vi.Name))
		}
	}
	cvis, _ := c.cviLister.List(labels.Everything())
	for _, cvi := range cvis {
		ref := cvi.Spec.DataSource.ObjectRef
		if ref != nil && string(ref.Kind) == kind && ref.Name == name && (kind == KindCVI || ref.Namespace == namespace) {
			c.queue.Add(queueKey(dvcr.KindCVI, "", cvi.Name))
		}
	}
}

// vmHandler enqueues the images a VM references, before and after a change, so InUse and
// the protection finalizer follow the VM.
func (c *Controller) vmHandler() cache.ResourceEventHandler {
	enqueue := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		vm, ok := obj.(*virtv1.VirtualMachine)
		if !ok {
			return
		}
		for _, ref := range vm.Spec.BlockDeviceRefs {
			switch ref.Kind {
			case virtv1.ImageDevice:
				c.queue.Add(queueKey(dvcr.KindVI, vm.Namespace, ref.Name))
			case virtv1.ClusterImageDevice:
				c.queue.Add(queueKey(dvcr.KindCVI, "", ref.Name))
			case virtv1.DiskDevice:
				// An image made from this disk waits until the VM stops or lets go of it.
				c.enqueueDependents("VirtualDisk", vm.Namespace, ref.Name)
			}
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(o, n any) { enqueue(o); enqueue(n) },
		DeleteFunc: enqueue,
	}
}

// ownerKey returns the queue key of the image that owns a Pod or PVC we made.
func ownerKey(obj any) (string, bool) {
	m, ok := obj.(interface {
		GetLabels() map[string]string
		GetAnnotations() map[string]string
	})
	if !ok {
		return "", false
	}
	var prefix string
	switch m.GetLabels()[provisioning.OwnerKindLabel] {
	case KindVI:
		prefix = dvcr.KindVI
	case KindCVI:
		prefix = dvcr.KindCVI
	default:
		return "", false
	}
	k := m.GetAnnotations()[provisioning.OwnerKeyAnnotation]
	if k == "" {
		return "", false
	}
	return prefix + "/" + k, true
}

func (c *Controller) pvcHandler() cache.ResourceEventHandler {
	enqueue := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok {
			c.exp.ObservedCreate(provisioning.ObjKey("pvc", pvc.Namespace, pvc.Name))
		}
		if k, ok := ownerKey(obj); ok {
			c.queue.Add(k)
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, n any) { enqueue(n) },
		DeleteFunc: enqueue,
	}
}
