// Package vm reconciles VirtualMachines into KubeVirt VirtualMachineInstances: it resolves the
// class, block devices, address and provisioning a VM needs, creates the VMI while the VM
// should run and deletes it when it should not, and reports phases, conditions, resources
// and the changes that wait for a restart. It speaks only the Kubernetes and KubeVirt APIs.
package vm

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	kvv1 "kubevirt.io/api/core/v1"

	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/powerstate"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
	"github.com/virtplane/virtplane/pkg/controller/vmclass"
	versioned "github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
	virtinformers "github.com/virtplane/virtplane/pkg/generated/informers/externalversions/virtualization/v1alpha2"
	virtlisters "github.com/virtplane/virtplane/pkg/generated/listers/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/kubevirt"
)

// Finalizer keeps a deleted VM until its VMI is gone.
const Finalizer = "virtualization.deckhouse.io/vm-cleanup"

// Informers are the caches the controller reads.
type Informers struct {
	// VirtualMachines must carry provisioning.BlockDeviceIndex.
	VirtualMachines           virtinformers.VirtualMachineInformer
	VirtualDisks              virtinformers.VirtualDiskInformer
	VirtualImages             virtinformers.VirtualImageInformer
	ClusterVirtualImages      virtinformers.ClusterVirtualImageInformer
	VirtualMachineClasses     virtinformers.VirtualMachineClassInformer
	VirtualMachineIPAddresses virtinformers.VirtualMachineIPAddressInformer
	VMIs                      kubevirt.VMIInformer
	Secrets                   coreinformers.SecretInformer
}

// Controller reconciles VMs.
type Controller struct {
	virt     versioned.Interface
	kv       kubevirt.Interface
	kube     kubernetes.Interface
	recorder record.EventRecorder
	registry Registry

	vmLister   virtlisters.VirtualMachineLister
	vmIndexer  cache.Indexer
	vdLister   virtlisters.VirtualDiskLister
	viLister   virtlisters.VirtualImageLister
	cviLister  virtlisters.ClusterVirtualImageLister
	classes    virtlisters.VirtualMachineClassLister
	vmipLister virtlisters.VirtualMachineIPAddressLister
	vmis       kubevirt.VMIInformer
	secLister  corelisters.SecretLister
	synced     []cache.InformerSynced
	// vmisSynced is apart from synced: on a cluster without KubeVirt the VMI cache never
	// fills, and the VMs say so (see Sync) instead of waiting in silence.
	vmisSynced cache.InformerSynced
	kubevirt   *kubevirtProbe

	queue   workqueue.TypedRateLimitingInterface[string]
	backoff *crashBackoff
}

