package vmclass

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
)

// Sync reconciles one class; the key is its name.
func (c *Controller) Sync(ctx context.Context, key string) (time.Duration, error) {
	defer provisioning.LogSync(ctx, "vmclass", key)()
	class, err := c.classLister.Get(key)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("get VirtualMachineClass %s: %w", key, err)
	}
	class = class.DeepCopy()
	users, err := c.usersOf(class.Name)
	if err != nil {
		return 0, err
	}
	if class.DeletionTimestamp != nil {
		return 0, c.finalize(ctx, class, users)
	}
	if class, err = c.setFinalizer(ctx, class, true); err != nil {
		return 0, err
	}
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return 0, fmt.Errorf("list nodes: %w", err)
	}
	st := observe(class, nodes, users)
	c.recordChanges(class, st)
	return 0, c.writeStatus(ctx, class, st)
}

// observe computes the status of a live class from the nodes and the VMs that use it.
func observe(class *v1alpha2.VirtualMachineClass, nodes []*corev1.Node, users []string) v1alpha2.VirtualMachineClassStatus {
	st := *class.Status.DeepCopy()
	gen := class.Generation
	st.ObservedGeneration = gen
	setInUse(&st, users, gen)

	candidates, err := candidateNodes(class, nodes)
	if err != nil {
		st.Phase = v1alpha2.ClassPhasePending
		st.AvailableNodes, st.MaxAllocatableResources, st.CPUFeatures = nil, nil, v1alpha2.CPUFeatures{}
		provisioning.SetCondition(&st.Conditions, DiscoveredType, metav1.ConditionFalse, DiscoveryFailed, err.Error(), gen)
		provisioning.SetCondition(&st.Conditions, ReadyType, metav1.ConditionFalse, NoSuitableNodesFound, err.Error(), gen)
		return st
	}

	var enabled []string
	switch class.Spec.CPU.Type {
	case v1alpha2.CPUTypeDiscovery:
		enabled = discover(class, candidates, &st)
	case v1alpha2.CPUTypeFeatures:
		enabled = enabledFeatures(class)
		provisioning.SetCondition(&st.Conditions, DiscoveredType, metav1.ConditionFalse, DiscoverySkip,
			"The class lists its CPU features; only cpu.type Discovery discovers them.", gen)
	default:
		provisioning.SetCondition(&st.Conditions, DiscoveredType, metav1.ConditionFalse, DiscoverySkip,
			fmt.Sprintf("cpu.type %s needs no discovery of CPU features.", class.Spec.CPU.Type), gen)
	}
	need := cpuNodeLabels(class, enabled)
	available := withLabels(candidates, need)
	if class.Spec.CPU.Type == v1alpha2.CPUTypeDiscovery && len(enabled) == 0 {
		available = nil // no CPU yet, so nowhere to run it
	}

	st.CPUFeatures = v1alpha2.CPUFeatures{Enabled: enabled}
	if t := class.Spec.CPU.Type; t == v1alpha2.CPUTypeDiscovery || t == v1alpha2.CPUTypeFeatures {
		for _, f := range commonFeatures(available) {
			if !slices.Contains(enabled, f) {
				st.CPUFeatures.NotEnabledCommon = append(st.CPUFeatures.NotEnabledCommon, f)
			}
		}
	}
	st.AvailableNodes = nodeNames(available)
	st.MaxAllocatableResources = maxAllocatable(available)

	switch {
	case class.Spec.CPU.Type == v1alpha2.CPUTypeDiscovery && len(enabled) == 0:
		st.Phase = v1alpha2.ClassPhasePending
		msg := "No CPU features were discovered, so the class has no CPU yet."
		if d := meta.FindStatusCondition(st.Conditions, string(DiscoveredType)); d != nil {
			msg = "No CPU features were discovered: " + d.Message
		}
		provisioning.SetCondition(&st.Conditions, ReadyType, metav1.ConditionFalse, NoCPUFeaturesEnabled, msg, gen)
	case len(available) == 0:
		st.Phase = v1alpha2.ClassPhasePending
		provisioning.SetCondition(&st.Conditions, ReadyType, metav1.ConditionFalse, NoSuitableNodesFound, whyNoNode(candidates, need), gen)
	default:
		st.Phase = v1alpha2.ClassPhaseReady
		provisioning.SetCondition(&st.Conditions, ReadyType, metav1.ConditionTrue, SuitableNodesFound,
			fmt.Sprintf("VMs of the class can run on %s.", describeNodes(available)), gen)
	}
	return st
}

