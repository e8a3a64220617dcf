package virt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	kvv1 "kubevirt.io/api/core/v1"
)

// SocketsFile is written in a running VM's directory (<state-dir>/vms/<ns>_<name>_<uid>/):
// the JSON of its Sockets, for programs outside the node process.
const SocketsFile = "sockets.json"

// VMDir is the directory of a VMI's VM under a node's state directory.
func VMDir(stateDir string, vmi *kvv1.VirtualMachineInstance) string {
	return filepath.Join(stateDir, "vms", vmi.Namespace+"_"+vmi.Name+"_"+string(vmi.UID))
}

// start prepares and boots the VM of a VMI whose launcher Pod is bound here.
func (h *handler) start(ctx context.Context, key string, vmi *kvv1.VirtualMachineInstance, pod *corev1.Pod) (time.Duration, error) {
	logger := klog.FromContext(ctx).WithValues("vmi", key, "runtime", h.cfg.Runtime.Name())
	dir, spec, err := h.describeVM(ctx, vmi)
	if err != nil {
		if isUnsupported(err) {
			return 0, h.fail(ctx, vmi, pod, ReasonUnsupported, err.Error())
		}
		// Not ready yet (an unbound claim, a missing Secret, a registry error): try again.
		h.host.Recorder.Eventf(vmi, nil, corev1.EventTypeWarning, "PrepareFailed", "Start", "Preparing the VM: %v", err)
		logger.Info("Preparing the VM failed; trying again", "err", err)
		return prepareRetry, nil
	}
	ip, err := h.host.PodIPs.Allocate(string(pod.UID))
	if err != nil {
		return prepareRetry, fmt.Errorf("allocating the launcher pod's address: %w", err)
	}
	// startCtx bounds the start only: the VM runs until stopped or the node ends.
	startCtx, cancel := context.WithTimeout(h.runCtx, startTimeout)
	m, err := h.cfg.Runtime.Start(startCtx, spec)
	cancel()
	if err != nil {
		h.host.PodIPs.Release(string(pod.UID))
		return 0, h.fail(ctx, vmi, pod, ReasonStartFailed, fmt.Sprintf("starting the VM: %v", err))
	}
	st := &vmState{vmiUID: vmi.UID, podUID: pod.UID, dir: dir, ip: ip, spec: spec, machine: m, started: metav1.NewTime(time.Now().Truncate(time.Second))}
	h.setState(key, st)
	if !h.cfg.Runtime.Hollow() {
		if err := writeSocketsFile(dir, m.Sockets()); err != nil {
			logger.Error(err, "Writing the sockets file")
		}
		go h.watch(key, st)
	}
	h.host.Recorder.Eventf(vmi, nil, corev1.EventTypeNormal, "Started", "Start", "VM started on node %s (%s runtime)", h.host.NodeName, h.cfg.Runtime.Name())
	logger.Info("VM started", "dir", dir, "podIP", ip)
	return 0, h.reportRunning(ctx, vmi, pod, st)
}

// describeVM makes the directory of a VMI's VM and describes the VM; an unsupportedError
// says the stand-in cannot run it.
func (h *handler) describeVM(ctx context.Context, vmi *kvv1.VirtualMachineInstance) (string, MachineSpec, error) {
	dir := VMDir(h.host.StateDir, vmi)
	runDir := dir
	var src sources
	if !h.cfg.Runtime.Hollow() {
		var err error
		if runDir, err = makeVMDir(h.vmsDir(), dir, vmi); err != nil {
			return "", MachineSpec{}, err
		}
		src = hostSources{h}
	}
	spec, err := buildMachineSpec(ctx, vmi, runDir, src)
	return dir, spec, err
}

// startTimeout bounds a VM's start (qemu answering QMP).
const startTimeout = time.Minute

// makeVMDir creates a VM's directory and returns a short path to it for the runtime: unix
// socket paths are limited to 107 bytes, which <state-dir>/vms/<ns>_<name>_<uid>/ soon
// exceeds, so the runtime gets <state-dir>/vms/s/<12 hex of the UID's hash>, a symlink.
func makeVMDir(vmsDir, dir string, vmi *kvv1.VirtualMachineInstance) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating the VM directory: %w", err)
	}
	link := shortVMDir(vmsDir, vmi.UID)
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return "", fmt.Errorf("creating the VM directory: %w", err)
	}
	_ = os.Remove(link)
	if err := os.Symlink(dir, link); err != nil {
		return "", fmt.Errorf("linking the VM directory: %w", err)
	}
	return link, nil
}

func shortVMDir(vmsDir string, uid types.UID) string {
	sum := sha256.Sum256([]byte(uid))
	return filepath.Join(vmsDir, "s", hex.EncodeToString(sum[:6]))
}

func writeSocketsFile(dir string, s Sockets) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, SocketsFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, SocketsFile))
}

