package disk

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
	"github.com/virtplane/virtplane/pkg/dvcr"
	"github.com/virtplane/virtplane/pkg/importer"
)

// fillSource is what a fill Pod reads: a DVCR image or another PVC.
type fillSource struct {
	env     []corev1.EnvVar
	volumes []provisioning.VolumeMount
	access  []dvcr.Access
	// unpacked is the virtual size of the image, for the PVC size.
	unpacked int64
	from     float64 // progress band of the fill
	// direct: the fill reads the user's source itself, so its result is checked as an
	// import's would be (no ISO).
	direct bool
}

// isoRefusal is the reason of a disk whose data turned out to be an ISO image.
const isoRefusal = "The data is an ISO image: disks cannot be made from ISO images; make a VirtualImage and attach it as a CD-ROM instead."

func (c *Controller) provision(ctx context.Context, d *disk) (time.Duration, error) {
	sc, after, err := c.storageClass(d)
	if sc == nil || err != nil {
		return after, err
	}
	ds := d.vd.Spec.DataSource
	if ds == nil || ds.Type == "" {
		return c.blank(ctx, d, sc)
	}
	src, after, err := c.source(ctx, d)
	if src == nil || err != nil {
		return after, err
	}
	provisioning.SetCondition(&d.st.Conditions, DatasourceReadyType, metav1.ConditionTrue, DatasourceReady, "The data source is ready.", d.gen())
	return c.fill(ctx, d, sc, src)
}

// blank makes an empty PVC. With a WaitForFirstConsumer class the PVC binds only when its
// first VM's Pod is scheduled, so the disk waits in WaitForFirstConsumer until then.
func (c *Controller) blank(ctx context.Context, d *disk, sc *storagev1.StorageClass) (time.Duration, error) {
	size := d.vd.Spec.PersistentVolumeClaim.Size
	if size == nil {
		return 0, c.fail(ctx, d, ProvisioningFailed, "A blank disk needs spec.persistentVolumeClaim.size.")
	}
	pvc, err := c.ensurePVC(ctx, d, sc, *size)
	if pvc == nil || err != nil {
		d.st.Phase = virtv1.DiskProvisioning
		c.setReady(d, metav1.ConditionFalse, Provisioning, "Creating the PVC.")
		return 0, err
	}
	switch {
	case pvc.Status.Phase == corev1.ClaimBound:
		c.markReady(d, pvc)
	case provisioning.WaitsForFirstConsumer(sc):
		d.st.Phase = virtv1.DiskWaitForFirstConsumer
		d.st.Target.PersistentVolumeClaim = pvc.Name
		c.setReady(d, metav1.ConditionFalse, WaitingForFirstConsumer,
			fmt.Sprintf("The StorageClass %s binds the volume on the node of its first consumer; the disk is created when a VirtualMachine uses it.", sc.Name))
	default:
		d.st.Phase = virtv1.DiskProvisioning
		d.st.Target.PersistentVolumeClaim = pvc.Name
		c.setReady(d, metav1.ConditionFalse, Provisioning, fmt.Sprintf("Waiting for the PVC %s to be bound.", pvc.Name))
	}
	return 0, nil
}

// source prepares the fill: from an image directly, or after importing HTTP, registry or
// uploaded data into the disk's own DVCR repository.
func (c *Controller) source(ctx context.Context, d *disk) (*fillSource, time.Duration, error) {
	ds := d.vd.Spec.DataSource
	switch ds.Type {
	case virtv1.DataSourceTypeObjectRef:
		return c.imageSource(ctx, d)
	case virtv1.DataSourceTypeHTTP, virtv1.DataSourceTypeContainerImage:
		if d.vd.Spec.PersistentVolumeClaim.Size != nil {
			return c.direct(ctx, d)
		}
		return c.importFirst(ctx, d)
	case virtv1.DataSourceTypeUpload:
		return c.importFirst(ctx, d)
	}
	return nil, 0, c.fail(ctx, d, ProvisioningFailed, fmt.Sprintf("Unknown data source type %q.", ds.Type))
}

func (c *Controller) waitSource(d *disk, reason DatasourceReadyReason, ready ReadyReason, msg string) {
	d.st.Phase = virtv1.DiskPending
	provisioning.SetCondition(&d.st.Conditions, DatasourceReadyType, metav1.ConditionFalse, reason, msg, d.gen())
	c.setReady(d, metav1.ConditionFalse, ready, msg)
}

