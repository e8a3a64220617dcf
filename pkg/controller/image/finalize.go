package image

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
)

// finalize handles a deleted image: it stays Terminating while a VM refers to it, then its
// Pods are deleted and the finalizers removed. The DVCR image is left to "dvcr gc", which
// removes images no object refers to.
func (c *Controller) finalize(ctx context.Context, img *image, users []*virtv1.VirtualMachine) (time.Duration, error) {
	st := &img.status
	st.Phase = virtv1.ImageTerminating
	st.DownloadSpeed = nil
	st.ImageUploadURLs = nil
	st.UploadCommand = ""
	setInUse(img, users)
	if len(users) > 0 {
		names := make([]string, 0, len(users))
		for _, vm := range users {
			names = append(names, vm.Namespace+"/"+vm.Name)
		}
		provisioning.SetCondition(&st.Conditions, TerminatingType, metav1.ConditionTrue, CleanupPending,
			fmt.Sprintf("The image stays until no VirtualMachine refers to it; remove it from %s.", strings.Join(names, ", ")), img.generation())
		return 0, c.writeStatus(ctx, img, users)
	}
	provisioning.SetCondition(&st.Conditions, TerminatingType, metav1.ConditionTrue, CleanupPending, "Deleting the importer Pods.", img.generation())
	if err := c.deletePods(ctx, img, nil); err != nil {
		return 0, err
	}
	left, err := c.ownPods(img)
	if err != nil {
		return 0, err
	}
	if err := c.writeStatus(ctx, img, users); err != nil && !apierrors.IsNotFound(err) {
		return 0, err
	}
	if len(left) > 0 {
		// The Pods' delete events bring the image back here.
		return 0, nil
	}
	c.retries.Forget(img.podName(provisioning.StepImport))
	c.retries.Forget(img.podName(provisioning.StepUpload))
	c.retries.Forget(img.podName(provisioning.StepFill))
	if err := c.setFinalizer(ctx, img, provisioning.ProtectionFinalizer, false); err != nil {
		return 0, err
	}
	return 0, c.setFinalizer(ctx, img, provisioning.CleanupFinalizer, false)
}

// pod reads a Pod from the cache; nil when absent.
func (c *Controller) pod(namespace, name string) (*corev1.Pod, error) {
	pod, err := c.podLister.Pods(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get Pod %s/%s: %w", namespace, name, err)
	}
	if c.exp.DeletePending(pod.UID) {
		// We deleted it a moment ago; the cache has not caught up. Treat it as on its way out.
		pod = pod.DeepCopy()
		now := metav1.Now()
		pod.DeletionTimestamp = &now
	}
	return pod, nil
}

// ownPods lists the image's Pods in every namespace (cluster images have Pods in the
// controller's namespace and in namespaces of source disks).
func (c *Controller) ownPods(img *image) ([]*corev1.Pod, error) {
	sel := labels.SelectorFromSet(labels.Set{provisioning.OwnerUIDLabel: string(img.uid())})
	pods, err := c.podLister.List(sel)
	if err != nil {
		return nil, fmt.Errorf("list Pods of %s %s: %w", img.kind(), img.key(), err)
	}
	return pods, nil
}

// deletePods deletes the image's Pods that match (all when match is nil).
func (c *Controller) deletePods(ctx context.Context, img *image, match func(*corev1.Pod) bool) error {
	pods, err := c.ownPods(img)
	if err != nil {
		return err
	}
	for _, p := range pods {
		if match != nil && !match(p) {
			continue
		}
		if err := c.deletePod(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func (c *Controller) deletePod(ctx context.Context, p *corev1.Pod) error {
	c.poller.Stop(p.UID)
	if p.DeletionTimestamp != nil || c.exp.DeletePending(p.UID) {
		return nil
	}
	err := c.kube.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(p.UID))})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete importer Pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	c.exp.ExpectDelete(p.UID)
	return nil
}
