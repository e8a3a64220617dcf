package localnode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// EnvTerminationMessagePath is set on every container to the host path of its
// terminationMessagePath: the importer writes its result there.
const EnvTerminationMessagePath = "IMPORTER_TERMINATION_MESSAGE_PATH"

// defaultTerminationMessagePath is the kubelet's default.
const defaultTerminationMessagePath = "/dev/termination-log"

// fieldValue resolves a downward API field path of a Pod.
func fieldValue(pod *corev1.Pod, path, podIP string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return podIP, nil
	case "status.hostIP", "status.hostIPs":
		return "127.0.0.1", nil
	}
	for prefix, m := range map[string]map[string]string{"metadata.labels": pod.Labels, "metadata.annotations": pod.Annotations} {
		if strings.HasPrefix(path, prefix+"['") && strings.HasSuffix(path, "']") {
			return m[path[len(prefix)+2:len(path)-2]], nil
		}
	}
	return "", fmt.Errorf("field path %q is not supported by the local node", path)
}

// envResolver reads the Secrets and ConfigMaps environment variables refer to.
type envResolver struct {
	client kubernetes.Interface
	pod    *corev1.Pod
	podIP  string
}

func (r envResolver) secret(ctx context.Context, name string) (*corev1.Secret, error) {
	s, err := r.client.CoreV1().Secrets(r.pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading secret %s/%s: %w", r.pod.Namespace, name, err)
	}
	return s, nil
}

func (r envResolver) configMap(ctx context.Context, name string) (*corev1.ConfigMap, error) {
	c, err := r.client.CoreV1().ConfigMaps(r.pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading configmap %s/%s: %w", r.pod.Namespace, name, err)
	}
	return c, nil
}

// containerEnv resolves a container's environment as the container sees it (container paths,
// before translation): envFrom, then env in order, each value expanding $(VAR) of the
// variables defined before it.
func (r envResolver) containerEnv(ctx context.Context, c *corev1.Container) (names []string, values map[string]string, err error) {
	values = map[string]string{}
	set := func(k, v string) {
		if _, ok := values[k]; !ok {
			names = append(names, k)
		}
		values[k] = v
	}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, err := r.configMap(ctx, from.ConfigMapRef.Name)
			if err != nil {
				if ptr.Deref(from.ConfigMapRef.Optional, false) {
					continue
				}
				return nil, nil, err
			}
			for k, v := range cm.Data {
				set(from.Prefix+k, v)
			}
		case from.SecretRef != nil:
			s, err := r.secret(ctx, from.SecretRef.Name)
			if err != nil {
				if ptr.Deref(from.SecretRef.Optional, false) {
					continue
				}
				return nil, nil, err
			}
			for k, v := range s.Data {
				set(from.Prefix+k, string(v))
			}
		}
	}
	lookup := func(k string) (string, bool) { v, ok := values[k]; return v, ok }
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expandVars(e.Value, lookup))
			continue
		}
		v, skip, err := r.valueFrom(ctx, e.ValueFrom)
		if err != nil {
			return nil, nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if !skip {
			set(e.Name, v)
		}
	}
	return names, values, nil
}

func (r envResolver) valueFrom(ctx context.Context, from *corev1.EnvVarSource) (value string, skip bool, err error) {
	switch {
	case from.FieldRef != nil:
		v, err := fieldValue(r.pod, from.FieldRef.FieldPath, r.podIP)
		return v, false, err
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		s, err := r.secret(ctx, ref.Name)
		if err != nil {
			return "", ptr.Deref(ref.Optional, false), ignoreOptional(err, ref.Optional)
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			return "", ptr.Deref(ref.Optional, false), ignoreOptional(fmt.Errorf("secret %s has no key %q", ref.Name, ref.Key), ref.Optional)
		}
		return string(v), false, nil
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := r.configMap(ctx, ref.Name)
		if err != nil {
			return "", ptr.Deref(ref.Optional, false), ignoreOptional(err, ref.Optional)
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			return "", ptr.Deref(ref.Optional, false), ignoreOptional(fmt.Errorf("configmap %s has no key %q", ref.Name, ref.Key), ref.Optional)
		}
		return v, false, nil
	}
	return "", false, fmt.Errorf("this kind of valueFrom is not supported by the local node")
}

func ignoreOptional(err error, optional *bool) error {
	if ptr.Deref(optional, false) {
		return nil
	}
	return err
}

// buildContainer turns a container of a prepared Pod into what the Runtime starts: argv and
// environment expanded, then translated to host paths.
func (r envResolver) buildContainer(ctx context.Context, binDir, podDir string, volumes map[string]string, c *corev1.Container) (ContainerSpec, error) {
	program, err := resolveProgram(binDir, c.Image)
	if err != nil {
		return ContainerSpec{}, err
	}
	names, values, err := r.containerEnv(ctx, c)
	if err != nil {
		return ContainerSpec{}, err
	}
	paths, err := containerPaths(podDir, volumes, c)
	if err != nil {
		return ContainerSpec{}, err
	}
	lookup := func(k string) (string, bool) { v, ok := values[k]; return v, ok }
	var command, args []string
	for _, s := range c.Command {
		command = append(command, paths.translate(expandVars(s, lookup)))
	}
	for _, s := range c.Args {
		args = append(args, paths.translate(expandVars(s, lookup)))
	}
	argv, err := commandLine(binDir, program, command, args)
	if err != nil {
		return ContainerSpec{}, err
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOSTNAME=" + r.pod.Name,
		EnvTerminationMessagePath + "=" + terminationMessageHostPath(podDir, c.Name),
	}
	for _, k := range names {
		env = append(env, k+"="+paths.translate(values[k]))
	}
	return ContainerSpec{
		PodKey:  r.pod.Namespace + "/" + r.pod.Name,
		Name:    c.Name,
		Argv:    argv,
		Env:     env,
		Dir:     podDir,
		LogPath: filepath.Join(podDir, c.Name+".log"),
	}, nil
}

func terminationMessageHostPath(podDir, container string) string {
	return filepath.Join(podDir, container+".termination-log")
}

// containerPaths maps a container's mounts, devices and termination message path to the host.
func containerPaths(podDir string, volumes map[string]string, c *corev1.Container) (pathMap, error) {
	var m pathMap
	for _, vm := range c.VolumeMounts {
		host, ok := volumes[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %s: no volume of that name", vm.Name)
		}
		if vm.SubPath != "" {
			host = filepath.Join(host, vm.SubPath)
		}
		m.add(vm.MountPath, host)
	}
	for _, vd := range c.VolumeDevices {
		host, ok := volumes[vd.Name]
		if !ok {
			return nil, fmt.Errorf("volumeDevice %s: no volume of that name", vd.Name)
		}
		m.add(vd.DevicePath, host)
	}
	term := c.TerminationMessagePath
	if term == "" {
		term = defaultTerminationMessagePath
	}
	m.add(term, terminationMessageHostPath(podDir, c.Name))
	return m, nil
}