// imageSource reads a Ready VirtualImage or ClusterVirtualImage.
func (c *Controller) imageSource(ctx context.Context, d *disk) (*fillSource, time.Duration, error) {
	ref := d.vd.Spec.DataSource.ObjectRef
	if ref == nil {
		return nil, 0, c.fail(ctx, d, ProvisioningFailed, "spec.dataSource.objectRef is missing.")
	}
	var status virtv1.VirtualImageStatus
	var uid string
	var repo string
	pvcStored := false
	switch ref.Kind {
	case virtv1.VirtualDiskObjectRefKindVirtualImage:
		vi, err := c.viLister.VirtualImages(d.ns()).Get(ref.Name)
		if apierrors.IsNotFound(err) {
			c.waitSource(d, ImageNotFound, DatasourceIsNotFound, fmt.Sprintf("The VirtualImage %s does not exist yet.", ref.Name))
			return nil, 0, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("get VirtualImage %s/%s: %w", d.ns(), ref.Name, err)
		}
		status, uid, repo = vi.Status, string(vi.UID), dvcr.Repository(dvcr.KindVI, vi.Namespace, vi.Name)
		pvcStored = provisioning.PVCStored(vi.Spec.Storage)
		if vi.Status.Phase != virtv1.ImageReady {
			c.waitSource(d, ImageNotReady, DatasourceIsNotReady, fmt.Sprintf("Waiting for the VirtualImage %s to be Ready.", ref.Name))
			return nil, 0, nil
		}
	case virtv1.VirtualDiskObjectRefKindClusterVirtualImage:
		cvi, err := c.cviLister.Get(ref.Name)
		if apierrors.IsNotFound(err) {
			c.waitSource(d, ClusterImageNotFound, DatasourceIsNotFound, fmt.Sprintf("The ClusterVirtualImage %s does not exist yet.", ref.Name))
			return nil, 0, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("get ClusterVirtualImage %s: %w", ref.Name, err)
		}
		status = virtv1.VirtualImageStatus{Phase: cvi.Status.Phase, Size: cvi.Status.Size, Format: cvi.Status.Format, CDROM: cvi.Status.CDROM,
			Target: virtv1.VirtualImageStatusTarget{RegistryURL: cvi.Status.Target.RegistryURL}}
		uid, repo = string(cvi.UID), dvcr.Repository(dvcr.KindCVI, "", cvi.Name)
		if cvi.Status.Phase != virtv1.ImageReady {
			c.waitSource(d, ClusterImageNotReady, DatasourceIsNotReady, fmt.Sprintf("Waiting for the ClusterVirtualImage %s to be Ready.", ref.Name))
			return nil, 0, nil
		}
	case virtv1.VirtualDiskObjectRefKindVirtualDiskSnapshot:
		c.waitSource(d, VirtualDiskSnapshotNotReady, DatasourceIsNotReady,
			"Disks from VirtualDiskSnapshots are not supported yet: they come with the snapshot controller in a later release.")
		return nil, 0, nil
	default:
		return nil, 0, c.fail(ctx, d, ProvisioningFailed, fmt.Sprintf("Unknown objectRef kind %q.", ref.Kind))
	}
	if status.CDROM || status.Format == "iso" {
		return nil, 0, c.fail(ctx, d, ProvisioningFailed,
			fmt.Sprintf("The %s %s is an ISO image: disks cannot be made from ISO images; attach it to the VM as a CD-ROM instead.", ref.Kind, ref.Name))
	}
	d.st.SourceUID = uid
	unpacked, _ := strconv.ParseInt(status.Size.UnpackedBytes, 10, 64)
	src := &fillSource{unpacked: unpacked}
	if pvcStored {
		// Clone: the fill Pod mounts the image's PVC read-only next to the disk's.
		claim := status.Target.PersistentVolumeClaim
		pvc, err := c.pvcLister.PersistentVolumeClaims(d.ns()).Get(claim)
		if apierrors.IsNotFound(err) {
			c.waitSource(d, ImageNotReady, DatasourceIsNotReady, fmt.Sprintf("The PVC %s of the VirtualImage %s does not exist.", claim, ref.Name))
			return nil, 10 * time.Second, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("get PVC %s/%s: %w", d.ns(), claim, err)
		}
		vol := provisioning.VolumeMount{Name: "source", ClaimName: claim, Block: provisioning.IsBlock(pvc), ReadOnly: true, Path: provisioning.SourceMountDir}
		if vol.Block {
			vol.Path = provisioning.SourceDevice
		}
		src.volumes = append(src.volumes, vol)
		src.env = []corev1.EnvVar{{Name: importer.EnvSourceType, Value: importer.SourceVolume}, {Name: importer.EnvSourceURL, Value: vol.DiskPath()}}
		return src, 0, nil
	}
	src.env = []corev1.EnvVar{{Name: importer.EnvSourceType, Value: importer.SourceDVCR}, {Name: importer.EnvSourceURL, Value: status.Target.RegistryURL}}
	src.access = []dvcr.Access{provisioning.RepoAccess(repo, "pull")}
	return src, 0, nil
}

