// Package runner runs reconciliations: one run of one or more
// reconciliations of a config, from opening the systems to the report
// directory in place. recon run, the scheduler and the other commands that
// need a run or its systems share it; it knows nothing of cron or flags.
//
// Invariants:
//   - Two runs into one report directory never overlap: a run holds an
//     exclusive lock on it (Lock).
//   - A reconciliation that fails is reported with its error and leaves no
//     repair plan; the others still run. A cancelled run leaves no report.
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
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/reports"
	"github.com/recon-dev/recon/reports/repairs"
)

// RepairsDir is where a run's repair plans go, inside its directory.
const RepairsDir = "repairs"

// Runner runs reconciliations of one config into one report directory.
type Runner struct {
	Config *config.Config
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
}

// ErrCancelled wraps the cause of a run stopped by its context.
var ErrCancelled = errors.New("run cancelled")

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
func (r *Runner) Run(ctx context.Context, recs []config.Reconciliation) (reports.Run, string, error) {
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

	run := reports.Run{ID: runID, StartedAt: started}
	var review *repairs.Review
	for _, rc := range recs {
		if rc.Repair != nil && review == nil {
			if review, err = repairs.CreateReview(filepath.Join(writer.Dir(), RepairsDir)); err != nil {
				return reports.Run{}, "", err
			}
			defer review.Abort() // a no-op once Close has succeeded
		}
		res, err := r.reconcile(ctx, sys, rc, writer, review, runID, logger)
		if err != nil && ctx.Err() != nil {
			return reports.Run{}, "", fmt.Errorf("%w: %w", ErrCancelled, context.Cause(ctx))
		}
		if err != nil {
			msg := err.Error()
			res = reports.Result{Result: reconcile.Result{Name: rc.Spec.Name, FieldMismatches: map[string]int64{}, Breaches: []string{}, Error: &msg}}
			logger.Error("reconciliation failed", "reconciliation", rc.Spec.Name, "error", msg)
		}
		res.ConfigHash = rc.Hash
		run.Results = append(run.Results, res)
	}
	if review != nil {
		if err := review.Close(); err != nil {
			return reports.Run{}, "", err
		}
	}
	run.FinishedAt = r.now()
	run.Status = reports.Status(run.Results)
	dir, err := writer.Close(run)
	return run, dir, err
}

// reconcile runs one reconciliation: its differences go to the report
// writer and, where it repairs, to a planner.
func (r *Runner) reconcile(ctx context.Context, sys *Systems, rc config.Reconciliation, writer *reports.Writer, review *repairs.Review,
	runID string, logger *slog.Logger) (reports.Result, error) {
	src, _, err := sys.Input(ctx, rc.Source)
	if err != nil {
		return reports.Result{}, err
	}
	tgt, _, err := sys.Input(ctx, rc.Target)
	if err != nil {
		return reports.Result{}, err
	}
	var sink reconcile.Sink = writer
	var planner *repairs.Planner
	if rc.Repair != nil {
		if planner, err = newPlanner(ctx, sys, rc, writer.Dir(), runID, review); err != nil {
			return reports.Result{}, err
		}
		sink = reconcile.Tee(writer, planner)
	}
	progress := &reconcile.Progress{}
	if r.Progress != nil {
		stop := r.Progress(rc.Spec.Name, progress)
		defer stop()
	}
	start := time.Now()
	res, err := reconcile.Run(ctx, rc.Spec, src, tgt, sink, reconcile.Options{
		MemoryBudget: r.MemoryMiB << 20,
		TempDir:      r.TempDir,
		Logger:       logger,
		Progress:     progress,
	})
	out := reports.Result{Result: res}
	if err != nil {
		if planner != nil {
			planner.Abort()
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
