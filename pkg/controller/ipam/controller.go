// Package ipam hands out the addresses of virtual machines from the platform's
// virtualMachineCIDRs. Every VM without spec.virtualMachineIPAddressName gets an automatic
// VirtualMachineIPAddress; each address takes a cluster-scoped VirtualMachineIPAddressLease
// named after the address, and creating that lease is the only thing that decides who holds
// an address, so two controllers (or one that restarted) never hand it out twice. A deleted
// address's lease is released and kept for its namespace for a retention time.
package ipam

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
	versioned "github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
	virtinformers "github.com/virtplane/virtplane/pkg/generated/informers/externalversions/virtualization/v1alpha2"
	virtlisters "github.com/virtplane/virtplane/pkg/generated/listers/virtualization/v1alpha2"
)

// Informers are the caches the controller reads.
type Informers struct {
	VirtualMachines           virtinformers.VirtualMachineInformer
	VirtualMachineIPAddresses virtinformers.VirtualMachineIPAddressInformer
	Leases                    virtinformers.VirtualMachineIPAddressLeaseInformer
}

// Settings come from the platform configuration.
type Settings struct {
	// CIDRs are the subnets addresses come from (ParseCIDRs of virtualMachineCIDRs).
	CIDRs []netip.Prefix
	// Retention keeps a released address for its namespace (config.Config.LeaseRetention).
	Retention time.Duration
}

// Controller reconciles VirtualMachineIPAddresses, their leases, and the automatic
// addresses of VirtualMachines.
type Controller struct {
	virt      versioned.Interface
	pool      *Pool
	retention time.Duration
	recorder  record.EventRecorder
	now       func() time.Time

	vmLister    virtlisters.VirtualMachineLister
	vmIndexer   cache.Indexer
	vmipLister  virtlisters.VirtualMachineIPAddressLister
	vmipIndexer cache.Indexer
	leaseLister virtlisters.VirtualMachineIPAddressLeaseLister
	leaseIndex  cache.Indexer
	synced      []cache.InformerSynced

	vmQueue    workqueue.TypedRateLimitingInterface[string]
	vmipQueue  workqueue.TypedRateLimitingInterface[string]
	leaseQueue workqueue.TypedRateLimitingInterface[string]
}

// New wires the controller to its informers; call it before the informers start (it adds
// indexes to them).
func New(virt versioned.Interface, inf Informers, cfg Settings, recorder record.EventRecorder) (*Controller, error) {
	if cfg.Retention < 0 {
		return nil, fmt.Errorf("ipam: negative lease retention %s", cfg.Retention)
	}
	queue := func(name string) workqueue.TypedRateLimitingInterface[string] {
		return workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: name})
	}
	c := &Controller{
		virt: virt, pool: NewPool(cfg.CIDRs), retention: cfg.Retention, recorder: recorder, now: time.Now,
		vmLister:    inf.VirtualMachines.Lister(),
		vmIndexer:   inf.VirtualMachines.Informer().GetIndexer(),
		vmipLister:  inf.VirtualMachineIPAddresses.Lister(),
		vmipIndexer: inf.VirtualMachineIPAddresses.Informer().GetIndexer(),
		leaseLister: inf.Leases.Lister(),
		leaseIndex:  inf.Leases.Informer().GetIndexer(),
		vmQueue:     queue("ipam-vm"),
		vmipQueue:   queue("ipam-vmip"),
		leaseQueue:  queue("ipam-lease"),
		synced: []cache.InformerSynced{
			inf.VirtualMachines.Informer().HasSynced,
			inf.VirtualMachineIPAddresses.Informer().HasSynced,
			inf.Leases.Informer().HasSynced,
		},
	}
	if err := addIndexers(inf); err != nil {
		return nil, err
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		// f sees every state of an object; deleted also sees its deletion.
		f, deleted func(any)
	}{
		{inf.VirtualMachines.Informer(), c.vmChanged, nil},
		{inf.VirtualMachineIPAddresses.Informer(), c.vmipChanged, nil},
		{inf.Leases.Informer(), c.leaseChanged, c.leaseDeleted},
	}
	for _, h := range handlers {
		f, deleted := h.f, h.deleted
		if _, err := h.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    f,
			UpdateFunc: func(old, cur any) { f(old); f(cur) },
			DeleteFunc: func(obj any) {
				if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = d.Obj
				}
				f(obj)
				if deleted != nil {
					deleted(obj)
				}
			},
		}); err != nil {
			return nil, fmt.Errorf("add ipam event handler: %w", err)
		}
	}
	return c, nil
}

