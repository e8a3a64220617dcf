package disk

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
)

// disk is one sync's view of a VirtualDisk: the object and the status being computed.
type disk struct {
	vd *virtv1.VirtualDisk
	st virtv1.VirtualDiskStatus
}

func (d *disk) gen() int64     { return d.vd.Generation }
func (d *disk) key() string    { return d.vd.Namespace + "/" + d.vd.Name }
func (d *disk) ns() string     { return d.vd.Namespace }
func (d *disk) uid() types.UID { return d.vd.UID }
func (d *disk) pvcName() string {
	return provisioning.PVCName(provisioning.PrefixVD, d.vd.Name, d.vd.UID)
}
func (d *disk) podName(step string) string {
	return provisioning.PodName(provisioning.PrefixVD, d.vd.Name, d.vd.UID, d.vd.Generation, step)
}
func (d *disk) ownerRef() *metav1.OwnerReference {
	return provisioning.ControllerRef(virtv1.SchemeGroupVersion.String(), Kind, d.vd.Name, d.vd.UID)
}
func (d *disk) labels(step string) map[string]string {
	return provisioning.OwnerLabels(Kind, d.vd.Name, d.vd.UID, d.vd.Generation, step)
}
func (d *disk) annotations() map[string]string {
	return map[string]string{provisioning.OwnerKeyAnnotation: d.key()}
}

func (c *Controller) setReady(d *disk, status metav1.ConditionStatus, reason ReadyReason, msg string) {
	provisioning.SetCondition(&d.st.Conditions, ReadyType, status, reason, msg, d.gen())
}

// provisioned reports whether the disk's PVC has been filled: from then on the spec may
// change only to grow the disk, which resizes instead of starting over.
func provisioned(p virtv1.DiskPhase) bool {
	return p == virtv1.DiskReady || p == virtv1.DiskResizing || p == virtv1.DiskLost
}

// Sync reconciles one disk.
func (c *Controller) Sync(ctx context.Context, key string) (time.Duration, error) {
	defer provisioning.LogSync(ctx, "disk", key)()
	vd, err := c.get(key)
	if err != nil || vd == nil {
		return 0, err
	}
	d := &disk{vd: vd, st: *vd.Status.DeepCopy()}
	users, err := provisioning.UsersOf(c.vmIndexer, virtv1.DiskDevice, vd.Namespace, vd.Name)
	if err != nil {
		return 0, err
	}
	c.setUsers(d, users)
	if vd.DeletionTimestamp != nil {
		return c.finalize(ctx, d, users)
	}
	if err := c.setFinalizer(ctx, d, provisioning.CleanupFinalizer, true); err != nil {
		return 0, err
	}
	if err := c.setFinalizer(ctx, d, provisioning.ProtectionFinalizer, len(users) > 0); err != nil {
		return 0, err
	}
	if !provisioned(d.st.Phase) && d.st.ObservedGeneration != d.gen() {
		c.restart(d)
	}
	// Pods go once the status that ends their work is stored (this sync reads it back), not
	// when it is computed: a status write that fails after its Pods are gone would leave the
	// next sync with no Pod and no result. Pods of older generations always go.
	finished := provisioned(d.st.Phase) || d.st.Phase == virtv1.DiskFailed
	if _, err := c.pods.DeleteOwned(ctx, d.uid(), func(p *corev1.Pod) bool {
		return finished || p.Labels[provisioning.GenerationLabel] != strconv.FormatInt(d.gen(), 10)
	}); err != nil {
		return 0, err
	}
	var after time.Duration
	switch {
	case provisioned(d.st.Phase):
		after, err = c.maintain(ctx, d)
		d.st.ObservedGeneration = d.gen()
	case d.st.Phase == virtv1.DiskFailed:
		// Terminal until the spec changes.
	default:
		after, err = c.provision(ctx, d)
	}
	if err != nil {
		return 0, err
	}
	return after, c.writeStatus(ctx, d)
}

// mountedOn says whether a VM runs with the disk attached.
func mountedOn(vm *virtv1.VirtualMachine, disk string) bool {
	for _, ref := range vm.Status.BlockDeviceRefs {
		if ref.Kind == virtv1.DiskDevice && ref.Name == disk && ref.Attached {
			return true
		}
	}
	return false
}

func (c *Controller) restart(d *disk) {
	if d.st.ObservedGeneration != 0 {
		c.recorder.Event(d.vd, corev1.EventTypeNormal, EventSpecChanged, "The spec changed before the disk was ready; provisioning starts over.")
	}
	keep := []metav1.Condition{}
	if c := meta.FindStatusCondition(d.st.Conditions, string(InUseType)); c != nil {
		keep = append(keep, *c)
	}
	d.st = virtv1.VirtualDiskStatus{
		Phase: virtv1.DiskPending, ObservedGeneration: d.gen(), Conditions: keep,
		AttachedToVirtualMachines: d.st.AttachedToVirtualMachines,
	}
}

