package image

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
	"github.com/virtplane/virtplane/pkg/dvcr"
	"github.com/virtplane/virtplane/pkg/importer"
)

// importBand is the share of progress the import takes when a fill follows it.
const importBand = 50.0

// Sync reconciles one image. It is idempotent: Pods and PVCs have deterministic names and
// expectations cover the gap until the informers show what was created.
func (c *Controller) Sync(ctx context.Context, key string) (time.Duration, error) {
	defer provisioning.LogSync(ctx, "image", key)()
	img, err := c.get(key)
	if err != nil || img == nil {
		return 0, err
	}
	users, err := provisioning.UsersOf(c.vmIndexer, img.blockDeviceKind(), img.namespace(), img.name())
	if err != nil {
		return 0, err
	}
	if img.meta().DeletionTimestamp != nil {
		return c.finalize(ctx, img, users)
	}
	if err := c.setFinalizer(ctx, img, provisioning.CleanupFinalizer, true); err != nil {
		return 0, err
	}
	if err := c.setFinalizer(ctx, img, provisioning.ProtectionFinalizer, len(users) > 0); err != nil {
		return 0, err
	}
	if img.status.ObservedGeneration != img.generation() {
		c.restart(img)
	}
	setInUse(img, users)
	// Pods go once the status that ends their work is stored (this sync reads it back), not
	// when it is computed: a status write that fails after its Pods are gone would leave the
	// next sync with no Pod and no result. Pods of older generations always go.
	finished := img.status.Phase == virtv1.ImageReady || img.status.Phase == virtv1.ImagePVCLost || img.status.Phase == virtv1.ImageFailed
	if err := c.deletePods(ctx, img, func(p *corev1.Pod) bool {
		return finished || p.Labels[provisioning.GenerationLabel] != strconv.FormatInt(img.generation(), 10)
	}); err != nil {
		return 0, err
	}
	var after time.Duration
	switch img.status.Phase {
	case virtv1.ImageReady, virtv1.ImagePVCLost:
		c.checkReady(img)
	case virtv1.ImageFailed:
		// Terminal until the spec changes (a new generation starts over).
	default:
		after, err = c.provision(ctx, img)
		if err != nil {
			return 0, err
		}
	}
	return after, c.writeStatus(ctx, img, users)
}

// restart forgets the progress of an older spec: "as long as the image is not Ready, the
// spec may change and provisioning starts over". Pods of older generations are deleted by
// the caller.
func (c *Controller) restart(img *image) {
	if img.status.ObservedGeneration != 0 {
		c.recorder.Event(img.object(), corev1.EventTypeNormal, EventSpecChanged, "The spec changed before the image was ready; provisioning starts over.")
	}
	inUse := meta.FindStatusCondition(img.status.Conditions, string(InUseType))
	img.status = virtv1.VirtualImageStatus{Phase: virtv1.ImagePending, ObservedGeneration: img.generation()}
	if inUse != nil {
		img.status.Conditions = append(img.status.Conditions, *inUse)
	}
}

func setInUse(img *image, users []*virtv1.VirtualMachine) {
	gen := img.generation()
	if len(users) == 0 {
		provisioning.SetCondition(&img.status.Conditions, InUseType, metav1.ConditionFalse, NotInUse, "No VirtualMachine uses the image.", gen)
		return
	}
	names := make([]string, 0, len(users))
	for _, vm := range users {
		names = append(names, vm.Namespace+"/"+vm.Name)
	}
	provisioning.SetCondition(&img.status.Conditions, InUseType, metav1.ConditionTrue, AttachedToVirtualMachine,
		fmt.Sprintf("Used by VirtualMachine %s.", strings.Join(names, ", ")), gen)
}

func (c *Controller) setReady(img *image, status metav1.ConditionStatus, reason ReadyReason, msg string) {
	provisioning.SetCondition(&img.status.Conditions, ReadyType, status, reason, msg, img.generation())
}

