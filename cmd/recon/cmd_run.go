package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/recon-dev/recon/internal/alert"
	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/hint"
	"github.com/recon-dev/recon/internal/runner"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/reports"
)

type runFlags struct {
	config    string
	only      stringList
	out       string
	memoryMiB int
	tempDir   string
	summary   bool
	partition string
	logFlags
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "recon.yaml", "the config `file`")
	fs.Var(&f.only, "only", "run only the reconciliation `NAME` (repeat or comma-separate for several)")
	fs.StringVar(&f.out, "out", "reports", "write the report under `DIR`/<run_id>/")
	fs.IntVar(&f.memoryMiB, "memory", 64, "MiB of records to sort in memory per reconciliation before spilling to disk (1 to 2048)")
	fs.StringVar(&f.tempDir, "tmp", "", "`DIR` for spill files (default the system's temp dir)")
	fs.BoolVar(&f.summary, "summary", false, "print the summary to stdout even when healthy and not on a terminal")
	fs.StringVar(&f.partition, "partition", "", "compare only key partition `I/K` (I from 0) and write a partial run for recon merge")
	f.logFlags.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: recon run [--config FILE] [--only NAME] [--out DIR] [--partition I/K]

Runs the config's reconciliations and writes <out>/<run_id>/ with
exceptions.parquet, summary.json, report.html and report.md, and the repair
plans under repairs/ where the config says who owns which field.

Quiet when healthy: off a terminal it prints nothing unless a threshold is
breached (exit 1) or the run fails (exit 2), which suits cron.

With --partition I/K it compares only the I-th of K key partitions and
writes a partial run: K workers (a Kubernetes Indexed Job, several hosts)
run one partition each, then recon merge joins their directories into the
run one worker would have made, with its thresholds, exit code, repair
plans and history. A partial run exits 0 when it ran, whatever it found,
and 2 when it could not.

Flags:
`)
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stderr); done {
		return code
	}
	if _, _, err := f.logFlags.logger(stderr); err != nil {
		return report(stderr, err)
	}
	if err := checkMemory(f.memoryMiB); err != nil {
		return report(stderr, err)
	}
	limitMemory(f.memoryMiB)
	var partition *reconcile.Partition
	if f.partition != "" {
		p, err := reconcile.ParsePartition(f.partition)
		if err != nil {
			return report(stderr, hint.Wrap(err, "--partition 0/4 runs the first of four partitions; in a Kubernetes Indexed Job pass $(JOB_COMPLETION_INDEX)/K"))
		}
		partition = &p
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return report(stderr, err)
	}
	recs, err := cfg.Select(f.only)
	if err != nil {
		return report(stderr, err)
	}
	if partition != nil {
		for _, rc := range recs {
			if err := rc.Spec.Partitionable(); err != nil {
				return report(stderr, hint.Wrap(err, "run it without --partition (leave it out of the partitioned runs with --only)"))
			}
		}
	}
	rf := runnerFlags{out: f.out, memoryMiB: f.memoryMiB, tempDir: f.tempDir, summary: f.summary, partition: partition, logFlags: f.logFlags}
	return runRunner(ctx, cfg, f.config, rf, func(r *runner.Runner) (reports.Run, string, error) { return r.Run(ctx, recs) }, stdout, stderr)
}

// runnerFlags are what recon run and recon merge share.
type runnerFlags struct {
	out       string
	memoryMiB int
	tempDir   string
	summary   bool
	partition *reconcile.Partition
	logFlags
}

// runRunner opens the config's state, runs what do does with a runner
// built from the flags, prints the summary and returns the exit code.
func runRunner(ctx context.Context, cfg *config.Config, configPath string, f runnerFlags,
	do func(*runner.Runner) (reports.Run, string, error), stdout, stderr io.Writer) int {
	stderr = onTerminal(stderr)
	logger, tty, err := f.logFlags.logger(stderr)
	if err != nil {
		return report(stderr, err)
	}
	store, err := openState(ctx, cfg)
	if err != nil && ctx.Err() != nil {
		return report(stderr, fmt.Errorf("%w: %w", runner.ErrCancelled, context.Cause(ctx)))
	}
	if err != nil {
		return report(stderr, err)
	}
	defer store.Close()
	r := &runner.Runner{Config: cfg, State: store, Trigger: "manual", Out: f.out, MemoryMiB: f.memoryMiB, TempDir: f.tempDir, Logger: logger,
		Progress:  func(name string, p *reconcile.Progress) func() { return showProgress(name, p, logger, stderr, tty) },
		Partition: f.partition}
	// A partition's figures are not the reconciliation's: the merge alerts.
	if n := (&alert.Notifier{Alerts: cfg.Alerts, Logger: logger}); n.Enabled() && f.partition == nil {
		r.Observers = append(r.Observers, alert.Observer{Notifier: n})
	}
	run, dir, err := do(r)
	if err != nil {
		return report(stderr, err)
	}
	code := map[string]int{"ok": exitOK, "breached": exitBreached, "error": exitError}[run.Status]
	if run.Partition != nil && code == exitBreached {
		code = exitOK // the merge checks the thresholds
	}
	if code != exitOK || f.summary || isTerminal(stdout) {
		printSummary(stdout, run, dir)
	}
	switch code {
	case exitBreached:
		logger.Warn("threshold breached", "run_id", run.ID, "report", dir)
	case exitError:
		fmt.Fprintf(stderr, "Error: %d of %d reconciliations could not run; see %s\n", countErrors(run.Results), len(run.Results), filepath.Join(dir, "summary.json"))
		fmt.Fprintln(stderr, "Try: recon validate --config "+configPath)
	}
	return code
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
		if r.Periods != nil {
			fmt.Fprintf(w, "%-30s %s  source=%d target=%d periods=%d periods_breached=%d invalid=%d\n",
				r.Name, state, r.SourceCount, r.TargetCount, *r.Periods, *r.PeriodsBreached, r.InvalidRecords)
			continue
		}
		tiers := ""
		if r.MatchedByTier != nil {
			tiers = fmt.Sprintf(" matched_by_tier=%v ambiguous=%d key_mismatches=%d", r.MatchedByTier, r.AmbiguousMatches, r.KeyMismatches)
		}
		fmt.Fprintf(w, "%-30s %s  source=%d target=%d matched=%d%s missing_in_target=%d missing_in_source=%d field_mismatch_records=%d drift_rate=%.2f%% timestamp_misaligned=%d duplicates=%d invalid=%d\n",
			r.Name, state, r.SourceCount, r.TargetCount, r.Matched, tiers, r.MissingInTarget, r.MissingInSource,
			r.RecordsWithFieldMismatch, r.DriftRate*100, r.TimestampMisaligned, r.DuplicateKeys, r.InvalidRecords)
	}
	if run.Partition != nil {
		fmt.Fprintf(w, "partition %s: the figures are this partition's; recon merge checks the thresholds\n", run.Partition)
	}
	fmt.Fprintf(w, "report: %s\n", dir)
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
