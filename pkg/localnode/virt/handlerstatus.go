package virt

import (
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
)

// Interface info sources, as KubeVirt writes them.
const (
	infoSourceDomain     = "domain"
	infoSourceGuestAgent = "guest-agent"
)

// runningStatus is the VMI's status while its VM runs on node: Running and Ready, the
// topology, memory and address it runs with, and what the guest agent tells (withAgent
// false, for a hollow VM, leaves AgentConnected out).
func runningStatus(vmi *kvv1.VirtualMachineInstance, pod *corev1.Pod, st *vmState, node string, withAgent bool, agent agentInfo, now metav1.Time) kvv1.VirtualMachineInstanceStatus {
	s := *vmi.Status.DeepCopy()
	setPhase(&s, kvv1.Running, now)
	s.Reason = ""
	s.NodeName = node
	s.ActivePods = map[types.UID]string{pod.UID: node}
	if pod.Status.QOSClass != "" {
		s.QOSClass = ptr.To(pod.Status.QOSClass)
	}
	if len(pod.Spec.Containers) > 0 {
		s.LauncherContainerImageVersion = pod.Spec.Containers[0].Image
	}
	cpu := st.spec.CPU
	s.CurrentCPUTopology = &kvv1.CPUTopology{Sockets: cpu.Sockets, Cores: cpu.Cores, Threads: cpu.Threads}
	mem := resource.NewQuantity(st.spec.MemoryBytes, resource.BinarySI)
	s.Memory = &kvv1.MemoryStatus{GuestAtBoot: mem, GuestCurrent: mem, GuestRequested: mem}
	removeCondition(&s, kvv1.VirtualMachineInstanceSynchronized)
	setCondition(&s, kvv1.VirtualMachineInstanceReady, corev1.ConditionTrue, "", "", now)
	if withAgent {
		if agent.connected {
			setCondition(&s, kvv1.VirtualMachineInstanceAgentConnected, corev1.ConditionTrue, ReasonAgentConnected, "", now)
			s.GuestOSInfo = kvv1.VirtualMachineInstanceGuestOSInfo{
				ID: agent.os.ID, Name: agent.os.Name, PrettyName: agent.os.PrettyName, Version: agent.os.Version,
				VersionID: agent.os.VersionID, KernelRelease: agent.os.KernelRelease, KernelVersion: agent.os.KernelVersion,
				Machine: agent.os.Machine,
			}
		} else {
			setCondition(&s, kvv1.VirtualMachineInstanceAgentConnected, corev1.ConditionFalse, ReasonNoAgent, "the guest agent does not answer", now)
		}
	}
	s.Interfaces = nil
	if n := st.spec.Network; n != nil {
		s.Interfaces = []kvv1.VirtualMachineInstanceNetworkInterface{guestInterface(vmi, n, agent)}
	}
	return s
}

// guestInterface reports the VM's interface: the address it was given, or, once the guest
// agent shows the interface (by MAC), the addresses the guest has.
func guestInterface(vmi *kvv1.VirtualMachineInstance, n *Network, agent agentInfo) kvv1.VirtualMachineInstanceNetworkInterface {
	name := "default"
	if len(vmi.Spec.Networks) > 0 {
		name = vmi.Spec.Networks[0].Name
	}
	iface := kvv1.VirtualMachineInstanceNetworkInterface{
		Name: name, MAC: n.MAC, IP: n.Address.String(), IPs: []string{n.Address.String()},
		InfoSource: infoSourceDomain, PodInterfaceName: "eth0",
	}
	if !agent.connected {
		return iface
	}
	for _, gi := range agent.interfaces {
		if !strings.EqualFold(gi.MAC, n.MAC) {
			continue
		}
		iface.InterfaceName = gi.Name
		iface.InfoSource = infoSourceDomain + ", " + infoSourceGuestAgent
		var v4, v6 []string
		for _, p := range gi.Addresses {
			a := p.Addr()
			switch {
			case a.Is4():
				v4 = append(v4, a.String())
			case !a.IsLinkLocalUnicast():
				v6 = append(v6, a.String())
			}
		}
		if ips := append(v4, v6...); len(ips) > 0 {
			iface.IP, iface.IPs = ips[0], ips
		}
	}
	return iface
}

