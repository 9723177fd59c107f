// Package runner runs reconciliations: one run of one or more
// reconciliations of a config, from opening the systems to the report
// directory in place. recon run, the scheduler and the other commands that
// need a run or its systems share it; it knows nothing of cron or flags.
//
// Invariants:
//   - Two runs into one report directory never overlap: a run holds an
//     exclusive lock on it (Lock). Two runs of one reconciliation never
//     overlap anywhere the state store is shared: a run holds the
//     reconciliation's lease in it, renewed while it runs.
//   - Every run of a reconciliation is in the state's history, with its
//     figures, or its error and error class.
//   - A reconciliation that fails is reported with its error and class,
//     leaves no repair plan and resolves no exception; the others still
//     run. A cancelled run leaves no report.
//   - A reconciliation ends within its timeout.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/hint"
	"github.com/recon-dev/recon/internal/state"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/reports"
	"github.com/recon-dev/recon/reports/repairs"
)

// RepairsDir is where a run's repair plans go, inside its directory.
const RepairsDir = "repairs"

// Runner runs reconciliations of one config into one report directory.
type Runner struct {
	Config *config.Config
	// State is the history, lifecycle and locks; nil runs without them.
	State *state.Store
	// Trigger says who started the run: "manual" or "schedule".
	Trigger string
	// Holder names this process in the locks it takes (default
	// host:pid); Observers hear of every run.
	Holder    string
	Observers []Observer
	// Out is the directory run directories are written under.
	Out string
	// MemoryMiB bounds the records each reconciliation sorts in memory;
	// TempDir holds what spills (default the system's temp dir).
	MemoryMiB int
	TempDir   string
	Logger    *slog.Logger
	// Progress, if set, starts showing a reconciliation's progress and
	// returns the func that stops it.
	Progress func(name string, p *reconcile.Progress) (stop func())
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Partition, when set, makes the run a partial one: it compares only
	// the partition's keys and leaves, beside its report of them, the
	// partial files recon merge joins (see Merge). A partial run keeps no
	// history, lifecycle or repair plan; those are the merged run's. Two
	// runs of one partition never overlap where the state is shared.
	Partition *reconcile.Partition
	// Partials, when set, makes the run a merge of these partial runs'
	// report directories instead of a read of the systems (see Merge);
	// failedPartials are the reconciliations that failed in one of them.
	Partials       []string
	failedPartials map[string]error
}

// PartialsDir holds a partial run's partial files, one per reconciliation,
// inside its report directory.
const PartialsDir = "partials"

// Observer hears of runs as they start and end: pings, alerts, metrics.
// A run that started ends in Finished (it has a report) or Failed (it has
// none: cancelled, or its report could not be written).
type Observer interface {
	Started(runID string, recs []config.Reconciliation)
	Finished(run reports.Run, dir string)
	Failed(runID string, recs []config.Reconciliation, err error)
}

// ErrCancelled wraps the cause of a run stopped by its context.
var ErrCancelled = errors.New("run cancelled")

// BusyError is a reconciliation whose lock another process holds.
type BusyError struct {
	Reconciliation string
	Lock           state.Lock
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("skipped: another recon (%s) has been running %s since %s", e.Lock.Holder, e.Reconciliation,
		e.Lock.Acquired.Format(time.RFC3339))
}

// errTimeout is the cause of a reconciliation stopped by its timeout.
var errTimeout = errors.New("timed out")

// errLostLock is the cause of a reconciliation stopped because another
// recon took its lock after the lease ran out: that recon runs it now.
var errLostLock = errors.New("lost the reconciliation's lock")

// errUnrenewed is the cause of a reconciliation stopped because the state
// store did not answer for so long that its lock's lease may run out.
var errUnrenewed = errors.New("could not renew the reconciliation's lock")

// The lease of a reconciliation's lock: a holder that dies loses it after
// lockTTL; a live one renews it every lockRenew, and stops the run when it
// has not managed to for lockTTL-lockRenew. Leases compare the clocks of
// the hosts that share a state store: keep them in sync (NTP). Variables
// for the tests.
var (
	lockTTL   = 2 * time.Minute
	lockRenew = 30 * time.Second
)

