package virt

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/virtplane/virtplane/pkg/kubevirt"
)

const (
	handlerWorkers = 4
	// prepareRetry is the wait before trying again to prepare a VM whose volumes are not
	// ready (a claim not bound, a registry not answering).
	prepareRetry = 5 * time.Second
	// killWait bounds the wait for VMs to end when the node stops.
	killWait = 10 * time.Second
	// defaultGracePeriod is KubeVirt's default terminationGracePeriodSeconds of a VMI.
	defaultGracePeriod = 30 * time.Second
)

// handler is the stand-in for virt-handler and virt-launcher on one node: it runs the VMs of
// the launcher Pods bound to this node and reports on the Pods and their VMIs.
type handler struct {
	host   Host
	cfg    Config
	puller *puller
	queue  workqueue.TypedRateLimitingInterface[string]
	vmis   cache.Indexer
	pods   cache.Indexer
	// runCtx lives as long as the node: VMs and their watchers use it.
	runCtx context.Context

	mu  sync.Mutex
	vms map[string]*vmState // by VMI key
}

// vmState is what the node knows of a VM it started.
type vmState struct {
	vmiUID, podUID types.UID
	dir            string
	ip             netip.Addr
	spec           MachineSpec
	machine        Machine
	started        metav1.Time
	// stopCause says why the node stopped the VM (a Reason*); empty while it runs or when it
	// ended by itself.
	stopCause string
	// agent is the last guest agent answer (under handler.mu).
	agent agentInfo
	// ended is set once the final statuses are written.
	ended bool
	// incoming is the UID of the migration this VM was started to receive while its guest
	// has not landed (under handler.mu): it does not run the VMI yet.
	incoming types.UID
	// incomingAddr is where the incoming VM listens for the migration stream.
	incomingAddr string
	// outgoing is the migration of this VM to another node, from its start until its
	// failure is reported or the VM is stopped after it completed.
	outgoing *outgoingMigration
}

// receiving says whether the VM waits for, or receives, a migrating guest.
func (h *handler) receiving(st *vmState) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return st.incoming != ""
}

func (st *vmState) exited() bool {
	select {
	case <-st.machine.Exited():
		return true
	default:
		return false
	}
}

func newHandler(host Host, cfg Config, p *puller) *handler {
	return &handler{
		host: host, cfg: cfg, puller: p,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "virt-handler-" + host.NodeName}),
		vms: map[string]*vmState{},
	}
}

func (h *handler) vmsDir() string { return filepath.Join(h.host.StateDir, "vms") }

// run watches the launcher Pods bound to this node and the VMIs, and works the queue until ctx
// ends; then it kills the VMs.
func (h *handler) run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithName("virt-handler")
	ctx = klog.NewContext(ctx, logger)
	h.runCtx = ctx
	defer h.queue.ShutDown()
	// VMs of a previous run of this node died with it (their state is reported from the
	// Pods); their directories go.
	if err := os.RemoveAll(h.vmsDir()); err != nil {
		logger.Error(err, "Removing the VM directories of a previous run")
	}
	vmiInf := kubevirt.NewVMIInformer(h.host.KubeVirt, "", 0, nil)
	factory := informers.NewSharedInformerFactoryWithOptions(h.host.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = LauncherSelector
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", h.host.NodeName).String()
		}))
	podInf := factory.Core().V1().Pods().Informer()
	if err := podInf.AddIndexers(cache.Indexers{byVMI: indexPodByVMI}); err != nil {
		logger.Error(err, "Indexing launcher pods")
		return
	}
	h.vmis, h.pods = vmiInf.Informer.GetIndexer(), podInf.GetIndexer()
	// Every node sees every VMI; only those with a Pod here or a VM here are worked.
	onVMI := func(obj any) {
		key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		if err == nil && h.concerns(key) {
			h.queue.Add(key)
		}
	}
	_, err1 := vmiInf.Informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onVMI, UpdateFunc: func(_, obj any) { onVMI(obj) }, DeleteFunc: onVMI,
	})
	onPod := func(obj any) {
		if key, ok := podEventKey(obj); ok {
			h.queue.Add(key)
		}
	}
	_, err2 := podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onPod, UpdateFunc: func(_, obj any) { onPod(obj) },
		DeleteFunc: func(obj any) { h.releaseTargetAddress(obj); onPod(obj) },
	})
	if err1 != nil || err2 != nil {
		logger.Error(fmt.Errorf("%v %v", err1, err2), "Watching VMIs and launcher pods")
		return
	}
	go vmiInf.Informer.RunWithContext(ctx)
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	defer h.killAll()
	if !cache.WaitForCacheSync(ctx.Done(), vmiInf.Informer.HasSynced, podInf.HasSynced) {
		return
	}
	// Pods seen before the VMI cache synced were dropped by concerns; look again.
	for _, key := range h.pods.ListIndexFuncValues(byVMI) {
		h.queue.Add(key)
	}
	var wg sync.WaitGroup
	for range handlerWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for processNext(ctx, h.queue, h.sync) {
			}
		}()
	}
	<-ctx.Done()
	h.queue.ShutDown()
	wg.Wait()
}