// setUsers reports the VMs that reference the disk, mounted where the VM runs with it attached
// (the VM controller's status.blockDeviceRefs).
func (c *Controller) setUsers(d *disk, users []*virtv1.VirtualMachine) {
	var att []virtv1.AttachedVirtualMachine
	names := make([]string, 0, len(users))
	for _, vm := range users {
		att = append(att, virtv1.AttachedVirtualMachine{Name: vm.Name, Mounted: mountedOn(vm, d.vd.Name)})
		names = append(names, vm.Name)
	}
	d.st.AttachedToVirtualMachines = att
	if len(users) == 0 {
		provisioning.SetCondition(&d.st.Conditions, InUseType, metav1.ConditionFalse, NotInUse, "No VirtualMachine uses the disk.", d.gen())
		return
	}
	provisioning.SetCondition(&d.st.Conditions, InUseType, metav1.ConditionTrue, AttachedToVirtualMachine,
		fmt.Sprintf("Attached to VirtualMachine %s.", strings.Join(names, ", ")), d.gen())
}

// storageClass resolves the class; nil with the status set when the disk must wait.
func (c *Controller) storageClass(d *disk) (*storagev1.StorageClass, time.Duration, error) {
	sc, err := provisioning.ResolveStorageClass(c.scLister, d.vd.Spec.PersistentVolumeClaim.StorageClassName, c.settings.Config.VirtualDisks.DefaultStorageClassName)
	var nf *provisioning.StorageClassNotFound
	if errors.As(err, &nf) {
		d.st.Phase = virtv1.DiskPending
		provisioning.SetCondition(&d.st.Conditions, StorageClassReadyType, metav1.ConditionFalse, StorageClassNotFound, nf.Message, d.gen())
		c.setReady(d, metav1.ConditionFalse, StorageClassIsNotReady, nf.Message)
		return nil, 15 * time.Second, nil
	}
	if err != nil {
		return nil, 0, err
	}
	provisioning.SetCondition(&d.st.Conditions, StorageClassReadyType, metav1.ConditionTrue, StorageClassReady,
		fmt.Sprintf("The PVC uses the StorageClass %s.", sc.Name), d.gen())
	d.st.StorageClassName = sc.Name
	return sc, 0, nil
}

// maintain watches a filled disk: a lost PVC, and growth when the spec asks for more.
// Resizing works while the disk is in use: the CSI driver grows the volume online.
func (c *Controller) maintain(ctx context.Context, d *disk) (time.Duration, error) {
	if d.st.Phase == virtv1.DiskLost {
		return 0, nil
	}
	name := d.st.Target.PersistentVolumeClaim
	pvc, err := c.pvcLister.PersistentVolumeClaims(d.ns()).Get(name)
	if apierrors.IsNotFound(err) {
		if c.exp.CreatePending(provisioning.ObjKey("pvc", d.ns(), name)) {
			return time.Second, nil
		}
		d.st.Phase = virtv1.DiskLost
		d.st.Capacity = ""
		provisioning.RemoveCondition(&d.st.Conditions, ResizingType)
		msg := fmt.Sprintf("The PVC %s holding the disk was deleted; the data is lost. Delete and re-create the disk.", name)
		c.setReady(d, metav1.ConditionFalse, Lost, msg)
		c.recorder.Event(d.vd, corev1.EventTypeWarning, EventPVCLost, msg)
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("get PVC %s/%s: %w", d.ns(), name, err)
	}
	request := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if want := d.vd.Spec.PersistentVolumeClaim.Size; want != nil && want.Cmp(request) > 0 {
		patch := fmt.Sprintf(`{"spec":{"resources":{"requests":{"storage":%q}}}}`, want.String())
		if _, err := c.kube.CoreV1().PersistentVolumeClaims(d.ns()).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			return 0, fmt.Errorf("grow PVC %s/%s to %s: %w", d.ns(), name, want.String(), err)
		}
		c.recorder.Eventf(d.vd, corev1.EventTypeNormal, EventResizing, "Growing the disk from %s to %s.", request.String(), want.String())
		request = *want
	}
	capacity := pvc.Status.Capacity[corev1.ResourceStorage]
	if capacity.Cmp(request) < 0 {
		d.st.Phase = virtv1.DiskResizing
		provisioning.SetCondition(&d.st.Conditions, ResizingType, metav1.ConditionTrue, InProgress,
			fmt.Sprintf("Waiting for the storage to grow the volume to %s.", request.String()), d.gen())
		return 0, nil
	}
	provisioning.RemoveCondition(&d.st.Conditions, ResizingType)
	c.markReady(d, pvc)
	return 0, nil
}

// markReady reports a filled, bound PVC.
func (c *Controller) markReady(d *disk, pvc *corev1.PersistentVolumeClaim) {
	if d.st.Phase != virtv1.DiskReady && d.st.Phase != virtv1.DiskResizing {
		c.recorder.Eventf(d.vd, corev1.EventTypeNormal, EventDiskReady, "The disk is ready on the PVC %s.", pvc.Name)
	}
	capacity := pvc.Status.Capacity[corev1.ResourceStorage]
	d.st.Phase = virtv1.DiskReady
	d.st.Capacity = capacity.String()
	d.st.Target.PersistentVolumeClaim = pvc.Name
	d.st.Progress = "100%"
	d.st.DownloadSpeed = nil
	d.st.ImageUploadURLs = nil
	d.st.UploadCommand = ""
	c.setReady(d, metav1.ConditionTrue, Ready, "The disk is ready.")
}

