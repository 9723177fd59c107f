package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/reports"
	"github.com/recon-dev/recon/reports/repairs"
)

type runFlags struct {
	config    string
	only      stringList
	out       string
	memoryMiB int
	tempDir   string
	summary   bool
	logFlags
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "recon.yaml", "the config `file`")
	fs.Var(&f.only, "only", "run only the reconciliation `NAME` (repeat or comma-separate for several)")
	fs.StringVar(&f.out, "out", "reports", "write the report under `DIR`/<run_id>/")
	fs.IntVar(&f.memoryMiB, "memory", 64, "MiB of records to sort in memory per reconciliation before spilling to disk")
	fs.StringVar(&f.tempDir, "tmp", "", "`DIR` for spill files (default the system's temp dir)")
	fs.BoolVar(&f.summary, "summary", false, "print the summary to stdout even when healthy and not on a terminal")
	f.logFlags.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: recon run [--config FILE] [--only NAME] [--out DIR]

Runs the config's reconciliations and writes <out>/<run_id>/ with
exceptions.parquet, summary.json, report.html and report.md.

Quiet when healthy: off a terminal it prints nothing unless a threshold is
breached (exit 1) or the run fails (exit 2), which suits cron.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		return report(stderr, &userError{err: fmt.Errorf("unexpected argument %q", fs.Arg(0)), hint: "recon run --help"})
	}
	logger, tty, err := f.logFlags.logger(stderr)
	if err != nil {
		return report(stderr, err)
	}

	cfg, err := loadConfig(f.config)
	if err != nil {
		return report(stderr, err)
	}
	recs, err := selectReconciliations(cfg, f.only)
	if err != nil {
		return report(stderr, err)
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return report(stderr, &userError{err: fmt.Errorf("create report directory: %w", err), hint: "pass a writable directory with --out"})
	}
	unlock, err := lockRun(f.out)
	if err != nil {
		return report(stderr, err)
	}
	defer unlock()

	started := time.Now().UTC()
	runID := reports.NewRunID(started)
	logger = logger.With("run_id", runID)
	writer, err := reports.Create(f.out, runID)
	if err != nil {
		return report(stderr, err)
	}
	defer writer.Abort() // a no-op once Close has succeeded
	sys := newSystems(cfg, logger)
	defer sys.close()

	run := reports.Run{ID: runID, StartedAt: started}
	var review *repairs.Review
	for _, rc := range recs {
		if rc.Repair != nil && review == nil {
			if review, err = repairs.CreateReview(filepath.Join(writer.Dir(), repairsDir)); err != nil {
				return report(stderr, err)
			}
			defer review.Abort() // a no-op once Close has succeeded
		}
		res, err := reconcileOne(ctx, sys, rc, writer, review, runID, f, logger, stderr, tty)
		if err != nil && ctx.Err() != nil {
			return report(stderr, fmt.Errorf("run cancelled: %w", context.Cause(ctx)))
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
			return report(stderr, err)
		}
	}
	run.FinishedAt = time.Now().UTC()
	run.Status = status(run.Results)
	dir, err := writer.Close(run)
	if err != nil {
		return report(stderr, err)
	}
	code := map[string]int{"ok": exitOK, "breached": exitBreached, "error": exitError}[run.Status]
	if code != exitOK || f.summary || isTerminal(stdout) {
		printSummary(stdout, run, dir)
	}
	switch code {
	case exitBreached:
		logger.Warn("threshold breached", "report", dir)
	case exitError:
		fmt.Fprintf(stderr, "Error: %d of %d reconciliations could not run; see %s\n", countErrors(run.Results), len(run.Results), filepath.Join(dir, "summary.json"))
		fmt.Fprintln(stderr, "Try: recon validate --config "+f.config)
	}
	return code
}

// repairsDir is where a run's repair plans go, inside its directory.
const repairsDir = "repairs"

