package provisioning

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/virtplane/virtplane/pkg/importer"
)

// Paths inside importer Pods.
const (
	// ScratchDir holds qcow2 and other formats while qemu-img converts them to raw.
	ScratchDir = "/scratch"
	// DestMountDir is where a Filesystem-mode target PVC is mounted; the disk is the file
	// disk.img at its root, KubeVirt's convention for file-backed disks.
	DestMountDir = "/data"
	// DestDevice is where a Block-mode target PVC appears.
	DestDevice = "/dev/xvda"
	// SourceMountDir and SourceDevice are the same for a source PVC (clones).
	SourceMountDir = "/source"
	SourceDevice   = "/dev/xvdb"
	// DiskFile is the name of the disk file on a Filesystem volume.
	DiskFile = "disk.img"

	containerName = "importer"
	podIPEnv      = "POD_IP"
)

// PodDefaults are the settings every importer Pod shares, from the platform configuration.
type PodDefaults struct {
	// Image of virtualization-importer.
	Image string
	// DVCRInsecure makes the importer talk plain HTTP to DVCR.
	DVCRInsecure bool
	// DVCRCABundle is the PEM bundle trusted for DVCR's TLS (empty: system roots).
	DVCRCABundle string
}

// VolumeMount puts a PVC into an importer Pod as a file system or a block device.
type VolumeMount struct {
	// Name of the volume in the Pod.
	Name string
	// ClaimName is the PVC.
	ClaimName string
	// Block mounts the PVC as a raw device (volumeDevices) at Path; otherwise it is mounted
	// at Path as a directory.
	Block    bool
	Path     string
	ReadOnly bool
}

// DiskPath is where the importer reads or writes the disk of this volume: the device itself,
// or the disk.img file at the root of the file system.
func (v VolumeMount) DiskPath() string {
	if v.Block {
		return v.Path
	}
	return v.Path + "/" + DiskFile
}

// PodRequest describes one importer Pod.
type PodRequest struct {
	Name, Namespace string
	// Mode is importer.ModeImport, ModeUpload or ModeFill.
	Mode string
	// Owner is set for namespaced owners in the Pod's namespace; cluster-scoped owners rely
	// on labels and their cleanup finalizer instead.
	Owner       *metav1.OwnerReference
	Labels      map[string]string
	Annotations map[string]string
	// Env is the source and destination part of the contract (the Builder adds the rest).
	Env     []corev1.EnvVar
	Volumes []VolumeMount
	// Scratch adds an emptyDir at ScratchDir for format conversion.
	Scratch bool
}

// BuildPod renders an importer Pod: the mode as the only argument, the listen address on the
// Pod's own IP (the controller polls /progress there and upload URLs point there), the
// termination message as the result, and never a restart: a failed attempt is judged by the
// controller, which decides whether to retry.
func (d PodDefaults) BuildPod(r PodRequest) *corev1.Pod {
	env := []corev1.EnvVar{
		{Name: podIPEnv, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		{Name: importer.EnvListen, Value: fmt.Sprintf("$(%s):%d", podIPEnv, importer.Port)},
	}
	env = append(env, r.Env...)
	if r.Mode != importer.ModeFill || hasEnv(r.Env, importer.EnvDVCRToken) {
		env = append(env, corev1.EnvVar{Name: importer.EnvDVCRInsecure, Value: strconv.FormatBool(d.DVCRInsecure)})
		if d.DVCRCABundle != "" {
			env = append(env, corev1.EnvVar{Name: importer.EnvDVCRCABundle, Value: d.DVCRCABundle})
		}
	}
	c := corev1.Container{
		Name:                     containerName,
		Image:                    d.Image,
		Args:                     []string{r.Mode},
		Env:                      env,
		Ports:                    []corev1.ContainerPort{{Name: "http", ContainerPort: importer.Port, Protocol: corev1.ProtocolTCP}},
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		ImagePullPolicy:          corev1.PullIfNotPresent,
		// The "restricted" Pod Security Standard, which the platform's namespace enforces.
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: new(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
	var volumes []corev1.Volume
	for _, v := range r.Volumes {
		volumes = append(volumes, corev1.Volume{Name: v.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: v.ClaimName, ReadOnly: v.ReadOnly},
		}})
		if v.Block {
			c.VolumeDevices = append(c.VolumeDevices, corev1.VolumeDevice{Name: v.Name, DevicePath: v.Path})
		} else {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: v.Name, MountPath: v.Path, ReadOnly: v.ReadOnly})
		}
	}
	if r.Scratch {
		volumes = append(volumes, corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "scratch", MountPath: ScratchDir})
		c.Env = append(c.Env, corev1.EnvVar{Name: importer.EnvScratchDir, Value: ScratchDir})
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        r.Name,
			Namespace:   r.Namespace,
			Labels:      r.Labels,
			Annotations: r.Annotations,
		},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{c},
			Volumes:       volumes,
			// The importer needs no API access.
			AutomountServiceAccountToken: new(false),
			// Non-root; fsGroup makes the volumes writable for it.
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   new(true),
				RunAsUser:      new(int64(importerUID)),
				RunAsGroup:     new(int64(importerUID)),
				FSGroup:        new(int64(importerUID)),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		},
	}
	if r.Owner != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*r.Owner}
	}
	return pod
}

// importerUID is the unprivileged user importer Pods run as.
const importerUID = 65532

func hasEnv(env []corev1.EnvVar, name string) bool {
	for _, e := range env {
		if e.Name == name {
			return true
		}
	}
	return false
}

// EnvValue returns the literal value of a Pod's importer container variable.
func EnvValue(pod *corev1.Pod, name string) string {
	for _, c := range pod.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == name {
				return e.Value
			}
		}
	}
	return ""
}

// ChecksumEnv turns expected digests into importer variables. Streebog digests are not in
// the importer contract yet, so they are not checked.
func ChecksumEnv(md5, sha1, sha256, sha512 string) []corev1.EnvVar {
	var env []corev1.EnvVar
	for _, kv := range [][2]string{
		{importer.EnvChecksumMD5, md5}, {importer.EnvChecksumSHA1, sha1},
		{importer.EnvChecksumSHA256, sha256}, {importer.EnvChecksumSHA512, sha512},
	} {
		if kv[1] != "" {
			env = append(env, corev1.EnvVar{Name: kv[0], Value: kv[1]})
		}
	}
	return env
}

// NewUploadToken returns 32 random bytes, base64url without padding: the secret path element
// of an upload URL. Whoever knows it can upload, so it lives only as long as the Pod.
func NewUploadToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate upload token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// ControllerRef is an OwnerReference marking the owner as the managing controller, so
// garbage collection removes the Pod or PVC with its owner.
func ControllerRef(apiVersion, kind, name string, uid types.UID) *metav1.OwnerReference {
	return &metav1.OwnerReference{
		APIVersion:         apiVersion,
		Kind:               kind,
		Name:               name,
		UID:                uid,
		Controller:         new(true),
		BlockOwnerDeletion: new(true),
	}
}