// releaseTargetAddress frees the address of a deleted migration target Pod that no VM here
// holds: the controller deletes a failed migration's target Pod at once, so no sync sees it
// again.
func (h *handler) releaseTargetAddress(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Labels[kvv1.MigrationJobLabel] == "" {
		return
	}
	if key, ok := vmiKeyOfPod(pod); ok {
		if st := h.state(key); st != nil && st.podUID == pod.UID {
			return
		}
	}
	h.host.PodIPs.Release(string(pod.UID))
}

// concerns says whether this node runs, or is to run, the VMI of key.
func (h *handler) concerns(key string) bool {
	if h.state(key) != nil {
		return true
	}
	objs, _ := h.pods.ByIndex(byVMI, key)
	return len(objs) > 0
}

func (h *handler) state(key string) *vmState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.vms[key]
}

func (h *handler) setState(key string, st *vmState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if st == nil {
		delete(h.vms, key)
	} else {
		h.vms[key] = st
	}
}

func (h *handler) sockets(key string) (Sockets, bool) {
	st := h.state(key)
	if st == nil || st.exited() {
		return Sockets{}, false
	}
	return st.machine.Sockets(), true
}

// qmp returns the QMP of the running VM of key; false without one or when its runtime has
// no QMP.
func (h *handler) qmp(key string) (QMP, bool) {
	st := h.state(key)
	if st == nil || st.exited() {
		return nil, false
	}
	q, ok := st.machine.(QMP)
	return q, ok
}

// killAll ends every VM now (the node stops) and waits a bounded time for them.
func (h *handler) killAll() {
	h.mu.Lock()
	var machines []Machine
	for _, st := range h.vms {
		machines = append(machines, st.machine)
	}
	h.mu.Unlock()
	deadline := time.After(killWait)
	for _, m := range machines {
		_ = m.Kill()
	}
	for _, m := range machines {
		select {
		case <-m.Exited():
		case <-deadline:
			return
		}
	}
}

func (h *handler) getVMI(key string) *kvv1.VirtualMachineInstance {
	obj, ok, _ := h.vmis.GetByKey(key)
	if !ok {
		return nil
	}
	return obj.(*kvv1.VirtualMachineInstance)
}

// podFor is the launcher Pod on this node the VM of key belongs to: the one of the running
// VM, else the newest one the VMI controls.
func (h *handler) podFor(key string, vmi *kvv1.VirtualMachineInstance, st *vmState) *corev1.Pod {
	objs, _ := h.pods.ByIndex(byVMI, key)
	var best *corev1.Pod
	for _, o := range objs {
		p := o.(*corev1.Pod)
		switch {
		case st != nil:
			if p.UID == st.podUID {
				return p
			}
		case vmi != nil && metav1.IsControlledBy(p, vmi):
			if best == nil || best.CreationTimestamp.Before(&p.CreationTimestamp) {
				best = p
			}
		}
	}
	return best
}

