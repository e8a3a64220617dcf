package image

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
	"github.com/virtplane/virtplane/pkg/dvcr"
	"github.com/virtplane/virtplane/pkg/importer"
)

// plan is how the first importer Pod reads the data source.
type plan struct {
	// namespace the Pod runs in: the image's, the controller's for cluster images, or the
	// namespace of a source PVC (a Pod can only mount PVCs of its own namespace).
	namespace string
	env       []corev1.EnvVar
	volumes   []provisioning.VolumeMount
	// access lists DVCR repositories to read besides the image's own.
	access    []dvcr.Access
	sourceUID string
	// pullSecret is copied next to the Pod (cluster images: the user's Secret lives elsewhere).
	pullSecret *corev1.Secret
}

// notReady says why the source cannot be read yet.
type notReady struct {
	reason  DatasourceReadyReason
	message string
	// after asks for another look; 0 waits for an event.
	after time.Duration
}

// dockerConfigKey is the key of kubernetes.io/dockerconfigjson Secrets.
const dockerConfigKey = corev1.DockerConfigJsonKey

// pullSecretCopyName names the copy of a cluster image's registry Secret next to its Pod.
func pullSecretCopyName(podName string) string { return podName + "-pull" }

func (c *Controller) planSource(img *image, podName string) (*plan, *notReady, error) {
	p := &plan{namespace: img.namespace()}
	if img.cvi != nil {
		p.namespace = c.settings.Namespace
	}
	env := func(name, value string) { p.env = append(p.env, corev1.EnvVar{Name: name, Value: value}) }
	s := img.src
	switch s.Type {
	case virtv1.DataSourceTypeHTTP:
		if s.HTTP == nil {
			return nil, &notReady{reason: DatasourceReady, message: "spec.dataSource.http is missing."}, nil
		}
		env(importer.EnvSourceType, importer.SourceHTTP)
		env(importer.EnvSourceURL, s.HTTP.URL)
		if len(s.HTTP.CABundle) > 0 {
			env(importer.EnvSourceCABundle, string(s.HTTP.CABundle))
		}
		if cs := s.HTTP.Checksum; cs != nil {
			p.env = append(p.env, provisioning.ChecksumEnv(cs.MD5, cs.SHA1, cs.SHA256, cs.SHA512)...)
		}
	case virtv1.DataSourceTypeContainerImage:
		env(importer.EnvSourceType, importer.SourceRegistry)
		env(importer.EnvSourceURL, s.Image)
		if len(s.ImageCABundle) > 0 {
			env(importer.EnvSourceCABundle, string(s.ImageCABundle))
		}
		if s.SecretName != "" {
			secret, err := c.secLister.Secrets(s.SecretNS).Get(s.SecretName)
			if apierrors.IsNotFound(err) {
				return nil, &notReady{reason: ContainerRegistrySecretNotFound, after: 10 * time.Second,
					message: fmt.Sprintf("The Secret %s/%s with the registry credentials does not exist; create it or fix imagePullSecret.", s.SecretNS, s.SecretName)}, nil
			}
			if err != nil {
				return nil, nil, fmt.Errorf("get Secret %s/%s: %w", s.SecretNS, s.SecretName, err)
			}
			ref := s.SecretName
			if img.cvi != nil || s.SecretNS != p.namespace {
				p.pullSecret = secret
				ref = pullSecretCopyName(podName)
			}
			p.env = append(p.env, corev1.EnvVar{Name: importer.EnvSourceDockerConfig, ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: ref}, Key: dockerConfigKey},
			}})
		}
	case virtv1.DataSourceTypeUpload:
		if s.Upload != nil && s.Upload.Checksum != nil {
			cs := s.Upload.Checksum
			p.env = append(p.env, provisioning.ChecksumEnv(cs.MD5, cs.SHA1, cs.SHA256, cs.SHA512)...)
		}
	case virtv1.DataSourceTypeObjectRef:
		return c.planObjectRef(img, p)
	default:
		return nil, &notReady{reason: DatasourceReady, message: fmt.Sprintf("Unknown data source type %q.", s.Type)}, nil
	}
	return p, nil, nil
}

