// Package vmclass reconciles VirtualMachineClasses: it creates the platform's default
// classes, reports which nodes can run each class's CPU (discovering the features common to
// a set of nodes for type Discovery), keeps a class in use by VMs Terminating until they are
// gone, and gives the VirtualMachine controller the class's CPU, placement and readiness
// (DomainCPU, Placement, Ready).
package vmclass

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
	versioned "github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
	virtinformers "github.com/virtplane/virtplane/pkg/generated/informers/externalversions/virtualization/v1alpha2"
	virtlisters "github.com/virtplane/virtplane/pkg/generated/listers/virtualization/v1alpha2"
)

// ClassIndex is the name of the VM informer index by spec.virtualMachineClassName.
const ClassIndex = "virtualMachineClass"

// Finalizer stays on every class until it is deleted and no VirtualMachine names it, so a
// class in use stays Terminating instead of vanishing under its VMs.
const Finalizer = "virtualization.deckhouse.io/vmclass-protection"

// Informers are the caches the controller reads.
type Informers struct {
	VirtualMachineClasses virtinformers.VirtualMachineClassInformer
	// VirtualMachines gets ClassIndex from New.
	VirtualMachines virtinformers.VirtualMachineInformer
	Nodes           coreinformers.NodeInformer
}

// Controller reconciles VirtualMachineClasses.
type Controller struct {
	virt     versioned.Interface
	kube     kubernetes.Interface
	recorder record.EventRecorder

	classLister virtlisters.VirtualMachineClassLister
	vmIndexer   cache.Indexer
	nodeLister  corelisters.NodeLister
	synced      []cache.InformerSynced

	queue workqueue.TypedRateLimitingInterface[string]
}

// New wires the controller to its informers; call it before the informers start. kube is
// kept for symmetry with the other controllers: nodes are only read, from the informer.
func New(virt versioned.Interface, kube kubernetes.Interface, inf Informers, recorder record.EventRecorder) (*Controller, error) {
	if err := AddClassIndex(inf.VirtualMachines.Informer()); err != nil {
		return nil, err
	}
	c := &Controller{
		virt: virt, kube: kube, recorder: recorder,
		classLister: inf.VirtualMachineClasses.Lister(),
		vmIndexer:   inf.VirtualMachines.Informer().GetIndexer(),
		nodeLister:  inf.Nodes.Lister(),
		synced: []cache.InformerSynced{
			inf.VirtualMachineClasses.Informer().HasSynced,
			inf.VirtualMachines.Informer().HasSynced,
			inf.Nodes.Informer().HasSynced,
		},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "vmclass"}),
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{inf.VirtualMachineClasses.Informer(), provisioning.EnqueueHandler(func(obj any) {
			if class, ok := obj.(*v1alpha2.VirtualMachineClass); ok {
				c.queue.Add(class.Name)
			}
		})},
		{inf.VirtualMachines.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: c.enqueueVMClass,
			UpdateFunc: func(o, n any) {
				if className(o) != className(n) {
					c.enqueueVMClass(o)
					c.enqueueVMClass(n)
				}
			},
			DeleteFunc: c.enqueueVMClass,
		}},
		{inf.Nodes.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: func(any) { c.enqueueAll() },
			UpdateFunc: func(o, n any) {
				if nodeChanged(o, n) {
					c.enqueueAll()
				}
			},
			DeleteFunc: func(any) { c.enqueueAll() },
		}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("add vmclass event handler: %w", err)
		}
	}
	return c, nil
}

// AddClassIndex installs ClassIndex on a VM informer that has not started; it is a no-op
// when the index is there already (another controller may share it).
func AddClassIndex(inf cache.SharedIndexInformer) error {
	if _, ok := inf.GetIndexer().GetIndexers()[ClassIndex]; ok {
		return nil
	}
	err := inf.AddIndexers(cache.Indexers{ClassIndex: func(obj any) ([]string, error) {
		if vm, ok := obj.(*v1alpha2.VirtualMachine); ok && vm.Spec.VirtualMachineClassName != "" {
			return []string{vm.Spec.VirtualMachineClassName}, nil
		}
		return nil, nil
	}})
	if err != nil {
		return fmt.Errorf("add VM class index: %w", err)
	}
	return nil
}

// Queue exposes the work queue.
func (c *Controller) Queue() workqueue.TypedRateLimitingInterface[string] { return c.queue }

// Run waits for the caches, creates the default classes that are missing (retrying in the
// background while the API is unavailable), then works until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer c.queue.ShutDown()
	logger := klog.FromContext(ctx).WithValues("controller", "vmclass")
	ctx = klog.NewContext(ctx, logger)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("vmclass controller: caches did not sync")
	}
	go func() {
		_ = wait.PollUntilContextCancel(ctx, 5*time.Second, true, func(ctx context.Context) (bool, error) {
			if err := c.ensureDefaults(ctx); err != nil {
				logger.Error(err, "Creating the default VirtualMachineClasses; will retry")
				return false, nil
			}
			return true, nil
		})
	}()
	logger.Info("Starting workers", "workers", workers)
	provisioning.RunWorkers(ctx, c.queue, workers, c.Sync)
	return nil
}

func className(obj any) string {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if vm, ok := obj.(*v1alpha2.VirtualMachine); ok {
		return vm.Spec.VirtualMachineClassName
	}
	return ""
}

func (c *Controller) enqueueVMClass(obj any) {
	if name := className(obj); name != "" {
		c.queue.Add(name)
	}
}

func (c *Controller) enqueueAll() {
	classes, err := c.classLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, class := range classes {
		c.queue.Add(class.Name)
	}
}

// nodeChanged reports a change that can move a node in or out of a class: its labels
// (CPU, KubeVirt, selectors), taints or allocatable resources. Heartbeats are not.
func nodeChanged(o, n any) bool {
	a, ok1 := o.(*corev1.Node)
	b, ok2 := n.(*corev1.Node)
	if !ok1 || !ok2 {
		return true
	}
	return !apiequality.Semantic.DeepEqual(a.Labels, b.Labels) ||
		!apiequality.Semantic.DeepEqual(a.Spec.Taints, b.Spec.Taints) ||
		!apiequality.Semantic.DeepEqual(a.Status.Allocatable, b.Status.Allocatable)
}