// provision moves the image one step forward from what the Pods show.
func (c *Controller) provision(ctx context.Context, img *image) (time.Duration, error) {
	st, gen := &img.status, img.generation()
	var sc *storagev1.StorageClass
	if img.pvcStorage() {
		var err error
		sc, err = provisioning.ResolveStorageClass(c.scLister, img.vi.Spec.PersistentVolumeClaim.StorageClassName, c.settings.Config.VirtualImages.DefaultStorageClassName)
		var nf *provisioning.StorageClassNotFound
		if errors.As(err, &nf) {
			st.Phase = virtv1.ImagePending
			provisioning.SetCondition(&st.Conditions, StorageClassReadyType, metav1.ConditionFalse, StorageClassNotFound, nf.Message, gen)
			c.setReady(img, metav1.ConditionFalse, StorageClassNotReady, nf.Message)
			return 15 * time.Second, nil
		}
		if err != nil {
			return 0, err
		}
		provisioning.SetCondition(&st.Conditions, StorageClassReadyType, metav1.ConditionTrue, StorageClassReady, fmt.Sprintf("The PVC will use the StorageClass %s.", sc.Name), gen)
		st.StorageClassName = sc.Name
	} else if img.vi != nil {
		provisioning.SetCondition(&st.Conditions, StorageClassReadyType, metav1.ConditionFalse, DVCRTypeUsed, "The image is stored in DVCR; no StorageClass is used.", gen)
	}

	step := provisioning.StepImport
	if img.src.Type == virtv1.DataSourceTypeUpload {
		step = provisioning.StepUpload
	}
	podName := img.podName(step)
	p, wait, err := c.planSource(img, podName)
	if err != nil {
		return 0, err
	}
	if wait != nil {
		st.Phase = virtv1.ImagePending
		provisioning.SetCondition(&st.Conditions, DatasourceReadyType, metav1.ConditionFalse, wait.reason, wait.message, gen)
		reason := DatasourceNotReady
		if img.cvi != nil {
			reason = Provisioning
		}
		c.setReady(img, metav1.ConditionFalse, reason, wait.message)
		return wait.after, nil
	}
	provisioning.SetCondition(&st.Conditions, DatasourceReadyType, metav1.ConditionTrue, DatasourceReady, "The data source is ready.", gen)
	st.SourceUID = p.sourceUID

	band := 100.0
	if img.pvcStorage() {
		band = importBand
	}
	pod, err := c.pods.Get(p.namespace, podName)
	if err != nil {
		return 0, err
	}
	obs := provisioning.Observe(pod, c.settings.Now(), c.settings.StartTimeout)
	switch obs.State {
	case provisioning.PodAbsent:
		return c.startImport(ctx, img, step, podName, p)
	case provisioning.PodRunning:
		return c.running(ctx, img, step, pod, 0, band)
	case provisioning.PodSucceeded:
		c.poller.Stop(pod.UID)
		applyResult(st, obs.Result)
		if !img.pvcStorage() {
			st.Target.RegistryURL = c.destImage(img)
			return 0, c.ready(ctx, img)
		}
		return c.fill(ctx, img, sc)
	default:
		return c.handleEnded(ctx, img, obs)
	}
}

// handleEnded covers the Pod states every step treats alike.
func (c *Controller) handleEnded(ctx context.Context, img *image, obs provisioning.Observation) (time.Duration, error) {
	switch obs.State {
	case provisioning.PodNotStarted:
		return 0, c.fail(ctx, img, ProvisioningNotStarted, obs.Message)
	case provisioning.PodFailed:
		return c.failed(ctx, img, obs.Pod, obs.Result)
	default: // starting or terminating
		img.status.Phase = virtv1.ImageProvisioning
		c.setReady(img, metav1.ConditionFalse, Provisioning, fmt.Sprintf("Waiting for the importer Pod %s to start.", obs.Pod.Name))
		return 0, nil
	}
}

func (c *Controller) destImage(img *image) string {
	return dvcr.ImageRef(c.settings.Config.DVCR.Address, img.prefix(), img.namespace(), img.name(), string(img.uid()))
}

// startImport creates the import or upload Pod.
func (c *Controller) startImport(ctx context.Context, img *image, step, podName string, p *plan) (time.Duration, error) {
	env := append([]corev1.EnvVar{}, p.env...)
	env = append(env, corev1.EnvVar{Name: importer.EnvDestImage, Value: c.destImage(img)})
	mode := importer.ModeImport
	if step == provisioning.StepUpload {
		mode = importer.ModeUpload
		tok, err := provisioning.NewUploadToken()
		if err != nil {
			return 0, err
		}
		env = append(env, corev1.EnvVar{Name: importer.EnvUploadToken, Value: tok})
	}
	access := append([]dvcr.Access{provisioning.RepoAccess(img.repository(), "pull", "push")}, p.access...)
	return c.createPod(ctx, img, step, provisioning.PodRequest{
		Name: podName, Namespace: p.namespace, Mode: mode, Env: env, Volumes: p.volumes,
	}, access, p.pullSecret)
}

