package virt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/virtplane/virtplane/pkg/kubevirt"
)

const (
	controllerWorkers = 4
	// byVMI indexes launcher Pods by their VMI's key (namespace/name).
	byVMI = "vmi"
	// expectationTTL bounds how long a created Pod may stay unseen before it is made again.
	expectationTTL = time.Minute
)

// controller is the stand-in for KubeVirt's virt-controller (one active among the nodes):
// a launcher Pod per VMI, the VMI's phase up to Scheduled, failure when the Pod is lost, and
// the VMI finalizer when no node runs it.
type controller struct {
	host   Host
	cfg    Config
	queue  workqueue.TypedRateLimitingInterface[string]
	vmis   cache.Indexer
	pods   cache.Indexer
	expect *expectations

	// The migration controller's: VirtualMachineInstanceMigrations by key, their queue and
	// the target Pods created for them.
	migrations    cache.Indexer
	mqueue        workqueue.TypedRateLimitingInterface[string]
	targetsExpect *expectations
}

func newController(host Host, cfg Config) *controller {
	return &controller{
		host: host,
		cfg:  cfg,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "virt-controller"}),
		expect: newExpectations(expectationTTL),
		mqueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "virt-controller-migrations"}),
		targetsExpect: newExpectations(expectationTTL),
	}
}

// vmiKeyOfPod is the key of the VMI that controls a launcher Pod.
func vmiKeyOfPod(pod *corev1.Pod) (string, bool) {
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "VirtualMachineInstance" {
		return "", false
	}
	return pod.Namespace + "/" + ref.Name, true
}

func indexPodByVMI(obj any) ([]string, error) {
	if pod, ok := obj.(*corev1.Pod); ok {
		if key, ok := vmiKeyOfPod(pod); ok {
			return []string{key}, nil
		}
	}
	return nil, nil
}

// podEventKey maps a Pod event (or its tombstone) to its VMI's key.
func podEventKey(obj any) (string, bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return "", false
	}
	return vmiKeyOfPod(pod)
}

func (c *controller) enqueue(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// run watches all VMIs, migrations and launcher Pods and works the queues until ctx ends.
func (c *controller) run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithName("virt-controller")
	ctx = klog.NewContext(ctx, logger)
	defer c.queue.ShutDown()
	defer c.mqueue.ShutDown()
	vmiInf := kubevirt.NewVMIInformer(c.host.KubeVirt, "", 0, nil)
	migInf := kubevirt.NewMigrationInformer(c.host.KubeVirt, "", 0, nil)
	factory := informers.NewSharedInformerFactoryWithOptions(c.host.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = LauncherSelector }))
	podInf := factory.Core().V1().Pods().Informer()
	if err := podInf.AddIndexers(cache.Indexers{byVMI: indexPodByVMI}); err != nil {
		logger.Error(err, "Indexing launcher pods")
		return
	}
	if err := migInf.Informer.AddIndexers(cache.Indexers{byVMI: indexMigrationByVMI, byUID: indexByUID}); err != nil {
		logger.Error(err, "Indexing migrations")
		return
	}
	c.vmis, c.pods, c.migrations = vmiInf.Informer.GetIndexer(), podInf.GetIndexer(), migInf.Informer.GetIndexer()
	onVMI := func(obj any) {
		c.enqueue(obj)
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.enqueueMigrationsOf(key)
		}
	}
	_, err1 := vmiInf.Informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onVMI, UpdateFunc: func(_, obj any) { onVMI(obj) }, DeleteFunc: onVMI,
	})
	onPod := func(obj any) {
		if key, ok := podEventKey(obj); ok {
			c.expect.observed(key)
			c.queue.Add(key)
		}
		c.onTargetPod(obj)
	}
	_, err2 := podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onPod, UpdateFunc: func(_, obj any) { onPod(obj) }, DeleteFunc: onPod,
	})
	onMigration := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.mqueue.Add(key)
		}
	}
	_, err3 := migInf.Informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onMigration, UpdateFunc: func(_, obj any) { onMigration(obj) }, DeleteFunc: onMigration,
	})
	if err := errors.Join(err1, err2, err3); err != nil {
		logger.Error(err, "Watching VMIs, migrations and launcher pods")
		return
	}
	go vmiInf.Informer.RunWithContext(ctx)
	go migInf.Informer.RunWithContext(ctx)
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), vmiInf.Informer.HasSynced, podInf.HasSynced, migInf.Informer.HasSynced) {
		return
	}
	var wg sync.WaitGroup
	work := func(q workqueue.TypedRateLimitingInterface[string], sync func(context.Context, string) (time.Duration, error)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for processNext(ctx, q, sync) {
			}
		}()
	}
	for range controllerWorkers {
		work(c.queue, c.sync)
		work(c.mqueue, c.syncMigration)
	}
	<-ctx.Done()
	c.queue.ShutDown()
	c.mqueue.ShutDown()
	wg.Wait()
}

