package localnode

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// startNode runs a node named node-1 with the fake clientset and a bin dir of shell scripts.
func startNode(t *testing.T, client kubernetes.Interface) *Node {
	t.Helper()
	root := t.TempDir()
	n, err := New(Config{NodeName: "node-1", StateDir: filepath.Join(root, "node-1"), VolumesDir: filepath.Join(root, "volumes"),
		BinDir: testBin(t), PodIPIndex: 1, RestartBackoff: 50 * time.Millisecond}, client)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("node did not stop")
		}
	})
	return n
}

// shellPod is a Pod whose one container runs script with the project's (test) program.
func shellPod(name, image, script string, policy corev1.RestartPolicy) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{
			NodeName:      "node-1",
			RestartPolicy: policy,
			Containers: []corev1.Container{{
				Name: "main", Image: image,
				Command: []string{"virtualization-importer", "-c", script},
				Env: []corev1.EnvVar{
					{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
					{Name: "LISTEN", Value: "$(POD_IP):8080"},
					{Name: "SCRATCH", Value: "/scratch/tmp"},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}},
			}},
			Volumes: []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
}

// waitPod polls the Pod until cond holds.
func waitPod(t *testing.T, client kubernetes.Interface, name string, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var pod *corev1.Pod
	for time.Now().Before(deadline) {
		p, err := client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			pod = p
			if cond(p) {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("pod %s: %s not reached; status %+v", name, what, pod.Status)
	return nil
}

func TestNodeRegistersReady(t *testing.T) {
	client := fake.NewClientset()
	startNode(t, client)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		node, err := client.CoreV1().Nodes().Get(context.Background(), "node-1", metav1.GetOptions{})
		if err == nil && len(node.Status.Conditions) > 0 {
			if node.Labels[corev1.LabelHostname] != "node-1" || node.Status.Capacity.Pods().Value() != 110 ||
				node.Status.NodeInfo.KubeletVersion != "v1.36.3-localnode" {
				t.Fatalf("node %+v", node)
			}
			if _, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(context.Background(), "node-1", metav1.GetOptions{}); err != nil {
				t.Fatalf("lease: %v", err)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("node not registered")
}

func TestPodRunsToCompletion(t *testing.T) {
	client := fake.NewClientset()
	n := startNode(t, client)
	// The script sees translated paths and the expanded address, and writes its result.
	script := `echo "listen=$LISTEN scratch=$SCRATCH" > "$IMPORTER_TERMINATION_MESSAGE_PATH"; mkdir -p "$SCRATCH"`
	if _, err := client.CoreV1().Pods("default").Create(context.Background(), shellPod("ok", "virtplane/virtualization-importer:dev", script, corev1.RestartPolicyNever), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := waitPod(t, client, "ok", "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	term := pod.Status.ContainerStatuses[0].State.Terminated
	dir := n.podDir("uid-ok")
	want := "listen=127.11.0.2:8080 scratch=" + filepath.Join(dir, "volumes", "scratch", "tmp") + "\n"
	if term == nil || term.ExitCode != 0 || term.Reason != "Completed" || term.Message != want {
		t.Fatalf("terminated %+v, want message %q", term, want)
	}
	if pod.Status.PodIP != "127.11.0.2" || pod.Status.HostIP != "127.0.0.1" || pod.Status.StartTime == nil {
		t.Fatalf("status %+v", pod.Status)
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && (c.Status != corev1.ConditionFalse || c.Reason != "PodCompleted") {
			t.Fatalf("ready condition %+v", c)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "volumes", "scratch", "tmp")); err != nil {
		t.Fatalf("the program's directory in the emptyDir: %v", err)
	}
}

func TestPodRestartsOnFailure(t *testing.T) {
	client := fake.NewClientset()
	startNode(t, client)
	// Fails on the first run, succeeds on the second: the emptyDir survives restarts.
	// A path inside a script is not an argument of its own and is not translated: the script
	// uses the translated variable.
	script := `mkdir -p "$SCRATCH"; if [ -e "$SCRATCH/once" ]; then echo second > "$IMPORTER_TERMINATION_MESSAGE_PATH"; exit 0; fi; touch "$SCRATCH/once"; exit 3`
	if _, err := client.CoreV1().Pods("default").Create(context.Background(), shellPod("flaky", "x/virtualization-importer", script, corev1.RestartPolicyOnFailure), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := waitPod(t, client, "flaky", "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	cs := pod.Status.ContainerStatuses[0]
	if cs.RestartCount != 1 || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 3 ||
		cs.State.Terminated.Message != "second\n" {
		t.Fatalf("container status %+v", cs)
	}
}

func TestPodFailsWithNever(t *testing.T) {
	client := fake.NewClientset()
	startNode(t, client)
	if _, err := client.CoreV1().Pods("default").Create(context.Background(), shellPod("bad", "x/virtualization-importer", `echo boom >&2; exit 7`, corev1.RestartPolicyNever), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := waitPod(t, client, "bad", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if term := pod.Status.ContainerStatuses[0].State.Terminated; term.ExitCode != 7 || term.Reason != "Error" {
		t.Fatalf("terminated %+v", term)
	}
}

func TestPodWithForeignImageIsRefused(t *testing.T) {
	client := fake.NewClientset()
	startNode(t, client)
	if _, err := client.CoreV1().Pods("default").Create(context.Background(), shellPod("web", "nginx:1.27", "", corev1.RestartPolicyAlways), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := waitPod(t, client, "web", "refused", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			p.Status.ContainerStatuses[0].State.Waiting.Reason == ReasonImageNotRunnable
	})
	if msg := pod.Status.ContainerStatuses[0].State.Waiting.Message; !strings.Contains(msg, `"nginx:1.27"`) || pod.Status.Phase != corev1.PodPending {
		t.Fatalf("phase %s, message %q", pod.Status.Phase, msg)
	}
}

func TestPodDeletionStopsProcess(t *testing.T) {
	client := fake.NewClientset()
	n := startNode(t, client)
	pod := shellPod("sleeper", "x/virtualization-importer", `trap 'echo term > "$IMPORTER_TERMINATION_MESSAGE_PATH"; exit 0' TERM; while :; do sleep 0.05; done`, corev1.RestartPolicyAlways)
	if _, err := client.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPod(t, client, "sleeper", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	// The API server marks a graceful deletion; the fake one does not, so do it here.
	p, _ := client.CoreV1().Pods("default").Get(context.Background(), "sleeper", metav1.GetOptions{})
	now := metav1.Now()
	p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &now, ptr.To[int64](5)
	if _, err := client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, err := client.CoreV1().Pods("default").Get(context.Background(), "sleeper", metav1.GetOptions{})
		if err != nil && n.pods.state("default/sleeper") == nil {
			return // deleted with grace 0 after the process ended, state and directory gone
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("pod not deleted after its process stopped")
}

func TestEnvResolution(t *testing.T) {
	client := fake.NewClientset(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "ns"}, Data: map[string][]byte{"token": []byte("s3cret")}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "ns"}, Data: map[string]string{"url": "http://x/disk.qcow2"}},
	)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u-1"}, Spec: corev1.PodSpec{NodeName: "node-2"}}
	ctr := &corev1.Container{Name: "c", Image: "x/virtualization-importer",
		Args: []string{"fill", "$(DEST)", "--listen=$(LISTEN)"},
		Env: []corev1.EnvVar{
			{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "token"}}},
			{Name: "URL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "url"}}},
			{Name: "OPT", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "none"}, Key: "k", Optional: ptr.To(true)}}},
			{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
			{Name: "UID", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.uid"}}},
			{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "LISTEN", Value: "$(POD_IP):8080"},
			{Name: "DEST", Value: "/dev/xvda"},
			{Name: "LATER", Value: "$(DEFINED_LATER)"},
			{Name: "DEFINED_LATER", Value: "x"},
		},
		VolumeDevices: []corev1.VolumeDevice{{Name: "disk", DevicePath: "/dev/xvda"}},
	}
	r := envResolver{client: client, pod: pod, podIP: "127.12.0.9"}
	bin := testBin(t)
	spec, err := r.buildContainer(context.Background(), bin, "/pods/u-1", map[string]string{"disk": "/vols/pvc-1.img"}, ctr)
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(spec.Env, "\n")
	for _, want := range []string{"TOKEN=s3cret", "URL=http://x/disk.qcow2", "NODE=node-2", "UID=u-1", "POD_IP=127.12.0.9",
		"LISTEN=127.12.0.9:8080", "DEST=/vols/pvc-1.img", "LATER=$(DEFINED_LATER)",
		EnvTerminationMessagePath + "=/pods/u-1/c.termination-log"} {
		if !strings.Contains(env, want+"\n") && !strings.HasSuffix(env, want) {
			t.Errorf("env lacks %s:\n%s", want, env)
		}
	}
	if strings.Contains(env, "OPT=") {
		t.Errorf("a missing optional secret set OPT")
	}
	if got := strings.Join(spec.Argv, " "); got != filepath.Join(bin, "virtualization-importer")+" fill /vols/pvc-1.img --listen=127.12.0.9:8080" {
		t.Errorf("argv %s", got)
	}
	ctr.Env[0].ValueFrom.SecretKeyRef.Name = "missing"
	if _, err := r.buildContainer(context.Background(), bin, "/pods/u-1", map[string]string{"disk": "/vols/pvc-1.img"}, ctr); err == nil {
		t.Error("a missing secret was accepted")
	}
}

func TestPodsOfAPreviousRunAreNotAdopted(t *testing.T) {
	running := corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "main", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}}
	never := shellPod("left", "x/virtualization-importer", "exit 0", corev1.RestartPolicyNever)
	never.Status = running
	always := shellPod("again", "x/virtualization-importer", `echo again > "$IMPORTER_TERMINATION_MESSAGE_PATH"; sleep 30`, corev1.RestartPolicyAlways)
	always.Status = running
	client := fake.NewClientset(never, always)
	startNode(t, client)
	pod := waitPod(t, client, "left", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if pod.Status.Reason != reasonNodeRestarted || pod.Status.ContainerStatuses[0].State.Terminated == nil {
		t.Fatalf("status %+v", pod.Status)
	}
	// Restarted by its policy, counted as a restart.
	waitPod(t, client, "again", "running again", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil &&
			p.Status.ContainerStatuses[0].RestartCount == 1 && p.Status.PodIP != ""
	})
}