// sync brings the VM of one VMI in line with its VMI and launcher Pod.
func (h *handler) sync(ctx context.Context, key string) (time.Duration, error) {
	vmi := h.getVMI(key)
	st := h.state(key)
	if st != nil && vmi != nil && vmi.UID != st.vmiUID && st.exited() {
		// A new VMI of the same name: the old VM is over.
		h.forget(key, st)
		st = nil
	}
	pod := h.podFor(key, vmi, st)
	if st == nil {
		return h.syncNotRunning(ctx, key, vmi, pod)
	}
	if vmi != nil && vmi.UID != st.vmiUID {
		vmi = nil
	}
	if h.receiving(st) {
		return h.syncIncoming(ctx, key, vmi, pod, st)
	}
	if !st.exited() {
		if cause, grace := stopReason(vmi, pod); cause != "" {
			h.stop(key, st, grace, cause)
			return 0, nil
		}
		if migrating, err := h.syncOutgoing(ctx, key, vmi, st); migrating || err != nil {
			return 0, err
		}
		return 0, h.reportRunning(ctx, vmi, pod, st)
	}
	if st.stopCause == ReasonMigrated {
		return 0, h.finishMigrated(ctx, key, pod, st)
	}
	return 0, h.finish(ctx, key, vmi, pod, st)
}

// stopReason says why a running VM must stop, and how long the guest gets to power off.
func stopReason(vmi *kvv1.VirtualMachineInstance, pod *corev1.Pod) (string, time.Duration) {
	switch {
	case vmi == nil:
		return ReasonDeleted, 0
	case vmi.DeletionTimestamp != nil:
		grace := defaultGracePeriod
		if vmi.Spec.TerminationGracePeriodSeconds != nil {
			grace = time.Duration(*vmi.Spec.TerminationGracePeriodSeconds) * time.Second
		}
		return ReasonDeleted, grace
	case pod == nil:
		return ReasonPodNotExists, 0
	case pod.DeletionTimestamp != nil:
		grace := time.Duration(0)
		if pod.DeletionGracePeriodSeconds != nil {
			grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
		}
		return ReasonPodDeleted, grace
	case vmi.IsFinal():
		// Ended by someone else (the controller after losing the Pod): the VM follows.
		return "VMIEnded", 0
	}
	return "", 0
}

// syncNotRunning handles a VMI this node has no VM for: start it, or clean up after it.
func (h *handler) syncNotRunning(ctx context.Context, key string, vmi *kvv1.VirtualMachineInstance, pod *corev1.Pod) (time.Duration, error) {
	if pod == nil || isFinalPod(pod) {
		return 0, nil // nothing here, or the controller finalizes it
	}
	if vmi == nil || !metav1.IsControlledBy(pod, vmi) {
		return 0, nil // an orphan: the garbage collector removes it
	}
	now := metav1.Now()
	if migratedFrom(pod, vmi) {
		// Its VM left for another node and was forgotten here; the cache may still show the
		// Pod running.
		if pod.DeletionTimestamp != nil {
			return 0, deletePod(ctx, h.host, pod)
		}
		msg := "the VM migrated to node " + vmi.Status.MigrationState.TargetNode
		return 0, h.writePodStatus(ctx, pod, endedPodStatus(pod, netip.Addr{}, kvv1.Succeeded, ReasonMigrated, msg, now))
	}
	if migration, ok := migrationTargetOf(pod, vmi); ok {
		return h.syncTargetPod(ctx, key, vmi, pod, migration)
	}
	switch {
	case pod.DeletionTimestamp != nil || vmi.DeletionTimestamp != nil:
		// Never started here: nothing to stop.
		if err := deletePod(ctx, h.host, pod); err != nil {
			return 0, err
		}
		if vmi.DeletionTimestamp != nil {
			return 0, removeFinalizer(ctx, h.host, vmi)
		}
		return 0, nil
	case vmi.IsFinal():
		return 0, h.writePodStatus(ctx, pod, endedPodStatus(pod, netip.Addr{}, kvv1.Failed, vmi.Status.Reason, "the VMI ended before its VM started", now))
	case wasStarted(pod) || vmi.Status.Phase == kvv1.Running && vmi.Status.NodeName == h.host.NodeName:
		// Its VM ran under a previous run of this node and died with it.
		return 0, h.fail(ctx, vmi, pod, ReasonNodeRestarted, "the local node restarted and its VMs ended with it")
	}
	return h.start(ctx, key, vmi, pod)
}

// wasStarted says whether the Pod's VM ran (under a previous run of this node).
func wasStarted(pod *corev1.Pod) bool {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Running != nil || cs.State.Terminated != nil {
			return true
		}
	}
	return false
}

