package localnode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// rootCAConfigMap is the cluster CA bundle kube-controller-manager publishes in every namespace.
const rootCAConfigMap = "kube-root-ca.crt"

// errNotReady says a Pod cannot start yet (e.g. a PVC is not bound); it is retried.
type errNotReady struct{ msg string }

func (e errNotReady) Error() string { return e.msg }

// VolumePath is where the volume of a PersistentVolume provisioned by ProvisionerName lives.
func VolumePath(volumesDir, pvName string, mode corev1.PersistentVolumeMode) string {
	if mode == corev1.PersistentVolumeBlock {
		return filepath.Join(volumesDir, pvName+".img")
	}
	return filepath.Join(volumesDir, pvName)
}

// claimPath finds the host path of a PVC's volume: a file for Block, a directory for
// Filesystem. errNotReady while the claim is not bound.
func (n *Node) claimPath(ctx context.Context, namespace, claim string) (string, error) {
	pvc, err := n.client.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, claim, metav1.GetOptions{})
	if err != nil {
		return "", errNotReady{fmt.Sprintf("persistentvolumeclaim %q: %v", claim, err)}
	}
	if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName == "" {
		return "", errNotReady{fmt.Sprintf("persistentvolumeclaim %q is not bound", claim)}
	}
	pv, err := n.client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", errNotReady{fmt.Sprintf("persistentvolume %q of claim %q: %v", pvc.Spec.VolumeName, claim, err)}
	}
	mode := ptr.Deref(pv.Spec.VolumeMode, corev1.PersistentVolumeFilesystem)
	switch {
	case pv.Spec.CSI != nil && pv.Spec.CSI.Driver == ProvisionerName:
		if p := pv.Spec.CSI.VolumeAttributes[volumeAttributePath]; p != "" {
			return p, nil
		}
		return VolumePath(n.cfg.VolumesDir, pv.Name, mode), nil
	case pv.Spec.HostPath != nil:
		return pv.Spec.HostPath.Path, nil
	case pv.Spec.Local != nil:
		return pv.Spec.Local.Path, nil
	}
	return "", fmt.Errorf("persistentvolume %q is not a local volume (the local node reads only %s, hostPath and local volumes)", pv.Name, ProvisionerName)
}

// prepareVolumes makes the Pod's volumes available on the host and returns their paths by
// volume name.
func (n *Node) prepareVolumes(ctx context.Context, pod *corev1.Pod, podDir, podIP string) (map[string]string, error) {
	r := envResolver{client: n.client, pod: pod, podIP: podIP}
	paths := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		dir := filepath.Join(podDir, "volumes", v.Name)
		var err error
		switch {
		case v.PersistentVolumeClaim != nil:
			var p string
			if p, err = n.claimPath(ctx, pod.Namespace, v.PersistentVolumeClaim.ClaimName); err == nil {
				paths[v.Name] = p
			}
			if err != nil {
				return nil, err
			}
			continue
		case v.HostPath != nil:
			paths[v.Name] = v.HostPath.Path
			continue
		case v.EmptyDir != nil:
			err = os.MkdirAll(dir, 0o755)
		case v.Secret != nil:
			err = r.writeSecret(ctx, dir, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional)
		case v.ConfigMap != nil:
			err = r.writeConfigMap(ctx, dir, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional)
		case v.DownwardAPI != nil:
			err = r.writeDownward(dir, v.DownwardAPI.Items)
		case v.Projected != nil:
			err = r.writeProjected(ctx, dir, v.Projected.Sources)
		default:
			err = fmt.Errorf("this volume type is not supported by the local node")
		}
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		paths[v.Name] = dir
	}
	return paths, nil
}

func writeFiles(dir string, files map[string][]byte, items []corev1.KeyToPath) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	write := func(name string, data []byte) error {
		p := filepath.Join(dir, filepath.Clean("/"+name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
		return nil
	}
	if len(items) == 0 {
		for k, v := range files {
			if err := write(k, v); err != nil {
				return err
			}
		}
		return nil
	}
	for _, it := range items {
		data, ok := files[it.Key]
		if !ok {
			return fmt.Errorf("no key %q", it.Key)
		}
		if err := write(it.Path, data); err != nil {
			return err
		}
	}
	return nil
}

func (r envResolver) writeSecret(ctx context.Context, dir, name string, items []corev1.KeyToPath, optional *bool) error {
	s, err := r.secret(ctx, name)
	if err != nil {
		if ptr.Deref(optional, false) {
			return os.MkdirAll(dir, 0o755)
		}
		return err
	}
	return writeFiles(dir, s.Data, items)
}

func (r envResolver) writeConfigMap(ctx context.Context, dir, name string, items []corev1.KeyToPath, optional *bool) error {
	cm, err := r.configMap(ctx, name)
	if err != nil {
		if ptr.Deref(optional, false) {
			return os.MkdirAll(dir, 0o755)
		}
		return err
	}
	files := map[string][]byte{}
	for k, v := range cm.Data {
		files[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		files[k] = v
	}
	return writeFiles(dir, files, items)
}

func (r envResolver) writeDownward(dir string, items []corev1.DownwardAPIVolumeFile) error {
	files := map[string][]byte{}
	var keys []corev1.KeyToPath
	for _, it := range items {
		if it.FieldRef == nil {
			continue
		}
		v, err := fieldValue(r.pod, it.FieldRef.FieldPath, r.podIP)
		if err != nil {
			return err
		}
		files[it.Path] = []byte(v)
		keys = append(keys, corev1.KeyToPath{Key: it.Path, Path: it.Path})
	}
	return writeFiles(dir, files, keys)
}

// writeProjected writes projected sources, including the service account token the
// ServiceAccount admission plugin adds to every Pod (kube-api-access-*).
func (r envResolver) writeProjected(ctx context.Context, dir string, sources []corev1.VolumeProjection) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for _, s := range sources {
		var err error
		switch {
		case s.Secret != nil:
			err = r.writeSecret(ctx, dir, s.Secret.Name, s.Secret.Items, s.Secret.Optional)
		case s.ConfigMap != nil:
			optional := s.ConfigMap.Optional
			if s.ConfigMap.Name == rootCAConfigMap {
				// Added to every Pod by the ServiceAccount admission plugin, published by a
				// controller the local stack may not run: its absence must not stop the Pod.
				optional = ptr.To(true)
			}
			err = r.writeConfigMap(ctx, dir, s.ConfigMap.Name, s.ConfigMap.Items, optional)
		case s.DownwardAPI != nil:
			err = r.writeDownward(dir, s.DownwardAPI.Items)
		case s.ServiceAccountToken != nil:
			err = r.writeToken(ctx, dir, s.ServiceAccountToken)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (r envResolver) writeToken(ctx context.Context, dir string, p *corev1.ServiceAccountTokenProjection) error {
	sa := r.pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: p.ExpirationSeconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: r.pod.Name, UID: r.pod.UID},
	}}
	if p.Audience != "" {
		req.Spec.Audiences = []string{p.Audience}
	}
	tr, err := r.client.CoreV1().ServiceAccounts(r.pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("requesting a token for service account %s/%s: %w", r.pod.Namespace, sa, err)
	}
	return writeFiles(dir, map[string][]byte{p.Path: []byte(tr.Status.Token)}, nil)
}
