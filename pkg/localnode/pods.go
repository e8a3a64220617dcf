package localnode

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/virtplane/virtplane/pkg/localnode/virt"
)

const (
	podWorkers        = 4
	notReadyRetry     = 2 * time.Second
	maxRestartBackoff = 5 * time.Minute
	// Reasons of Pods and containers the local node writes.
	reasonNodeRestarted   = "NodeRestarted"
	reasonContainerConfig = "CreateContainerConfigError"
	reasonStartError      = "StartError"
	reasonCreating        = "ContainerCreating"
)

// podController is the kubelet stand-in: it runs the Pods bound to this node.
type podController struct {
	n      *Node
	queue  workqueue.TypedRateLimitingInterface[string]
	lister corelisters.PodLister
	synced cache.InformerSynced

	mu   sync.Mutex
	pods map[string]*podState
}

// podState is what the node knows of a Pod it handles.
type podState struct {
	uid        types.UID
	dir        string
	ip         netip.Addr
	volumes    map[string]string // volume name → host path, once prepared
	containers map[string]*containerRun
	// waiting is the reason and message of containers not started yet.
	waitReason, waitMessage string
	refused, refusalSent    bool
	terminal                bool
}

// containerRun is one container's run history.
type containerRun struct {
	id       string
	restarts int32
	started  time.Time
	// exited is set when the current run ended; last is the previous run's end.
	exited, last *corev1.ContainerStateTerminated
	nextStart    time.Time
	backoff      time.Duration
}

func newPodController(n *Node) *podController {
	return &podController{
		n: n,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "localnode-pods-" + n.cfg.NodeName}),
		pods: map[string]*podState{},
	}
}

func (c *podController) enqueueKey(key string) { c.queue.Add(key) }

func (c *podController) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err == nil {
		c.queue.Add(key)
	}
}

// run watches the Pods bound to this node and works the queue until ctx ends.
func (c *podController) run(ctx context.Context) {
	logger := klog.FromContext(ctx)
	defer c.queue.ShutDown()
	factory := informers.NewSharedInformerFactoryWithOptions(c.n.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", c.n.cfg.NodeName).String()
			if c.n.cfg.KubeVirt != nil {
				// Launcher Pods run no process: the KubeVirt stand-in runs their VMs.
				o.LabelSelector = kvv1.AppLabel + "!=" + virt.LauncherLabelValue
			}
		}))
	informer := factory.Core().V1().Pods()
	if _, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: c.enqueue,
	}); err != nil {
		logger.Error(err, "Watching pods")
		return
	}
	c.lister = informer.Lister()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), informer.Informer().HasSynced) {
		return
	}
	var wg sync.WaitGroup
	for range podWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c.processNext(ctx) {
			}
		}()
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
}

func (c *podController) processNext(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	requeue, err := c.sync(ctx, key)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			klog.FromContext(ctx).Error(err, "Syncing pod", "pod", key)
		}
		c.queue.AddRateLimited(key)
	case requeue > 0:
		c.queue.Forget(key)
		c.queue.AddAfter(key, requeue)
	default:
		c.queue.Forget(key)
	}
	return true
}

// sync brings one Pod's processes and status in line with its spec. It returns a delay
// after which to look again (backoff, unbound claims).
func (c *podController) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	pod, err := c.lister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// Gone from the API (or no longer ours): what still runs is killed.
		return c.forget(ctx, key, 0)
	}
	if err != nil {
		return 0, fmt.Errorf("reading pod %s: %w", key, err)
	}
	if pod.Spec.NodeName != c.n.cfg.NodeName {
		return c.forget(ctx, key, 0)
	}
	st := c.state(key)
	if st != nil && st.uid != pod.UID {
		// A new Pod of the same name: the old one's processes go first.
		if d, err := c.forget(ctx, key, 0); d > 0 || err != nil {
			return d, err
		}
		st = nil
	}
	if st == nil {
		if isTerminal(pod) || wasStarted(pod) && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			// Finished before, or its processes died with a previous run of this node: not adopted.
			st = &podState{uid: pod.UID, dir: c.n.podDir(string(pod.UID)), terminal: true, containers: map[string]*containerRun{}}
			c.setState(key, st)
			if pod.DeletionTimestamp != nil {
				return c.finishDeletion(ctx, key, pod)
			}
			if !isTerminal(pod) {
				return 0, c.failRestarted(ctx, pod)
			}
			return 0, nil
		}
		st = &podState{uid: pod.UID, dir: c.n.podDir(string(pod.UID)), containers: map[string]*containerRun{}}
		for _, cs := range pod.Status.ContainerStatuses {
			// Restarted by this node after its own restart: keep counting.
			if cs.State.Running != nil || cs.State.Terminated != nil || cs.RestartCount > 0 {
				st.containers[cs.Name] = &containerRun{restarts: cs.RestartCount + 1, last: cs.State.Terminated}
			}
		}
		c.setState(key, st)
	}
	if pod.DeletionTimestamp != nil {
		return c.terminate(ctx, key, pod, st)
	}
	if st.terminal {
		return 0, nil
	}
	requeue := c.runContainers(ctx, pod, st)
	return requeue, c.writeStatus(ctx, pod, st)
}

func isTerminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// wasStarted says whether a container of the Pod ran (under a previous run of this node).
func wasStarted(pod *corev1.Pod) bool {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Running != nil || cs.State.Terminated != nil {
			return true
		}
	}
	return false
}

func (c *podController) state(key string) *podState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pods[key]
}

func (c *podController) setState(key string, st *podState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st == nil {
		delete(c.pods, key)
	} else {
		c.pods[key] = st
	}
}

// runContainers prepares the Pod and starts (or restarts) its containers.
func (c *podController) runContainers(ctx context.Context, pod *corev1.Pod, st *podState) time.Duration {
	logger := klog.FromContext(ctx).WithValues("pod", klog.KObj(pod))
	// Every image must be runnable before anything runs, as a Pod either runs or does not.
	if len(pod.Spec.InitContainers) > 0 {
		st.refused, st.waitReason = true, ReasonImageNotRunnable
		st.waitMessage = "init containers are not supported by the local node (a stand-in for a kubelet)"
	}
	for i := range pod.Spec.Containers {
		if _, err := resolveProgram(c.n.cfg.BinDir, pod.Spec.Containers[i].Image); err != nil {
			st.refused, st.waitReason, st.waitMessage = true, ReasonImageNotRunnable, err.Error()
		}
	}
	if st.refused {
		if !st.refusalSent {
			c.n.recorder.Eventf(pod, nil, corev1.EventTypeWarning, ReasonImageNotRunnable, "Pull", st.waitMessage)
			logger.Info("Pod refused", "reason", st.waitMessage)
			st.refusalSent = true
		}
		// Nothing changes that until the Pod is replaced (a Pod's images are immutable).
		return 0
	}
	if !st.ip.IsValid() {
		ip, err := c.n.ips.Allocate(string(pod.UID))
		if err != nil {
			st.waitReason, st.waitMessage = reasonCreating, err.Error()
			return notReadyRetry
		}
		st.ip = ip
	}
	if st.volumes == nil {
		if err := os.MkdirAll(st.dir, 0o755); err != nil {
			st.waitReason, st.waitMessage = reasonCreating, fmt.Sprintf("creating the pod directory: %v", err)
			return notReadyRetry
		}
		volumes, err := c.n.prepareVolumes(ctx, pod, st.dir, st.ip.String())
		if err != nil {
			st.waitReason, st.waitMessage = reasonCreating, err.Error()
			var nr errNotReady
			if !errors.As(err, &nr) {
				c.n.recorder.Eventf(pod, nil, corev1.EventTypeWarning, "FailedMount", "Mount", err.Error())
			}
			return notReadyRetry
		}
		st.volumes = volumes
		logger.Info("Pod prepared", "dir", st.dir, "ip", st.ip)
	}
	st.waitReason, st.waitMessage = "", ""
	var requeue time.Duration
	later := func(d time.Duration) {
		if requeue == 0 || d < requeue {
			requeue = d
		}
	}
	now := time.Now()
	for i := range pod.Spec.Containers {
		ctr := &pod.Spec.Containers[i]
		run := st.containers[ctr.Name]
		if run == nil {
			run = &containerRun{}
			st.containers[ctr.Name] = run
		}
		c.observe(ctr, st, run)
		if run.id != "" && run.exited == nil {
			continue // running
		}
		if run.exited != nil {
			if !restarts(pod.Spec.RestartPolicy, run.exited.ExitCode) {
				continue
			}
			if now.Before(run.nextStart) {
				later(run.nextStart.Sub(now))
				continue
			}
		}
		if d := c.start(ctx, pod, st, ctr, run); d > 0 {
			later(d)
		}
	}
	return requeue
}