// reconcileOne runs one reconciliation: its differences go to the report
// writer and, where it repairs, to a planner.
func reconcileOne(ctx context.Context, sys *systems, rc Reconciliation, writer *reports.Writer, review *repairs.Review,
	runID string, f runFlags, logger *slog.Logger, stderr io.Writer, tty bool) (reports.Result, error) {
	src, _, err := sys.input(ctx, rc.Source)
	if err != nil {
		return reports.Result{}, err
	}
	tgt, _, err := sys.input(ctx, rc.Target)
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
	stopProgress := showProgress(rc.Spec.Name, progress, logger, stderr, tty)
	start := time.Now()
	res, err := reconcile.Run(ctx, rc.Spec, src, tgt, sink, reconcile.Options{
		MemoryBudget: f.memoryMiB << 20,
		TempDir:      f.tempDir,
		Logger:       logger,
		Progress:     progress,
	})
	stopProgress()
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
func newPlanner(ctx context.Context, sys *systems, rc Reconciliation, dir, runID string, review *repairs.Review) (*repairs.Planner, error) {
	var tables [2]*repairs.Table
	for i, s := range []reconcile.Side{reconcile.SourceSide, reconcile.TargetSide} {
		if !rc.Repair.Direction.Writes(s) {
			continue
		}
		t, err := sys.repairTable(ctx, rc, s)
		if err != nil {
			return nil, err
		}
		tables[i] = t
	}
	h := repairs.Header{RunID: runID, Reconciliation: rc.Spec.Name, ConfigHash: rc.Hash}
	return repairs.NewPlanner(filepath.Join(dir, repairsDir), h, &rc.Spec, rc.Repair, tables, review)
}

func selectReconciliations(cfg *Config, only []string) ([]Reconciliation, error) {
	if len(only) == 0 {
		return cfg.Reconciliations, nil
	}
	var names []string
	byName := map[string]Reconciliation{}
	for _, r := range cfg.Reconciliations {
		names = append(names, r.Spec.Name)
		byName[r.Spec.Name] = r
	}
	var out []Reconciliation
	for _, n := range slices.Compact(slices.Clone(only)) {
		if slices.ContainsFunc(out, func(r Reconciliation) bool { return r.Spec.Name == n }) {
			continue // named twice: run once
		}
		r, ok := byName[n]
		if !ok {
			return nil, &userError{err: fmt.Errorf("--only %q: no such reconciliation in %s", n, cfg.Path), hint: "use one of: " + strings.Join(names, ", ")}
		}
		out = append(out, r)
	}
	return out, nil
}

func status(results []reports.Result) string {
	s := "ok"
	for _, r := range results {
		if r.Error != nil {
			return "error"
		}
		if r.Breached() {
			s = "breached"
		}
	}
	return s
}

func countErrors(results []reports.Result) int {
	n := 0
	for _, r := range results {
		if r.Error != nil {
			n++
		}
	}
	return n
}

func printSummary(w io.Writer, run reports.Run, dir string) {
	for _, r := range run.Results {
		if r.Error != nil {
			fmt.Fprintf(w, "%-30s ERROR %s\n", r.Name, *r.Error)
			continue
		}
		state := "ok"
		if r.Breached() {
			state = "BREACHED " + strings.Join(r.Breaches, ",")
		}
		fmt.Fprintf(w, "%-30s %s  source=%d target=%d matched=%d missing_in_target=%d missing_in_source=%d field_mismatch_records=%d drift_rate=%.2f%% timestamp_misaligned=%d duplicates=%d invalid=%d\n",
			r.Name, state, r.SourceCount, r.TargetCount, r.Matched, r.MissingInTarget, r.MissingInSource,
			r.RecordsWithFieldMismatch, r.DriftRate*100, r.TimestampMisaligned, r.DuplicateKeys, r.InvalidRecords)
	}
	fmt.Fprintf(w, "report: %s\n", dir)
}

// lockRun takes an exclusive lock on the report directory so that two runs
// (say, a slow nightly run and the next one) never overlap.
func lockRun(dir string) (func(), error) {
	path := filepath.Join(dir, ".recon.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &userError{err: fmt.Errorf("another recon run is writing to %s", dir), hint: "wait for it to finish; runs into one --out directory never overlap"}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// stringList is a flag that may be repeated or comma-separated.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// flagExit maps a flag parsing error to an exit code: --help is success.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitError
}