// Run waits for the caches, then works until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	queues := []struct {
		name  string
		queue workqueue.TypedRateLimitingInterface[string]
		sync  provisioning.SyncFunc
	}{
		{"vm", c.vmQueue, c.syncVM},
		{"vmip", c.vmipQueue, c.syncVMIP},
		{"lease", c.leaseQueue, c.syncLease},
	}
	defer func() {
		for _, q := range queues {
			q.queue.ShutDown()
		}
	}()
	logger := klog.FromContext(ctx).WithValues("controller", "ipam")
	ctx = klog.NewContext(ctx, logger)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("ipam controller: caches did not sync")
	}
	logger.Info("Starting workers", "workers", workers, "addresses", c.pool.Size())
	var wg sync.WaitGroup
	for _, q := range queues {
		wg.Go(func() { provisioning.RunWorkers(ctx, q.queue, workers, q.sync) })
	}
	wg.Wait()
	return nil
}

// vmChanged enqueues the VM (its automatic address) and the addresses it names.
func (c *Controller) vmChanged(obj any) {
	vm, ok := obj.(*v1alpha2.VirtualMachine)
	if !ok {
		return
	}
	c.vmQueue.Add(key(vm.Namespace, vm.Name))
	for _, name := range vmipNamesOf(vm) {
		c.vmipQueue.Add(key(vm.Namespace, name))
	}
}

// vmipChanged enqueues the address, the VM that owns it (an automatic address deleted by
// hand is made again) and the leases that name it (a lease whose address is gone).
func (c *Controller) vmipChanged(obj any) {
	ip, ok := obj.(*v1alpha2.VirtualMachineIPAddress)
	if !ok {
		return
	}
	c.vmipQueue.Add(key(ip.Namespace, ip.Name))
	if vm := ownerVM(ip); vm != "" {
		c.vmQueue.Add(key(ip.Namespace, vm))
	}
	leases, _ := c.leaseIndex.ByIndex(leaseByRefIndex, key(ip.Namespace, ip.Name))
	for _, o := range leases {
		c.leaseQueue.Add(o.(*v1alpha2.VirtualMachineIPAddressLease).Name)
	}
}

// leaseChanged enqueues the lease, the address that holds it and the addresses that want
// its address (a Static request waiting for it, a lease deleted under its holder).
func (c *Controller) leaseChanged(obj any) {
	l, ok := obj.(*v1alpha2.VirtualMachineIPAddressLease)
	if !ok {
		return
	}
	c.leaseQueue.Add(l.Name)
	if k := leaseRefKey(l.Spec.VirtualMachineIPAddressRef); k != "" {
		c.vmipQueue.Add(k)
	}
	if addr, ok := AddressOfLease(l.Name); ok {
		ips, _ := c.vmipIndexer.ByIndex(vmipByAddressIndex, addr.String())
		for _, o := range ips {
			ip := o.(*v1alpha2.VirtualMachineIPAddress)
			c.vmipQueue.Add(key(ip.Namespace, ip.Name))
		}
	}
}

// leaseDeleted wakes the automatic addresses that found the pool exhausted: an address is
// free again.
func (c *Controller) leaseDeleted(any) {
	ips, _ := c.vmipIndexer.ByIndex(vmipWaitingIndex, waitingForPool)
	for _, o := range ips {
		ip := o.(*v1alpha2.VirtualMachineIPAddress)
		c.vmipQueue.Add(key(ip.Namespace, ip.Name))
	}
}
