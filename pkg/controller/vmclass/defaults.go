package vmclass

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// GenericModel is the CPU model of the generic class: old enough that nearly every x86-64
// server runs it, so VMs of the class can live-migrate between any nodes.
const GenericModel = "Nehalem"

// DefaultClasses are the classes the platform provides (admin guide, "Virtual Machine
// Classes"): host (host-model CPU), host-passthrough and generic (Nehalem). None is marked
// default: the guide makes virtualMachineClassName mandatory. Each has one sizing policy for
// any core count that only limits coreFraction to the values the guide uses (5, 10, 20, 50
// and 100%), so the quick start's VM (1 core, no coreFraction, 1Gi) and the guide's VMs with
// 10% and 5% are all accepted.
func DefaultClasses() []*v1alpha2.VirtualMachineClass {
	class := func(name string, cpu v1alpha2.ClassCPU) *v1alpha2.VirtualMachineClass {
		return &v1alpha2.VirtualMachineClass{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1alpha2.VirtualMachineClassSpec{
				CPU: cpu,
				SizingPolicies: []v1alpha2.SizingPolicy{{
					Cores:         &v1alpha2.SizingPolicyCores{Min: 1, Max: 1024},
					CoreFractions: []int{5, 10, 20, 50, 100},
				}},
			},
		}
	}
	return []*v1alpha2.VirtualMachineClass{
		class("host", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeHost}),
		class("host-passthrough", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeHostPassthrough}),
		class("generic", v1alpha2.ClassCPU{Type: v1alpha2.CPUTypeModel, Model: GenericModel}),
	}
}

// ensureDefaults creates the default classes that do not exist. One that exists is the
// administrator's to change and is left as it is.
func (c *Controller) ensureDefaults(ctx context.Context) error {
	var errs []error
	for _, want := range DefaultClasses() {
		if _, err := c.classLister.Get(want.Name); err == nil {
			continue
		} else if !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("get VirtualMachineClass %s: %w", want.Name, err))
			continue
		}
		_, err := c.virt.VirtualizationV1alpha2().VirtualMachineClasses().Create(ctx, want, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			errs = append(errs, fmt.Errorf("create the default VirtualMachineClass %s: %w", want.Name, err))
		}
	}
	return errors.Join(errs...)
}
