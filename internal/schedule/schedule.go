// Package schedule is recon's daemon: it runs each reconciliation on its
// cron schedule (robfig/cron/v3), checks that every reconciliation keeps
// succeeding within its max_staleness, alerts when one does not, and
// serves Prometheus metrics and a health check.
//
// Invariants:
//   - A reconciliation never overlaps itself: a run still going (or
//     waiting) when its next time comes is skipped and logged, and one that
//     another process runs (another daemon, a manual recon run) is skipped
//     too, by the state store's lock. The daemon's own runs queue: one at
//     a time, so that runs due together share the report directory and
//     the memory budget instead of failing.
//   - Stopping (Run's context ends: SIGTERM, SIGINT) takes no new run and
//     lets the runs going on finish within Grace; past it they are
//     cancelled, which leaves no report, and Run returns.
//   - A stale reconciliation is alerted once per episode: again only after
//     it has succeeded and gone stale anew. One that never succeeded is
//     given its max_staleness from the daemon's start before it is.
//   - A run that was waiting for another to finish when the daemon was
//     stopped does not start.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/recon-dev/recon/internal/alert"
	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/runner"
	"github.com/recon-dev/recon/internal/state"
	"github.com/recon-dev/recon/internal/status"
)

// Daemon runs a config's reconciliations on their schedules.
type Daemon struct {
	Config *config.Config
	State  *state.Store
	// NewRunner returns the runner of one scheduled run; the daemon sets
	// its Trigger and adds its observers.
	NewRunner func() *runner.Runner
	Notifier  *alert.Notifier
	Metrics   *Metrics // nil: none
	Logger    *slog.Logger
	// Grace is how long a stop waits for the runs going on.
	Grace time.Duration
	// CheckEvery is how often staleness is checked; default a minute.
	CheckEvery time.Duration

	running sync.Mutex // one run at a time
}

// ErrNothingScheduled is a config where no reconciliation has a schedule.
var ErrNothingScheduled = errors.New("no reconciliation has a schedule")

// Run schedules the reconciliations and returns once ctx ends and the runs
// going on have finished or been cancelled.
func (d *Daemon) Run(ctx context.Context) error {
	logger := d.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	started := time.Now()
	// Runs get their own context: a stop lets them finish within Grace.
	runCtx, cancelRuns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelRuns(nil)
	c := cron.New(cron.WithParser(config.CronParser), cron.WithLogger(cronLogger{logger}))
	scheduled := 0
	for _, rc := range d.Config.Reconciliations {
		if rc.Schedule == "" {
			logger.Info("not scheduled: it has no schedule", "reconciliation", rc.Spec.Name)
			continue
		}
		job := cron.NewChain(cron.SkipIfStillRunning(cronLogger{logger.With("reconciliation", rc.Spec.Name)})).Then(cron.FuncJob(func() {
			d.runOne(ctx, runCtx, rc, logger)
		}))
		sched, err := config.CronParser.Parse(rc.Schedule)
		if err != nil {
			return fmt.Errorf("reconciliation %q: schedule %q: %w", rc.Spec.Name, rc.Schedule, err)
		}
		c.Schedule(sched, job)
		scheduled++
		logger.Info("scheduled", "reconciliation", rc.Spec.Name, "schedule", rc.Schedule, "next", sched.Next(time.Now()))
	}
	if scheduled == 0 {
		return ErrNothingScheduled
	}
	c.Start()
	if d.Metrics != nil {
		d.Metrics.SetUp(true)
		defer d.Metrics.SetUp(false)
	}
	checkEvery := d.CheckEvery
	if checkEvery <= 0 {
		checkEvery = time.Minute
	}
	tick := time.NewTicker(checkEvery)
	defer tick.Stop()
	alerted := map[string]bool{}
	d.checkStaleness(ctx, started, alerted, logger)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
			d.checkStaleness(ctx, started, alerted, logger)
		}
	}
	logger.Info("stopping: no new runs; waiting for the runs going on", "grace", d.Grace)
	stopped := c.Stop().Done()
	select {
	case <-stopped:
	case <-time.After(d.Grace):
		logger.Warn("the grace period is over: cancelling the runs going on", "grace", d.Grace)
		cancelRuns(errors.New("the daemon is stopping and its grace period is over"))
		<-stopped
	}
	logger.Info("stopped")
	return nil
}

// runOne runs one reconciliation in ctx, unless another process is
// running it or the daemon was stopped (stopping ended) while it waited.
func (d *Daemon) runOne(stopping, ctx context.Context, rc config.Reconciliation, logger *slog.Logger) {
	d.running.Lock()
	defer d.running.Unlock()
	if stopping.Err() != nil {
		logger.Info("not started: the daemon is stopping", "reconciliation", rc.Spec.Name)
		return
	}
	name := rc.Spec.Name
	if held, err := d.State.Holder(ctx, name, time.Now()); err == nil && held != nil {
		logger.Info("skipped: another recon is running it", "reconciliation", name, "holder", held.Holder, "since", held.Acquired)
		return
	}
	r := d.NewRunner()
	r.Trigger = "schedule"
	if d.Notifier != nil && d.Notifier.Enabled() {
		r.Observers = append(r.Observers, alert.Observer{Notifier: d.Notifier})
	}
	if d.Metrics != nil {
		r.Observers = append(r.Observers, d.Metrics)
	}
	run, dir, err := r.Run(ctx, []config.Reconciliation{rc})
	switch {
	case errors.Is(err, runner.ErrCancelled):
		logger.Warn("run cancelled", "reconciliation", name, "error", err)
	case err != nil:
		class, step := runner.Classify(err)
		logger.Error("run failed", "reconciliation", name, "error", err, "error_class", class, "try", step)
	default:
		logger.Info("run finished", "reconciliation", name, "run_id", run.ID, "status", run.Status, "report", dir)
	}
}

// checkStaleness alerts, once per episode, on reconciliations without a
// successful run within their max_staleness, and updates the metrics. A
// reconciliation that never succeeded is alerted only once the daemon has
// been up that long: it had its chance to run.
func (d *Daemon) checkStaleness(ctx context.Context, since time.Time, alerted map[string]bool, logger *slog.Logger) {
	now := time.Now()
	st, err := status.Compute(ctx, d.Config, d.State, now)
	if err != nil {
		logger.Error("could not compute the status", "error", err)
		return
	}
	if d.Metrics != nil {
		d.Metrics.SetStatus(st)
	}
	news := st
	news.Stale, news.Reconciliations = nil, nil
	for _, r := range st.Reconciliations {
		switch {
		case !r.Stale:
			delete(alerted, r.Name)
		case alerted[r.Name], r.LastSuccess == nil && now.Sub(since) <= r.MaxStaleness:
		default:
			alerted[r.Name] = true
			news.Stale = append(news.Stale, r.Name)
			news.Reconciliations = append(news.Reconciliations, r)
		}
	}
	if len(news.Stale) == 0 {
		return
	}
	logger.Warn("stale: no successful run within max_staleness", "reconciliations", news.Stale)
	if a := alert.ForStale(news); a != nil && d.Notifier != nil {
		d.Notifier.Send(ctx, *a)
	}
}

// cronLogger gives cron the daemon's logger.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) {
	if msg == "skip" { // SkipIfStillRunning
		c.l.Warn("skipped: the previous run is still going", kv...)
		return
	}
	c.l.Debug("cron: "+msg, kv...)
}
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "error", err)...)
}