func (c *Controller) planObjectRef(img *image, p *plan) (*plan, *notReady, error) {
	s := img.src
	env := func(name, value string) { p.env = append(p.env, corev1.EnvVar{Name: name, Value: value}) }
	switch s.RefKind {
	case KindVI:
		src, err := c.viLister.VirtualImages(s.RefNS).Get(s.RefName)
		if apierrors.IsNotFound(err) {
			return nil, &notReady{reason: ImageNotReady, message: fmt.Sprintf("The VirtualImage %s/%s does not exist yet.", s.RefNS, s.RefName)}, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("get VirtualImage %s/%s: %w", s.RefNS, s.RefName, err)
		}
		if src.Status.Phase != virtv1.ImageReady {
			return nil, &notReady{reason: ImageNotReady, message: fmt.Sprintf("Waiting for the VirtualImage %s/%s to be Ready (now %s).", s.RefNS, s.RefName, phaseOr(string(src.Status.Phase)))}, nil
		}
		p.sourceUID = string(src.UID)
		if provisioning.PVCStored(src.Spec.Storage) {
			return c.planVolume(p, src.Namespace, src.Status.Target.PersistentVolumeClaim, ImageNotReady,
				fmt.Sprintf("VirtualImage %s/%s", src.Namespace, src.Name))
		}
		env(importer.EnvSourceType, importer.SourceDVCR)
		env(importer.EnvSourceURL, src.Status.Target.RegistryURL)
		p.access = append(p.access, provisioning.RepoAccess(dvcr.Repository(dvcr.KindVI, src.Namespace, src.Name), "pull"))
	case KindCVI:
		src, err := c.cviLister.Get(s.RefName)
		if apierrors.IsNotFound(err) {
			return nil, &notReady{reason: ClusterImageNotReady, message: fmt.Sprintf("The ClusterVirtualImage %s does not exist yet.", s.RefName)}, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("get ClusterVirtualImage %s: %w", s.RefName, err)
		}
		if src.Status.Phase != virtv1.ImageReady {
			return nil, &notReady{reason: ClusterImageNotReady, message: fmt.Sprintf("Waiting for the ClusterVirtualImage %s to be Ready (now %s).", s.RefName, phaseOr(string(src.Status.Phase)))}, nil
		}
		p.sourceUID = string(src.UID)
		env(importer.EnvSourceType, importer.SourceDVCR)
		env(importer.EnvSourceURL, src.Status.Target.RegistryURL)
		p.access = append(p.access, provisioning.RepoAccess(dvcr.Repository(dvcr.KindCVI, "", src.Name), "pull"))
	case "VirtualDisk":
		vd, err := c.vdLister.VirtualDisks(s.RefNS).Get(s.RefName)
		if apierrors.IsNotFound(err) {
			return nil, &notReady{reason: VirtualDiskNotReady, message: fmt.Sprintf("The VirtualDisk %s/%s does not exist yet.", s.RefNS, s.RefName)}, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("get VirtualDisk %s/%s: %w", s.RefNS, s.RefName, err)
		}
		if vd.Status.Phase != virtv1.DiskReady {
			return nil, &notReady{reason: VirtualDiskNotReady, message: fmt.Sprintf("Waiting for the VirtualDisk %s/%s to be Ready (now %s).", s.RefNS, s.RefName, phaseOr(string(vd.Status.Phase)))}, nil
		}
		vms, err := provisioning.UsersOf(c.vmIndexer, virtv1.DiskDevice, vd.Namespace, vd.Name)
		if err != nil {
			return nil, nil, err
		}
		for _, vm := range vms {
			// A running guest writes to the disk: a copy taken now would be inconsistent.
			if vm.Status.Phase != virtv1.MachineStopped {
				return nil, &notReady{reason: VirtualDiskAttachedToVirtualMachine,
					message: fmt.Sprintf("The VirtualDisk %s/%s is attached to the VirtualMachine %s, which is %s; stop the VM or detach the disk.", vd.Namespace, vd.Name, vm.Name, phaseOr(string(vm.Status.Phase)))}, nil
			}
		}
		p.sourceUID = string(vd.UID)
		return c.planVolume(p, vd.Namespace, vd.Status.Target.PersistentVolumeClaim, VirtualDiskNotReadyForUse,
			fmt.Sprintf("VirtualDisk %s/%s", vd.Namespace, vd.Name))
	case "VirtualDiskSnapshot":
		return nil, &notReady{reason: VirtualDiskSnapshotNotReady,
			message: "Images from VirtualDiskSnapshots are not supported yet: they come with the snapshot controller in a later release."}, nil
	default:
		return nil, &notReady{reason: DatasourceReady, message: fmt.Sprintf("Unknown objectRef kind %q.", s.RefKind)}, nil
	}
	return p, nil, nil
}

// planVolume reads the source from another PVC: the Pod runs in that PVC's namespace and
// mounts it read-only as a device or a directory, as the PVC was made.
func (c *Controller) planVolume(p *plan, namespace, claim string, reason DatasourceReadyReason, what string) (*plan, *notReady, error) {
	pvc, err := c.pvcLister.PersistentVolumeClaims(namespace).Get(claim)
	if apierrors.IsNotFound(err) || claim == "" {
		return nil, &notReady{reason: reason, message: fmt.Sprintf("The PVC %q of the %s does not exist.", claim, what), after: 10 * time.Second}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("get PVC %s/%s: %w", namespace, claim, err)
	}
	vol := provisioning.VolumeMount{Name: "source", ClaimName: claim, Block: provisioning.IsBlock(pvc), ReadOnly: true, Path: provisioning.SourceMountDir}
	if vol.Block {
		vol.Path = provisioning.SourceDevice
	}
	p.namespace = namespace
	p.volumes = append(p.volumes, vol)
	p.env = append(p.env,
		corev1.EnvVar{Name: importer.EnvSourceType, Value: importer.SourceVolume},
		corev1.EnvVar{Name: importer.EnvSourceURL, Value: vol.DiskPath()})
	return p, nil, nil
}

func phaseOr(p string) string {
	if p == "" {
		return "without a phase"
	}
	return p
}