// processNext works one key: errors are retried with backoff; conflicts too, quietly, as the
// informer brings the newer object.
func processNext(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], sync func(context.Context, string) (time.Duration, error)) bool {
	key, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(key)
	requeue, err := sync(ctx, key)
	switch {
	case err != nil:
		if ctx.Err() == nil && !apierrors.IsConflict(err) {
			klog.FromContext(ctx).Error(err, "Syncing", "key", key)
		}
		q.AddRateLimited(key)
	case requeue > 0:
		q.Forget(key)
		q.AddAfter(key, requeue)
	default:
		q.Forget(key)
	}
	return true
}

func (c *controller) getVMI(key string) (*kvv1.VirtualMachineInstance, error) {
	obj, ok, err := c.vmis.GetByKey(key)
	if err != nil || !ok {
		return nil, err
	}
	return obj.(*kvv1.VirtualMachineInstance), nil
}

// podsOf returns the VMI's launcher Pods, the newest first.
func (c *controller) podsOf(key string, vmi *kvv1.VirtualMachineInstance) []*corev1.Pod {
	objs, _ := c.pods.ByIndex(byVMI, key)
	var pods []*corev1.Pod
	for _, o := range objs {
		if p := o.(*corev1.Pod); metav1.IsControlledBy(p, vmi) {
			pods = append(pods, p)
		}
	}
	slices.SortFunc(pods, func(a, b *corev1.Pod) int {
		return b.CreationTimestamp.Compare(a.CreationTimestamp.Time)
	})
	return pods
}

func (c *controller) sync(ctx context.Context, key string) (time.Duration, error) {
	vmi, err := c.getVMI(key)
	if err != nil {
		return 0, err
	}
	if vmi == nil {
		// Gone: the garbage collector removes its Pods through their owner reference.
		c.expect.observed(key)
		return 0, nil
	}
	pods := c.podsOf(key, vmi)
	if vmi.DeletionTimestamp != nil {
		return 0, c.finalize(ctx, vmi, pods)
	}
	if vmi.IsFinal() {
		return 0, nil
	}
	if !slices.Contains(vmi.Finalizers, kvv1.VirtualMachineInstanceFinalizer) {
		v := vmi.DeepCopy()
		v.Finalizers = append(v.Finalizers, kvv1.VirtualMachineInstanceFinalizer)
		if vmi, err = c.host.KubeVirt.VirtualMachineInstances(v.Namespace).Update(ctx, v, metav1.UpdateOptions{}); err != nil {
			return 0, fmt.Errorf("adding the finalizer to VMI %s: %w", key, err)
		}
	}
	now := metav1.Now()
	if len(pods) == 0 {
		if c.expect.pending(key) {
			return 0, nil
		}
		if vmi.Status.Phase != "" && vmi.Status.Phase != kvv1.Pending || len(vmi.Status.ActivePods) > 0 {
			msg := "the launcher pod of the VMI disappeared"
			c.host.Recorder.Eventf(vmi, nil, corev1.EventTypeWarning, ReasonPodNotExists, "Fail", msg)
			return 0, c.writeStatus(ctx, vmi, failedStatus(vmi, ReasonPodNotExists, msg, now))
		}
		pod, err := c.createPod(ctx, key, vmi)
		if err != nil {
			st := *vmi.Status.DeepCopy()
			setPhase(&st, kvv1.Pending, now)
			setCondition(&st, kvv1.VirtualMachineInstanceSynchronized, corev1.ConditionFalse, ReasonFailedCreate, err.Error(), now)
			if werr := c.writeStatus(ctx, vmi, st); werr != nil {
				klog.FromContext(ctx).Error(werr, "Writing the status of VMI", "vmi", key)
			}
			return 0, err
		}
		pods = []*corev1.Pod{pod}
	}
	pod := pods[0]
	switch {
	case vmi.Status.Phase == kvv1.Running:
		// The node's handler owns a running VMI's status.
		return 0, nil
	case isFinalPod(pod):
		msg := fmt.Sprintf("the launcher pod %s ended (%s) before the VM ran", pod.Name, pod.Status.Phase)
		if pod.Status.Message != "" {
			msg += ": " + pod.Status.Message
		}
		c.host.Recorder.Eventf(vmi, nil, corev1.EventTypeWarning, ReasonPodFailed, "Fail", msg)
		return 0, c.writeStatus(ctx, vmi, failedStatus(vmi, ReasonPodFailed, msg, now))
	}
	return 0, c.writeStatus(ctx, vmi, schedulingStatus(vmi, pod, now))
}

