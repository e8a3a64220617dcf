package localnode

import (
	"context"
	"fmt"
	"maps"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/virtplane/virtplane/pkg/localnode/virtapi"
)

// As the kubelet: the Lease is renewed every 10 s and lasts 40 s; the status is written every
// minute even when nothing changed.
const (
	leaseRenewInterval  = 10 * time.Second
	leaseDuration       = 40 * time.Second
	statusReportPeriod  = time.Minute
	nodeLeaseNamespace  = corev1.NamespaceNodeLease
	kubeletVersion      = "v1.36.3-localnode"
	defaultMaxPods      = 110
	ephemeralStorageCap = "100Gi"
)

// nodeStatus is the status the node reports; heartbeat times are now.
func (n *Node) nodeStatus(now metav1.Time) corev1.NodeStatus {
	resources := corev1.ResourceList{
		corev1.ResourceCPU:              n.cfg.CPU,
		corev1.ResourceMemory:           n.cfg.Memory,
		corev1.ResourcePods:             *resource.NewQuantity(int64(n.cfg.MaxPods), resource.DecimalSI),
		corev1.ResourceEphemeralStorage: resource.MustParse(ephemeralStorageCap),
	}
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg,
			LastHeartbeatTime: now, LastTransitionTime: now}
	}
	return corev1.NodeStatus{
		Capacity:    resources,
		Allocatable: resources.DeepCopy(),
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{
			cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "local node stand-in has sufficient memory available"),
			cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "local node stand-in has no disk pressure"),
			cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "local node stand-in has sufficient PID available"),
			cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "local node stand-in is posting ready status"),
		},
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: "127.0.0.1"},
			{Type: corev1.NodeHostName, Address: n.cfg.NodeName},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 0}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID:               "localnode-" + n.cfg.NodeName,
			SystemUUID:              "localnode-" + n.cfg.NodeName,
			BootID:                  "localnode-" + n.cfg.NodeName,
			KernelVersion:           "host",
			OSImage:                 "virtplane local node (stand-in)",
			ContainerRuntimeVersion: "localnode://process",
			KubeletVersion:          kubeletVersion,
			KubeProxyVersion:        kubeletVersion,
			OperatingSystem:         "linux",
			Architecture:            "amd64",
		},
	}
}

func (n *Node) nodeLabels() map[string]string {
	l := map[string]string{
		corev1.LabelHostname:   n.cfg.NodeName,
		corev1.LabelOSStable:   "linux",
		corev1.LabelArchStable: "amd64",
	}
	maps.Copy(l, hostCPULabels())
	maps.Copy(l, n.cfg.Labels)
	return l
}

// setAnnotations publishes the handler endpoint's address, or removes the address a previous
// run published when this one serves none.
func (n *Node) setAnnotations(node *corev1.Node) {
	if n.handlerAddr == "" {
		delete(node.Annotations, virtapi.HandlerAddressAnnotation)
		return
	}
	if node.Annotations == nil {
		node.Annotations = map[string]string{}
	}
	node.Annotations[virtapi.HandlerAddressAnnotation] = n.handlerAddr
}

// register creates the Node or, when it exists (a restart), merges our labels and the handler
// address annotation and writes the status. The spec (unschedulable, taints) is the user's
// and is left alone.
func (n *Node) register(ctx context.Context) error {
	nodes := n.client.CoreV1().Nodes()
	now := metav1.Now()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.cfg.NodeName, Labels: n.nodeLabels()}}
	n.setAnnotations(node)
	created, err := nodes.Create(ctx, node, metav1.CreateOptions{})
	switch {
	case err == nil:
		node = created
	case apierrors.IsAlreadyExists(err):
		if node, err = nodes.Get(ctx, n.cfg.NodeName, metav1.GetOptions{}); err != nil {
			return fmt.Errorf("reading node %s: %w", n.cfg.NodeName, err)
		}
		if node.Labels == nil {
			node.Labels = map[string]string{}
		}
		maps.Copy(node.Labels, n.nodeLabels())
		n.setAnnotations(node)
		if node, err = nodes.Update(ctx, node, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating node %s: %w", n.cfg.NodeName, err)
		}
	default:
		return fmt.Errorf("registering node %s: %w", n.cfg.NodeName, err)
	}
	node.Status = n.nodeStatus(now)
	if node, err = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("writing the status of node %s: %w", n.cfg.NodeName, err)
	}
	if err := n.untaintReady(ctx, node); err != nil {
		return err
	}
	return n.renewLease(ctx, node)
}