// launcherContainerID names the launcher container after its VMI.
func launcherContainerID(pod *corev1.Pod) string {
	return "localnode://vm-" + pod.Labels[kvv1.CreatedByLabel]
}

// runningPodStatus is the launcher Pod's status while its VM runs: Running and Ready with
// the node's Pod address.
func runningPodStatus(pod *corev1.Pod, st *vmState, now metav1.Time) corev1.PodStatus {
	s := basePodStatus(pod, st.ip, now)
	s.Phase = corev1.PodRunning
	s.ContainerStatuses = launcherContainerStatuses(pod, corev1.ContainerState{
		Running: &corev1.ContainerStateRunning{StartedAt: st.started}}, true)
	setPodCondition(&s, corev1.PodReadyToStartContainers, corev1.ConditionTrue, "", "", now)
	setPodCondition(&s, corev1.PodInitialized, corev1.ConditionTrue, "", "", now)
	setPodCondition(&s, corev1.ContainersReady, corev1.ConditionTrue, "", "", now)
	setPodCondition(&s, corev1.PodReady, corev1.ConditionTrue, "", "", now)
	return s
}

// endedPodStatus is the launcher Pod's status once its VM ended: Succeeded after a
// poweroff or a requested stop, Failed otherwise.
func endedPodStatus(pod *corev1.Pod, ip netip.Addr, phase kvv1.VirtualMachineInstancePhase, reason, msg string, now metav1.Time) corev1.PodStatus {
	s := basePodStatus(pod, ip, now)
	term := &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", Message: msg, FinishedAt: now, StartedAt: now,
		ContainerID: launcherContainerID(pod)}
	s.Phase = corev1.PodSucceeded
	if phase != kvv1.Succeeded {
		s.Phase, term.ExitCode, term.Reason = corev1.PodFailed, 1, "Error"
		s.Reason, s.Message = reason, msg
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Running != nil {
			term.StartedAt = cs.State.Running.StartedAt
		}
	}
	s.ContainerStatuses = launcherContainerStatuses(pod, corev1.ContainerState{Terminated: term}, false)
	setPodCondition(&s, corev1.ContainersReady, corev1.ConditionFalse, "PodCompleted", "", now)
	setPodCondition(&s, corev1.PodReady, corev1.ConditionFalse, "PodCompleted", "", now)
	return s
}

func basePodStatus(pod *corev1.Pod, ip netip.Addr, now metav1.Time) corev1.PodStatus {
	s := *pod.Status.DeepCopy()
	s.HostIP = "127.0.0.1"
	s.HostIPs = []corev1.HostIP{{IP: s.HostIP}}
	if ip.IsValid() {
		s.PodIP = ip.String()
		s.PodIPs = []corev1.PodIP{{IP: s.PodIP}}
	}
	if s.StartTime == nil {
		s.StartTime = &now
	}
	return s
}

func launcherContainerStatuses(pod *corev1.Pod, state corev1.ContainerState, ready bool) []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	for _, c := range pod.Spec.Containers {
		out = append(out, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image, State: state,
			Ready: ready, Started: ptr.To(ready), ContainerID: launcherContainerID(pod),
		})
	}
	return out
}

// setPodCondition sets a Pod condition, keeping its transition time when the status did not
// change; PodScheduled stays the scheduler's.
func setPodCondition(s *corev1.PodStatus, t corev1.PodConditionType, cs corev1.ConditionStatus, reason, msg string, now metav1.Time) {
	for i := range s.Conditions {
		c := &s.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status != cs {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason, c.Message = cs, reason, msg
		return
	}
	s.Conditions = append(s.Conditions, corev1.PodCondition{Type: t, Status: cs, Reason: reason, Message: msg, LastTransitionTime: now})
}