// createPod creates the launcher Pod, with the expectation recorded first: the informer may
// show the Pod before Create returns.
func (c *controller) createPod(ctx context.Context, key string, vmi *kvv1.VirtualMachineInstance) (*corev1.Pod, error) {
	c.expect.expect(key)
	pod, err := c.host.Client.CoreV1().Pods(vmi.Namespace).Create(ctx, LauncherPod(vmi), metav1.CreateOptions{})
	if err != nil {
		c.expect.observed(key)
		c.host.Recorder.Eventf(vmi, nil, corev1.EventTypeWarning, ReasonFailedCreate, "Create", "Error creating the launcher pod: %v", err)
		return nil, fmt.Errorf("creating the launcher pod of VMI %s: %w", key, err)
	}
	c.host.Recorder.Eventf(vmi, nil, corev1.EventTypeNormal, "SuccessfulCreate", "Create", "Created launcher pod %s", pod.Name)
	klog.FromContext(ctx).Info("Launcher pod created", "vmi", key, "pod", pod.Name)
	return pod, nil
}

// finalize releases a deleted VMI that no node runs: its Pods go, then the finalizer.
// A Pod bound to a node and not ended is the node's to stop.
func (c *controller) finalize(ctx context.Context, vmi *kvv1.VirtualMachineInstance, pods []*corev1.Pod) error {
	if !slices.Contains(vmi.Finalizers, kvv1.VirtualMachineInstanceFinalizer) {
		return nil
	}
	for _, p := range pods {
		if p.Spec.NodeName != "" && !isFinalPod(p) {
			return nil
		}
	}
	for _, p := range pods {
		if err := deletePod(ctx, c.host, p); err != nil {
			return err
		}
	}
	return removeFinalizer(ctx, c.host, vmi)
}

// writeStatus writes a VMI's status if it changed.
func (c *controller) writeStatus(ctx context.Context, vmi *kvv1.VirtualMachineInstance, st kvv1.VirtualMachineInstanceStatus) error {
	return writeVMIStatus(ctx, c.host, vmi, st)
}

func writeVMIStatus(ctx context.Context, host Host, vmi *kvv1.VirtualMachineInstance, st kvv1.VirtualMachineInstanceStatus) error {
	if equality.Semantic.DeepEqual(vmi.Status, st) {
		return nil
	}
	v := vmi.DeepCopy()
	v.Status = st
	if _, err := host.KubeVirt.VirtualMachineInstances(v.Namespace).UpdateStatus(ctx, v, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("writing the status of VMI %s/%s: %w", v.Namespace, v.Name, err)
	}
	if st.Phase != vmi.Status.Phase {
		klog.FromContext(ctx).Info("VMI phase", "vmi", klog.KObj(vmi), "phase", st.Phase, "node", st.NodeName, "reason", st.Reason)
	}
	return nil
}

// deletePod deletes a launcher Pod at once (its VM no longer runs anywhere).
func deletePod(ctx context.Context, host Host, pod *corev1.Pod) error {
	err := host.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting launcher pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// removeFinalizer lets a deleted VMI go.
func removeFinalizer(ctx context.Context, host Host, vmi *kvv1.VirtualMachineInstance) error {
	if !slices.Contains(vmi.Finalizers, kvv1.VirtualMachineInstanceFinalizer) {
		return nil
	}
	v := vmi.DeepCopy()
	v.Finalizers = slices.DeleteFunc(v.Finalizers, func(f string) bool { return f == kvv1.VirtualMachineInstanceFinalizer })
	_, err := host.KubeVirt.VirtualMachineInstances(v.Namespace).Update(ctx, v, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing the finalizer of VMI %s/%s: %w", v.Namespace, v.Name, err)
	}
	return nil
}

// expectations remember launcher Pods created until the informer shows them, so a second
// sync before the watch event does not create another. Entries expire, so a lost event
// cannot block a VMI forever.
type expectations struct {
	ttl     time.Duration
	mu      sync.Mutex
	created map[string]time.Time
}

func newExpectations(ttl time.Duration) *expectations {
	return &expectations{ttl: ttl, created: map[string]time.Time{}}
}

func (e *expectations) expect(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.created[key] = time.Now()
}

func (e *expectations) observed(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.created, key)
}

func (e *expectations) pending(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.created[key]
	if ok && time.Since(t) > e.ttl {
		delete(e.created, key)
		return false
	}
	return ok
}
