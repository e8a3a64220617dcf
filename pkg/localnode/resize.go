package localnode

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// annProvisionedBy marks a PV with its provisioner (set by the provisioner library).
const annProvisionedBy = "pv.kubernetes.io/provisioned-by"

// resizer is the stand-in for external-resizer plus the kubelet's volume expansion: when a
// bound claim of our provisioner asks for more than its PV holds, it grows the file, then the
// PV's capacity, then the claim's status.capacity. Files are shared, so a volume in use by a
// Pod grows too (the program sees the larger file on its next stat).
type resizer struct {
	client   kubernetes.Interface
	dir      string
	recorder events.EventRecorder

	queue   workqueue.TypedRateLimitingInterface[string]
	claims  corelisters.PersistentVolumeClaimLister
	volumes corelisters.PersistentVolumeLister
}

func (r *resizer) run(ctx context.Context) {
	logger := klog.FromContext(ctx)
	r.queue = workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "localnode-resizer"})
	defer r.queue.ShutDown()
	factory := informers.NewSharedInformerFactory(r.client, 0)
	claims := factory.Core().V1().PersistentVolumeClaims()
	volumes := factory.Core().V1().PersistentVolumes()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			r.queue.Add(key)
		}
	}
	if _, err := claims.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) },
	}); err != nil {
		logger.Error(err, "Watching claims")
		return
	}
	r.claims, r.volumes = claims.Lister(), volumes.Lister()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), claims.Informer().HasSynced, volumes.Informer().HasSynced) {
		return
	}
	go func() {
		<-ctx.Done()
		r.queue.ShutDown()
	}()
	for {
		key, quit := r.queue.Get()
		if quit {
			return
		}
		if err := r.sync(ctx, key); err != nil {
			if ctx.Err() == nil {
				logger.Error(err, "Resizing volume", "claim", key)
			}
			r.queue.AddRateLimited(key)
		} else {
			r.queue.Forget(key)
		}
		r.queue.Done(key)
	}
}

func (r *resizer) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pvc, err := r.claims.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading claim %s: %w", key, err)
	}
	if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName == "" {
		return nil
	}
	pv, err := r.volumes.Get(pvc.Spec.VolumeName)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading volume %s: %w", pvc.Spec.VolumeName, err)
	}
	err = r.expand(ctx, pvc, pv)
	if errors.Is(err, errNotOurs) {
		return nil
	}
	return err
}

// expand grows one claim's volume if it asks for more; it is idempotent, so a step that failed
// midway is finished on the next try.
func (r *resizer) expand(ctx context.Context, pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) error {
	if pv.Annotations[annProvisionedBy] != ProvisionerName && (pv.Spec.CSI == nil || pv.Spec.CSI.Driver != ProvisionerName) {
		return errNotOurs
	}
	want := claimSize(pvc)
	have := pv.Spec.Capacity[corev1.ResourceStorage]
	status := pvc.Status.Capacity[corev1.ResourceStorage]
	if want.Cmp(have) <= 0 && want.Cmp(status) <= 0 {
		return nil
	}
	logger := klog.FromContext(ctx).WithValues("claim", klog.KObj(pvc), "pv", pv.Name)
	if want.Cmp(have) > 0 {
		mode := ptr.Deref(pv.Spec.VolumeMode, corev1.PersistentVolumeFilesystem)
		if mode == corev1.PersistentVolumeBlock {
			// Up only: a smaller request after a failed resize must not cut data off.
			if err := growFile(VolumePath(r.dir, pv.Name, mode), want.Value()); err != nil {
				return err
			}
		}
		pv = pv.DeepCopy()
		pv.Spec.Capacity[corev1.ResourceStorage] = want
		if _, err := r.client.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("setting the capacity of volume %s: %w", pv.Name, err)
		}
		logger.Info("Volume expanded", "size", want.String())
	}
	if want.Cmp(status) > 0 {
		c := pvc.DeepCopy()
		c.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: want}
		if c.Status.AllocatedResources != nil {
			c.Status.AllocatedResources[corev1.ResourceStorage] = want
		}
		delete(c.Status.AllocatedResourceStatuses, corev1.ResourceStorage)
		var conds []corev1.PersistentVolumeClaimCondition
		for _, cond := range c.Status.Conditions {
			if cond.Type != corev1.PersistentVolumeClaimResizing && cond.Type != corev1.PersistentVolumeClaimFileSystemResizePending &&
				cond.Type != corev1.PersistentVolumeClaimControllerResizeError && cond.Type != corev1.PersistentVolumeClaimNodeResizeError {
				conds = append(conds, cond)
			}
		}
		c.Status.Conditions = conds
		if _, err := r.client.CoreV1().PersistentVolumeClaims(c.Namespace).UpdateStatus(ctx, c, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("setting the capacity of claim %s/%s: %w", c.Namespace, c.Name, err)
		}
		if r.recorder != nil {
			r.recorder.Eventf(pvc, nil, corev1.EventTypeNormal, "VolumeResizeSuccessful", "Resize", "Volume %s expanded to %s", pv.Name, want.String())
		}
	}
	return nil
}
