// Package vmop carries out VirtualMachineOperations. Start, Stop and Restart go through the
// power-state contract with the VM controller (pkg/controller/powerstate): the operation
// records the intent on the VM and deletes its VMI, the VM controller creates and deletes
// VMIs, and the operation completes when the VM's phase shows the result. Evict and Migrate
// create a KubeVirt VirtualMachineInstanceMigration and follow it (migration.go). Restore
// and Clone stay Pending, saying why, until those features exist.
package vmop

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	kvv1 "kubevirt.io/api/core/v1"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/powerstate"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
	versioned "github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
	virtinformers "github.com/virtplane/virtplane/pkg/generated/informers/externalversions/virtualization/v1alpha2"
	virtlisters "github.com/virtplane/virtplane/pkg/generated/listers/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/kubevirt"
)

// Informers are the caches the controller reads.
type Informers struct {
	VirtualMachineOperations virtinformers.VirtualMachineOperationInformer
	VirtualMachines          virtinformers.VirtualMachineInformer
	VMIs                     kubevirt.VMIInformer
	// Migrations is optional: without it the controller watches migrations itself and runs
	// that informer in Run.
	Migrations kubevirt.MigrationInformer
}

// Settings tune the controller; the zero value is the default.
type Settings struct {
	// Timeout fails an operation that has not finished this long after it started acting on
	// its VM (DefaultTimeout when zero).
	Timeout time.Duration
	// Now is the clock (tests replace it).
	Now func() time.Time
}

// Controller reconciles VirtualMachineOperations.
type Controller struct {
	virt     versioned.Interface
	kv       kubevirt.Interface
	recorder record.EventRecorder
	settings Settings

	vmopLister  virtlisters.VirtualMachineOperationLister
	vmopIndexer cache.Indexer
	vmLister    virtlisters.VirtualMachineLister
	vmiIndexer  cache.Indexer
	// migrationIndexer holds the VirtualMachineInstanceMigrations, indexed by VMI (vmiIndex).
	migrationIndexer cache.Indexer
	// ownMigrations is the migration informer New made, which Run runs; nil when given one.
	ownMigrations cache.SharedIndexInformer
	synced        []cache.InformerSynced

	queue workqueue.TypedRateLimitingInterface[string]
}

// vmIndex indexes operations by "namespace/vmName", for the one-active-operation rule and to
// find the operations a VM or VMI event concerns.
const vmIndex = "vmop.virtualMachine"

func indexByVM(obj any) ([]string, error) {
	op, ok := obj.(*virtv1.VirtualMachineOperation)
	if !ok {
		return nil, nil
	}
	return []string{op.Namespace + "/" + op.Spec.VirtualMachine}, nil
}

// vmiIndex indexes migrations by "namespace/vmiName", to find another migration of a VM.
const vmiIndex = "vmim.vmi"

func indexByVMI(obj any) ([]string, error) {
	m, ok := obj.(*kvv1.VirtualMachineInstanceMigration)
	if !ok {
		return nil, nil
	}
	return []string{m.Namespace + "/" + m.Spec.VMIName}, nil
}

// addIndex adds an index unless the informer has it (informers may be shared).
func addIndex(inf cache.SharedIndexInformer, name string, f cache.IndexFunc) error {
	if _, ok := inf.GetIndexer().GetIndexers()[name]; ok {
		return nil
	}
	return inf.AddIndexers(cache.Indexers{name: f})
}

