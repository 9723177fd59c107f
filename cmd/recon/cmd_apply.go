package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/recon-dev/recon/internal/apply"
	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/hint"
	"github.com/recon-dev/recon/internal/runner"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/reports"
	"github.com/recon-dev/recon/reports/repairs"
	"github.com/recon-dev/recon/sources"
)

type applyFlags struct {
	run     string
	config  string
	only    stringList
	execute bool
	force   bool
	logFlags
}

// shownStatements is how many statements of a plan a dry run prints.
const shownStatements = 3

func applyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f applyFlags
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.run, "run", "", "the run's report `DIR` (<out>/<run_id>)")
	fs.StringVar(&f.config, "config", "recon.yaml", "the config `file` the run was made with")
	fs.Var(&f.only, "only", "apply only the plans of reconciliation `NAME` (repeat or comma-separate for several)")
	fs.BoolVar(&f.execute, "execute", false, "run the SQL plans against their systems (without it, only show what would run)")
	fs.BoolVar(&f.force, "force", false, "apply a plan with more changed records than its repair.max_changes")
	f.logFlags.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: recon apply --run DIR [--config FILE] [--only NAME] [--execute] [--force]

Shows the repair plans a run wrote under DIR/repairs/: per reconciliation and
side, the changes by kind and the first statements. Changes nothing.

With --execute, runs each SQL plan against its system in batches, each batch
in a transaction, and reports the rows changed by kind. It stops at the first
error, with that batch rolled back, and says which batch. What was applied is
recorded in DIR/repairs/applied.json: applying the run again resumes after the
last committed batch, and does nothing once all are applied. Every statement
is guarded, so a row changed since the run is left alone.

It refuses a plan whose reconciliation's config changed since the run (run
recon run again), and a plan with more changed records than repair.max_changes
unless --force. CRM files (Salesforce, HubSpot, CSV) are never sent: it says
where they are.