// ensurePVC creates the disk's PVC once; it returns nil while the cache has not shown it.
func (c *Controller) ensurePVC(ctx context.Context, d *disk, sc *storagev1.StorageClass, size resource.Quantity) (*corev1.PersistentVolumeClaim, error) {
	name := d.pvcName()
	pvc, err := c.pvcLister.PersistentVolumeClaims(d.ns()).Get(name)
	if err == nil {
		// A PVC made for an older spec (its size or class may differ) goes before the new
		// one is made: "if the spec changes before Ready, creation starts over". Until it is
		// gone there is no PVC to use.
		if pvc.Labels[provisioning.GenerationLabel] != strconv.FormatInt(d.gen(), 10) {
			if pvc.DeletionTimestamp == nil {
				err := c.kube.CoreV1().PersistentVolumeClaims(d.ns()).Delete(ctx, name, metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(pvc.UID))})
				if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
					return nil, fmt.Errorf("delete PVC %s/%s of an older spec: %w", d.ns(), name, err)
				}
			}
			return nil, nil
		}
		return pvc, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("get PVC %s/%s: %w", d.ns(), name, err)
	}
	ek := provisioning.ObjKey("pvc", d.ns(), name)
	if c.exp.CreatePending(ek) {
		return nil, nil
	}
	pvc = provisioning.BuildPVC(provisioning.PVCRequest{
		Name: name, Namespace: d.ns(), Owner: d.ownerRef(), Labels: d.labels("pvc"),
		StorageClass: sc.Name, Settings: provisioning.SettingsFor(sc), Size: size,
	})
	pvc.Annotations = d.annotations()
	err = c.exp.Create(ek, func() error {
		_, err := c.kube.CoreV1().PersistentVolumeClaims(d.ns()).Create(ctx, pvc, metav1.CreateOptions{})
		return err
	})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create PVC %s/%s: %w", d.ns(), name, err)
	}
	d.st.Target.PersistentVolumeClaim = name
	return nil, nil
}

func (c *Controller) setFinalizer(ctx context.Context, d *disk, f string, present bool) error {
	list, changed := provisioning.WithFinalizer(d.vd.Finalizers, f, present)
	if !changed {
		return nil
	}
	vd := d.vd.DeepCopy()
	vd.Finalizers = list
	out, err := c.virt.VirtualizationV1alpha2().VirtualDisks(vd.Namespace).Update(ctx, vd, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update finalizers of VirtualDisk %s: %w", d.key(), err)
	}
	d.vd = out
	return nil
}

// writeStatus stores the status through /status, only when it changed.
func (c *Controller) writeStatus(ctx context.Context, d *disk) error {
	if apiequality.Semantic.DeepEqual(d.vd.Status, d.st) {
		return nil
	}
	vd := d.vd.DeepCopy()
	vd.Status = d.st
	if _, err := c.virt.VirtualizationV1alpha2().VirtualDisks(vd.Namespace).UpdateStatus(ctx, vd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update status of VirtualDisk %s: %w", d.key(), err)
	}
	return nil
}

// finalize keeps a disk in use Terminating; then it deletes the Pods and lets go. The PVC
// goes with the disk through its owner reference.
func (c *Controller) finalize(ctx context.Context, d *disk, users []*virtv1.VirtualMachine) (time.Duration, error) {
	d.st.Phase = virtv1.DiskTerminating
	d.st.DownloadSpeed, d.st.ImageUploadURLs, d.st.UploadCommand = nil, nil, ""
	if len(users) > 0 {
		provisioning.SetCondition(&d.st.Conditions, TerminatingType, metav1.ConditionTrue, CleanupPending,
			"The disk stays until no VirtualMachine refers to it; remove it from the VMs' blockDeviceRefs.", d.gen())
		return 0, c.writeStatus(ctx, d)
	}
	provisioning.SetCondition(&d.st.Conditions, TerminatingType, metav1.ConditionTrue, CleanupPending, "Deleting the importer Pods.", d.gen())
	left, err := c.pods.DeleteOwned(ctx, d.uid(), nil)
	if err != nil {
		return 0, err
	}
	if err := c.writeStatus(ctx, d); err != nil && !apierrors.IsNotFound(err) {
		return 0, err
	}
	if left > 0 {
		return 0, nil
	}
	for _, s := range []string{provisioning.StepImport, provisioning.StepUpload, provisioning.StepFill} {
		c.retries.Forget(d.podName(s))
	}
	if err := c.setFinalizer(ctx, d, provisioning.ProtectionFinalizer, false); err != nil {
		return 0, err
	}
	return 0, c.setFinalizer(ctx, d, provisioning.CleanupFinalizer, false)
}