// discover returns the CPU features of a Discovery class. They are found once, as the
// features common to the candidate nodes its discovery nodeSelector picks, and then kept:
// the guide asks for Discovery classes to be made once all nodes are in the cluster, and
// VMs started with those features must keep the same CPU (a later, older node is simply
// not available to the class).
func discover(class *v1alpha2.VirtualMachineClass, candidates []*corev1.Node, st *v1alpha2.VirtualMachineClassStatus) []string {
	gen := class.Generation
	if meta.IsStatusConditionTrue(st.Conditions, string(DiscoveredType)) && len(class.Status.CPUFeatures.Enabled) > 0 {
		return class.Status.CPUFeatures.Enabled
	}
	var sel metav1.LabelSelector
	if d := class.Spec.CPU.Discovery; d != nil {
		sel = d.NodeSelector
	}
	selector, err := metav1.LabelSelectorAsSelector(&sel)
	if err != nil {
		provisioning.SetCondition(&st.Conditions, DiscoveredType, metav1.ConditionFalse, DiscoveryFailed,
			fmt.Sprintf("discovery.nodeSelector: %v", err), gen)
		return nil
	}
	var nodes []*corev1.Node
	for _, n := range candidates {
		if selector.Matches(labels.Set(n.Labels)) {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) == 0 {
		provisioning.SetCondition(&st.Conditions, DiscoveredType, metav1.ConditionFalse, DiscoveryFailed,
			"No node that runs VMs matches both the class's nodeSelector and its discovery.nodeSelector.", gen)
		return nil
	}
	features := commonFeatures(nodes)
	if len(features) == 0 {
		provisioning.SetCondition(&st.Conditions, DiscoveredType, metav1.ConditionFalse, DiscoveryFailed,
			fmt.Sprintf("The nodes %s publish no CPU features in common (labels cpu-feature.node.kubevirt.io/*).", describeNodes(nodes)), gen)
		return nil
	}
	provisioning.SetCondition(&st.Conditions, DiscoveredType, metav1.ConditionTrue, DiscoverySucceeded,
		fmt.Sprintf("Found %d CPU features common to %s.", len(features), describeNodes(nodes)), gen)
	return features
}

func setInUse(st *v1alpha2.VirtualMachineClassStatus, users []string, gen int64) {
	if len(users) == 0 {
		provisioning.RemoveCondition(&st.Conditions, InUseType)
		return
	}
	msg := fmt.Sprintf("Used by VirtualMachine %s.", strings.Join(users, ", "))
	if len(users) > 5 {
		msg = fmt.Sprintf("Used by %d VirtualMachines, such as %s.", len(users), strings.Join(users[:5], ", "))
	}
	provisioning.SetCondition(&st.Conditions, InUseType, metav1.ConditionTrue, VirtualMachineClassInUse, msg, gen)
}

// usersOf lists the VMs that name the class, as namespace/name, sorted.
func (c *Controller) usersOf(name string) ([]string, error) {
	objs, err := c.vmIndexer.ByIndex(ClassIndex, name)
	if err != nil {
		return nil, fmt.Errorf("look up VMs of VirtualMachineClass %s: %w", name, err)
	}
	var out []string
	for _, o := range objs {
		if vm, ok := o.(*v1alpha2.VirtualMachine); ok {
			out = append(out, vm.Namespace+"/"+vm.Name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// finalize keeps a deleted class Terminating while VMs name it, then lets it go.
func (c *Controller) finalize(ctx context.Context, class *v1alpha2.VirtualMachineClass, users []string) error {
	st := *class.Status.DeepCopy()
	st.Phase = v1alpha2.ClassPhaseTerminating
	setInUse(&st, users, class.Generation)
	if err := c.writeStatus(ctx, class, st); err != nil {
		return err
	}
	if len(users) > 0 {
		return nil
	}
	_, err := c.setFinalizer(ctx, class, false)
	return err
}

// setFinalizer adds or removes Finalizer and returns the class as stored.
func (c *Controller) setFinalizer(ctx context.Context, class *v1alpha2.VirtualMachineClass, present bool) (*v1alpha2.VirtualMachineClass, error) {
	list, changed := provisioning.WithFinalizer(class.Finalizers, Finalizer, present)
	if !changed {
		return class, nil
	}
	updated := class.DeepCopy()
	updated.Finalizers = list
	out, err := c.virt.VirtualizationV1alpha2().VirtualMachineClasses().Update(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) && !present {
		return class, nil
	}
	if err != nil {
		return nil, fmt.Errorf("update finalizers of VirtualMachineClass %s: %w", class.Name, err)
	}
	return out, nil
}

// writeStatus stores the status through /status, only when it changed.
func (c *Controller) writeStatus(ctx context.Context, class *v1alpha2.VirtualMachineClass, st v1alpha2.VirtualMachineClassStatus) error {
	if apiequality.Semantic.DeepEqual(class.Status, st) {
		return nil
	}
	updated := class.DeepCopy()
	updated.Status = st
	_, err := c.virt.VirtualizationV1alpha2().VirtualMachineClasses().UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if err != nil && !(apierrors.IsNotFound(err) && class.DeletionTimestamp != nil) {
		return fmt.Errorf("update status of VirtualMachineClass %s: %w", class.Name, err)
	}
	return nil
}

// recordChanges emits events for what a user would want to know: the class became ready
// or unusable, features were discovered, the available nodes changed.
func (c *Controller) recordChanges(class *v1alpha2.VirtualMachineClass, st v1alpha2.VirtualMachineClassStatus) {
	old := class.Status
	ready := meta.FindStatusCondition(st.Conditions, string(ReadyType))
	switch {
	case st.Phase == v1alpha2.ClassPhaseReady && old.Phase != v1alpha2.ClassPhaseReady:
		c.recorder.Event(class, corev1.EventTypeNormal, EventClassReady, ready.Message)
	case st.Phase == v1alpha2.ClassPhasePending && ready != nil && ready.Message != readyMessage(old):
		c.recorder.Event(class, corev1.EventTypeWarning, EventNoSuitableNodes, ready.Message)
	case st.Phase == v1alpha2.ClassPhaseReady && !slices.Equal(old.AvailableNodes, st.AvailableNodes):
		c.recorder.Eventf(class, corev1.EventTypeNormal, EventAvailableNodesChanged, "VMs of the class can now run on %s.", describeAvailable(st.AvailableNodes))
	}
	if meta.IsStatusConditionTrue(st.Conditions, string(DiscoveredType)) && !meta.IsStatusConditionTrue(old.Conditions, string(DiscoveredType)) {
		c.recorder.Eventf(class, corev1.EventTypeNormal, EventCPUFeaturesDiscovered, "The class's CPU has the features %s.", strings.Join(st.CPUFeatures.Enabled, ", "))
	}
}

func readyMessage(st v1alpha2.VirtualMachineClassStatus) string {
	if c := meta.FindStatusCondition(st.Conditions, string(ReadyType)); c != nil && c.Status == metav1.ConditionFalse {
		return c.Message
	}
	return ""
}

func describeAvailable(names []string) string {
	if len(names) > 5 {
		return fmt.Sprintf("%d nodes", len(names))
	}
	return strings.Join(names, ", ")
}
