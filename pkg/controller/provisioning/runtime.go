package provisioning

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	virtv1 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/config"
	"github.com/virtplane/virtplane/pkg/importer"
)

// Settings are what the image and disk controllers take from flags and the config file.
type Settings struct {
	Config *config.Config
	// Namespace is the controller's own namespace: importer Pods of cluster-scoped images.
	Namespace string
	Pods      PodDefaults
	// Signer mints DVCR tokens; nil leaves Pods without one.
	Signer TokenSigner
	// RegistryAuth is a dockerconfigjson document for an external registry in DVCR's place,
	// used when there is no Signer.
	RegistryAuth []byte
	// StartTimeout fails a Pod that stays unschedulable or cannot pull its image this long.
	StartTimeout time.Duration
	// UploadWaitTimeout fails an upload that has not started this long after its Pod started.
	UploadWaitTimeout time.Duration
	// MaxRetries is how many times a retryable importer failure is retried.
	MaxRetries int
	// Now is the clock (tests replace it).
	Now func() time.Time
}

// Defaults fills unset fields.
func (s *Settings) Defaults() error {
	if s.Config == nil {
		s.Config = &config.Config{}
	}
	if s.Namespace == "" {
		s.Namespace = "d8-virtualization"
	}
	if s.StartTimeout == 0 {
		s.StartTimeout = 5 * time.Minute
	}
	if s.UploadWaitTimeout == 0 {
		s.UploadWaitTimeout = 10 * time.Minute
		if v := s.Config.Uploads.WaitTimeout; v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("uploads.waitTimeout %q: %w", v, err)
			}
			s.UploadWaitTimeout = d
		}
	}
	if s.MaxRetries == 0 {
		s.MaxRetries = 3
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	return nil
}

// SyncFunc reconciles one key; a positive duration asks to look again after it.
type SyncFunc func(ctx context.Context, key string) (time.Duration, error)

// RunWorkers drains the queue with n workers until ctx ends, then shuts the queue down and
// waits for the workers.
// Run is a controller's Run: it waits for the caches, starts the progress poller, then runs
// n workers on the queue until ctx ends, and shuts the queue down.
func Run(ctx context.Context, name string, queue workqueue.TypedRateLimitingInterface[string], synced []cache.InformerSynced, poller *Poller, n int, syncKey SyncFunc) error {
	defer queue.ShutDown()
	logger := klog.FromContext(ctx).WithValues("controller", name)
	ctx = klog.NewContext(ctx, logger)
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return fmt.Errorf("%s controller: caches did not sync", name)
	}
	go poller.Run(ctx)
	logger.Info("Starting workers", "workers", n)
	RunWorkers(ctx, queue, n, syncKey)
	return nil
}

// EnqueueHandler calls f with each added, updated or deleted object (the last state of a
// deleted one the watch missed).
func EnqueueHandler(f func(obj any)) cache.ResourceEventHandler {
	unwrap := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		f(obj)
	}
	return cache.ResourceEventHandlerFuncs{AddFunc: unwrap, UpdateFunc: func(_, n any) { unwrap(n) }, DeleteFunc: unwrap}
}

func RunWorkers(ctx context.Context, queue workqueue.TypedRateLimitingInterface[string], n int, syncKey SyncFunc) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			wait.UntilWithContext(ctx, func(ctx context.Context) {
				for processNext(ctx, queue, syncKey) {
				}
			}, time.Second)
		})
	}
	<-ctx.Done()
	queue.ShutDown()
	wg.Wait()
}

func processNext(ctx context.Context, queue workqueue.TypedRateLimitingInterface[string], sync SyncFunc) bool {
	key, quit := queue.Get()
	if quit {
		return false
	}
	defer queue.Done(key)
	after, err := sync(ctx, key)
	switch {
	case err != nil && apierrors.IsConflict(err):
		// Someone changed the object under us: read it again soon, without error noise.
		queue.AddRateLimited(key)
	case err != nil:
		utilruntime.HandleErrorWithContext(ctx, err, "Sync failed; will retry", "key", key)
		queue.AddRateLimited(key)
	default:
		queue.Forget(key)
		if after > 0 {
			queue.AddAfter(key, after)
		}
	}
	return true
}

// SetCondition sets a condition with the object's generation; meta.SetStatusCondition keeps
// lastTransitionTime unless the status flips, so an unchanged condition is no status write.
func SetCondition[T ~string, R ~string](conds *[]metav1.Condition, t T, status metav1.ConditionStatus, reason R, message string, generation int64) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: string(t), Status: status, Reason: string(reason), Message: message, ObservedGeneration: generation,
	})
}

// RemoveCondition drops a condition type.
func RemoveCondition[T ~string](conds *[]metav1.Condition, t T) {
	meta.RemoveStatusCondition(conds, string(t))
}

// Speed renders the importer's speeds for status.downloadSpeed.
func Speed(p *importer.Progress) *virtv1.StatusSpeed {
	if p == nil || (p.AvgSpeed == 0 && p.CurrentSpeed == 0) {
		return nil
	}
	return &virtv1.StatusSpeed{
		Avg:          HumanSpeed(p.AvgSpeed),
		AvgBytes:     strconv.FormatInt(p.AvgSpeed, 10),
		Current:      HumanSpeed(p.CurrentSpeed),
		CurrentBytes: strconv.FormatInt(p.CurrentSpeed, 10),
	}
}

// StepPercent is the progress of a step mapped into [from, to]; unknown totals count as 0.
func StepPercent(p *importer.Progress, from, to float64) string {
	v := 0.0
	if p != nil {
		v = p.Percent
		if p.Stage == "Done" {
			v = 100
		}
	}
	return Percent(ScalePercent(v, from, to))
}

// HasFinalizer reports whether the object carries f.
func HasFinalizer(m *metav1.ObjectMeta, f string) bool {
	for _, x := range m.Finalizers {
		if x == f {
			return true
		}
	}
	return false
}

// WithFinalizer returns the finalizers with f added or removed; changed is false when the
// list already was as asked.
func WithFinalizer(list []string, f string, present bool) (out []string, changed bool) {
	for _, x := range list {
		if x == f {
			if present {
				return list, false
			}
			changed = true
			continue
		}
		out = append(out, x)
	}
	if present {
		return append(out, f), true
	}
	return out, changed
}

// LogSync logs the start and end of a sync at a verbose level.
func LogSync(ctx context.Context, kind, key string) func() {
	start := time.Now()
	klog.FromContext(ctx).V(4).Info("Sync started", "kind", kind, "key", key)
	return func() {
		klog.FromContext(ctx).V(4).Info("Sync finished", "kind", kind, "key", key, "duration", time.Since(start))
	}
}