func (c *Controller) ownImage(d *disk) string {
	return dvcr.ImageRef(c.settings.Config.DVCR.Address, dvcr.KindVD, d.ns(), d.vd.Name, string(d.uid()))
}

// direct fills the disk straight from an HTTP or registry source, in one Pod, when the spec
// gives the size: the volume is written as the data arrives (converted through scratch space
// where the format needs it), with no copy in DVCR. Without a size, the image's virtual size
// must be known before the PVC is made, so the data goes through DVCR first (importFirst).
func (c *Controller) direct(ctx context.Context, d *disk) (*fillSource, time.Duration, error) {
	env, after, err := c.sourceEnv(ctx, d)
	if env == nil || err != nil {
		return nil, after, err
	}
	return &fillSource{env: env, direct: true}, 0, nil
}

// importFirst runs the import (or upload) into vd/<ns>/<name>:<uid>; the fill reads it.
func (c *Controller) importFirst(ctx context.Context, d *disk) (*fillSource, time.Duration, error) {
	ds := d.vd.Spec.DataSource
	step, mode := provisioning.StepImport, importer.ModeImport
	if ds.Type == virtv1.DataSourceTypeUpload {
		step, mode = provisioning.StepUpload, importer.ModeUpload
	}
	name := d.podName(step)
	pod, err := c.pods.Get(d.ns(), name)
	if err != nil {
		return nil, 0, err
	}
	repo := dvcr.Repository(dvcr.KindVD, d.ns(), d.vd.Name)
	obs := provisioning.Observe(pod, c.settings.Now(), c.settings.StartTimeout)
	switch obs.State {
	case provisioning.PodAbsent:
		env, after, err := c.sourceEnv(ctx, d)
		if env == nil || err != nil {
			return nil, after, err
		}
		env = append(env, corev1.EnvVar{Name: importer.EnvDestImage, Value: c.ownImage(d)})
		provisioning.SetCondition(&d.st.Conditions, DatasourceReadyType, metav1.ConditionTrue, DatasourceReady, "The data source is ready.", d.gen())
		after, err = c.createPod(ctx, d, step, provisioning.PodRequest{Name: name, Namespace: d.ns(), Mode: mode, Env: env},
			[]dvcr.Access{provisioning.RepoAccess(repo, "pull", "push")})
		return nil, after, err
	case provisioning.PodRunning:
		provisioning.SetCondition(&d.st.Conditions, DatasourceReadyType, metav1.ConditionTrue, DatasourceReady, "The data source is ready.", d.gen())
		return nil, c.running(ctx, d, step, pod, 0, 50), nil
	case provisioning.PodSucceeded:
		c.poller.Stop(pod.UID)
		r := obs.Result
		if r.CDROM || r.Format == "iso" {
			return nil, 0, c.fail(ctx, d, ProvisioningFailed, isoRefusal)
		}
		return &fillSource{
			unpacked: r.UnpackedBytes, from: 50,
			env:    []corev1.EnvVar{{Name: importer.EnvSourceType, Value: importer.SourceDVCR}, {Name: importer.EnvSourceURL, Value: c.ownImage(d)}},
			access: []dvcr.Access{provisioning.RepoAccess(repo, "pull")},
		}, 0, nil
	default:
		return nil, c.handleEnded(ctx, d, obs), nil
	}
}

