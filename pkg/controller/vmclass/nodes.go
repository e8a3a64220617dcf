package vmclass

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/klog/v2"
	kvv1 "kubevirt.io/api/core/v1"

	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// nodeSelector turns the class's nodeSelector into a label selector with the semantics of a
// Pod's node affinity term: all matchLabels and all matchExpressions must hold.
func nodeSelector(ns v1alpha2.NodeSelector) (labels.Selector, error) {
	sel := labels.SelectorFromSet(ns.MatchLabels)
	for _, e := range ns.MatchExpressions {
		var op selection.Operator
		switch e.Operator {
		case corev1.NodeSelectorOpIn:
			op = selection.In
		case corev1.NodeSelectorOpNotIn:
			op = selection.NotIn
		case corev1.NodeSelectorOpExists:
			op = selection.Exists
		case corev1.NodeSelectorOpDoesNotExist:
			op = selection.DoesNotExist
		case corev1.NodeSelectorOpGt:
			op = selection.GreaterThan
		case corev1.NodeSelectorOpLt:
			op = selection.LessThan
		default:
			return nil, fmt.Errorf("nodeSelector: operator %q of key %q is not one of In, NotIn, Exists, DoesNotExist, Gt, Lt", e.Operator, e.Key)
		}
		r, err := labels.NewRequirement(e.Key, op, e.Values)
		if err != nil {
			return nil, fmt.Errorf("nodeSelector: %w", err)
		}
		sel = sel.Add(*r)
	}
	return sel, nil
}

// lifecycleTaintPrefix marks the taints Kubernetes itself puts on nodes for their conditions
// (not-ready, unreachable, unschedulable, ...). They come and go with a node's health or a
// drain, so they do not take the node out of a class's list.
const lifecycleTaintPrefix = "node.kubernetes.io/"

// tolerated reports whether the class's tolerations allow VMs on the node.
func tolerated(node *corev1.Node, tolerations []corev1.Toleration) bool {
	for i := range node.Spec.Taints {
		taint := &node.Spec.Taints[i]
		if taint.Effect == corev1.TaintEffectPreferNoSchedule || strings.HasPrefix(taint.Key, lifecycleTaintPrefix) {
			continue
		}
		ok := false
		for j := range tolerations {
			if tolerations[j].ToleratesTaint(klog.Background(), taint, true) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// runsVMs reports whether KubeVirt's node agent says the node runs VMs.
func runsVMs(node *corev1.Node) bool {
	return node.Labels[kvv1.NodeSchedulable] == "true"
}

// candidateNodes are the nodes that run VMs, match the class's nodeSelector and whose taints
// the class tolerates, whatever their CPU; sorted by name.
func candidateNodes(class *v1alpha2.VirtualMachineClass, nodes []*corev1.Node) ([]*corev1.Node, error) {
	sel, err := nodeSelector(class.Spec.NodeSelector)
	if err != nil {
		return nil, err
	}
	var out []*corev1.Node
	for _, n := range nodes {
		if runsVMs(n) && sel.Matches(labels.Set(n.Labels)) && tolerated(n, class.Spec.Tolerations) {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// hasLabels reports whether the node carries every label of want with its value.
func hasLabels(node *corev1.Node, want map[string]string) bool {
	for k, v := range want {
		if node.Labels[k] != v {
			return false
		}
	}
	return true
}

// withLabels keeps the nodes that carry every label of want.
func withLabels(nodes []*corev1.Node, want map[string]string) []*corev1.Node {
	var out []*corev1.Node
	for _, n := range nodes {
		if hasLabels(n, want) {
			out = append(out, n)
		}
	}
	return out
}

// commonFeatures lists the CPU features (cpu-feature labels set to "true") every node has,
// sorted; none for no nodes.
func commonFeatures(nodes []*corev1.Node) []string {
	if len(nodes) == 0 {
		return nil
	}
	count := map[string]int{}
	for _, n := range nodes {
		for k, v := range n.Labels {
			if f, ok := strings.CutPrefix(k, kvv1.CPUFeatureLabel); ok && v == "true" {
				count[f]++
			}
		}
	}
	var out []string
	for f, c := range count {
		if c == len(nodes) {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

// maxAllocatable is the largest allocatable CPU and memory among the nodes, each on its own:
// the most a single VM of the class could get.
func maxAllocatable(nodes []*corev1.Node) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, n := range nodes {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			q, ok := n.Status.Allocatable[name]
			if !ok || q.IsZero() {
				continue
			}
			if cur, ok := out[name]; !ok || q.Cmp(cur) > 0 {
				out[name] = q.DeepCopy()
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func nodeNames(nodes []*corev1.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	return out
}

// whyNoNode explains why no candidate can run the class's CPU, naming the model or the
// features no node offers.
func whyNoNode(candidates []*corev1.Node, need map[string]string) string {
	if len(candidates) == 0 {
		return fmt.Sprintf("No node runs virtual machines (label %s=true) and matches the class's nodeSelector and tolerations.", kvv1.NodeSchedulable)
	}
	var models, features []string
	for k := range need {
		if len(withLabels(candidates, map[string]string{k: need[k]})) > 0 {
			continue
		}
		if m, ok := strings.CutPrefix(k, kvv1.CPUModelLabel); ok {
			models = append(models, m)
		} else if f, ok := strings.CutPrefix(k, kvv1.CPUFeatureLabel); ok {
			features = append(features, f)
		}
	}
	sort.Strings(models)
	sort.Strings(features)
	who := describeNodes(candidates)
	switch {
	case len(models) > 0 && len(features) > 0:
		return fmt.Sprintf("No node among %s can run the CPU model %s, and none has the CPU features %s.", who, strings.Join(models, ", "), strings.Join(features, ", "))
	case len(models) > 0:
		return fmt.Sprintf("No node among %s can run the CPU model %s.", who, strings.Join(models, ", "))
	case len(features) > 0:
		return fmt.Sprintf("No node among %s has the CPU features %s.", who, strings.Join(features, ", "))
	}
	var all []string
	for k := range need {
		all = append(all, strings.TrimPrefix(strings.TrimPrefix(k, kvv1.CPUFeatureLabel), kvv1.CPUModelLabel))
	}
	sort.Strings(all)
	return fmt.Sprintf("Each of %s lacks some of the CPU model and features the class needs (%s); no single node has them all.", who, strings.Join(all, ", "))
}

// describeNodes names a few nodes, or counts many.
func describeNodes(nodes []*corev1.Node) string {
	if len(nodes) > 5 {
		return fmt.Sprintf("the %d matching nodes", len(nodes))
	}
	return strings.Join(nodeNames(nodes), ", ")
}
