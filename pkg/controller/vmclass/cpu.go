package vmclass

import (
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	kvv1 "kubevirt.io/api/core/v1"

	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// What the VirtualMachine controller takes from a class: the virtual CPU, where VMs may run,
// and whether the class is usable.

// BaselineModel is the CPU model that Features and Discovery classes add their features to:
// the plain x86-64 model with no vendor extras, so the class's features alone decide what
// the guest sees and where it can run.
const BaselineModel = "kvm64"

// requirePolicy is KubeVirt's feature policy "guest creation fails without it".
const requirePolicy = "require"

// DomainCPU is the KubeVirt CPU model and features of the class's VMs; the caller sets the
// topology. Host gives host-model, HostPassthrough host-passthrough, Model the named model,
// and Features and Discovery BaselineModel with the listed or discovered features required.
// A Discovery class that has discovered nothing yet gives BaselineModel alone (Ready says
// it is not usable then).
func DomainCPU(class *v1alpha2.VirtualMachineClass) kvv1.CPU {
	switch class.Spec.CPU.Type {
	case v1alpha2.CPUTypeHost:
		return kvv1.CPU{Model: kvv1.CPUModeHostModel}
	case v1alpha2.CPUTypeHostPassthrough:
		return kvv1.CPU{Model: kvv1.CPUModeHostPassthrough}
	case v1alpha2.CPUTypeModel:
		return kvv1.CPU{Model: class.Spec.CPU.Model}
	}
	cpu := kvv1.CPU{Model: BaselineModel}
	for _, f := range enabledFeatures(class) {
		cpu.Features = append(cpu.Features, kvv1.CPUFeature{Name: f, Policy: requirePolicy})
	}
	return cpu
}

// enabledFeatures are the features a Features class lists (each once, in order) or a
// Discovery class has discovered.
func enabledFeatures(class *v1alpha2.VirtualMachineClass) []string {
	switch class.Spec.CPU.Type {
	case v1alpha2.CPUTypeFeatures:
		seen := map[string]bool{}
		var out []string
		for _, f := range class.Spec.CPU.Features {
			if f != "" && !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
		return out
	case v1alpha2.CPUTypeDiscovery:
		return class.Status.CPUFeatures.Enabled
	}
	return nil
}

// cpuNodeLabels are the KubeVirt node labels a node needs to run the class's CPU with the
// given features: none for Host and HostPassthrough (every KubeVirt node runs those), the
// model's label for Model, and the baseline model's plus one per feature otherwise.
func cpuNodeLabels(class *v1alpha2.VirtualMachineClass, features []string) map[string]string {
	l := map[string]string{}
	switch class.Spec.CPU.Type {
	case v1alpha2.CPUTypeHost, v1alpha2.CPUTypeHostPassthrough:
		return l
	case v1alpha2.CPUTypeModel:
		l[kvv1.CPUModelLabel+class.Spec.CPU.Model] = "true"
		return l
	}
	l[kvv1.CPUModelLabel+BaselineModel] = "true"
	for _, f := range features {
		l[kvv1.CPUFeatureLabel+f] = "true"
	}
	return l
}

// Placement is where VMs of the class may run, for the VMI's nodeSelector, a required node
// affinity term and tolerations: the class's nodeSelector (matchLabels in nodeSelector,
// matchExpressions as the term's requirements) and tolerations, plus the node labels
// KubeVirt publishes for the CPU model and features the class needs, so that the scheduler
// only picks nodes whose CPU can run the VM. The results are copies the caller may change.
func Placement(class *v1alpha2.VirtualMachineClass) (nodeSelector map[string]string, terms []corev1.NodeSelectorRequirement, tolerations []corev1.Toleration) {
	nodeSelector = cpuNodeLabels(class, enabledFeatures(class))
	maps.Copy(nodeSelector, class.Spec.NodeSelector.MatchLabels)
	for _, r := range class.Spec.NodeSelector.MatchExpressions {
		terms = append(terms, *r.DeepCopy())
	}
	for _, t := range class.Spec.Tolerations {
		tolerations = append(tolerations, *t.DeepCopy())
	}
	return nodeSelector, terms, tolerations
}

// Ready tells the VirtualMachine controller whether VMs of the class can start, with the
// reason and message of the VM's VirtualMachineClassReady condition.
func Ready(class *v1alpha2.VirtualMachineClass) (ok bool, reason, message string) {
	switch {
	case class == nil:
		return false, VMClassNotReady, "The VirtualMachineClass does not exist."
	case class.DeletionTimestamp != nil:
		return false, VMClassNotReady, fmt.Sprintf("The VirtualMachineClass %s is being deleted.", class.Name)
	case class.Status.Phase == v1alpha2.ClassPhaseReady:
		return true, VMClassReady, ""
	}
	msg := fmt.Sprintf("The VirtualMachineClass %s is not ready yet.", class.Name)
	if c := meta.FindStatusCondition(class.Status.Conditions, string(ReadyType)); c != nil && c.Message != "" {
		msg = fmt.Sprintf("The VirtualMachineClass %s is not ready: %s", class.Name, c.Message)
	}
	return false, VMClassNotReady, msg
}