func (r *Runner) holder() string {
	if r.Holder != "" {
		return r.Holder
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// Run runs recs as one run and returns it and its report directory. An
// error means there is no report: the run could not start, or was
// cancelled (ErrCancelled).
func (r *Runner) Run(ctx context.Context, recs []config.Reconciliation) (_ reports.Run, _ string, err error) {
	if err := os.MkdirAll(r.Out, 0o755); err != nil {
		return reports.Run{}, "", hint.Wrap(fmt.Errorf("create report directory: %w", err), "pass a writable directory with --out")
	}
	unlock, err := Lock(r.Out)
	if err != nil {
		return reports.Run{}, "", err
	}
	defer unlock()

	started := r.now()
	runID := reports.NewRunID(started)
	logger := r.logger().With("run_id", runID)
	writer, err := reports.Create(r.Out, runID)
	if err != nil {
		return reports.Run{}, "", err
	}
	defer writer.Abort() // a no-op once Close has succeeded
	sys := NewSystems(r.Config, logger)
	defer sys.Close()

	scope := &runScope{id: runID, started: started, sys: sys, writer: writer, logger: logger}
	if r.State != nil && r.Partition == nil { // a partial run's exceptions are the merge's to track
		scope.seer = &firstSeer{ctx: ctx, store: r.State, runID: runID, started: started}
		writer.TrackLifecycle(scope.seer, started)
	}
	for _, o := range r.Observers {
		o.Started(runID, recs)
	}
	defer func() {
		if err != nil {
			for _, o := range r.Observers {
				o.Failed(runID, recs, err)
			}
		}
	}()
	run := reports.Run{ID: runID, StartedAt: started, Partition: r.Partition}
	for _, rc := range recs {
		if rc.Repair != nil && scope.review == nil {
			if scope.review, err = repairs.CreateReview(filepath.Join(writer.Dir(), RepairsDir)); err != nil {
				return reports.Run{}, "", err
			}
			defer scope.review.Abort() // a no-op once Close has succeeded
		}
		res, err := r.reconcileLocked(ctx, scope, rc)
		if err != nil && ctx.Err() != nil {
			err := fmt.Errorf("%w: %w", ErrCancelled, context.Cause(ctx))
			r.unrecord(ctx, scope, err) // those done before leave no report either
			return reports.Run{}, "", err
		}
		res.ConfigHash = rc.Hash
		run.Results = append(run.Results, res)
	}
	if scope.review != nil {
		if err := scope.review.Close(); err != nil {
			r.unrecord(ctx, scope, err)
			return reports.Run{}, "", err
		}
	}
	run.FinishedAt = r.now()
	run.Status = reports.Status(run.Results)
	dir, err := writer.Close(run)
	if err != nil {
		r.unrecord(ctx, scope, err)
		_, step := Classify(err)
		return run, dir, hint.Wrap(err, step)
	}
	for _, o := range r.Observers {
		o.Finished(run, dir)
	}
	return run, dir, nil
}

// unrecord records the reconciliations of a run whose report could not be
// written as failed by err: the history had them as they ended, and a run
// that leaves no report must not count as a success (recon status, the
// dead man's switch).
func (r *Runner) unrecord(ctx context.Context, s *runScope, err error) {
	class, _ := Classify(err)
	msg := "the report could not be written: " + err.Error()
	for _, h := range s.recorded {
		h.Status, h.ErrorClass, h.Error = "error", &class, &msg
		if err := r.State.EndRun(context.WithoutCancel(ctx), h); err != nil {
			s.logger.Error("could not record the run in the state", "reconciliation", h.Reconciliation, "error", err)
		}
	}
}

// reconcileLocked runs one reconciliation under its lock, records it in
// the history and closes its exceptions' lifecycle. A failure is in the
// result, classified; the error is returned too, for the caller to tell a
// cancelled run.
func (r *Runner) reconcileLocked(ctx context.Context, s *runScope, rc config.Reconciliation) (reports.Result, error) {
	name, writer, logger := rc.Spec.Name, s.writer, s.logger
	fail := func(err error) (reports.Result, error) {
		if ctx.Err() != nil {
			// Whatever the driver said of the read cut short (a closed
			// connection, say), the run was stopped.
			err = fmt.Errorf("%w: %w", ErrCancelled, context.Cause(ctx))
		}
		msg := err.Error()
		class, step := Classify(err)
		if class == ClassCancelled {
			logger.Warn("reconciliation cancelled", "reconciliation", name, "error", msg, "error_class", class)
		} else {
			logger.Error("reconciliation failed", "reconciliation", name, "error", msg, "error_class", class, "try", step)
		}
		return reports.Result{Result: reconcile.Result{Name: name, FieldMismatches: map[string]int64{}, Breaches: []string{}, Error: &msg},
			ErrorClass: &class, ErrorHint: &step}, err
	}
	if r.State == nil {
		res, err := r.reconcile(ctx, s, rc)
		if err == nil {
			err = writer.Flush()
		}
		if err != nil {
			writer.DropPending()
			return fail(err)
		}
		return res, nil
	}
	holder, lockName := r.holder()+":"+s.id, name
	if r.Partition != nil {
		lockName += " partition " + r.Partition.String()
	}
	ok, held, err := r.State.TryLock(ctx, lockName, holder, r.now(), lockTTL)
	if err != nil {
		return fail(err)
	}
	if !ok {
		return fail(&BusyError{Reconciliation: lockName, Lock: held})
	}
	defer r.State.Unlock(context.WithoutCancel(ctx), lockName, holder)
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopRenew := r.renew(rctx, cancel, lockName, holder, logger)
	defer stopRenew()
	rctx, cancelTimeout := context.WithTimeoutCause(rctx, rc.Timeout, fmt.Errorf("%w after %s (the reconciliation's timeout:)", errTimeout, rc.Timeout))
	defer cancelTimeout()
	// Sightings recorded for this reconciliation end with it.
	if s.seer != nil {
		s.seer.ctx = rctx
	}

	// The history's start is when the run holds the lock: runs of one
	// reconciliation never overlap in it.
	hist := state.Run{RunID: s.id, Reconciliation: name, Trigger: r.Trigger, ConfigHash: rc.Hash, StartedAt: r.now()}
	if r.Partition == nil {
		if err := r.State.StartRun(ctx, hist); err != nil {
			return fail(err)
		}
	}
	// A database that stops answering holds a read past any context:
	// when the reconciliation must end, its connections are cut.
	cut := make(chan struct{})
	stopCutting := context.AfterFunc(rctx, func() {
		defer close(cut)
		s.sys.Abort(rc.Source.System, rc.Target.System)
	})
	res, err := r.reconcile(rctx, s, rc)
	if !stopCutting() {
		<-cut // the connections are being cut: let it end before they are reused
	}
	if err == nil {
		err = writer.Flush()
	}
	if r.Partition != nil {
		if err != nil {
			writer.DropPending()
			return fail(err)
		}
		return res, nil
	}
	var lc state.Lifecycle
	if err == nil {
		lc, err = r.State.Finish(ctx, s.id, name, s.started)
	}
	if err != nil {
		if cause := context.Cause(rctx); rctx.Err() != nil && ctx.Err() == nil && cause != nil {
			err = fmt.Errorf("%w: %w", cause, err)
		}
		writer.DropPending()
		r.State.Discard(context.WithoutCancel(ctx), s.id, name)
		out, err := fail(err)
		s.recorded = append(s.recorded, r.record(ctx, hist, out, logger))
		out.Trend = r.trend(ctx, name)
		return out, err
	}
	res.ExceptionsNew, res.ExceptionsOpen, res.ExceptionsResolved = &lc.New, &lc.Open, &lc.Resolved
	if max := rc.MaxNewExceptions; max != nil && lc.New > *max {
		res.Breaches = append(res.Breaches, "new_exceptions")
	}
	s.recorded = append(s.recorded, r.record(ctx, hist, res, logger))
	res.Trend = r.trend(ctx, name)
	return res, nil
}

// trendRuns is how many runs a report's trend chart shows.
const trendRuns = 12

// trend is a reconciliation's last runs, oldest first.
func (r *Runner) trend(ctx context.Context, name string) []reports.TrendPoint {
	runs, err := r.State.Runs(context.WithoutCancel(ctx), name, time.Time{}, trendRuns)
	if err != nil {
		return nil
	}
	out := make([]reports.TrendPoint, 0, len(runs))
	for i := len(runs) - 1; i >= 0; i-- {
		h := runs[i]
		p := reports.TrendPoint{RunID: h.RunID, StartedAt: h.StartedAt, Failed: !h.Succeeded(), Exceptions: h.Exceptions}
		if h.Matched > 0 {
			p.DriftRate = float64(h.RecordsWithFieldMismatch) / float64(h.Matched)
		}
		out = append(out, p)
	}
	return out
}

// renew keeps the lease of a reconciliation's lock while it runs; losing
// it (another process took it after the lease ran out) stops the run.
func (r *Runner) renew(ctx context.Context, cancel context.CancelCauseFunc, name, holder string, logger *slog.Logger) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(lockRenew)
		defer tick.Stop()
		renewed := r.now()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				now := r.now()
				ok, err := r.State.Renew(ctx, name, holder, now, lockTTL)
				switch {
				case err != nil && r.now().Sub(renewed) >= lockTTL-lockRenew:
					cancel(fmt.Errorf("%w for %s, so another recon may take it: %w", errUnrenewed, r.now().Sub(renewed).Round(time.Second), err))
					return
				case err != nil:
					logger.Warn("could not renew the lock", "reconciliation", name, "error", err)
				case !ok:
					cancel(fmt.Errorf("%w to another recon: its lease ran out", errLostLock))
					return
				default:
					renewed = now
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// record writes how a reconciliation's run ended to the history, and returns what it wrote.
func (r *Runner) record(ctx context.Context, h state.Run, res reports.Result, logger *slog.Logger) state.Run {
	end := r.now()
	h.FinishedAt = &end
	h.Status = reports.Status([]reports.Result{res})
	h.ErrorClass, h.Error = res.ErrorClass, res.Error
	h.SourceCount, h.TargetCount, h.Matched, h.InAgreement = res.SourceCount, res.TargetCount, res.Matched, res.InAgreement
	h.RecordsWithFieldMismatch = res.RecordsWithFieldMismatch
	h.Exceptions = res.MissingInTarget + res.MissingInSource + res.TimestampMisaligned + res.DuplicateKeys + res.InvalidRecords
	if res.PeriodsBreached != nil {
		h.Exceptions += *res.PeriodsBreached
	}
	h.Exceptions += res.AmbiguousMatches + res.KeyMismatches
	for _, n := range res.FieldMismatches {
		h.Exceptions += n
	}
	for _, p := range []struct {
		from *int64
		to   *int64
	}{{res.ExceptionsNew, &h.ExceptionsNew}, {res.ExceptionsOpen, &h.ExceptionsOpen}, {res.ExceptionsResolved, &h.ExceptionsResolved}} {
		if p.from != nil {
			*p.to = *p.from
		}
	}
	h.LagP50, h.LagP95, h.LagMax = res.SyncLagP50, res.SyncLagP95, res.SyncLagMax
	if res.Error == nil {
		h.SourceRowsRead, h.TargetRowsRead = &res.SourceRowsRead, &res.TargetRowsRead
		h.Mode, h.DurationSeconds = &res.Mode, &res.DurationSeconds
	}
	if err := r.State.EndRun(context.WithoutCancel(ctx), h); err != nil {
		logger.Error("could not record the run in the state", "reconciliation", h.Reconciliation, "error", err)
	}
	return h
}

// runScope is what the reconciliations of one run share.
type runScope struct {
	id      string
	started time.Time
	sys     *Systems
	writer  *reports.Writer
	review  *repairs.Review // nil until a reconciliation repairs
	seer    *firstSeer      // nil without a state store
	logger  *slog.Logger
	// recorded are the history's runs of the reconciliations done, as
	// recorded.
	recorded []state.Run
}

// firstSeer tells the report writer when exceptions were first seen, from
// the state store, and records that this run saw them.
type firstSeer struct {
	ctx     context.Context
	store   *state.Store
	runID   string
	started time.Time
	ids     []state.Identity
}

func (f *firstSeer) FirstSeen(reconciliation string, keys []reports.ExceptionKey) ([]reports.FirstSeen, error) {
	f.ids = f.ids[:0]
	for _, k := range keys {
		f.ids = append(f.ids, state.Identity{Kind: k.Kind, RecordKey: orNull(k.RecordKey), Field: orNull(k.Field)})
	}
	seen, err := f.store.Seen(f.ctx, f.runID, reconciliation, f.started, f.ids)
	if err != nil {
		return nil, err
	}
	out := make([]reports.FirstSeen, len(seen))
	for i, s := range seen {
		out[i] = reports.FirstSeen(s)
	}
	return out, nil
}

// reconcile runs one reconciliation: its differences go to the report
// writer and, where it repairs, to a planner.
func (r *Runner) reconcile(ctx context.Context, s *runScope, rc config.Reconciliation) (reports.Result, error) {
	sys, logger := s.sys, s.logger
	if err := r.failedPartials[rc.Spec.Name]; err != nil {
		return reports.Result{}, err
	}
	var src, tgt reconcile.Input
	var err error
	if r.Partials == nil {
		if src, _, err = sys.Input(ctx, rc.Source); err != nil {
			return reports.Result{}, err
		}
		if tgt, _, err = sys.Input(ctx, rc.Target); err != nil {
			return reports.Result{}, err
		}
	}
	var sink reconcile.Sink = s.writer
	var planner *repairs.Planner
	var partial *reconcile.PartialWriter
	if r.Partition != nil {
		if partial, err = r.createPartial(s, rc); err != nil {
			return reports.Result{}, err
		}
		sink = reconcile.Tee(s.writer, partial)
	}
	if rc.Repair != nil && r.Partition == nil {
		if planner, err = newPlanner(ctx, sys, rc, s.writer.Dir(), s.id, s.review); err != nil {
			return reports.Result{}, err
		}
		if r.State != nil {
			planner.FirstSeen, planner.Now = firstSeenOf(ctx, r.State, s.id, rc.Spec.Name, s.started), r.now()
		}
		sink = reconcile.Tee(s.writer, planner)
	}
	progress := &reconcile.Progress{}
	if r.State != nil && r.Progress != nil {
		// The last run's rows are this one's best guess, for an ETA.
		if last, err := r.State.LastSuccess(ctx, rc.Spec.Name); err == nil && last != nil && last.SourceRowsRead != nil {
			progress.ExpectSourceRows, progress.ExpectTargetRows = *last.SourceRowsRead, *last.TargetRowsRead
		}
	}
	if r.Progress != nil {
		stop := r.Progress(rc.Spec.Name, progress)
		defer stop()
	}
	start := time.Now()
	opts := reconcile.Options{MemoryBudget: r.MemoryMiB << 20, TempDir: r.TempDir, Logger: logger, Progress: progress, Now: r.now(),
		Partition: r.Partition}
	spec := rc.Spec
	if rc.Mode != config.ModeRows {
		var recent []state.Run
		if r.State != nil {
			recent, _ = r.State.Successes(ctx, spec.Name, config.AutoWindow) // none known: as for a first run
		}
		checksum, expect, why := checksumMode(rc.Mode, rc.Hash, recent)
		if checksum {
			spec.Checksum = &rc.Checksum
		}
		opts.ExpectRows = expect
		if rc.Mode == config.ModeAuto {
			logger.Info("mode auto", "reconciliation", spec.Name, "checksum", checksum, "because", why)
		}
	}
	if rc.Settle > 0 {
		opts.SettleAfter = r.now().Add(-rc.Settle)
	}
	var res reconcile.Result
	if r.Partials != nil {
		res, err = r.replay(ctx, rc, sink)
	} else {
		res, err = reconcile.Run(ctx, spec, src, tgt, sink, opts)
	}
	if err == nil && partial != nil {
		err = partial.Close(res)
		partial = nil
	}
	out := reports.Result{Result: res}
	if err != nil {
		if planner != nil {
			planner.Abort()
		}
		if partial != nil {
			partial.Abort()
		}
		return out, err
	}
	if planner != nil {
		if out.Repairs, err = planner.Close(); err != nil {
			return out, err
		}
	}
	logger.Info("reconciled", "reconciliation", rc.Spec.Name, "source_rows", res.SourceCount, "target_rows", res.TargetCount,
		"matched", res.Matched, "breaches", strings.Join(res.Breaches, ","), "elapsed", time.Since(start).Round(time.Millisecond))
	return out, nil
}

// checksumMode says whether a reconciliation of mode and config hash
// whose last successful runs were recent (newest first, at most
// config.AutoWindow) is to run in checksum mode, how many source records
// to expect (which sizes the segments), and, for auto mode, why:
// checksums where the last run counted many records and found few of
// them differ, unless a checksum run of the same config among recent took
// longer per source record than the newest rows run of it (as where the
// databases share recon's cores), until that run has left the window and
// checksums are timed again.
func checksumMode(mode, hash string, recent []state.Run) (checksum bool, expect int64, why string) {
	if len(recent) == 0 {
		return mode == config.ModeChecksum, 0, "no earlier successful run"
	}
	last := recent[0]
	expect = last.SourceCount
	switch mode {
	case config.ModeChecksum:
		return true, expect, ""
	case config.ModeRows:
		return false, expect, ""
	}
	if expect < config.AutoChecksumRows {
		return false, expect, fmt.Sprintf("the last run counted %d source records, under %d", expect, config.AutoChecksumRows)
	}
	if float64(last.Exceptions) >= config.AutoChecksumDrift*float64(expect) {
		return false, expect, fmt.Sprintf("the last run found %d exceptions in %d source records, %g%% or more of them", last.Exceptions, expect, 100*config.AutoChecksumDrift)
	}
	timed := func(mode string) *state.Run {
		for i, r := range recent {
			if r.ConfigHash == hash && r.Mode != nil && *r.Mode == mode && r.DurationSeconds != nil && r.SourceCount > 0 {
				return &recent[i]
			}
		}
		return nil
	}
	perRecord := func(r *state.Run) float64 { return *r.DurationSeconds / float64(r.SourceCount) }
	if c, r := timed(config.ModeChecksum), timed(config.ModeRows); c != nil && r != nil && perRecord(c) > perRecord(r) {
		return false, expect, fmt.Sprintf("run %s checksummed at %.3g s per million source records, run %s read rows at %.3g s",
			c.RunID, 1e6*perRecord(c), r.RunID, 1e6*perRecord(r))
	}
	return true, expect, "large, mostly agreeing tables"
}

// newPlanner starts the repair plans of rc under the run's directory dir,
// after checking each writable side's table and columns.
func newPlanner(ctx context.Context, sys *Systems, rc config.Reconciliation, dir, runID string, review *repairs.Review) (*repairs.Planner, error) {
	var tables [2]*repairs.Table
	for i, s := range []reconcile.Side{reconcile.SourceSide, reconcile.TargetSide} {
		if !rc.Repair.Direction.Writes(s) {
			continue
		}
		t, err := sys.RepairTable(ctx, rc, s)
		if err != nil {
			return nil, err
		}
		tables[i] = t
	}
	h := repairs.Header{RunID: runID, Reconciliation: rc.Spec.Name, ConfigHash: rc.Hash}
	return repairs.NewPlanner(filepath.Join(dir, RepairsDir), h, &rc.Spec, rc.Repair, tables, review)
}

// firstSeenOf tells a planner when a reconciliation's exception was first
// seen (this run, for a new one), from the state store.
func firstSeenOf(ctx context.Context, store *state.Store, runID, name string, started time.Time) func(reconcile.Kind, string) (time.Time, error) {
	return func(kind reconcile.Kind, key string) (time.Time, error) {
		seen, err := store.Seen(ctx, runID, name, started, []state.Identity{{Kind: string(kind), RecordKey: key, Field: state.NullText}})
		if err != nil {
			return time.Time{}, err
		}
		return seen[0].At, nil
	}
}

// Lock takes an exclusive lock on dir so that two runs (say, a slow nightly
// run and the next one), or two applies, never overlap. The lock goes with
// the process: a run that dies releases it.
func Lock(dir string) (func(), error) {
	path := filepath.Join(dir, ".recon.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, hint.Wrap(fmt.Errorf("another recon run is writing to %s", dir), "wait for it to finish; runs into one --out directory never overlap")
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// orNull is an identity's text for a key or field that may be null.
func orNull(s *string) string {
	if s == nil {
		return state.NullText
	}
	return *s
}
