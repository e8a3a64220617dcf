package image

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	left, err := c.pods.Owned(img.uid())
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

// deletePods deletes the image's Pods that match (all when match is nil), in every namespace
// (cluster images have Pods in the controller's namespace and in those of source disks).
func (c *Controller) deletePods(ctx context.Context, img *image, match func(*corev1.Pod) bool) error {
	_, err := c.pods.DeleteOwned(ctx, img.uid(), match)
	return err
}
