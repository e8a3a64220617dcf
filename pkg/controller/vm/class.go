package vm

import (
	corev1 "k8s.io/api/core/v1"
	kvv1 "kubevirt.io/api/core/v1"

	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// classCPU is the CPU model and features a class gives its VMs.
func classCPU(class *v1alpha2.VirtualMachineClass) kvv1.CPU {
	switch class.Spec.CPU.Type {
	case v1alpha2.CPUTypeHost:
		return kvv1.CPU{Model: kvv1.CPUModeHostModel}
	case v1alpha2.CPUTypeHostPassthrough:
		return kvv1.CPU{Model: kvv1.CPUModeHostPassthrough}
	case v1alpha2.CPUTypeModel:
		return kvv1.CPU{Model: class.Spec.CPU.Model}
	}
	return kvv1.CPU{}
}

// classPlacement is where a class lets its VMs run.
func classPlacement(class *v1alpha2.VirtualMachineClass) (map[string]string, []corev1.NodeSelectorRequirement, []corev1.Toleration) {
	return class.Spec.NodeSelector.MatchLabels, class.Spec.NodeSelector.MatchExpressions, class.Spec.Tolerations
}

// classReady says whether VMs of the class can start.
func classReady(class *v1alpha2.VirtualMachineClass) (bool, string) {
	if class.Status.Phase == v1alpha2.ClassPhaseReady {
		return true, ""
	}
	return false, "VirtualMachineClass " + class.Name + " is " + string(class.Status.Phase)
}
