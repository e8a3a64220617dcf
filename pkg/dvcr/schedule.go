package dvcr

import (
	"context"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/klog/v2"
)

// ScheduleGC runs c.Run on a standard five-field cron schedule ("0 20 * * *") until ctx
// ends. Runs never overlap: a run still going when the next is due makes that one skip.
func ScheduleGC(ctx context.Context, schedule string, c *Collector) error {
	sched, err := cron.ParseStandard(schedule)
	if err != nil {
		return fmt.Errorf("parse gc schedule %q: %w", schedule, err)
	}
	cr := cron.New(cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	cr.Schedule(sched, cron.FuncJob(func() { runScheduledGC(ctx, c) }))
	cr.Start()
	klog.InfoS("Scheduled DVCR garbage collection", "schedule", schedule, "next", sched.Next(time.Now()))
	go func() {
		<-ctx.Done()
		// Stop waits for a running collection, which honours ctx and ends soon.
		<-cr.Stop().Done()
	}()
	return nil
}

func runScheduledGC(ctx context.Context, c *Collector) {
	if ctx.Err() != nil {
		return
	}
	start := time.Now()
	klog.InfoS("DVCR garbage collection started")
	res, err := c.Run(ctx)
	if err != nil {
		klog.ErrorS(err, "DVCR garbage collection failed", "duration", time.Since(start))
		return
	}
	for _, o := range res.Orphans {
		klog.InfoS("DVCR image removed", "kind", KindName(o.Kind), "namespace", o.Namespace, "name", o.Name, "uid", o.UID)
	}
	klog.InfoS("DVCR garbage collection finished", "removed", len(res.Orphans), "freed", FormatBytes(uint64(res.Freed)), "duration", time.Since(start))
}