// restarts says whether a container that exited with code runs again.
func restarts(policy corev1.RestartPolicy, code int32) bool {
	return policy == corev1.RestartPolicyAlways || policy == "" || policy == corev1.RestartPolicyOnFailure && code != 0
}

// observe records the end of a container's run from the runtime.
func (c *podController) observe(ctr *corev1.Container, st *podState, run *containerRun) {
	if run.id == "" || run.exited != nil {
		return
	}
	s, ok := c.n.runtime.Status(run.id)
	if !ok || s.Running {
		return
	}
	reason := "Completed"
	if s.ExitCode != 0 {
		reason = "Error"
	}
	run.exited = &corev1.ContainerStateTerminated{
		ExitCode: int32(s.ExitCode), Reason: reason,
		Message:     terminationMessage(ctr, st.dir, s.ExitCode != 0),
		StartedAt:   metav1.NewTime(s.StartedAt),
		FinishedAt:  metav1.NewTime(s.FinishedAt),
		ContainerID: containerID(run.id),
	}
	c.n.runtime.Remove(run.id)
	// The kubelet's crash-loop backoff: doubling, capped.
	if run.backoff == 0 {
		run.backoff = c.n.cfg.RestartBackoff
	} else if run.backoff *= 2; run.backoff > maxRestartBackoff {
		run.backoff = maxRestartBackoff
	}
	run.nextStart = s.FinishedAt.Add(run.backoff)
}

func containerID(id string) string { return "localnode://" + id }

// start starts one container; a failure counts as a run that ended with StartError.
func (c *podController) start(ctx context.Context, pod *corev1.Pod, st *podState, ctr *corev1.Container, run *containerRun) time.Duration {
	r := envResolver{client: c.n.client, pod: pod, podIP: st.ip.String()}
	spec, err := r.buildContainer(ctx, c.n.cfg.BinDir, st.dir, st.volumes, ctr)
	if err != nil {
		st.waitReason, st.waitMessage = reasonContainerConfig, fmt.Sprintf("container %s: %v", ctr.Name, err)
		return notReadyRetry
	}
	// A stale termination message must not be read as this run's.
	_ = os.Remove(terminationMessageHostPath(st.dir, ctr.Name))
	id, err := c.n.runtime.Start(ctx, spec)
	if run.exited != nil {
		run.last, run.exited = run.exited, nil
		run.restarts++
	}
	now := metav1.Now()
	if err != nil {
		c.n.recorder.Eventf(pod, nil, corev1.EventTypeWarning, "Failed", "Start", "Error starting container %s: %v", ctr.Name, err)
		run.id = ""
		run.exited = &corev1.ContainerStateTerminated{ExitCode: 128, Reason: reasonStartError, Message: err.Error(), StartedAt: now, FinishedAt: now}
		run.backoff = max(run.backoff, c.n.cfg.RestartBackoff)
		run.nextStart = now.Add(run.backoff)
		return run.backoff
	}
	run.id, run.started = id, now.Time
	c.n.recorder.Eventf(pod, nil, corev1.EventTypeNormal, "Started", "Start", "Started container %s (%s), log %s", ctr.Name, spec.Argv[0], spec.LogPath)
	klog.FromContext(ctx).Info("Container started", "pod", klog.KObj(pod), "container", ctr.Name, "program", spec.Argv[0], "ip", st.ip, "log", spec.LogPath)
	return 0
}

