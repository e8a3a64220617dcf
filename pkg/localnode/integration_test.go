package localnode_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/virtplane/virtplane/internal/localstack"
	"github.com/virtplane/virtplane/pkg/localnode"
)

// TestLocalNodeWithRealScheduler runs one local node in process against a real kube-apiserver,
// kube-scheduler and the stack's kube-controller-manager (its PV controller binds claims): a WaitForFirstConsumer
// block volume is provisioned for a Pod the scheduler places, the Pod writes to it, the claim
// grows, and a Pod of a foreign image is refused.
func TestLocalNodeWithRealScheduler(t *testing.T) {
	bin := os.Getenv("E2E_BIN")
	if bin == "" {
		t.Skip("E2E_BIN is not set: point it at a bin/ with etcd, kube-apiserver, kube-controller-manager and kube-scheduler (hack/build-tools.sh)")
	}
	for _, p := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		if _, err := os.Stat(filepath.Join(bin, p)); err != nil {
			t.Skipf("E2E_BIN=%s lacks %s (hack/build-tools.sh builds it)", bin, p)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	stack, err := localstack.Start(ctx, localstack.Options{Dir: filepath.Join(dir, "stack"), Bin: bin, WithoutVirtualization: true})
	if err != nil {
		t.Fatalf("starting the stack: %v", err)
	}
	t.Cleanup(stack.Stop)
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	startProgram(t, logs, filepath.Join(bin, "kube-scheduler"), "--kubeconfig="+stack.Kubeconfig,
		"--authentication-kubeconfig="+stack.Kubeconfig, "--authorization-kubeconfig="+stack.Kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false")
	restCfg, err := clientcmd.BuildConfigFromFlags("", stack.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(restCfg)

	// The program of the test image: writes to the device path it is given, reports, exits 0.
	testBin := filepath.Join(dir, "bin")
	script := "#!/bin/sh\nprintf 'hello-volume' | dd of=\"$DEST\" conv=notrunc 2>/dev/null || exit 1\nprintf 'written %s' \"$DEST_NAME\" > \"$IMPORTER_TERMINATION_MESSAGE_PATH\"\n"
	if err := os.MkdirAll(testBin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(testBin, "virtualization-importer"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	volumes := filepath.Join(dir, "volumes")
	node, err := localnode.New(localnode.Config{NodeName: "node-1", StateDir: filepath.Join(dir, "nodes", "node-1"),
		VolumesDir: volumes, BinDir: testBin, PodIPIndex: 1, Provisioner: true}, client)
	if err != nil {
		t.Fatal(err)
	}
	nodeCtx, stopNode := context.WithCancel(ctx)
	nodeDone := make(chan error, 1)
	go func() { nodeDone <- node.Run(nodeCtx) }()
	t.Cleanup(func() {
		stopNode()
		select {
		case <-nodeDone:
		case <-time.After(20 * time.Second):
			t.Error("the node did not stop")
		}
	})

	eventually(t, time.Minute, "node-1 Ready", func() (bool, string) {
		n, err := client.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, string(c.Status)
			}
		}
		return false, "no Ready condition"
	})

	for _, sc := range []struct {
		name string
		mode storagev1.VolumeBindingMode
	}{{"local", storagev1.VolumeBindingImmediate}, {"local-wffc", storagev1.VolumeBindingWaitForFirstConsumer}} {
		class := &storagev1.StorageClass{
			ObjectMeta: metav1.ObjectMeta{Name: sc.name, Annotations: map[string]string{
				localnode.AnnotationAccessModes: "ReadWriteMany,ReadWriteOnce", localnode.AnnotationVolumeModes: "Block,Filesystem"}},
			Provisioner: localnode.ProvisionerName, VolumeBindingMode: &sc.mode, AllowVolumeExpansion: ptr.To(true),
			ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimDelete),
		}
		if _, err := client.StorageV1().StorageClasses().Create(ctx, class, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	block := corev1.PersistentVolumeBlock
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "disk", Namespace: "default"},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: ptr.To("local-wffc"), VolumeMode: &block,
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("16Mi")}},
		},
	}
	if _, err := client.CoreV1().PersistentVolumeClaims("default").Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	writer := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "writer", Namespace: "default"},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: "main", Image: "virtplane/virtualization-importer:dev",
				Env:           []corev1.EnvVar{{Name: "DEST", Value: "/dev/xvda"}, {Name: "DEST_NAME", Value: "$(DEST)"}},
				VolumeDevices: []corev1.VolumeDevice{{Name: "disk", DevicePath: "/dev/xvda"}},
			}},
			Volumes: []corev1.Volume{{Name: "disk", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "disk"}}}},
		},
	}
	createPod(ctx, t, client, writer)

	var pod *corev1.Pod
	eventually(t, 90*time.Second, "the writer Pod Succeeded", func() (bool, string) {
		pod, err = client.CoreV1().Pods("default").Get(ctx, "writer", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return pod.Status.Phase == corev1.PodSucceeded, fmt.Sprintf("node %q phase %s %+v %+v", pod.Spec.NodeName, pod.Status.Phase, pod.Status.Conditions, pod.Status.ContainerStatuses)
	})
	if pod.Spec.NodeName != "node-1" || pod.Status.PodIP == "" {
		t.Fatalf("placed on %q with address %q", pod.Spec.NodeName, pod.Status.PodIP)
	}
	claim, err := client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "disk", metav1.GetOptions{})
	if err != nil || claim.Status.Phase != corev1.ClaimBound {
		t.Fatalf("claim %+v %v", claim.Status, err)
	}
	pv, err := client.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
	if err != nil || pv.Spec.NodeAffinity != nil {
		t.Fatalf("pv %+v %v", pv, err)
	}
	file := localnode.VolumePath(volumes, pv.Name, corev1.PersistentVolumeBlock)
	// $(DEST) expands to the container path, which is then translated like any other value.
	if msg := pod.Status.ContainerStatuses[0].State.Terminated.Message; msg != "written "+file {
		t.Fatalf("termination message %q", msg)
	}
	data, err := os.ReadFile(file)
	if err != nil || !bytes.HasPrefix(data, []byte("hello-volume")) || len(data) != 16<<20 {
		t.Fatalf("volume file %s: %d bytes, %v", file, len(data), err)
	}

	// Grow the claim: the file, the PV and the claim's status follow.
	claim.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("32Mi")
	if _, err := client.CoreV1().PersistentVolumeClaims("default").Update(ctx, claim, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the claim expanded to 32Mi", func() (bool, string) {
		c, err := client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "disk", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		q := c.Status.Capacity[corev1.ResourceStorage]
		fi, err := os.Stat(file)
		if err != nil {
			return false, err.Error()
		}
		return q.String() == "32Mi" && fi.Size() == 32<<20, fmt.Sprintf("status %s, file %d", q.String(), fi.Size())
	})

	web := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.27"}}},
	}
	createPod(ctx, t, client, web)
	eventually(t, time.Minute, "the nginx Pod refused", func() (bool, string) {
		p, err := client.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Waiting != nil && cs.State.Waiting.Reason == localnode.ReasonImageNotRunnable {
				return true, ""
			}
		}
		return false, fmt.Sprintf("node %q %+v", p.Spec.NodeName, p.Status.ContainerStatuses)
	})
}

// createPod creates a Pod, retrying while the namespace's default ServiceAccount does not
// exist yet (the ServiceAccount admission plugin refuses Pods until then).
func createPod(ctx context.Context, t *testing.T, client kubernetes.Interface, pod *corev1.Pod) {
	t.Helper()
	eventually(t, 30*time.Second, "creating pod "+pod.Name, func() (bool, string) {
		_, err := client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

// startProgram runs a program of the stack for the test, logging to logs/<name>.log.
func startProgram(t *testing.T, logs, path string, args ...string) {
	t.Helper()
	logFile, err := os.Create(filepath.Join(logs, filepath.Base(path)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logFile.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logFile.Name())
			if len(out) > 4000 {
				out = out[len(out)-4000:]
			}
			t.Logf("%s log (end):\n%s", filepath.Base(path), out)
		}
	})
}

// eventually polls check until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, last = check(); ok {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not after %s: %s", what, timeout, last)
}