Flags:
`)
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stderr); done {
		return code
	}
	if f.run == "" {
		return report(stderr, hint.Wrap(errors.New("no run given"), "recon apply --run <out>/<run_id> (the directory recon run printed)"))
	}
	logger, _, err := f.logFlags.logger(stderr)
	if err != nil {
		return report(stderr, err)
	}
	run, err := reports.ReadRun(f.run)
	if err != nil {
		return report(stderr, hint.Wrap(fmt.Errorf("read run %s: %w", f.run, err), "pass the run directory recon run printed (it holds summary.json)"))
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return report(stderr, err)
	}
	plans, err := checkPlans(run, cfg, f)
	if err != nil {
		return report(stderr, err)
	}
	repairsPath := filepath.Join(f.run, runner.RepairsDir)
	if len(plans) == 0 {
		fmt.Fprintf(stdout, "Nothing to apply: run %s planned no SQL changes.\n", run.ID)
		printPayloads(stdout, run, f)
		return exitOK
	}
	journal, err := apply.OpenJournal(repairsPath)
	if err != nil {
		return report(stderr, err)
	}
	if !f.execute {
		fmt.Fprintf(stdout, "Dry run of run %s: nothing is changed. Add --execute to apply.\n", run.ID)
		for _, p := range plans {
			if err := printPlan(stdout, p, journal); err != nil {
				return report(stderr, err)
			}
		}
		printPayloads(stdout, run, f)
		return exitOK
	}

	unlock, err := runner.Lock(repairsPath)
	if err != nil {
		return report(stderr, err)
	}
	defer unlock()
	if journal, err = apply.OpenJournal(repairsPath); err != nil { // again, under the lock
		return report(stderr, err)
	}
	sys := runner.NewWritableSystems(cfg, logger)
	defer sys.Close()
	for _, p := range plans {
		e := journal.Entry(p.file, p.sql.Batches)
		if e.Done() {
			fmt.Fprintf(stdout, "%s: already applied at %s; nothing to do.\n", p.title(), e.FinishedAt.Format(time.RFC3339))
			continue
		}
		if err := applyPlan(ctx, sys, p, e, journal); err != nil {
			fmt.Fprintf(stdout, "%s: %s\n", p.title(), rowsChanged(e))
			return report(stderr, err)
		}
		fmt.Fprintf(stdout, "%s: applied; %s.\n", p.title(), rowsChanged(e))
		logger.Info("applied", "reconciliation", p.reconciliation, "side", p.plan.Side, "file", p.file,
			"insert", e.Rows[repairs.Insert], "update", e.Rows[repairs.Update], "soft_delete", e.Rows[repairs.SoftDeleted])
	}
	printPayloads(stdout, run, f)
	return exitOK
}

// sqlPlan is one SQL plan of a run, checked.
type sqlPlan struct {
	reconciliation string
	plan           repairs.PlanSummary
	file           string // relative to the run directory
	path           string
	driver         string
	sql            *repairs.SQLPlan
}

func (p sqlPlan) title() string {
	return fmt.Sprintf("%s → %s %s (%s), table %s", p.reconciliation, p.plan.Side, p.plan.System, p.plan.Driver, p.plan.Table)
}

// checkPlans reads the SQL plans of the run that f selects, and refuses
// them all if any may not be applied: made under another config, over its
// max_changes, not the file the run wrote, or not what the summary says.
func checkPlans(run reports.Run, cfg *config.Config, f applyFlags) ([]sqlPlan, error) {
	var names []string
	for _, r := range run.Results {
		names = append(names, r.Name)
	}
	for _, n := range f.only {
		if !slices.Contains(names, n) {
			return nil, hint.Wrap(fmt.Errorf("--only %q: run %s has no such reconciliation", n, run.ID), "use one of: "+strings.Join(names, ", "))
		}
	}
	var plans []sqlPlan
	var problems []string
	for _, r := range run.Results {
		if r.Repairs == nil || (len(f.only) > 0 && !slices.Contains(f.only, r.Name)) {
			continue
		}
		i := slices.IndexFunc(cfg.Reconciliations, func(rc config.Reconciliation) bool { return rc.Spec.Name == r.Name })
		if i < 0 {
			problems = append(problems, fmt.Sprintf("%s: %s has no such reconciliation any more", r.Name, cfg.Path))
			continue
		}
		rc := cfg.Reconciliations[i]
		if rc.Hash != r.ConfigHash {
			problems = append(problems, fmt.Sprintf("%s: its config changed since run %s (config hash %s, now %s): the plan may no longer be right",
				r.Name, run.ID, r.ConfigHash, rc.Hash))
			continue
		}
		for _, ps := range r.Repairs.Plans {
			file, ok := ps.Files[string(repairs.SQL)]
			if !ok || ps.Records == 0 {
				continue
			}
			p, err := checkPlan(f.run, cfg, rc, ps, file)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", r.Name, err))
				continue
			}
			if max := r.Repairs.MaxChanges; max != nil && ps.Records > *max && !f.force {
				problems = append(problems, fmt.Sprintf("%s: the %s plan changes %d records, more than repair.max_changes %d; review it, then apply with --force",
					r.Name, ps.Side, ps.Records, *max))
				continue
			}
			p.reconciliation = r.Name
			plans = append(plans, p)
		}
	}
	if len(problems) > 0 {
		return nil, hint.Wrap(fmt.Errorf("run %s: %d plan(s) refused, nothing applied:\n  %s", run.ID, len(problems), strings.Join(problems, "\n  ")),
			"recon run --config "+cfg.Path+" makes a new plan under the current config")
	}
	return plans, nil
}

// checkPlan checks one side's SQL plan against the config and the summary:
// its file is the run's, unchanged, for the system the config names, and
// holds what the summary counts.
func checkPlan(runDir string, cfg *config.Config, rc config.Reconciliation, ps repairs.PlanSummary, file string) (sqlPlan, error) {
	side := reconcile.Side(ps.Side)
	if side != reconcile.SourceSide && side != reconcile.TargetSide {
		return sqlPlan{}, fmt.Errorf("the summary names side %q", ps.Side)
	}
	system := rc.Side(side).System
	if ps.System != system {
		return sqlPlan{}, fmt.Errorf("the plan was made for system %q, the config's %s is %q", ps.System, side, system)
	}
	if !filepath.IsLocal(file) {
		return sqlPlan{}, fmt.Errorf("the summary names plan file %q, which is not inside the run directory", file)
	}
	driver := cfg.Systems[system].Source.Driver
	dialect, err := sources.Lookup(driver)
	if err != nil {
		return sqlPlan{}, err
	}
	path := filepath.Join(runDir, file)
	sql, err := repairs.ScanSQL(path, driver, nil)
	if err != nil {
		return sqlPlan{}, err
	}
	n := sql.Counts
	switch {
	case ps.SQLSHA256 == "" || sql.SHA256 != ps.SQLSHA256:
		return sqlPlan{}, fmt.Errorf("%s was changed since the run wrote it (its SHA-256 is not the one in summary.json)", file)
	case !slices.Equal(sql.Session, dialect.Session()):
		return sqlPlan{}, fmt.Errorf("%s sets up its session with %q, not recon's %q", file, sql.Session, dialect.Session())
	case n[repairs.Insert] != ps.Insert || n[repairs.Update] != ps.Update || n[repairs.SoftDeleted] != ps.SoftDelete:
		return sqlPlan{}, fmt.Errorf("%s holds %d insert, %d update, %d soft_delete statements, but the run planned %d, %d, %d",
			file, n[repairs.Insert], n[repairs.Update], n[repairs.SoftDeleted], ps.Insert, ps.Update, ps.SoftDelete)
	}
	return sqlPlan{plan: ps, file: file, path: path, driver: driver, sql: sql}, nil
}

func applyPlan(ctx context.Context, sys *runner.Systems, p sqlPlan, e *apply.Entry, journal *apply.Journal) error {
	db, err := sys.SQL(ctx, p.plan.System)
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	scrub := func(err error) error { return db.Wrap(p.file, err) }
	err = apply.Run(ctx, conn, p.path, p.driver, p.sql.Session, e, time.Now, journal.Save, scrub)
	if err == nil {
		return nil
	}
	committed := "no batch was committed"
	if e.Committed > 0 {
		committed = fmt.Sprintf("batches 1 to %d are committed", e.Committed)
	}
	return hint.Wrap(err, committed+"; fix the cause, then run recon apply again: it resumes with the failed batch")
}

func rowsChanged(e *apply.Entry) string {
	return fmt.Sprintf("rows changed: %d insert, %d update, %d soft_delete (%d of %d batches committed)",
		e.Rows[repairs.Insert], e.Rows[repairs.Update], e.Rows[repairs.SoftDeleted], e.Committed, e.Batches)
}

// errShown stops reading a plan once a dry run has shown enough of it.
var errShown = errors.New("shown")

// printPlan shows a plan: what it changes, how far it was applied, and its
// first statements.
func printPlan(w io.Writer, p sqlPlan, journal *apply.Journal) error {
	fmt.Fprintf(w, "\n%s\n  %d insert, %d update, %d soft_delete in %d batch(es): %s\n", p.title(),
		p.plan.Insert, p.plan.Update, p.plan.SoftDelete, p.sql.Batches, p.file)
	if e, ok := journal.Plans[p.file]; ok {
		if e.Done() {
			fmt.Fprintf(w, "  already applied at %s: %s\n", e.FinishedAt.Format(time.RFC3339), rowsChanged(e))
			return nil
		}
		fmt.Fprintf(w, "  partly applied: %s; --execute resumes with batch %d\n", rowsChanged(e), e.Committed+1)
	}
	shown := 0
	_, err := repairs.ScanSQL(p.path, p.driver, func(_ int, b repairs.Batch) error {
		for _, s := range b.Statements {
			if shown == shownStatements {
				fmt.Fprintf(w, "  … the rest is in %s\n", p.file)
				return errShown
			}
			fmt.Fprintf(w, "  %s;\n", s.SQL)
			shown++
		}
		return nil
	})
	if errors.Is(err, errShown) {
		return nil
	}
	return err
}

// printPayloads says where the run's files that recon does not send are.
func printPayloads(w io.Writer, run reports.Run, f applyFlags) {
	var files []string
	for _, r := range run.Results {
		if r.Repairs == nil || (len(f.only) > 0 && !slices.Contains(f.only, r.Name)) {
			continue
		}
		for _, p := range r.Repairs.Plans {
			for _, format := range []repairs.Format{repairs.CSV, repairs.Salesforce, repairs.HubSpot} {
				if file, ok := p.Files[string(format)]; ok {
					files = append(files, filepath.Join(f.run, file))
				}
			}
		}
	}
	if len(files) > 0 {
		fmt.Fprintf(w, "\nNot sent by recon (load them with your CRM's or database's bulk tools):\n  %s\n", strings.Join(files, "\n  "))
	}
}