// stop asks the VM to power off within grace (0: kill at once) and kills it after; its end
// brings the VMI back to the queue.
func (h *handler) stop(key string, st *vmState, grace time.Duration, cause string) {
	if st.stopCause != "" {
		return
	}
	st.stopCause = cause
	m := st.machine
	go func() {
		if grace > 0 {
			ctx, cancel := context.WithTimeout(h.runCtx, grace)
			if err := m.Shutdown(ctx); err == nil {
				select {
				case <-m.Exited():
				case <-ctx.Done():
				}
			}
			cancel()
		}
		select {
		case <-m.Exited():
		default:
			_ = m.Kill()
			<-m.Exited()
		}
		h.queue.Add(key)
	}()
}

// watch waits for a (non-hollow) VM to end and polls its guest agent meanwhile, queueing the
// VMI when either changes something to report.
func (h *handler) watch(key string, st *vmState) {
	m := st.machine
	t := time.NewTicker(h.cfg.AgentPoll)
	defer t.Stop()
	for {
		select {
		case <-m.Exited():
			h.queue.Add(key)
			return
		case <-h.runCtx.Done():
			return
		case <-t.C:
			// An incoming VM's guest agent is the source's until the guest lands.
			if m.Agent() == nil || h.receiving(st) {
				continue
			}
			info := pollAgent(h.runCtx, m.Agent())
			h.mu.Lock()
			changed := !reflect.DeepEqual(st.agent, info)
			st.agent = info
			h.mu.Unlock()
			if changed {
				h.queue.Add(key)
			}
		}
	}
}

// agentInfo is what the guest agent last told.
type agentInfo struct {
	connected  bool
	os         OSInfo
	interfaces []GuestInterface
}

// agentCallTimeout bounds each guest agent call: a guest that does not answer is not
// connected.
const agentCallTimeout = 2 * time.Second

func pollAgent(ctx context.Context, a Agent) agentInfo {
	call := func(f func(context.Context) error) error {
		ctx, cancel := context.WithTimeout(ctx, agentCallTimeout)
		defer cancel()
		return f(ctx)
	}
	var info agentInfo
	if err := call(a.Ping); err != nil {
		return info
	}
	info.connected = true
	_ = call(func(ctx context.Context) (err error) { info.os, err = a.OSInfo(ctx); return err })
	_ = call(func(ctx context.Context) (err error) { info.interfaces, err = a.Interfaces(ctx); return err })
	return info
}

// reportRunning writes the status of a running VM on its Pod, then on its VMI.
func (h *handler) reportRunning(ctx context.Context, vmi *kvv1.VirtualMachineInstance, pod *corev1.Pod, st *vmState) error {
	now := metav1.Now()
	if err := h.writePodStatus(ctx, pod, runningPodStatus(pod, st, now)); err != nil {
		return err
	}
	h.mu.Lock()
	agent := st.agent
	h.mu.Unlock()
	s := runningStatus(vmi, pod, st, h.host.NodeName, !h.cfg.Runtime.Hollow(), agent, now)
	_, migratable := h.cfg.Runtime.(MigratingRuntime)
	setLiveMigratable(&s, migratable, now)
	if ms := s.MigrationState; ms != nil && ms.Completed && ms.TargetNode == h.host.NodeName && !ms.TargetNodeDomainDetected {
		// The guest landed here.
		ms.TargetNodeDomainDetected = true
		ms.TargetNodeDomainReadyTimestamp = &now
	}
	return writeVMIStatus(ctx, h.host, vmi, s)
}

func (h *handler) writePodStatus(ctx context.Context, pod *corev1.Pod, status corev1.PodStatus) error {
	if equality.Semantic.DeepEqual(pod.Status, status) {
		return nil
	}
	p := pod.DeepCopy()
	p.Status = status
	if _, err := h.host.Client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("writing the status of launcher pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}

// hostSources reads a VMI's volumes through the node: claims as files under the volumes
// directory, containerDisks through the puller, Secrets and ConfigMaps from the API.
type hostSources struct{ h *handler }

// diskImageFile is the disk in a Filesystem volume, CDI's layout.
const diskImageFile = "disk.img"

func (s hostSources) claimFile(ctx context.Context, namespace, claim string) (string, error) {
	p, err := s.h.host.ClaimPath(ctx, namespace, claim)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("volume of claim %s: %w", claim, err)
	}
	if fi.IsDir() {
		p = filepath.Join(p, diskImageFile)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("filesystem volume of claim %s has no %s yet: %w", claim, diskImageFile, err)
		}
	}
	return p, nil
}

func (s hostSources) containerDisk(ctx context.Context, namespace, image, pullSecret string) (string, string, error) {
	return s.h.puller.pull(ctx, namespace, image, pullSecret)
}

func (s hostSources) secret(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	sec, err := s.h.host.Client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading secret %s/%s: %w", namespace, name, err)
	}
	return sec.Data, nil
}

func (s hostSources) configMap(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	cm, err := s.h.host.Client.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading configmap %s/%s: %w", namespace, name, err)
	}
	out := map[string][]byte{}
	for k, v := range cm.Data {
		out[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		out[k] = v
	}
	return out, nil
}
