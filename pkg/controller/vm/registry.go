package vm

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/powerstate"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
	"github.com/virtplane/virtplane/pkg/dvcr"
)

// Registry is how the nodes pull the images a VM attaches from DVCR: KubeVirt's containerDisk
// with an imagePullSecret that the controller writes next to the VM.
type Registry struct {
	// Signer mints a pull-only token for the VM's image repositories; nil with Auth set means
	// an external registry whose credentials go into the Secret as they are.
	Signer provisioning.TokenSigner
	Auth   []byte
}

// pullTokenTTL bounds a VM's pull token; each start writes a new one.
const pullTokenTTL = 24 * time.Hour

// PullSecretName is the Secret with a VM's DVCR pull credentials.
func PullSecretName(vm string) string { return vm + "-dvcr-pull" }

// ensurePullSecret writes the pull Secret for the VM's DVCR images before its VMI is made,
// and names it on their volumes. Nothing is written for a VM without such images or a
// registry without auth.
func (c *Controller) ensurePullSecret(ctx context.Context, vm *v1alpha2.VirtualMachine, m *machine) error {
	repos := map[string]string{} // repository → registry host
	for _, d := range m.devices {
		if d.image == "" {
			continue
		}
		ref, err := reference.ParseNormalizedNamed(d.image)
		if err != nil {
			return cannotStart("Cannot build the VM's VirtualMachineInstance: %s %q has status.target.registryURL %q, which is not an image reference: %v.",
				d.ref.Kind, d.ref.Name, d.image, err)
		}
		repos[reference.Path(ref)] = reference.Domain(ref)
	}
	if len(repos) == 0 || (c.registry.Signer == nil && len(c.registry.Auth) == 0) {
		return nil
	}
	data := c.registry.Auth
	if c.registry.Signer != nil {
		var names []string
		hosts := map[string]bool{}
		for repo, host := range repos {
			names = append(names, repo)
			hosts[host] = true
		}
		sort.Strings(names)
		access := make([]dvcr.Access, 0, len(names))
		for _, repo := range names {
			access = append(access, provisioning.RepoAccess(repo, "pull"))
		}
		tok, err := c.registry.Signer.Token("vm/"+vm.Namespace+"/"+vm.Name, access, pullTokenTTL)
		if err != nil {
			return fmt.Errorf("sign the pull token of VM %s/%s: %w", vm.Namespace, vm.Name, err)
		}
		auths := map[string]map[string]string{}
		for h := range hosts {
			auths[h] = map[string]string{"registrytoken": tok}
		}
		if data, err = json.Marshal(map[string]any{"auths": auths}); err != nil {
			return err
		}
	}
	name := PullSecretName(vm.Name)
	want := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: vm.Namespace,
			Labels:          map[string]string{powerstate.VMNameLabel: vm.Name, provisioning.ManagedByLabel: provisioning.ManagedByValue},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(vm, v1alpha2.SchemeGroupVersion.WithKind("VirtualMachine"))},
		},
		Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: data},
	}
	old, err := c.secLister.Secrets(vm.Namespace).Get(name)
	switch {
	case apierrors.IsNotFound(err):
		_, err = c.kube.CoreV1().Secrets(vm.Namespace).Create(ctx, want, metav1.CreateOptions{})
	case err != nil:
	case !metav1.IsControlledBy(old, vm):
		return cannotStart("The Secret %q exists and does not belong to this VM: the VM keeps its image pull credentials in a Secret of that name. "+
			"Delete or rename that Secret to let the VM start.", name)
	case !apiequality.Semantic.DeepEqual(old.Data, want.Data):
		upd := old.DeepCopy()
		upd.Data = want.Data
		_, err = c.kube.CoreV1().Secrets(vm.Namespace).Update(ctx, upd, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("pull Secret of VM %s/%s: %w", vm.Namespace, vm.Name, err)
	}
	for i := range m.devices {
		if m.devices[i].image != "" {
			m.devices[i].pullSecret = name
		}
	}
	return nil
}