// sourceEnv is the importer's view of an HTTP, ContainerImage or Upload source. It returns
// nil (with the wait) while the source is not usable yet.
func (c *Controller) sourceEnv(ctx context.Context, d *disk) ([]corev1.EnvVar, time.Duration, error) {
	ds := d.vd.Spec.DataSource
	env := []corev1.EnvVar{}
	switch ds.Type {
	case virtv1.DataSourceTypeHTTP:
		if ds.HTTP == nil {
			return nil, 0, c.fail(ctx, d, ProvisioningFailed, "spec.dataSource.http is missing.")
		}
		env = append(env, corev1.EnvVar{Name: importer.EnvSourceType, Value: importer.SourceHTTP}, corev1.EnvVar{Name: importer.EnvSourceURL, Value: ds.HTTP.URL})
		if len(ds.HTTP.CABundle) > 0 {
			env = append(env, corev1.EnvVar{Name: importer.EnvSourceCABundle, Value: string(ds.HTTP.CABundle)})
		}
		if cs := ds.HTTP.Checksum; cs != nil {
			env = append(env, provisioning.ChecksumEnv(cs.MD5, cs.SHA1, cs.SHA256, cs.SHA512)...)
		}
	case virtv1.DataSourceTypeContainerImage:
		ci := ds.ContainerImage
		if ci == nil {
			return nil, 0, c.fail(ctx, d, ProvisioningFailed, "spec.dataSource.containerImage is missing.")
		}
		env = append(env, corev1.EnvVar{Name: importer.EnvSourceType, Value: importer.SourceRegistry}, corev1.EnvVar{Name: importer.EnvSourceURL, Value: ci.Image})
		if len(ci.CABundle) > 0 {
			env = append(env, corev1.EnvVar{Name: importer.EnvSourceCABundle, Value: string(ci.CABundle)})
		}
		if s := ci.ImagePullSecret.Name; s != "" {
			if _, err := c.secLister.Secrets(d.ns()).Get(s); apierrors.IsNotFound(err) {
				c.waitSource(d, ContainerRegistrySecretNotFound, DatasourceIsNotReady,
					fmt.Sprintf("The Secret %s with the registry credentials does not exist; create it or fix imagePullSecret.", s))
				return nil, 10 * time.Second, nil
			}
			env = append(env, corev1.EnvVar{Name: importer.EnvSourceDockerConfig, ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: s}, Key: corev1.DockerConfigJsonKey},
			}})
		}
	case virtv1.DataSourceTypeUpload:
		tok, err := provisioning.NewUploadToken()
		if err != nil {
			return nil, 0, err
		}
		env = append(env, corev1.EnvVar{Name: importer.EnvUploadToken, Value: tok})
		if ds.Upload != nil && ds.Upload.Checksum != nil {
			cs := ds.Upload.Checksum
			env = append(env, provisioning.ChecksumEnv(cs.MD5, cs.SHA1, cs.SHA256, cs.SHA512)...)
		}
	}
	return env, 0, nil
}

// fill makes the PVC and writes the source onto it. For a WaitForFirstConsumer class the
// fill Pod is the PVC's first consumer: the scheduler binds the volume where the Pod runs.
func (c *Controller) fill(ctx context.Context, d *disk, sc *storagev1.StorageClass, src *fillSource) (time.Duration, error) {
	d.st.Phase = virtv1.DiskProvisioning
	settings := provisioning.SettingsFor(sc)
	size, err := c.diskSize(d, src.unpacked, settings)
	if err != nil {
		return 0, c.fail(ctx, d, ProvisioningFailed, err.Error())
	}
	pvc, err := c.ensurePVC(ctx, d, sc, size)
	if err != nil {
		return 0, err
	}
	if pvc == nil {
		// Being made, or an older spec's PVC is going: the fill Pod waits for this one.
		c.setReady(d, metav1.ConditionFalse, Provisioning, "Creating the PVC.")
		return time.Second, nil
	}
	settings.VolumeMode = corev1.PersistentVolumeFilesystem
	if provisioning.IsBlock(pvc) {
		settings.VolumeMode = corev1.PersistentVolumeBlock
	}
	name := d.podName(provisioning.StepFill)
	pod, err := c.pods.Get(d.ns(), name)
	if err != nil {
		return 0, err
	}
	obs := provisioning.Observe(pod, c.settings.Now(), c.settings.StartTimeout)
	switch obs.State {
	case provisioning.PodAbsent:
		d.st.Progress = provisioning.Percent(src.from)
		vol := provisioning.VolumeMount{Name: "target", ClaimName: d.pvcName(), Block: settings.VolumeMode == corev1.PersistentVolumeBlock, Path: provisioning.DestMountDir}
		if vol.Block {
			vol.Path = provisioning.DestDevice
		}
		env := append(append([]corev1.EnvVar{}, src.env...), corev1.EnvVar{Name: importer.EnvDestPath, Value: vol.DiskPath()})
		return c.createPod(ctx, d, provisioning.StepFill, provisioning.PodRequest{
			Name: name, Namespace: d.ns(), Mode: importer.ModeFill, Env: env,
			Volumes: append([]provisioning.VolumeMount{vol}, src.volumes...), Scratch: true,
		}, src.access)
	case provisioning.PodRunning:
		return c.running(ctx, d, provisioning.StepFill, pod, src.from, 100), nil
	case provisioning.PodSucceeded:
		c.poller.Stop(pod.UID)
		if r := obs.Result; src.direct && r != nil && (r.CDROM || r.Format == "iso") {
			return 0, c.fail(ctx, d, ProvisioningFailed, isoRefusal)
		}
		if pvc == nil || pvc.Status.Phase != corev1.ClaimBound {
			c.setReady(d, metav1.ConditionFalse, Provisioning, "Waiting for the PVC to be bound.")
			return time.Second, nil
		}
		c.markReady(d, pvc)
		return 0, nil
	default:
		return c.handleEnded(ctx, d, obs), nil
	}
}

