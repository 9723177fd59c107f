package runner_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/dbtest"
	"github.com/recon-dev/recon/internal/reporttest"
	"github.com/recon-dev/recon/internal/runner"
	"github.com/recon-dev/recon/internal/state"
	"github.com/recon-dev/recon/internal/status"
	"github.com/recon-dev/recon/reconcile"
	_ "github.com/recon-dev/recon/sources/all"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// scenario is a CRM and a billing table in SQLite files whose amounts the
// test sets before each run, and the config that reconciles them.
type scenario struct {
	dir      string
	crm, inv *sql.DB
	cfg      *config.Config
}

func newScenario(t *testing.T, stateDSN, extra string) *scenario {
	t.Helper()
	s := &scenario{dir: t.TempDir()}
	open := func(name, table string) *sql.DB {
		db, err := sql.Open("sqlite", filepath.Join(s.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Exec("CREATE TABLE " + table + " (id INTEGER PRIMARY KEY, amount TEXT, updated_at TEXT)"); err != nil {
			t.Fatal(err)
		}
		for id := 1; id <= 20; id++ {
			if _, err := db.Exec("INSERT INTO "+table+" VALUES (?, '100.00', '2024-01-01T00:00:00Z')", id); err != nil {
				t.Fatal(err)
			}
		}
		return db
	}
	s.crm, s.inv = open("crm.db", "deals"), open("billing.db", "invoices")
	text := fmt.Sprintf(`version: 1
state: %q
systems:
  crm: {driver: sqlite, dsn: crm.db}
  billing: {driver: sqlite, dsn: billing.db}
reconciliations:
  - name: deals
    source: {system: crm, table: deals}
    target: {system: billing, table: invoices}
    key: [{source: id, type: int}]
    fields: [{name: amount, type: decimal}]
    timestamp: {source: updated_at, target: updated_at}
%s`, stateDSN, extra)
	path := filepath.Join(s.dir, "recon.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s.cfg = cfg
	return s
}

// drift sets the billing amounts of ids to differ from the CRM's; every
// other id agrees.
func (s *scenario) drift(t *testing.T, ids ...int) {
	t.Helper()
	if _, err := s.inv.Exec("UPDATE invoices SET amount = '100.00'"); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := s.inv.Exec("UPDATE invoices SET amount = '99.00' WHERE id = ?", id); err != nil {
			t.Fatal(err)
		}
	}
}

func stateStores(t *testing.T) map[string]string {
	return map[string]string{"sqlite": "recon-state.db", "postgres": dbtest.Postgres(t)}
}

// A scripted sequence: drift appears, persists, changes, a run fails, and
// it is repaired. The lifecycle counts, first sightings, history and MTTR
// follow, with either state store.
func TestLifecycleOverRuns(t *testing.T) {
	for kind, dsn := range stateStores(t) {
		t.Run(kind, func(t *testing.T) {
			s := newScenario(t, dsn, "")
			ctx := context.Background()
			store, err := state.Open(ctx, s.cfg.State, "", s.cfg.StateName)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			day := 24 * time.Hour
			t0 := time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)
			now := t0
			r := &runner.Runner{Config: s.cfg, State: store, Trigger: "schedule", Out: filepath.Join(s.dir, "reports"), Now: func() time.Time { return now }}
			type want struct{ new, open, resolved int64 }
			var runIDs []string
			step := func(at time.Time, w want, ids ...int) string {
				t.Helper()
				now = at
				s.drift(t, ids...)
				run, dir, err := r.Run(ctx, s.cfg.Reconciliations)
				if err != nil {
					t.Fatal(err)
				}
				res := run.Results[0]
				if res.Error != nil {
					t.Fatalf("run at %s: %s", at, *res.Error)
				}
				got := want{*res.ExceptionsNew, *res.ExceptionsOpen, *res.ExceptionsResolved}
				if got != w {
					t.Errorf("run at %s with drift on %v: new/open/resolved %+v, want %+v", at.Format(time.DateOnly), ids, got, w)
				}
				sum, err := reporttest.ReadSummary(dir)
				if err != nil {
					t.Fatal(err)
				}
				if n := sum.Reconciliations[0]["exceptions_new"]; n != float64(w.new) {
					t.Errorf("summary.json exceptions_new %v, want %d", n, w.new)
				}
				runIDs = append(runIDs, run.ID)
				return dir
			}
			step(t0, want{new: 2}, 1, 2)                    // drift appears
			step(t0.Add(day), want{open: 2}, 1, 2)          // persists
			dir := step(t0.Add(2*day), want{1, 1, 1}, 2, 3) // changes: 1 repaired, 3 new
			rows, err := reporttest.ReadExceptions(filepath.Join(dir, "exceptions.parquet"))
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]string{}
			for _, row := range rows {
				seen[*row.RecordKey] = row.FirstSeenRun + " " + row.FirstSeenAt.Format(time.DateOnly)
			}
			if seen["2"] != runIDs[0]+" 2026-11-01" || seen["3"] != runIDs[2]+" 2026-11-03" {
				t.Errorf("first seen: %v (runs %v)", seen, runIDs)
			}

			// A run that fails resolves nothing.
			now = t0.Add(3 * day)
			if _, err := s.inv.Exec("ALTER TABLE invoices RENAME COLUMN amount TO total"); err != nil {
				t.Fatal(err)
			}
			run, _, err := r.Run(ctx, s.cfg.Reconciliations)
			if err != nil || run.Results[0].Error == nil || *run.Results[0].ErrorClass != runner.ClassSchema {
				t.Fatalf("a run without the amount column: %+v, %v", run.Results[0], err)
			}
			if _, err := s.inv.Exec("ALTER TABLE invoices RENAME COLUMN total TO amount"); err != nil {
				t.Fatal(err)
			}
			step(t0.Add(4*day), want{resolved: 2}) // repaired

			st, err := status.Compute(ctx, s.cfg, store, t0.Add(4*day+time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			rec := st.Reconciliations[0]
			// 1 open from day 0 to 2, 2 from day 0 to 4, 3 from day 2 to 4.
			if rec.Resolved30d != 3 || rec.MTTRSeconds == nil || *rec.MTTRSeconds != (8*day/3).Seconds() {
				t.Errorf("resolved %d, MTTR %v s; want 3 and %v s", rec.Resolved30d, deref(rec.MTTRSeconds), (8 * day / 3).Seconds())
			}
			var statuses []string
			for _, run := range rec.Trend {
				statuses = append(statuses, run.Status)
			}
			if !slices.Equal(statuses, []string{"ok", "error", "ok", "ok", "ok"}) || rec.OpenExceptions != 0 || rec.LastRun.Trigger != "schedule" {
				t.Errorf("trend %v, open %d, last run %+v", statuses, rec.OpenExceptions, rec.LastRun)
			}
			if *rec.Trend[1].ErrorClass != runner.ClassSchema || !strings.Contains(*rec.Trend[1].Error, "amount") {
				t.Errorf("the failed run: %+v", rec.Trend[1])
			}
		})
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// With settle: 10m, a record modified on either side within ten minutes
// before the run is in flight: counted as settling, not flagged. One
// modified earlier is flagged.
func TestSettleLeavesOutRecordsInFlight(t *testing.T) {
	s := newScenario(t, "recon-state.db", "    settle: 10m\n")
	now := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	recent, old := now.Add(-3*time.Minute).Format(time.RFC3339), now.Add(-11*time.Minute).Format(time.RFC3339)
	for _, q := range []struct {
		db   *sql.DB
		stmt string
		args []any
	}{
		{s.inv, "UPDATE invoices SET amount = '1.00', updated_at = ? WHERE id = 1", []any{recent}}, // changed in billing just now
		{s.crm, "UPDATE deals SET amount = '2.00', updated_at = ? WHERE id = 2", []any{recent}},    // changed in the CRM just now
		{s.crm, "INSERT INTO deals VALUES (21, '5.00', ?)", []any{recent}},                         // created just now, not synced yet
		{s.inv, "UPDATE invoices SET amount = '3.00', updated_at = ? WHERE id = 3", []any{old}},    // drift from before the window
		{s.crm, "INSERT INTO deals VALUES (22, '5.00', ?)", []any{old}},                            // missing since before it
	} {
		if _, err := q.db.Exec(q.stmt, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	r := &runner.Runner{Config: s.cfg, Out: filepath.Join(s.dir, "reports"), Now: func() time.Time { return now }}
	run, dir, err := r.Run(context.Background(), s.cfg.Reconciliations)
	if err != nil {
		t.Fatal(err)
	}
	res := run.Results[0]
	if res.Error != nil {
		t.Fatal(*res.Error)
	}
	rows, err := reporttest.ReadExceptions(filepath.Join(dir, "exceptions.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, row := range rows {
		got = append(got, row.Kind+" "+*row.RecordKey)
	}
	slices.Sort(got)
	if want := []string{"field_mismatch 3", "missing_in_target 22", "timestamp_misaligned 3"}; !slices.Equal(got, want) || res.Settling != 3 {
		t.Errorf("exceptions %v, settling %d; want %v and 3", got, res.Settling, want)
	}
}

// A run expects as many rows as the last run read, for its progress's
// ETA; the first run expects none.
func TestProgressExpectsTheLastRunsRows(t *testing.T) {
	for kind, dsn := range stateStores(t) {
		t.Run(kind, func(t *testing.T) {
			s := newScenario(t, dsn, "")
			ctx := context.Background()
			store, err := state.Open(ctx, s.cfg.State, "", s.cfg.StateName)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			var expected [][2]int64
			r := &runner.Runner{Config: s.cfg, State: store, Out: filepath.Join(s.dir, "reports"),
				Progress: func(_ string, p *reconcile.Progress) func() {
					expected = append(expected, [2]int64{p.ExpectSourceRows, p.ExpectTargetRows})
					return func() {}
				}}
			if _, err := s.inv.Exec("DELETE FROM invoices WHERE id > 15"); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if _, _, err := r.Run(ctx, s.cfg.Reconciliations); err != nil {
					t.Fatal(err)
				}
			}
			if want := [][2]int64{{0, 0}, {20, 15}}; !slices.Equal(expected, want) {
				t.Errorf("expected rows %v, want %v", expected, want)
			}
			// Each run records how it compared and how long that took, which
			// mode: auto weighs.
			runs, err := store.Successes(ctx, s.cfg.Reconciliations[0].Spec.Name, config.AutoWindow)
			if err != nil || len(runs) != 2 {
				t.Fatalf("%d runs, %v", len(runs), err)
			}
			for _, run := range runs {
				if run.Mode == nil || *run.Mode != "rows" || run.DurationSeconds == nil || *run.DurationSeconds <= 0 {
					t.Errorf("run %s recorded mode %v, duration %v", run.RunID, run.Mode, run.DurationSeconds)
				}
			}
		})
	}
}

// In checksum mode the progress shows the levels the databases sum, and
// once they are done, the rows of the differing segments read; the
// segments it counts are those the summary reports.
func TestProgressOfChecksumMode(t *testing.T) {
	dsn := dbtest.Postgres(t)
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{
		"CREATE TABLE deals (id bigint PRIMARY KEY, amount numeric(12,2))",
		"INSERT INTO deals SELECT g, 100 FROM generate_series(1, 4000) g",
		"CREATE TABLE invoices AS SELECT * FROM deals",
		"ALTER TABLE invoices ADD PRIMARY KEY (id)",
		"UPDATE invoices SET amount = 99 WHERE id IN (17, 2500)",
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "recon.yaml")
	if err := os.WriteFile(path, []byte(`version: 1
systems:
  crm: {driver: postgres, dsn: "`+dsn+`"}
reconciliations:
  - name: deals
    mode: checksum
    checksum: {segments: 8, leaf_rows: 64}
    source: {system: crm, table: deals}
    target: {system: crm, table: invoices}
    key: [{source: id, type: int}]
    fields: [{name: amount, type: decimal}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var progress *reconcile.Progress
	r := &runner.Runner{Config: cfg, Out: filepath.Join(dir, "reports"),
		Progress: func(_ string, p *reconcile.Progress) func() {
			progress = p
			return func() {}
		}}
	run, _, err := r.Run(context.Background(), cfg.Reconciliations)
	if err != nil {
		t.Fatal(err)
	}
	res := run.Results[0]
	if res.Mode != "checksum" || res.Checksum == nil || res.Checksum.Levels < 2 {
		t.Fatalf("mode %q, checksum figures %+v: want a checksum run of two levels or more", res.Mode, res.Checksum)
	}
	if got := progress.SegmentsCompared.Load(); got != res.Checksum.SegmentsChecksummed {
		t.Errorf("progress counted %d segments compared, the summary %d", got, res.Checksum.SegmentsChecksummed)
	}
	if level := progress.ChecksumLevel.Load(); level != 0 {
		t.Errorf("checksum level %d after the run, want 0 (the rows were read)", level)
	}
	if got, want := progress.SourceRows.Load(), res.SourceRowsRead; got != want || got == 0 || got >= 4000 {
		t.Errorf("progress read %d source rows, the summary %d: want the differing segments' alone", got, want)
	}
}

// A run stopped mid-reconciliation is recorded as cancelled, not as the
// connection the stop cut (which the history, recon status and alerts
// would otherwise show as a connectivity failure).
func TestCancelledRunRecordedAsCancelled(t *testing.T) {
	// deals_first ends before the run is stopped; it leaves no report
	// either.
	s := newScenario(t, "recon-state.db", `  - name: deals_first
    source: {system: crm, table: deals}
    target: {system: billing, table: invoices}
    key: [{source: id, type: int}]
    fields: [{name: amount, type: decimal}]
`)
	s.cfg.Reconciliations[0], s.cfg.Reconciliations[1] = s.cfg.Reconciliations[1], s.cfg.Reconciliations[0]
	store, err := state.Open(context.Background(), s.cfg.State, "", s.cfg.StateName)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	stop := errors.New("terminated signal received")
	r := &runner.Runner{Config: s.cfg, State: store, Out: filepath.Join(s.dir, "reports"),
		Progress: func(name string, _ *reconcile.Progress) func() {
			if name == "deals" {
				cancel(stop) // as the reconciliation starts to read
			}
			return func() {}
		}}
	if _, _, err := r.Run(ctx, s.cfg.Reconciliations); !errors.Is(err, runner.ErrCancelled) || !errors.Is(err, stop) {
		t.Fatalf("Run = %v, want ErrCancelled with its cause", err)
	}
	for _, name := range []string{"deals_first", "deals"} {
		runs, err := store.Runs(context.Background(), name, time.Time{}, 1)
		if err != nil || len(runs) != 1 {
			t.Fatalf("%s: %d runs in the history, %v", name, len(runs), err)
		}
		if c, e := runs[0].ErrorClass, runs[0].Error; c == nil || *c != runner.ClassCancelled || e == nil || !strings.Contains(*e, stop.Error()) {
			t.Errorf("%s: the history has error class %v, error %v; want %q and the cause", name, deref(c), deref(e), runner.ClassCancelled)
		}
	}
}

// A run whose report cannot be written is no success in the history
// either: recon status and the dead man's switch would otherwise say all
// is well while no report exists.
func TestRunWithoutReportRecordedAsFailed(t *testing.T) {
	s := newScenario(t, "recon-state.db", "")
	s.drift(t, 3)
	store, err := state.Open(context.Background(), s.cfg.State, "", s.cfg.StateName)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	out := filepath.Join(s.dir, "reports")
	r := &runner.Runner{Config: s.cfg, State: store, Out: out,
		Progress: func(string, *reconcile.Progress) func() {
			// The report being written vanishes, as on a disk that fails.
			partial, _ := filepath.Glob(filepath.Join(out, ".*"))
			for _, p := range partial {
				if !strings.HasSuffix(p, ".lock") {
					os.RemoveAll(p)
				}
			}
			return func() {}
		}}
	if _, _, err := r.Run(context.Background(), s.cfg.Reconciliations); err == nil {
		t.Fatal("Run wrote no report and said nothing")
	}
	runs, err := store.Runs(context.Background(), "deals", time.Time{}, 1)
	if err != nil || len(runs) != 1 {
		t.Fatalf("%d runs in the history, %v", len(runs), err)
	}
	if h := runs[0]; h.Status != "error" || h.Error == nil || !strings.Contains(*h.Error, "report could not be written") || h.ErrorClass == nil {
		t.Errorf("the history has status %s, error %v, class %v; want an error without a report", h.Status, deref(h.Error), deref(h.ErrorClass))
	}
	if last, err := store.LastSuccess(context.Background(), "deals"); err != nil || last != nil {
		t.Errorf("last success %+v (%v), want none", last, err)
	}
}

// A reconciliation whose timeout ends while it connects leaves the
// system to the next one, which connects anew rather than inherit the
// timeout as the system's failure.
func TestTimeoutDoesNotFailTheSystemForOthers(t *testing.T) {
	s := newScenario(t, "recon-state.db", `    timeout: 1ns
  - name: deals_again
    source: {system: crm, table: deals}
    target: {system: billing, table: invoices}
    key: [{source: id, type: int}]
    fields: [{name: amount, type: decimal}]
`)
	store, err := state.Open(context.Background(), s.cfg.State, "", s.cfg.StateName)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	r := &runner.Runner{Config: s.cfg, State: store, Out: filepath.Join(s.dir, "reports")}
	run, _, err := r.Run(context.Background(), s.cfg.Reconciliations)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Results) != 2 || run.Results[0].Error == nil {
		t.Fatalf("results %+v: want the first to time out", run.Results)
	}
	if e := run.Results[1].Error; e != nil {
		t.Errorf("the second reconciliation failed with the first's timeout: %s", *e)
	}
}