// untaintReady removes the not-ready taint the NodeRestriction/TaintNodesByCondition
// admission puts on a new Node. On a cluster the node lifecycle controller removes it once
// the kubelet reports Ready; the node does it too so that it works where that controller
// does not run. Both may try at once: a conflict re-reads the Node, and a taint already gone
// is done. Only this system taint is touched: other taints and cordon are the user's.
func (n *Node) untaintReady(ctx context.Context, node *corev1.Node) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var kept []corev1.Taint
		for _, t := range node.Spec.Taints {
			if t.Key != corev1.TaintNodeNotReady {
				kept = append(kept, t)
			}
		}
		if len(kept) == len(node.Spec.Taints) {
			return nil
		}
		updated := node.DeepCopy()
		updated.Spec.Taints = kept
		_, err := n.client.CoreV1().Nodes().Update(ctx, updated, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			fresh, getErr := n.client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
			if getErr != nil {
				return getErr
			}
			node = fresh
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("removing the not-ready taint of node %s: %w", n.cfg.NodeName, err)
	}
	return nil
}

// heartbeat renews the Lease and writes the status periodically until ctx ends.
func (n *Node) heartbeat(ctx context.Context) {
	logger := klog.FromContext(ctx)
	lease := time.NewTicker(leaseRenewInterval)
	defer lease.Stop()
	status := time.NewTicker(statusReportPeriod)
	defer status.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-lease.C:
			node, err := n.client.CoreV1().Nodes().Get(ctx, n.cfg.NodeName, metav1.GetOptions{})
			if err == nil {
				err = n.renewLease(ctx, node)
			}
			if err != nil && ctx.Err() == nil {
				logger.Error(err, "Renewing the node lease")
			}
		case <-status.C:
			if err := n.updateStatus(ctx); err != nil && ctx.Err() == nil {
				logger.Error(err, "Writing the node status")
			}
		}
	}
}

// updateStatus writes heartbeat times (and the node status as a whole, which may have
// been changed by someone else); transition times are kept when a condition did not change.
func (n *Node) updateStatus(ctx context.Context) error {
	nodes := n.client.CoreV1().Nodes()
	node, err := nodes.Get(ctx, n.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		// Someone deleted the Node: register again, as the kubelet would after a restart.
		return n.register(ctx)
	}
	if err != nil {
		return fmt.Errorf("reading node %s: %w", n.cfg.NodeName, err)
	}
	status := n.nodeStatus(metav1.Now())
	for i, c := range status.Conditions {
		for _, old := range node.Status.Conditions {
			if old.Type == c.Type && old.Status == c.Status {
				status.Conditions[i].LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	status.Images = node.Status.Images
	node.Status = status
	if node, err = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("writing the status of node %s: %w", n.cfg.NodeName, err)
	}
	return n.untaintReady(ctx, node)
}

// renewLease creates or renews the node's Lease, owned by the Node so it goes with it.
func (n *Node) renewLease(ctx context.Context, node *corev1.Node) error {
	leases := n.client.CoordinationV1().Leases(nodeLeaseNamespace)
	now := metav1.NewMicroTime(time.Now())
	spec := coordinationv1.LeaseSpec{
		HolderIdentity:       ptr.To(n.cfg.NodeName),
		LeaseDurationSeconds: ptr.To(int32(leaseDuration / time.Second)),
		RenewTime:            &now,
	}
	lease, err := leases.Get(ctx, n.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: n.cfg.NodeName, Namespace: nodeLeaseNamespace,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}},
			Spec: spec,
		}
		if _, err := leases.Create(ctx, lease, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating the lease of node %s: %w", n.cfg.NodeName, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the lease of node %s: %w", n.cfg.NodeName, err)
	}
	lease.Spec.HolderIdentity, lease.Spec.LeaseDurationSeconds, lease.Spec.RenewTime = spec.HolderIdentity, spec.LeaseDurationSeconds, spec.RenewTime
	if _, err := leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("renewing the lease of node %s: %w", n.cfg.NodeName, err)
	}
	return nil
}