// diskSize is the spec's size, or the image's unpacked size rounded up to MiB; a spec
// smaller than the image cannot hold it. A derived size on a file system gets room for the
// file system around disk.img.
func (c *Controller) diskSize(d *disk, unpacked int64, settings provisioning.VolumeSettings) (resource.Quantity, error) {
	if want := d.vd.Spec.PersistentVolumeClaim.Size; want != nil {
		if unpacked > 0 && want.Value() < unpacked {
			return resource.Quantity{}, fmt.Errorf("the requested size %s is smaller than the unpacked image size %s; set spec.persistentVolumeClaim.size to at least %s",
				want.String(), provisioning.HumanBytes(unpacked), resource.NewQuantity(provisioning.RoundUpMiB(unpacked), resource.BinarySI).String())
		}
		return *want, nil
	}
	size := provisioning.RoundUpMiB(unpacked)
	if settings.VolumeMode == corev1.PersistentVolumeFilesystem {
		size += provisioning.FilesystemOverhead(size)
	}
	return *resource.NewQuantity(size, resource.BinarySI), nil
}

// createPod creates a step's Pod once (expectations, retry backoff).
func (c *Controller) createPod(ctx context.Context, d *disk, step string, req provisioning.PodRequest, access []dvcr.Access) (time.Duration, error) {
	d.st.Phase = virtv1.DiskProvisioning
	ek := provisioning.ObjKey("pod", req.Namespace, req.Name)
	if c.exp.CreatePending(ek) {
		c.setReady(d, metav1.ConditionFalse, Provisioning, fmt.Sprintf("Waiting for the importer Pod %s to start.", req.Name))
		return 0, nil
	}
	if w := c.retries.Wait(req.Name, c.settings.Now()); w > 0 {
		c.setReady(d, metav1.ConditionFalse, Provisioning, fmt.Sprintf("The previous attempt failed; retrying in %s.", w.Round(time.Second)))
		return w, nil
	}
	tok, err := provisioning.DVCREnv(c.settings, "vd/"+d.key(), access...)
	if err != nil {
		return 0, err
	}
	req.Env = append(req.Env, tok...)
	req.Labels, req.Annotations, req.Owner = d.labels(step), d.annotations(), d.ownerRef()
	if req.Mode != importer.ModeFill {
		req.Scratch = false
	}
	pod := c.settings.Pods.BuildPod(req)
	err = c.exp.Create(ek, func() error {
		_, err := c.kube.CoreV1().Pods(req.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		if apierrors.IsAlreadyExists(err) {
			return time.Second, nil
		}
		return 0, fmt.Errorf("create importer Pod %s/%s: %w", req.Namespace, req.Name, err)
	}
	c.recorder.Eventf(d.vd, corev1.EventTypeNormal, EventProvisioningStarted, "Started the %s Pod %s.", step, req.Name)
	c.setReady(d, metav1.ConditionFalse, Provisioning, fmt.Sprintf("Waiting for the importer Pod %s to start.", req.Name))
	return 0, nil
}

// running reports progress, and for uploads the URLs and the wait for the user.
func (c *Controller) running(ctx context.Context, d *disk, step string, pod *corev1.Pod, from, to float64) time.Duration {
	prog := c.poller.Ensure(pod.UID, pod.Status.PodIP, d.key())
	if step == provisioning.StepUpload {
		token := provisioning.EnvValue(pod, importer.EnvUploadToken)
		urls := &virtv1.ImageUploadURLs{InCluster: "http://" + net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(importer.Port)) + importer.PathUpload + "/" + token}
		if ext := c.settings.Config.Uploads.ExternalURL; ext != "" {
			urls.External = strings.TrimRight(ext, "/") + importer.PathUpload + "/" + token
		}
		target := urls.External
		if target == "" {
			target = urls.InCluster
		}
		d.st.ImageUploadURLs = urls
		d.st.UploadCommand = fmt.Sprintf("curl %s --progress-bar -T <image file> | cat", target)
		if prog == nil || prog.Stage == "Waiting" || prog.Stage == "" {
			started := pod.CreationTimestamp.Time
			if pod.Status.StartTime != nil {
				started = pod.Status.StartTime.Time
			}
			left := started.Add(c.settings.UploadWaitTimeout).Sub(c.settings.Now())
			if left <= 0 {
				c.recorder.Eventf(d.vd, corev1.EventTypeWarning, EventUploadTimeout, "No upload started within %s.", c.settings.UploadWaitTimeout)
				_ = c.fail(ctx, d, WaitForUserUploadTimeout, fmt.Sprintf("No upload started within %s; change the spec or re-create the disk to get a new upload URL.", c.settings.UploadWaitTimeout))
				return 0
			}
			d.st.Phase = virtv1.DiskWaitForUserUpload
			c.setReady(d, metav1.ConditionFalse, WaitForUserUpload, fmt.Sprintf("Waiting for the upload to %s.", target))
			return left
		}
	}
	d.st.Phase = virtv1.DiskProvisioning
	d.st.Progress = provisioning.StepPercent(prog, from, to)
	d.st.DownloadSpeed = provisioning.Speed(prog)
	c.setReady(d, metav1.ConditionFalse, Provisioning, fmt.Sprintf("The importer Pod %s is copying the data.", pod.Name))
	return 0
}

// handleEnded covers not-started, failed, starting and terminating Pods.
func (c *Controller) handleEnded(ctx context.Context, d *disk, obs provisioning.Observation) time.Duration {
	switch obs.State {
	case provisioning.PodNotStarted:
		_ = c.fail(ctx, d, ProvisioningNotStarted, obs.Message)
		return 0
	case provisioning.PodFailed:
		pod, res := obs.Pod, obs.Result
		c.poller.Stop(pod.UID)
		if res.Retryable && c.retries.Get(pod.Name) < c.settings.MaxRetries {
			// The failed Pod goes first; an attempt counts only once it is gone, or the next
			// sync would count the same failure again.
			if err := c.pods.Delete(ctx, pod); err != nil {
				klog.FromContext(ctx).Error(err, "Deleting a failed importer Pod", "pod", klog.KObj(pod))
				return 5 * time.Second
			}
			n := c.retries.Add(pod.Name, c.settings.Now())
			c.recorder.Eventf(d.vd, corev1.EventTypeWarning, EventProvisioningRetried, "Attempt %d of %d failed: %s Retrying in %s.", n, c.settings.MaxRetries+1, res.Error, provisioning.Backoff(n))
			d.st.Phase = virtv1.DiskProvisioning
			c.setReady(d, metav1.ConditionFalse, Provisioning, fmt.Sprintf("Attempt %d failed (%s); retrying.", n, res.Error))
			return provisioning.Backoff(n)
		}
		msg := res.Error
		if msg == "" {
			msg = "The importer failed without saying why."
		}
		_ = c.fail(ctx, d, ProvisioningFailed, msg)
		return 0
	default:
		d.st.Phase = virtv1.DiskProvisioning
		c.setReady(d, metav1.ConditionFalse, Provisioning, fmt.Sprintf("Waiting for the importer Pod %s to start.", obs.Pod.Name))
		return 0
	}
}

// fail ends provisioning for this generation; the next sync removes the Pods.
func (c *Controller) fail(ctx context.Context, d *disk, reason ReadyReason, msg string) error {
	d.st.Phase = virtv1.DiskFailed
	d.st.DownloadSpeed, d.st.ImageUploadURLs, d.st.UploadCommand = nil, nil, ""
	c.setReady(d, metav1.ConditionFalse, reason, msg)
	c.recorder.Event(d.vd, corev1.EventTypeWarning, EventProvisioningFailed, msg)
	return nil
}