// createPod creates a step's Pod once: not while the cache may still miss the one created a
// moment ago, and not before the retry backoff has passed.
func (c *Controller) createPod(ctx context.Context, img *image, step string, req provisioning.PodRequest, access []dvcr.Access, pullSecret *corev1.Secret) (time.Duration, error) {
	st := &img.status
	st.Phase = virtv1.ImageProvisioning
	ek := provisioning.ObjKey("pod", req.Namespace, req.Name)
	if c.exp.CreatePending(ek) {
		c.setReady(img, metav1.ConditionFalse, Provisioning, fmt.Sprintf("Waiting for the importer Pod %s to start.", req.Name))
		return 0, nil
	}
	if d := c.retries.Wait(req.Name, c.settings.Now()); d > 0 {
		c.setReady(img, metav1.ConditionFalse, Provisioning, fmt.Sprintf("The previous attempt failed; retrying in %s.", d.Round(time.Second)))
		return d, nil
	}
	tokEnv, err := provisioning.DVCREnv(c.settings, img.subject(), access...)
	if err != nil {
		return 0, err
	}
	req.Env = append(req.Env, tokEnv...)
	req.Labels = provisioning.OwnerLabels(img.kind(), img.name(), img.uid(), img.generation(), step)
	req.Annotations = map[string]string{provisioning.OwnerKeyAnnotation: strings.TrimPrefix(img.key(), img.prefix()+"/")}
	if img.vi != nil && req.Namespace == img.namespace() {
		req.Owner = img.ownerRef()
	}
	pod := c.settings.Pods.BuildPod(req)
	var created *corev1.Pod
	err = c.exp.Create(ek, func() (err error) {
		created, err = c.kube.CoreV1().Pods(req.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		return err
	})
	if apierrors.IsAlreadyExists(err) {
		return time.Second, nil
	}
	if err != nil {
		return 0, fmt.Errorf("create importer Pod %s/%s: %w", req.Namespace, req.Name, err)
	}
	if pullSecret != nil {
		if err := c.copyPullSecret(ctx, created, pullSecret); err != nil {
			return 0, err
		}
	}
	c.recorder.Eventf(img.object(), corev1.EventTypeNormal, EventProvisioningStarted, "Started the %s Pod %s/%s.", step, req.Namespace, req.Name)
	c.setReady(img, metav1.ConditionFalse, Provisioning, fmt.Sprintf("Waiting for the importer Pod %s to start.", req.Name))
	return 0, nil
}

// copyPullSecret puts the registry credentials next to the Pod, owned by it, so they go
// away with it. Cluster images name Secrets in any namespace; Pods can read only their own.
func (c *Controller) copyPullSecret(ctx context.Context, pod *corev1.Pod, src *corev1.Secret) error {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: pullSecretCopyName(pod.Name), Namespace: pod.Namespace,
			Labels:          map[string]string{provisioning.ManagedByLabel: provisioning.ManagedByValue},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID}},
		},
		Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{dockerConfigKey: src.Data[dockerConfigKey]},
	}
	if _, err := c.kube.CoreV1().Secrets(pod.Namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("copy registry Secret %s/%s for Pod %s/%s: %w", src.Namespace, src.Name, pod.Namespace, pod.Name, err)
	}
	return nil
}

// running reports a working Pod's progress within [from, to].
func (c *Controller) running(ctx context.Context, img *image, step string, pod *corev1.Pod, from, to float64) (time.Duration, error) {
	st := &img.status
	prog := c.poller.Ensure(pod.UID, pod.Status.PodIP, img.key())
	if step == provisioning.StepUpload {
		return c.uploading(ctx, img, pod, prog)
	}
	st.Phase = virtv1.ImageProvisioning
	st.Progress = provisioning.StepPercent(prog, from, to)
	st.DownloadSpeed = provisioning.Speed(prog)
	c.setReady(img, metav1.ConditionFalse, Provisioning, fmt.Sprintf("The importer Pod %s is copying the data.", pod.Name))
	return 0, nil
}

