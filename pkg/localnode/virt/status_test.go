package virt

import (
	"context"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kvv1 "kubevirt.io/api/core/v1"
)

func condition(st kvv1.VirtualMachineInstanceStatus, t kvv1.VirtualMachineInstanceConditionType) *kvv1.VirtualMachineInstanceCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// TestStatusTransitions follows a VMI through the statuses the stand-in writes: Scheduling
// while the scheduler finds no node, Scheduled once the Pod is bound, Running with what the
// guest agent tells, Succeeded after a poweroff; each status computed again from itself is
// unchanged, so nothing is written twice.
func TestStatusTransitions(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	later := metav1.NewTime(t0.Add(time.Minute))
	vmi := testVMI()
	pod := LauncherPod(vmi)
	pod.Name, pod.UID = "virt-launcher-linux-abcde", "pod-uid"
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
		Message: "0/2 nodes are available: 2 Insufficient memory."}}

	vmi.Status = schedulingStatus(vmi, pod, t0)
	if vmi.Status.Phase != kvv1.Scheduling || vmi.Status.NodeName != "" {
		t.Fatalf("unbound: %+v", vmi.Status)
	}
	if c := condition(vmi.Status, "PodScheduled"); c == nil || c.Status != corev1.ConditionFalse || c.Reason != "Unschedulable" ||
		c.Message != "0/2 nodes are available: 2 Insufficient memory." {
		t.Errorf("PodScheduled %+v", c)
	}
	if again := schedulingStatus(vmi, pod, later); !equality.Semantic.DeepEqual(again, vmi.Status) {
		t.Errorf("an unchanged pending VMI would be rewritten:\n%+v\n%+v", again, vmi.Status)
	}

	pod.Spec.NodeName = "node-2"
	pod.Status.Conditions[0] = corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}
	pod.Status.QOSClass = corev1.PodQOSBurstable
	vmi.Status = schedulingStatus(vmi, pod, later)
	if vmi.Status.Phase != kvv1.Scheduled || vmi.Status.NodeName != "node-2" || vmi.Status.ActivePods["pod-uid"] != "node-2" {
		t.Fatalf("bound: %+v", vmi.Status)
	}
	if c := condition(vmi.Status, "PodScheduled"); c.Status != corev1.ConditionTrue || !c.LastTransitionTime.Equal(&later) {
		t.Errorf("PodScheduled %+v", c)
	}

	spec, err := buildMachineSpec(context.Background(), vmi, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	st := &vmState{spec: spec, ip: netip.MustParseAddr("127.12.0.2"), started: t0}
	vmi.Status = runningStatus(vmi, pod, st, "node-2", true, agentInfo{}, later)
	s := vmi.Status
	if s.Phase != kvv1.Running || s.NodeName != "node-2" || *s.QOSClass != corev1.PodQOSBurstable ||
		s.LauncherContainerImageVersion != "virt-launcher" || *s.CurrentCPUTopology != (kvv1.CPUTopology{Sockets: 1, Cores: 2, Threads: 1}) ||
		s.Memory.GuestCurrent.String() != "1Gi" {
		t.Errorf("running: %+v", s)
	}
	if c := condition(s, kvv1.VirtualMachineInstanceReady); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("Ready %+v", c)
	}
	if c := condition(s, kvv1.VirtualMachineInstanceAgentConnected); c == nil || c.Status != corev1.ConditionFalse {
		t.Errorf("AgentConnected before the agent answered: %+v", c)
	}
	if len(s.Interfaces) != 1 || s.Interfaces[0].Name != "default" || s.Interfaces[0].IP != "10.66.10.20" ||
		s.Interfaces[0].MAC != "52:54:00:aa:bb:cc" || s.Interfaces[0].InfoSource != "domain" {
		t.Errorf("interfaces %+v", s.Interfaces)
	}
	var phases []kvv1.VirtualMachineInstancePhase
	for _, p := range s.PhaseTransitionTimestamps {
		phases = append(phases, p.Phase)
	}
	if len(phases) != 3 || phases[0] != kvv1.Scheduling || phases[1] != kvv1.Scheduled || phases[2] != kvv1.Running {
		t.Errorf("phase transitions %v", phases)
	}

	agent := agentInfo{connected: true,
		os: OSInfo{ID: "alpine", Name: "Alpine Linux", PrettyName: "Alpine Linux v3.20", VersionID: "3.20.3", KernelRelease: "6.1.0-cloud-amd64", Machine: "x86_64"},
		interfaces: []GuestInterface{
			{Name: "lo", MAC: "00:00:00:00:00:00", Addresses: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
			{Name: "eth0", MAC: "52:54:00:AA:BB:CC", Addresses: []netip.Prefix{netip.MustParsePrefix("fe80::5054:ff:feaa:bbcc/64"),
				netip.MustParsePrefix("10.66.10.20/24"), netip.MustParsePrefix("fd00::20/64")}},
		}}
	withAgent := runningStatus(vmi, pod, st, "node-2", true, agent, later)
	if c := condition(withAgent, kvv1.VirtualMachineInstanceAgentConnected); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("AgentConnected %+v", c)
	}
	if withAgent.GuestOSInfo.PrettyName != "Alpine Linux v3.20" || withAgent.GuestOSInfo.KernelRelease != "6.1.0-cloud-amd64" {
		t.Errorf("guestOSInfo %+v", withAgent.GuestOSInfo)
	}
	i := withAgent.Interfaces[0]
	if i.InterfaceName != "eth0" || i.IP != "10.66.10.20" || len(i.IPs) != 2 || i.IPs[1] != "fd00::20" || i.InfoSource != "domain, guest-agent" {
		t.Errorf("interface with agent %+v", i)
	}
	vmi.Status = withAgent
	if again := runningStatus(vmi, pod, st, "node-2", true, agent, metav1.NewTime(later.Add(time.Hour))); !equality.Semantic.DeepEqual(again, vmi.Status) {
		t.Errorf("an unchanged running VMI would be rewritten")
	}

	// A hollow VM has no agent to report on.
	hollow := vmi.DeepCopy()
	hollow.Status = kvv1.VirtualMachineInstanceStatus{}
	if c := condition(runningStatus(hollow, pod, st, "node-2", false, agentInfo{}, later), kvv1.VirtualMachineInstanceAgentConnected); c != nil {
		t.Errorf("hollow AgentConnected %+v", c)
	}

	ended := endedStatus(vmi, kvv1.Succeeded, ReasonGuestShutdown, "the guest powered off", later)
	if ended.Phase != kvv1.Succeeded || ended.Reason != ReasonGuestShutdown || ended.ActivePods != nil {
		t.Errorf("ended %+v", ended)
	}
	if c := condition(ended, kvv1.VirtualMachineInstanceReady); c.Status != corev1.ConditionFalse || c.Message != "the guest powered off" {
		t.Errorf("Ready after the end %+v", c)
	}

	podSt := endedPodStatus(pod, st.ip, kvv1.Failed, ReasonCrashed, "the VM crashed: qemu exited", later)
	if podSt.Phase != corev1.PodFailed || podSt.PodIP != "127.12.0.2" || podSt.ContainerStatuses[0].State.Terminated == nil ||
		podSt.ContainerStatuses[0].State.Terminated.ExitCode == 0 {
		t.Errorf("pod after a crash %+v", podSt)
	}
}