// New wires the controller to its informers; call it before the informers start.
func New(virt versioned.Interface, kv kubevirt.Interface, inf Informers, settings Settings, recorder record.EventRecorder) (*Controller, error) {
	if settings.Timeout == 0 {
		settings.Timeout = DefaultTimeout
	}
	if settings.Now == nil {
		settings.Now = time.Now
	}
	opInf := inf.VirtualMachineOperations.Informer()
	if err := addIndex(opInf, vmIndex, indexByVM); err != nil {
		return nil, fmt.Errorf("index VirtualMachineOperations by VM: %w", err)
	}
	var own cache.SharedIndexInformer
	if inf.Migrations.Informer == nil {
		inf.Migrations = kubevirt.NewMigrationInformer(kv, "", 0, nil)
		own = inf.Migrations.Informer
	}
	migInf := inf.Migrations.Informer
	if err := addIndex(migInf, vmiIndex, indexByVMI); err != nil {
		return nil, fmt.Errorf("index VirtualMachineInstanceMigrations by VMI: %w", err)
	}
	c := &Controller{
		virt: virt, kv: kv, recorder: recorder, settings: settings,
		vmopLister:       inf.VirtualMachineOperations.Lister(),
		vmopIndexer:      opInf.GetIndexer(),
		vmLister:         inf.VirtualMachines.Lister(),
		vmiIndexer:       inf.VMIs.Informer.GetIndexer(),
		migrationIndexer: migInf.GetIndexer(),
		ownMigrations:    own,
		synced: []cache.InformerSynced{opInf.HasSynced, inf.VirtualMachines.Informer().HasSynced, inf.VMIs.Informer.HasSynced,
			migInf.HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "vmop"}),
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{opInf, provisioning.EnqueueHandler(func(obj any) {
			if op, ok := obj.(*virtv1.VirtualMachineOperation); ok {
				c.queue.Add(op.Namespace + "/" + op.Name)
			}
		})},
		{inf.VirtualMachines.Informer(), provisioning.EnqueueHandler(func(obj any) {
			if vm, ok := obj.(*virtv1.VirtualMachine); ok {
				c.enqueueVM(vm.Namespace, vm.Name)
			}
		})},
		{inf.VMIs.Informer, provisioning.EnqueueHandler(func(obj any) {
			if vmi, ok := obj.(*kvv1.VirtualMachineInstance); ok {
				name := vmi.Labels[powerstate.VMNameLabel]
				if name == "" {
					name = vmi.Name
				}
				c.enqueueVM(vmi.Namespace, name)
			}
		})},
		{migInf, provisioning.EnqueueHandler(func(obj any) {
			// A migration belongs to the operation that owns it.
			if m, ok := obj.(*kvv1.VirtualMachineInstanceMigration); ok {
				if ref := metav1.GetControllerOf(m); ref != nil && ref.Kind == "VirtualMachineOperation" &&
					ref.APIVersion == virtv1.SchemeGroupVersion.String() {
					c.queue.Add(m.Namespace + "/" + ref.Name)
				}
			}
		})},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("add vmop event handler: %w", err)
		}
	}
	return c, nil
}

// Run waits for the caches, then works until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer c.queue.ShutDown()
	logger := klog.FromContext(ctx).WithValues("controller", "vmop")
	ctx = klog.NewContext(ctx, logger)
	if c.ownMigrations != nil {
		go c.ownMigrations.RunWithContext(ctx)
	}
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("vmop controller: caches did not sync")
	}
	logger.Info("Starting workers", "workers", workers)
	provisioning.RunWorkers(ctx, c.queue, workers, c.Sync)
	return nil
}

// Queue exposes the work queue.
func (c *Controller) Queue() workqueue.TypedRateLimitingInterface[string] { return c.queue }

// enqueueVM enqueues the unfinished operations on a VM.
func (c *Controller) enqueueVM(namespace, name string) {
	for _, op := range c.operationsOn(namespace, name) {
		if !finished(op.Status.Phase) || op.DeletionTimestamp != nil {
			c.queue.Add(op.Namespace + "/" + op.Name)
		}
	}
}

// operationsOn lists the cached operations on a VM.
func (c *Controller) operationsOn(namespace, name string) []*virtv1.VirtualMachineOperation {
	objs, err := c.vmopIndexer.ByIndex(vmIndex, namespace+"/"+name)
	if err != nil {
		return nil
	}
	ops := make([]*virtv1.VirtualMachineOperation, 0, len(objs))
	for _, o := range objs {
		if op, ok := o.(*virtv1.VirtualMachineOperation); ok {
			ops = append(ops, op)
		}
	}
	return ops
}

// get reads an operation from the cache; nil when it is gone.
func (c *Controller) get(key string) (*virtv1.VirtualMachineOperation, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil, fmt.Errorf("vmop queue key %q: %w", key, err)
	}
	op, err := c.vmopLister.VirtualMachineOperations(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get VirtualMachineOperation %s: %w", key, err)
	}
	return op.DeepCopy(), nil
}

// vmi returns the cached VMI of a VM (named like it); nil when there is none.
func (c *Controller) vmi(namespace, name string) *kvv1.VirtualMachineInstance {
	obj, exists, err := c.vmiIndexer.GetByKey(namespace + "/" + name)
	if err != nil || !exists {
		return nil
	}
	vmi, _ := obj.(*kvv1.VirtualMachineInstance)
	return vmi
}

// finished reports whether a phase is final: the operation does nothing more.
func finished(p virtv1.VMOPPhase) bool {
	return p == virtv1.VMOPPhaseCompleted || p == virtv1.VMOPPhaseFailed || p == virtv1.VMOPPhaseSuperseded
}