// uploading hands out the upload URLs and waits for the user; the token is the secret part
// of the URL and lives in the Pod's environment only.
func (c *Controller) uploading(ctx context.Context, img *image, pod *corev1.Pod, prog *importer.Progress) (time.Duration, error) {
	st := &img.status
	token := provisioning.EnvValue(pod, importer.EnvUploadToken)
	urls := &virtv1.ImageUploadURLs{
		InCluster: "http://" + net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(importer.Port)) + importer.PathUpload + "/" + token,
	}
	if ext := c.settings.Config.Uploads.ExternalURL; ext != "" {
		urls.External = strings.TrimRight(ext, "/") + importer.PathUpload + "/" + token
	}
	target := urls.External
	if target == "" {
		target = urls.InCluster
	}
	st.ImageUploadURLs = urls
	st.UploadCommand = fmt.Sprintf("curl %s --progress-bar -T <image file> | cat", target)
	if prog != nil && prog.Stage != "Waiting" && prog.Stage != "" {
		st.Phase = virtv1.ImageProvisioning
		st.Progress = provisioning.StepPercent(prog, 0, c.importBand(img))
		st.DownloadSpeed = provisioning.Speed(prog)
		c.setReady(img, metav1.ConditionFalse, Provisioning, "The upload is in progress.")
		return 0, nil
	}
	started := pod.CreationTimestamp.Time
	if pod.Status.StartTime != nil {
		started = pod.Status.StartTime.Time
	}
	left := started.Add(c.settings.UploadWaitTimeout).Sub(c.settings.Now())
	if left <= 0 {
		c.recorder.Eventf(img.object(), corev1.EventTypeWarning, EventUploadTimeout, "No upload started within %s.", c.settings.UploadWaitTimeout)
		return 0, c.fail(ctx, img, WaitForUserUploadTimeout,
			fmt.Sprintf("No upload started within %s; change the spec or re-create the image to get a new upload URL.", c.settings.UploadWaitTimeout))
	}
	st.Phase = virtv1.ImageWaitForUserUpload
	c.setReady(img, metav1.ConditionFalse, WaitForUserUpload, fmt.Sprintf("Waiting for the upload to %s.", target))
	return left, nil
}

func (c *Controller) importBand(img *image) float64 {
	if img.pvcStorage() {
		return importBand
	}
	return 100
}

// failed retries a retryable failure a few times with backoff, else fails the image.
func (c *Controller) failed(ctx context.Context, img *image, pod *corev1.Pod, res *importer.Result) (time.Duration, error) {
	c.poller.Stop(pod.UID)
	if res.Retryable && c.retries.Get(pod.Name) < c.settings.MaxRetries {
		// The failed Pod goes first; an attempt counts only once it is gone.
		if err := c.pods.Delete(ctx, pod); err != nil {
			return 0, err
		}
		n := c.retries.Add(pod.Name, c.settings.Now())
		c.recorder.Eventf(img.object(), corev1.EventTypeWarning, EventProvisioningRetried,
			"Attempt %d of %d failed: %s Retrying in %s.", n, c.settings.MaxRetries+1, res.Error, provisioning.Backoff(n))
		img.status.Phase = virtv1.ImageProvisioning
		c.setReady(img, metav1.ConditionFalse, Provisioning, fmt.Sprintf("Attempt %d failed (%s); retrying.", n, res.Error))
		return provisioning.Backoff(n), nil
	}
	msg := res.Error
	if msg == "" {
		msg = "The importer failed without saying why."
	}
	return 0, c.fail(ctx, img, ProvisioningFailed, msg)
}

// fail ends provisioning for this generation.
func (c *Controller) fail(ctx context.Context, img *image, reason ReadyReason, msg string) error {
	st := &img.status
	st.Phase = virtv1.ImageFailed
	st.DownloadSpeed = nil
	st.ImageUploadURLs = nil
	st.UploadCommand = ""
	c.setReady(img, metav1.ConditionFalse, reason, msg)
	c.recorder.Event(img.object(), corev1.EventTypeWarning, EventProvisioningFailed, msg)
	return nil
}

// ready finishes provisioning; the next sync removes the Pods (the upload token dies with them).
func (c *Controller) ready(ctx context.Context, img *image) error {
	st := &img.status
	st.Phase = virtv1.ImageReady
	st.Progress = "100%"
	st.DownloadSpeed = nil
	st.ImageUploadURLs = nil
	st.UploadCommand = ""
	st.ObservedGeneration = img.generation()
	c.setReady(img, metav1.ConditionTrue, Ready, "The image is ready.")
	c.recorder.Eventf(img.object(), corev1.EventTypeNormal, EventProvisioningDone, "The image is ready (%s, %s unpacked).", st.Format, st.Size.Unpacked)
	return nil
}

func applyResult(st *virtv1.VirtualImageStatus, r *importer.Result) {
	st.Format = r.Format
	st.CDROM = r.CDROM
	st.Size = virtv1.ImageStatusSize{
		Stored: provisioning.HumanBytes(r.StoredBytes), StoredBytes: strconv.FormatInt(r.StoredBytes, 10),
		Unpacked: provisioning.HumanBytes(r.UnpackedBytes), UnpackedBytes: strconv.FormatInt(r.UnpackedBytes, 10),
	}
}