// New wires the controller to its informers; call it before the informers start.
func New(virt versioned.Interface, kv kubevirt.Interface, kube kubernetes.Interface, inf Informers, registry Registry, recorder record.EventRecorder) (*Controller, error) {
	c := &Controller{
		virt: virt, kv: kv, kube: kube, recorder: recorder, registry: registry,
		vmLister:   inf.VirtualMachines.Lister(),
		vmIndexer:  inf.VirtualMachines.Informer().GetIndexer(),
		vdLister:   inf.VirtualDisks.Lister(),
		viLister:   inf.VirtualImages.Lister(),
		cviLister:  inf.ClusterVirtualImages.Lister(),
		classes:    inf.VirtualMachineClasses.Lister(),
		vmipLister: inf.VirtualMachineIPAddresses.Lister(),
		vmis:       inf.VMIs,
		secLister:  inf.Secrets.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "vm"}),
		backoff:    newCrashBackoff(),
		vmisSynced: inf.VMIs.Informer.HasSynced,
		kubevirt:   newKubeVirtProbe(kube.Discovery()),
	}
	c.synced = []cache.InformerSynced{
		inf.VirtualMachines.Informer().HasSynced, inf.VirtualDisks.Informer().HasSynced,
		inf.VirtualImages.Informer().HasSynced, inf.ClusterVirtualImages.Informer().HasSynced,
		inf.VirtualMachineClasses.Informer().HasSynced, inf.VirtualMachineIPAddresses.Informer().HasSynced,
		inf.Secrets.Informer().HasSynced,
	}
	if err := vmclass.AddClassIndex(inf.VirtualMachines.Informer()); err != nil {
		return nil, err
	}
	enqueueVM := func(obj any) {
		if vm, ok := obj.(*v1alpha2.VirtualMachine); ok {
			c.queue.Add(vm.Namespace + "/" + vm.Name)
		}
	}
	// Objects that belong to one VM name it in a label (VMIs, auto addresses) or by the VM's
	// name (VMIs); those a VM refers to are found through the indexes.
	byLabel := func(obj any) {
		if o, ok := obj.(interface {
			GetNamespace() string
			GetLabels() map[string]string
		}); ok && o.GetLabels()[powerstate.VMNameLabel] != "" {
			c.queue.Add(o.GetNamespace() + "/" + o.GetLabels()[powerstate.VMNameLabel])
		}
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{inf.VirtualMachines.Informer(), provisioning.EnqueueHandler(enqueueVM)},
		{inf.VMIs.Informer, provisioning.EnqueueHandler(func(obj any) {
			if vmi, ok := obj.(*kvv1.VirtualMachineInstance); ok {
				c.queue.Add(vmi.Namespace + "/" + vmi.Name)
			}
		})},
		{inf.VirtualMachineIPAddresses.Informer(), provisioning.EnqueueHandler(func(obj any) {
			byLabel(obj)
			if ip, ok := obj.(*v1alpha2.VirtualMachineIPAddress); ok && ip.Status.VirtualMachine != "" {
				c.queue.Add(ip.Namespace + "/" + ip.Status.VirtualMachine)
			}
		})},
		{inf.VirtualDisks.Informer(), provisioning.EnqueueHandler(func(obj any) {
			if vd, ok := obj.(*v1alpha2.VirtualDisk); ok {
				c.enqueueUsers(v1alpha2.DiskDevice, vd.Namespace, vd.Name)
			}
		})},
		{inf.VirtualImages.Informer(), provisioning.EnqueueHandler(func(obj any) {
			if vi, ok := obj.(*v1alpha2.VirtualImage); ok {
				c.enqueueUsers(v1alpha2.ImageDevice, vi.Namespace, vi.Name)
			}
		})},
		{inf.ClusterVirtualImages.Informer(), provisioning.EnqueueHandler(func(obj any) {
			if cvi, ok := obj.(*v1alpha2.ClusterVirtualImage); ok {
				c.enqueueUsers(v1alpha2.ClusterImageDevice, "", cvi.Name)
			}
		})},
		{inf.VirtualMachineClasses.Informer(), provisioning.EnqueueHandler(func(obj any) {
			if class, ok := obj.(*v1alpha2.VirtualMachineClass); ok {
				objs, _ := c.vmIndexer.ByIndex(vmclass.ClassIndex, class.Name)
				for _, o := range objs {
					enqueueVM(o)
				}
			}
		})},
		{inf.Secrets.Informer(), provisioning.EnqueueHandler(func(obj any) {
			// Any Secret may be named by a VM's provisioning: re-read the namespace's VMs
			// that name Secrets at all.
			if s, ok := obj.(*corev1.Secret); ok {
				c.enqueueNamespace(s.Namespace)
			}
		})},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("add VM event handler: %w", err)
		}
	}
	return c, nil
}

// Queue exposes the work queue.
func (c *Controller) Queue() workqueue.TypedRateLimitingInterface[string] { return c.queue }

// Run waits for the caches, then works until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("vm controller: caches did not sync")
	}
	// VMs synced before the VMI cache filled only waited or said KubeVirt is missing: read
	// them all again once it has.
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), c.vmisSynced) {
			c.enqueueAll()
		}
	}()
	provisioning.RunWorkers(ctx, c.queue, workers, c.Sync)
	return nil
}

func (c *Controller) enqueueUsers(kind v1alpha2.BlockDeviceKind, namespace, name string) {
	vms, err := provisioning.UsersOf(c.vmIndexer, kind, namespace, name)
	if err != nil {
		return
	}
	for _, vm := range vms {
		c.queue.Add(vm.Namespace + "/" + vm.Name)
	}
}

func (c *Controller) enqueueAll() {
	vms, err := c.vmLister.List(everything)
	if err != nil {
		return
	}
	for _, vm := range vms {
		c.queue.Add(vm.Namespace + "/" + vm.Name)
	}
}

// enqueueNamespace re-reads the VMs of a namespace whose provisioning names a Secret.
func (c *Controller) enqueueNamespace(ns string) {
	vms, err := c.vmLister.VirtualMachines(ns).List(everything)
	if err != nil {
		return
	}
	for _, vm := range vms {
		if p := vm.Spec.Provisioning; p != nil && (p.UserDataRef != nil || p.SysprepRef != nil) {
			c.queue.Add(vm.Namespace + "/" + vm.Name)
		}
	}
}

// get reads a VM from the cache; nil when it is gone.
func (c *Controller) get(key string) (*v1alpha2.VirtualMachine, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil, fmt.Errorf("vm queue key %q: %w", key, err)
	}
	vm, err := c.vmLister.VirtualMachines(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get VirtualMachine %s: %w", key, err)
	}
	return vm.DeepCopy(), nil
}
