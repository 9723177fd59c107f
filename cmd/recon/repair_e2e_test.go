package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/recon-dev/recon/internal/apply"
	"github.com/recon-dev/recon/internal/dbtest"
	"github.com/recon-dev/recon/internal/drift"
	"github.com/recon-dev/recon/internal/reporttest"
	"github.com/recon-dev/recon/reports"
	"github.com/recon-dev/recon/reports/repairs"
)

// repairPair is the CRM and the mirror of one planted repair scenario.
type repairPair struct{ crm, mirror database }

func plantRepairs(t *testing.T, kinds [2]string) repairPair {
	t.Helper()
	p := repairPair{openDatabase(t, kinds[0]), openDatabase(t, kinds[1])}
	src, tgt := sqlDB(t, p.crm), sqlDB(t, p.mirror)
	if err := drift.PlantRepairs(context.Background(), src, p.crm.dialect, tgt, p.mirror.dialect, 40); err != nil {
		t.Fatal(err)
	}
	return p
}

func sqlDB(t *testing.T, d database) *sql.DB {
	t.Helper()
	db, err := sql.Open(d.driver, d.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// runBinary runs the recon binary with the pair's DSNs in the environment.
func (p repairPair) runBinary(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(reconBinary(t), args...)
	cmd.Env = append(os.Environ(), "CRM_DSN="+p.crm.dsn, "MIRROR_DSN="+p.mirror.dsn)
	out, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// dump reads both tables whole: "<table> <key>" → column → value (nil for NULL).
func (p repairPair) dump(t *testing.T) map[string]map[string]*string {
	t.Helper()
	out := map[string]map[string]*string{}
	for _, s := range []struct {
		db         database
		table, key string
	}{{p.crm, "crm_accounts", "id"}, {p.mirror, "mirror_accounts", "crm_id"}} {
		rows, err := sqlDB(t, s.db).Query("SELECT * FROM " + s.table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			row := map[string]*string{}
			for i, c := range cols {
				if vals[i].Valid {
					row[c] = &vals[i].String
				}
			}
			out[s.table+" "+*row[s.key]] = row
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

// changes lists what differs from before to after: "<key> <table>.<column>",
// "<key> <table>.+" for a new row and "<key> <table>.-" for a row gone.
func changes(before, after map[string]map[string]*string) []string {
	var out []string
	for k, a := range after {
		table, key, _ := strings.Cut(k, " ")
		b, ok := before[k]
		if !ok {
			out = append(out, key+" "+table+".+")
			continue
		}
		for c := range a {
			if (a[c] == nil) != (b[c] == nil) || (a[c] != nil && *a[c] != *b[c]) {
				out = append(out, key+" "+table+"."+c)
			}
		}
		for c := range b {
			if _, ok := a[c]; !ok {
				out = append(out, key+" "+table+"."+c)
			}
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			table, key, _ := strings.Cut(k, " ")
			out = append(out, key+" "+table+".-")
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func exceptionSet(t *testing.T, dir string) []string {
	t.Helper()
	rows, err := reporttest.ReadExceptions(filepath.Join(dir, "exceptions.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.String())
	}
	slices.Sort(got)
	return got
}

// TestRepairsEndToEnd plants the repair scenario into real databases for
// every pair of engines and every direction, runs recon, lets a person
// change a row of each side after the snapshot, applies the plans with
// recon apply on one copy and with the database's own client (twice) on
// another, and checks: exactly the planned cells and rows change, nothing
// is deleted or overwritten, a second apply changes nothing, the two
// copies end up identical, and a new run finds only what the direction
// leaves.
func TestRepairsEndToEnd(t *testing.T) {
	cases := drift.RepairCases()
	for _, kinds := range [][2]string{{"postgres", "mysql"}, {"mysql", "postgres"}, {"sqlite", "sqlite"}, {"mysql", "pgx"}} {
		for _, direction := range drift.Directions {
			t.Run(kinds[0]+"_to_"+kinds[1]+"/"+direction, func(t *testing.T) {
				viaRecon, viaClient := plantRepairs(t, kinds), plantRepairs(t, kinds)
				cfg := filepath.Join(t.TempDir(), "recon.yaml")
				writeFile(t, filepath.Dir(cfg), "recon.yaml", drift.RepairConfig(drift.System{Driver: kinds[0], DSN: "${CRM_DSN}"},
					drift.System{Driver: kinds[1], DSN: "${MIRROR_DSN}"}, direction))
				out := t.TempDir()
				if code, output := viaRecon.runBinary(t, "run", "--config", cfg, "--out", out); code != exitOK {
					t.Fatalf("recon run: exit %d\n%s", code, output)
				}
				runDir := onlyRunDir(t, out)
				var want []string
				for _, c := range cases {
					want = append(want, c.Before...)
				}
				slices.Sort(want)
				if got := exceptionSet(t, runDir); !slices.Equal(got, want) {
					t.Fatalf("first run\nmissed: %v\nfalse alarms: %v", minus(want, got), minus(got, want))
				}
				checkReview(t, runDir)

				for _, p := range []repairPair{viaRecon, viaClient} {
					if err := drift.ChangeConcurrently(context.Background(), sqlDB(t, p.crm), p.crm.dialect, sqlDB(t, p.mirror), p.mirror.dialect); err != nil {
						t.Fatal(err)
					}
				}
				before := viaRecon.dump(t)
				code, output := viaRecon.runBinary(t, "apply", "--config", cfg, "--run", runDir)
				if code != exitOK || !strings.Contains(output, "Dry run") {
					t.Fatalf("recon apply (dry run): exit %d\n%s", code, output)
				}
				if got := changes(before, viaRecon.dump(t)); len(got) > 0 {
					t.Fatalf("a dry run changed %v", got)
				}
				if code, output := viaRecon.runBinary(t, "apply", "--config", cfg, "--run", runDir, "--execute"); code != exitOK {
					t.Fatalf("recon apply --execute: exit %d\n%s", code, output)
				}
				after := viaRecon.dump(t)
				var wantChanges []string
				for _, c := range cases {
					for _, w := range c.Writes[direction] {
						wantChanges = append(wantChanges, fmt.Sprint(c.ID, " ", w))
					}
				}
				slices.Sort(wantChanges)
				got := changes(before, after)
				if !slices.Equal(got, wantChanges) {
					t.Errorf("apply changed\n%v\nwant\n%v\nunexpected: %v\nmissing: %v", got, wantChanges, minus(got, wantChanges), minus(wantChanges, got))
				}
				if a, b := after["mirror_accounts "+fmt.Sprint(drift.ConcurrentID)]["name"], after["crm_accounts "+fmt.Sprint(drift.ConcurrentID)]["lead_score"]; a == nil || *a != drift.ConcurrentName || b == nil || *b != fmt.Sprint(drift.ConcurrentScore) {
					t.Errorf("a person's change after the run was overwritten: name %v, lead_score %v", a, b)
				}
				checkJournal(t, runDir, wantChanges)

				code, output = viaRecon.runBinary(t, "apply", "--config", cfg, "--run", runDir, "--execute")
				if code != exitOK || !strings.Contains(output, "already applied") {
					t.Errorf("second recon apply --execute: exit %d\n%s", code, output)
				}
				rerunStatements(t, viaRecon, runDir)
				if got := changes(after, viaRecon.dump(t)); len(got) > 0 {
					t.Errorf("applying again changed %v", got)
				}

				run, err := reports.ReadRun(runDir)
				if err != nil {
					t.Fatal(err)
				}
				for range 2 {
					for _, p := range run.Results[0].Repairs.Plans {
						script, err := os.ReadFile(filepath.Join(runDir, p.Files["sql"]))
						if err != nil {
							t.Fatal(err)
						}
						db := map[string]database{"source": viaClient.crm, "target": viaClient.mirror}[p.Side]
						dbtest.RunClient(t, db.driver, db.dsn, string(script))
					}
				}
				if diff := changes(after, viaClient.dump(t)); len(diff) > 0 {
					t.Errorf("the plans applied twice with the database's client differ from recon apply's result: %v", diff)
				}

				out2 := t.TempDir()
				if code, output := viaRecon.runBinary(t, "run", "--config", cfg, "--out", out2); code != exitOK {
					t.Fatalf("second recon run: exit %d\n%s", code, output)
				}
				want = nil
				for _, c := range cases {
					want = append(want, c.After[direction]...)
				}
				slices.Sort(want)
				if got := exceptionSet(t, onlyRunDir(t, out2)); !slices.Equal(got, want) {
					t.Errorf("after apply\nleft, but should be repaired: %v\nnew: %v", minus(got, want), minus(want, got))
				}
			})
		}
	}
}

// checkReview checks review.parquet: what a person must decide, and only that.
func checkReview(t *testing.T, runDir string) {
	t.Helper()
	rows, err := reporttest.ReadRows(filepath.Join(runDir, "repairs", repairs.ReviewFile))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%v %v %v", r["record_key"], r["kind"], r["field"]))
	}
	slices.Sort(got)
	want := []string{"900005 field_mismatch phone", "900006 field_mismatch stage", "900015 duplicate_key <nil>", "900016 invalid_record close_date"}
	if !slices.Equal(got, want) {
		t.Errorf("review.parquet: %v, want %v", got, want)
	}
}

// checkJournal checks the rows apply says it changed against the cells
// that did change.
func checkJournal(t *testing.T, runDir string, changed []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runDir, "repairs", apply.JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	var j apply.Journal
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[repairs.Kind]int64{}
	updated := map[string]bool{}
	for _, c := range changed {
		key, cell, _ := strings.Cut(c, " ")
		table, col, _ := strings.Cut(cell, ".")
		side := map[string]string{"crm_accounts": "source", "mirror_accounts": "target"}[table]
		if want[side] == nil {
			want[side] = map[repairs.Kind]int64{}
		}
		switch {
		case col == "+":
			want[side][repairs.Insert]++
		case col == "is_deleted":
			want[side][repairs.SoftDeleted]++
		case !updated[key+table]:
			updated[key+table] = true
			want[side][repairs.Update]++
		}
	}
	run, err := reports.ReadRun(runDir)
	if err != nil {
		t.Fatal(err)
	}
	sides := map[string]string{}
	for _, p := range run.Results[0].Repairs.Plans {
		sides[p.Files["sql"]] = p.Side
	}
	got := map[string]map[repairs.Kind]int64{}
	for file, e := range j.Plans {
		side := sides[file]
		if !e.Done() || e.Committed != e.Batches {
			t.Errorf("%s: %d of %d batches committed", file, e.Committed, e.Batches)
		}
		got[side] = map[repairs.Kind]int64{}
		for k, n := range e.Rows {
			if n > 0 {
				got[side][k] = n
			}
		}
	}
	for side, w := range want {
		if fmt.Sprint(got[side]) != fmt.Sprint(w) {
			t.Errorf("%s: apply counted %v rows changed, the tables show %v", side, got[side], w)
		}
	}
}

// rerunStatements runs every statement of the run's SQL plans once more,
// straight through database/sql: each must change no row.
func rerunStatements(t *testing.T, p repairPair, runDir string) {
	t.Helper()
	run, err := reports.ReadRun(runDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ps := range run.Results[0].Repairs.Plans {
		d := map[string]database{"source": p.crm, "target": p.mirror}[ps.Side]
		conn, err := sqlDB(t, d).Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(runDir, ps.Files["sql"])
		plan, err := repairs.ScanSQL(path, d.driver, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range plan.Session {
			if _, err := conn.ExecContext(context.Background(), s); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := repairs.ScanSQL(path, d.driver, func(_ int, b repairs.Batch) error {
			for _, s := range b.Statements {
				res, err := conn.ExecContext(context.Background(), s.SQL)
				if err != nil {
					t.Fatalf("line %d: %v", s.Line, err)
				}
				if n, _ := res.RowsAffected(); n != 0 {
					t.Errorf("%s line %d, run again, changed %d rows: %s", ps.Files["sql"], s.Line, n, s.SQL)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
}

// A record missing within its soft-delete grace is one exception: the
// planner's question of when it was first seen names the report's
// identity (no field), not another.
func TestGraceAsksAfterTheReportedException(t *testing.T) {
	dir := demoConfig(t)
	billing, err := sql.Open("sqlite", filepath.Join(dir, "billing.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := billing.Exec("ALTER TABLE customers ADD COLUMN is_deleted TEXT"); err != nil {
		t.Fatal(err)
	}
	billing.Close()
	text, err := os.ReadFile(filepath.Join(dir, "recon.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	config := strings.Replace(string(text), "repair: {direction: both, formats: [sql, csv, salesforce, hubspot]}",
		"repair: {direction: source_to_target, soft_delete: {column: is_deleted, value: true, grace: 30d}}", 1)
	if config == string(text) {
		t.Fatal("the demo config's repair line changed: update this test")
	}
	writeFile(t, dir, "grace.yaml", config)
	if code, stdout, stderr := runRecon(t, nil, "run", "--config", filepath.Join(dir, "grace.yaml"), "--out", t.TempDir()); code > exitBreached {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	st, err := sql.Open("sqlite", filepath.Join(dir, "recon-state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var blank, open, recorded int64
	if err := st.QueryRow("SELECT COUNT(*) FROM recon_open_exceptions WHERE field = ''").Scan(&blank); err != nil || blank != 0 {
		t.Errorf("%d open exceptions with a blank field (%v): a missing record counted twice", blank, err)
	}
	if err := st.QueryRow("SELECT COUNT(*) FROM recon_open_exceptions WHERE reconciliation = 'accounts_vs_customers'").Scan(&open); err != nil {
		t.Fatal(err)
	}
	if err := st.QueryRow("SELECT exceptions_new FROM recon_runs WHERE reconciliation = 'accounts_vs_customers'").Scan(&recorded); err != nil || recorded != open || open == 0 {
		t.Errorf("exceptions_new %d (%v), open exceptions %d: a first run's new exceptions are the open ones", recorded, err, open)
	}
}