// checkReady notices a PVC-stored image whose PVC is gone.
func (c *Controller) checkReady(img *image) {
	if !img.pvcStorage() || img.status.Phase != virtv1.ImageReady {
		return
	}
	name := img.status.Target.PersistentVolumeClaim
	if _, err := c.pvcLister.PersistentVolumeClaims(img.namespace()).Get(name); apierrors.IsNotFound(err) {
		img.status.Phase = virtv1.ImagePVCLost
		msg := fmt.Sprintf("The PVC %s holding the image was deleted; the image is lost. Delete and re-create the image.", name)
		c.setReady(img, metav1.ConditionFalse, PVCLost, msg)
		c.recorder.Event(img.object(), corev1.EventTypeWarning, EventPVCLost, msg)
	}
}

// fill writes the imported DVCR image onto the image's PVC.
func (c *Controller) fill(ctx context.Context, img *image, sc *storagev1.StorageClass) (time.Duration, error) {
	st := &img.status
	st.Phase = virtv1.ImageProvisioning
	settings := provisioning.SettingsFor(sc)
	unpacked, _ := strconv.ParseInt(st.Size.UnpackedBytes, 10, 64)
	size := provisioning.RoundUpMiB(unpacked)
	if settings.VolumeMode == corev1.PersistentVolumeFilesystem {
		size += provisioning.FilesystemOverhead(size)
	}
	pvcName := img.pvcName()
	pvc, err := c.pvcLister.PersistentVolumeClaims(img.namespace()).Get(pvcName)
	switch {
	case apierrors.IsNotFound(err):
		if !c.exp.CreatePending(provisioning.ObjKey("pvc", img.namespace(), pvcName)) {
			pvc = provisioning.BuildPVC(provisioning.PVCRequest{
				Name: pvcName, Namespace: img.namespace(), Owner: img.ownerRef(),
				Labels:       provisioning.OwnerLabels(img.kind(), img.name(), img.uid(), img.generation(), provisioning.StepFill),
				StorageClass: sc.Name, Settings: settings, Size: *resource.NewQuantity(size, resource.BinarySI),
			})
			pvc.Annotations = map[string]string{provisioning.OwnerKeyAnnotation: img.namespace() + "/" + img.name()}
			err := c.exp.Create(provisioning.ObjKey("pvc", img.namespace(), pvcName), func() error {
				_, err := c.kube.CoreV1().PersistentVolumeClaims(img.namespace()).Create(ctx, pvc, metav1.CreateOptions{})
				return err
			})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				return 0, fmt.Errorf("create PVC %s/%s: %w", img.namespace(), pvcName, err)
			}
		}
	case err != nil:
		return 0, fmt.Errorf("get PVC %s/%s: %w", img.namespace(), pvcName, err)
	default:
		settings.VolumeMode = corev1.PersistentVolumeFilesystem
		if provisioning.IsBlock(pvc) {
			settings.VolumeMode = corev1.PersistentVolumeBlock
		}
	}
	podName := img.podName(provisioning.StepFill)
	pod, err := c.pods.Get(img.namespace(), podName)
	if err != nil {
		return 0, err
	}
	obs := provisioning.Observe(pod, c.settings.Now(), c.settings.StartTimeout)
	switch obs.State {
	case provisioning.PodAbsent:
		st.Progress = provisioning.Percent(importBand)
		vol := provisioning.VolumeMount{Name: "target", ClaimName: pvcName, Block: settings.VolumeMode == corev1.PersistentVolumeBlock, Path: provisioning.DestMountDir}
		if vol.Block {
			vol.Path = provisioning.DestDevice
		}
		env := []corev1.EnvVar{
			{Name: importer.EnvSourceType, Value: importer.SourceDVCR},
			{Name: importer.EnvSourceURL, Value: c.destImage(img)},
			{Name: importer.EnvDestPath, Value: vol.DiskPath()},
		}
		return c.createPod(ctx, img, provisioning.StepFill, provisioning.PodRequest{
			Name: podName, Namespace: img.namespace(), Mode: importer.ModeFill, Env: env,
			Volumes: []provisioning.VolumeMount{vol}, Scratch: true,
		}, []dvcr.Access{provisioning.RepoAccess(img.repository(), "pull")}, nil)
	case provisioning.PodRunning:
		return c.running(ctx, img, provisioning.StepFill, pod, importBand, 100)
	case provisioning.PodSucceeded:
		c.poller.Stop(pod.UID)
		st.Target.PersistentVolumeClaim = pvcName
		return 0, c.ready(ctx, img)
	default:
		return c.handleEnded(ctx, img, obs)
	}
}