// terminationMessage reads what the container left at its termination message path (or the
// end of its log, with FallbackToLogsOnError after a failure), capped as the kubelet does.
func terminationMessage(ctr *corev1.Container, dir string, failed bool) string {
	const limit = 4096
	data, _ := os.ReadFile(terminationMessageHostPath(dir, ctr.Name))
	if len(data) == 0 && failed && ctr.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
		data, _ = os.ReadFile(dir + "/" + ctr.Name + ".log")
		if len(data) > limit {
			data = data[len(data)-limit:]
		}
	}
	if len(data) > limit {
		data = data[:limit]
	}
	return string(data)
}

// terminate stops a Pod being deleted: SIGTERM, SIGKILL after its grace period, then the
// Pod is deleted for good (grace period 0), as the kubelet does.
func (c *podController) terminate(ctx context.Context, key string, pod *corev1.Pod, st *podState) (time.Duration, error) {
	grace := time.Duration(ptr.Deref(pod.DeletionGracePeriodSeconds, ptr.Deref(pod.Spec.TerminationGracePeriodSeconds, 30))) * time.Second
	running := false
	for name, run := range st.containers {
		if run.id == "" || run.exited != nil {
			continue
		}
		if s, ok := c.n.runtime.Status(run.id); ok && s.Running {
			running = true
			if err := c.n.runtime.Stop(run.id, grace); err != nil {
				return 0, fmt.Errorf("stopping container %s of pod %s: %w", name, key, err)
			}
		}
	}
	if running {
		c.n.recorder.Eventf(pod, nil, corev1.EventTypeNormal, "Killing", "Kill", "Stopping containers (grace period %s)", grace)
		// The exit notification brings the Pod back; the delay is a safety net.
		return grace + 5*time.Second, nil
	}
	return c.finishDeletion(ctx, key, pod)
}

func (c *podController) finishDeletion(ctx context.Context, key string, pod *corev1.Pod) (time.Duration, error) {
	err := c.n.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return 0, fmt.Errorf("deleting pod %s: %w", key, err)
	}
	return c.forget(ctx, key, 0)
}

// forget kills what still runs of a Pod the node no longer runs and drops its state, IP and
// directory.
func (c *podController) forget(_ context.Context, key string, grace time.Duration) (time.Duration, error) {
	st := c.state(key)
	if st == nil {
		return 0, nil
	}
	waiting := false
	for _, run := range st.containers {
		if run.id == "" {
			continue
		}
		if s, ok := c.n.runtime.Status(run.id); ok && s.Running {
			waiting = true
			_ = c.n.runtime.Stop(run.id, grace)
			continue
		}
		c.n.runtime.Remove(run.id)
	}
	if waiting {
		return time.Second, nil
	}
	c.n.ips.Release(string(st.uid))
	c.setState(key, nil)
	if err := os.RemoveAll(st.dir); err != nil {
		return 0, fmt.Errorf("removing the directory of pod %s: %w", key, err)
	}
	return 0, nil
}

// failRestarted marks a Pod whose processes died with a previous run of this node as Failed.
func (c *podController) failRestarted(ctx context.Context, pod *corev1.Pod) error {
	p := pod.DeepCopy()
	now := metav1.Now()
	p.Status.Phase = corev1.PodFailed
	p.Status.Reason = reasonNodeRestarted
	p.Status.Message = "the local node restarted; it does not adopt processes of a previous run"
	for i := range p.Status.ContainerStatuses {
		cs := &p.Status.ContainerStatuses[i]
		if cs.State.Terminated == nil {
			started := now
			if cs.State.Running != nil {
				started = cs.State.Running.StartedAt
			}
			cs.LastTerminationState = cs.State
			cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 137, Reason: reasonNodeRestarted, StartedAt: started, FinishedAt: now, ContainerID: cs.ContainerID}}
		}
		cs.Ready, cs.Started = false, ptr.To(false)
	}
	setCondition(&p.Status, corev1.PodReady, corev1.ConditionFalse, "PodFailed", "", now)
	setCondition(&p.Status, corev1.ContainersReady, corev1.ConditionFalse, "PodFailed", "", now)
	if _, err := c.n.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("marking pod %s/%s failed after a node restart: %w", p.Namespace, p.Name, err)
	}
	c.n.recorder.Eventf(pod, nil, corev1.EventTypeWarning, reasonNodeRestarted, "Adopt", p.Status.Message)
	return nil
}