// fail ends a VMI and its Pod that never ran here (or no longer run) as Failed.
func (h *handler) fail(ctx context.Context, vmi *kvv1.VirtualMachineInstance, pod *corev1.Pod, reason, msg string) error {
	now := metav1.Now()
	h.host.Recorder.Eventf(vmi, nil, corev1.EventTypeWarning, reason, "Start", msg)
	klog.FromContext(ctx).Info("VMI failed", "vmi", klog.KObj(vmi), "reason", reason, "message", msg)
	if err := writeVMIStatus(ctx, h.host, vmi, failedStatus(vmi, reason, msg, now)); err != nil {
		return err
	}
	return h.writePodStatus(ctx, pod, endedPodStatus(pod, netip.Addr{}, kvv1.Failed, reason, msg, now))
}

// finish reports a VM that ended: the VMI first (so the controller never sees a Running
// VMI without its Pod), then the Pod; a deleted VMI or Pod is then let go.
func (h *handler) finish(ctx context.Context, key string, vmi *kvv1.VirtualMachineInstance, pod *corev1.Pod, st *vmState) error {
	now := metav1.Now()
	phase, reason, msg := endOf(st)
	if !st.ended {
		if vmi != nil && !vmi.IsFinal() {
			if err := writeVMIStatus(ctx, h.host, vmi, endedStatus(vmi, phase, reason, msg, now)); err != nil {
				return err
			}
			evType := corev1.EventTypeNormal
			if phase == kvv1.Failed {
				evType = corev1.EventTypeWarning
			}
			h.host.Recorder.Eventf(vmi, nil, evType, reason, "Stop", msg)
		}
		if pod != nil && !isFinalPod(pod) {
			if err := h.writePodStatus(ctx, pod, endedPodStatus(pod, st.ip, phase, reason, msg, now)); err != nil {
				return err
			}
		}
		st.ended = true
		h.host.PodIPs.Release(string(st.podUID))
		klog.FromContext(ctx).Info("VM ended", "vmi", key, "phase", phase, "reason", reason)
	}
	deleting := vmi != nil && vmi.DeletionTimestamp != nil
	if pod != nil && (deleting || vmi == nil || pod.DeletionTimestamp != nil) {
		if err := deletePod(ctx, h.host, pod); err != nil {
			return err
		}
	}
	if deleting {
		if err := removeFinalizer(ctx, h.host, vmi); err != nil {
			return err
		}
	}
	if pod == nil && (vmi == nil || vmi.IsFinal() && vmi.DeletionTimestamp == nil) {
		h.forget(key, st)
	}
	return nil
}

// endOf is how a VM's end reads on the VMI: a deleted VMI Succeeded (its owner asked), a
// lost or deleted Pod Failed, a guest poweroff Succeeded, a crash Failed.
func endOf(st *vmState) (kvv1.VirtualMachineInstancePhase, string, string) {
	exit := st.machine.Exit()
	switch st.stopCause {
	case ReasonDeleted:
		return kvv1.Succeeded, ReasonDeleted, "the VMI was deleted; its VM was stopped"
	case ReasonPodDeleted:
		return kvv1.Failed, ReasonPodDeleted, "the launcher pod was deleted or evicted; its VM was stopped"
	case ReasonPodNotExists:
		return kvv1.Failed, ReasonPodNotExists, "the launcher pod disappeared; its VM was stopped"
	}
	switch exit.Reason {
	case ExitGuestShutdown:
		return kvv1.Succeeded, ReasonGuestShutdown, "the guest powered off"
	case ExitCrashed:
		return kvv1.Failed, ReasonCrashed, "the VM crashed: " + exit.Message
	}
	return kvv1.Failed, ExitKilled, "the VM was killed: " + exit.Message
}

// forget drops a VM that ended: its address and directory go.
func (h *handler) forget(key string, st *vmState) {
	h.host.PodIPs.Release(string(st.podUID))
	h.setState(key, nil)
	if st.dir != "" && !h.cfg.Runtime.Hollow() {
		_ = os.Remove(shortVMDir(h.vmsDir(), st.vmiUID))
		_ = os.RemoveAll(st.dir)
	}
}
