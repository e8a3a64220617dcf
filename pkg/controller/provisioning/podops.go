package provisioning

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Pods reads and deletes importer Pods through the cache, honouring expectations.
type Pods struct {
	Kube   kubernetes.Interface
	Lister corelisters.PodLister
	Exp    *Expectations
	Poller *Poller
}

// Get reads a Pod from the cache; nil when absent. A Pod we deleted a moment ago looks as
// if it were being deleted, whatever the cache still says.
func (p Pods) Get(namespace, name string) (*corev1.Pod, error) {
	pod, err := p.Lister.Pods(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get Pod %s/%s: %w", namespace, name, err)
	}
	if p.Exp.DeletePending(pod.UID) && pod.DeletionTimestamp == nil {
		pod = pod.DeepCopy()
		now := metav1.Now()
		pod.DeletionTimestamp = &now
	}
	return pod, nil
}

// Owned lists the Pods of an owner in every namespace.
func (p Pods) Owned(owner types.UID) ([]*corev1.Pod, error) {
	pods, err := p.Lister.List(labels.SelectorFromSet(labels.Set{OwnerUIDLabel: string(owner)}))
	if err != nil {
		return nil, fmt.Errorf("list Pods of %s: %w", owner, err)
	}
	return pods, nil
}

// DeleteOwned deletes the owner's Pods that match (all when match is nil) and returns how
// many Pods of the owner are still in the cache.
func (p Pods) DeleteOwned(ctx context.Context, owner types.UID, match func(*corev1.Pod) bool) (int, error) {
	pods, err := p.Owned(owner)
	if err != nil {
		return 0, err
	}
	for _, pod := range pods {
		if match != nil && !match(pod) {
			continue
		}
		if err := p.Delete(ctx, pod); err != nil {
			return 0, err
		}
	}
	return len(pods), nil
}

// Delete deletes one Pod (by UID, so a re-created namesake survives) and stops its poller.
func (p Pods) Delete(ctx context.Context, pod *corev1.Pod) error {
	p.Poller.Stop(pod.UID)
	if pod.DeletionTimestamp != nil || p.Exp.DeletePending(pod.UID) {
		return nil
	}
	err := p.Kube.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(pod.UID))})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete importer Pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	p.Exp.ExpectDelete(pod.UID)
	return nil
}

// PodEvents keeps expectations and pollers in step with the Pod informer; owner maps a Pod
// to its owner's queue key ("" when the Pod is not of this controller).
func PodEvents(exp *Expectations, poller *Poller, owner func(*corev1.Pod) string, enqueue func(string)) (add, update, del func(any)) {
	add = func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		exp.ObservedCreate(ObjKey("pod", pod.Namespace, pod.Name))
		if k := owner(pod); k != "" {
			enqueue(k)
		}
	}
	update = func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok {
			if k := owner(pod); k != "" {
				enqueue(k)
			}
		}
	}
	del = func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		exp.ObservedDelete(pod.UID)
		poller.Stop(pod.UID)
		if k := owner(pod); k != "" {
			enqueue(k)
		}
	}
	return add, update, del
}

// ObjKey is the expectations key of a created object.
func ObjKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }
