package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/recon-dev/recon/internal/drift"
	"github.com/recon-dev/recon/internal/reporttest"
)

// TestPartitionsMergeIntoTheSingleRun runs one reconciliation twice, once
// whole and once as four partial runs merged with recon merge, each with
// its own state, and checks that the two runs are one: the same
// exceptions in the same order, the same figures, the same repair plans
// and review rows, the same exit code.
func TestPartitionsMergeIntoTheSingleRun(t *testing.T) {
	t.Run("repairs_postgres_to_mysql", func(t *testing.T) {
		pair := plantRepairs(t, [2]string{"postgres", "mysql"})
		config := drift.RepairConfig(drift.System{Driver: "postgres", DSN: "${CRM_DSN}"}, drift.System{Driver: "mysql", DSN: "${MIRROR_DSN}"}, "both")
		env := map[string]string{"CRM_DSN": pair.crm.dsn, "MIRROR_DSN": pair.mirror.dsn}
		single, merged, logs := runWholeAndPartitioned(t, t.TempDir(), env, config, nil, 4)
		sameRuns(t, single, merged)
		// The CRM's integer id is read partition by partition in the
		// database; the mirror's crm_id is text ("042" is 42), so the
		// mirror is read whole and recon keeps each partition's keys.
		for side, want := range map[string]int{`"side":"source"`: 4, `"side":"target"`: 0} {
			if n := strings.Count(logs, side+`,"partition"`); n != want {
				t.Errorf("the %s was read by partition in the database %d times, want %d\n%s", side, n, want, logs)
			}
		}
	})
	t.Run("text_keys_postgres_vs_mysql", func(t *testing.T) {
		// Text keys that collations, numbers and Unicode make alike or
		// apart, and an ENUM whose labels are numbers: both databases
		// send only about each partition's rows.
		dbs := [2]database{openDatabase(t, "postgres"), openDatabase(t, "mysql")}
		keys := []string{"'42'", "'-7'", "'042'", "'0'", "''", "' '", "'abc'", "'ABC'", "'Zo\u00eb'", "'Zoe\u0308'", "'9223372036854775808'", "'a b'", "'e\U0001F600'"}
		for i := range 120 {
			keys = append(keys, fmt.Sprintf("'K%03d'", i))
		}
		labels := []string{"'42'", "'-7'", "'5'", "'x'", "'0'"}
		for i, d := range dbs {
			var rows []string
			for j, k := range keys {
				switch {
				case i == 0 && j%17 == 3, i == 1 && j%19 == 5: // missing on the other side
					continue
				}
				amount := fmt.Sprint(10 + j)
				if i == 1 && j%13 == 4 {
					amount = "99"
				}
				rows = append(rows, fmt.Sprintf("(%s, %s)", k, amount))
			}
			label := "VARCHAR(10)"
			if d.dialect == "mysql" {
				label = "ENUM(" + strings.Join(labels, ", ") + ")"
			}
			var labelled []string
			for j, l := range labels[:4] {
				labelled = append(labelled, fmt.Sprintf("(%s, %d)", l, j+i*(j%2)))
			}
			execAll(t, d, "CREATE TABLE accounts (code VARCHAR(40), amount DECIMAL(10,2))",
				"INSERT INTO accounts (code, amount) VALUES "+strings.Join(rows, ", ")+", (NULL, 1)",
				"CREATE TABLE labels (label "+label+", amount DECIMAL(10,2))",
				"INSERT INTO labels (label, amount) VALUES "+strings.Join(labelled, ", "))
		}
		config := `version: 1
systems:
  a: {driver: postgres, dsn: "${SRC_DSN}"}
  b: {driver: mysql, dsn: "${TGT_DSN}"}
reconciliations:
  - name: by_code
    source: {system: a, table: accounts}
    target: {system: b, table: accounts}
    key: [{source: code, target: code}]
    fields: [{name: amount, type: decimal}]
  - name: by_label
    source: {system: a, table: labels}
    target: {system: b, table: labels}
    key: [{source: label, target: label}]
    fields: [{name: amount, type: decimal}]
`
		// A session whose text is utf8mb3 sends an emoji as '?': MySQL
		// then reads whole and recon keeps the partition's.
		sep := "?"
		if strings.Contains(dbs[1].dsn, "?") {
			sep = "&"
		}
		for _, c := range []struct {
			dsn        string
			pushedDown int
		}{{dbs[1].dsn, 8}, {dbs[1].dsn + sep + "charset=utf8mb3", 0}} {
			env := map[string]string{"SRC_DSN": dbs[0].dsn, "TGT_DSN": c.dsn}
			single, merged, logs := runWholeAndPartitioned(t, t.TempDir(), env, config, nil, 4)
			sameRuns(t, single, merged)
			for side, want := range map[string]int{`"side":"source"`: 8, `"side":"target"`: c.pushedDown} {
				if n := strings.Count(logs, side+`,"partition"`); n != want {
					t.Errorf("the %s was read by partition in the database %d times, want %d\n%s", side, n, want, logs)
				}
			}
		}
	})
	t.Run("checksum_postgres_vs_mysql", func(t *testing.T) {
		// Checksum mode in each partition: the databases checksum only
		// the partition's integer keys.
		dbs := [2]database{openDatabase(t, "postgres"), openDatabase(t, "mysql")}
		for i, d := range dbs {
			var rows []string
			for id := -40; id < 600; id++ {
				if i == 0 && id%97 == 11 || i == 1 && id%89 == 7 { // missing on the other side
					continue
				}
				amount := fmt.Sprint(10 + id%50)
				if i == 1 && id%71 == 13 {
					amount = "99.5"
				}
				rows = append(rows, fmt.Sprintf("(%d, %s, '2026-11-%02d 10:00:00')", id, amount, 1+(id+40)%28))
			}
			// sparse: one key far beyond the others, so that segments
			// are hashes rather than key ranges.
			execAll(t, d, "CREATE TABLE accounts (id BIGINT PRIMARY KEY, amount DECIMAL(10,2), updated_at TIMESTAMP NULL)",
				"INSERT INTO accounts (id, amount, updated_at) VALUES "+strings.Join(rows, ", "),
				"CREATE TABLE sparse AS SELECT * FROM accounts",
				"INSERT INTO sparse (id, amount, updated_at) VALUES (1000000000000000, 1, NULL)")
		}
		config := `version: 1
systems:
  a: {driver: postgres, dsn: "${SRC_DSN}"}
  b: {driver: mysql, dsn: "${TGT_DSN}"}
reconciliations:
  - name: by_id
    mode: checksum
    checksum: {leaf_rows: 8}
    source: {system: a, table: accounts}
    target: {system: b, table: accounts}
    key: [{source: id, target: id, type: int}]
    fields: [{name: amount, type: decimal}]
    timestamp: {source: updated_at, target: updated_at}
  - name: sparse
    mode: checksum
    checksum: {leaf_rows: 8}
    source: {system: a, table: sparse}
    target: {system: b, table: sparse}
    key: [{source: id, target: id, type: int}]
    fields: [{name: amount, type: decimal}]
`
		env := map[string]string{"SRC_DSN": dbs[0].dsn, "TGT_DSN": dbs[1].dsn}
		single, merged, logs := runWholeAndPartitioned(t, t.TempDir(), env, config, nil, 3)
		sameRuns(t, single, merged)
		if strings.Contains(logs, "checksum mode is not possible") {
			t.Errorf("a partition compared every row:\n%s", logs)
		}
		for _, dir := range []string{single, merged} {
			for _, r := range checksumFigures(t, dir) {
				c, _ := r["checksum"].(map[string]any)
				if r["mode"] != "checksum" || c == nil || c["rows_in_agreement"].(float64) == 0 || c["segments_read"].(float64) == 0 {
					t.Errorf("%s, %s: mode %v, checksum figures %v", dir, r["name"], r["mode"], c)
				}
			}
		}
	})
	t.Run("demo_sqlite", func(t *testing.T) {
		dir := demoConfig(t)
		if err := drift.PlantCRM(context.Background(), dir); err != nil {
			t.Fatal(err)
		}
		config, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo", "recon.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		// Everything but the contacts, whose match tiers pair records
		// across partitions: one to many, counts per day, money.
		only := []string{"--only", "opportunities_vs_invoices,accounts_vs_customers,deals_vs_invoices,leads_daily"}
		single, merged, _ := runWholeAndPartitioned(t, dir, nil, string(config), only, 3)
		sameRuns(t, single, merged)
		code, _, stderr := runRecon(t, nil, "run", "--config", filepath.Join(dir, "whole.yaml"), "--out", t.TempDir(), "--partition", "0/2")
		if code != exitError || !strings.Contains(stderr, "contacts_vs_hubspot: match tiers") || !strings.Contains(stderr, "--only") {
			t.Errorf("a partitioned run of match tiers: exit %d\n%s", code, stderr)
		}
	})
}

// runWholeAndPartitioned runs config (written in dir) whole and in count
// partitions merged, each with a state of its own, and returns the two
// run directories and the partial runs' debug logs.
func runWholeAndPartitioned(t *testing.T, dir string, env map[string]string, config string, args []string, count int) (single, merged, logs string) {
	t.Helper()
	paths := map[string]string{}
	for _, name := range []string{"whole", "parts"} {
		paths[name] = writeFile(t, dir, name+".yaml", config+"\nstate: "+name+"-state.db\n")
	}
	out := t.TempDir()
	code, stdout, stderr := runRecon(t, env, append([]string{"run", "--config", paths["whole"], "--out", filepath.Join(out, "whole")}, args...)...)
	if code == exitError {
		t.Fatalf("recon run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	wantCode := code
	var partials []string
	for i := count - 1; i >= 0; i-- { // any order
		partOut := filepath.Join(out, fmt.Sprint("part", i))
		code, stdout, stderr := runRecon(t, env, append([]string{"run", "--config", paths["parts"], "--out", partOut, "--partition", fmt.Sprintf("%d/%d", i, count),
			"--log-level", "debug", "--log-format", "json"}, args...)...)
		logs += stderr
		if code != exitOK {
			t.Fatalf("recon run --partition %d/%d: exit %d\n%s\n%s", i, count, code, stdout, stderr)
		}
		partials = append(partials, onlyRunDir(t, partOut))
		page, err := os.ReadFile(filepath.Join(partials[len(partials)-1], "report.md"))
		if err != nil || !strings.Contains(string(page), fmt.Sprintf("Partition %d/%d of a partitioned run", i, count)) {
			t.Errorf("partition %d's report.md does not say it is one: %v", i, err)
		}
	}
	// Partial runs leave the history and the lifecycle to the merge.
	state, err := sql.Open("sqlite", filepath.Join(dir, "parts-state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer state.Close()
	for _, table := range []string{"recon_runs", "recon_open_exceptions"} {
		var n int
		if err := state.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil || n != 0 {
			t.Errorf("after the partial runs, %s has %d rows (%v), want none", table, n, err)
		}
	}
	mergeArgs := []string{"merge", "--config", paths["parts"], "--out", filepath.Join(out, "merged")}
	code, stdout, stderr = runRecon(t, env, append(mergeArgs, partials[1:]...)...)
	if code != exitError || !strings.Contains(stderr, fmt.Sprintf("partition %d/%d is missing", count-1, count)) {
		t.Errorf("merge without one partition: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr = runRecon(t, env, append(mergeArgs, append(partials, partials[0])...)...)
	if code != exitError || !strings.Contains(stderr, "is given twice") {
		t.Errorf("merge with a partition twice: exit %d\n%s", code, stderr)
	}
	// A partial file cut short (its worker killed while writing it) or
	// missing is refused before the merge writes anything.
	for _, damage := range []string{"cut short", "missing"} {
		broken := filepath.Join(t.TempDir(), "broken")
		if err := os.CopyFS(broken, os.DirFS(partials[0])); err != nil {
			t.Fatal(err)
		}
		files, err := filepath.Glob(filepath.Join(broken, "partials", "*.partial"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no partial files in %s: %v", partials[0], err)
		}
		if info, err := os.Stat(files[0]); err != nil {
			t.Fatal(err)
		} else if damage == "missing" {
			err = os.Remove(files[0])
		} else {
			err = os.Truncate(files[0], info.Size()/2)
		}
		if err != nil {
			t.Fatal(err)
		}
		refused := filepath.Join(out, "refused")
		code, _, stderr = runRecon(t, env, append([]string{"merge", "--config", paths["parts"], "--out", refused, broken}, partials[1:]...)...)
		var runs []string
		entries, _ := os.ReadDir(refused)
		for _, e := range entries {
			if e.IsDir() {
				runs = append(runs, e.Name())
			}
		}
		if code != exitError || !strings.Contains(stderr, "run partition") || len(runs) > 0 {
			t.Errorf("merge with a partial file %s: exit %d, runs written %v\n%s", damage, code, runs, stderr)
		}
	}
	code, stdout, stderr = runRecon(t, env, append(mergeArgs, partials...)...)
	if code != wantCode {
		t.Fatalf("recon merge: exit %d, want the single run's %d\n%s\n%s", code, wantCode, stdout, stderr)
	}
	single, merged = onlyRunDir(t, filepath.Join(out, "whole")), onlyRunDir(t, filepath.Join(out, "merged"))
	// Each partition compared its share: the shares add up to the whole,
	// and more than one partition had one.
	whole, err := reporttest.ReadSummary(single)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range whole.Reconciliations {
		var sum, sharing float64
		for _, dir := range partials {
			s, err := reporttest.ReadSummary(dir)
			if err != nil {
				t.Fatal(err)
			}
			n := s.Reconciliations[i]["source_count"].(float64)
			if sum += n; n > 0 {
				sharing++
			}
		}
		if want := r["source_count"].(float64); sum != want || (sharing < 2 && r["periods"] == nil) {
			t.Errorf("%s: partitions' source counts add up to %v (%v partitions had records), want %v", r["name"], sum, sharing, want)
		}
	}
	return single, merged, logs
}

// sameRuns checks that two run directories hold the same run, but for
// the run's id and times and the reading costs.
func sameRuns(t *testing.T, single, merged string) {
	t.Helper()
	sameExceptions(t, single, merged)
	figures := func(dir string) string {
		s, err := reporttest.ReadSummary(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range s.Reconciliations {
			for _, k := range []string{"duration_seconds", "source_rows_read", "target_rows_read"} {
				if _, ok := r[k]; !ok {
					t.Fatalf("summary.json lacks %s", k)
				}
				delete(r, k)
			}
			// How many segments checksum mode compared depends on
			// how the keys were split; what it found does not.
			delete(r, "checksum")
			if rp, ok := r["repairs"].(map[string]any); ok {
				for _, p := range rp["plans"].([]any) {
					delete(p.(map[string]any), "sql_sha256") // the plan's header names its run
				}
			}
		}
		b, _ := json.MarshalIndent(s.Reconciliations, "", " ")
		return string(b)
	}
	if fa, fb := figures(single), figures(merged); fa != fb {
		t.Errorf("figures differ\nsingle: %s\nmerged: %s", fa, fb)
	}
	files := func(dir string) map[string]string {
		id := filepath.Base(dir)
		out := map[string]string{}
		filepath.WalkDir(filepath.Join(dir, "repairs"), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, path)
			if strings.HasSuffix(path, ".parquet") {
				rs, err := reporttest.ReadRows(path)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rs {
					delete(r, "run_id")
				}
				b, _ := json.Marshal(rs)
				out[rel] = string(b)
				return nil
			}
			b, err := os.ReadFile(path)
			out[rel] = strings.ReplaceAll(string(b), id, "RUN")
			return err
		})
		return out
	}
	if fa, fb := files(single), files(merged); !reflect.DeepEqual(fa, fb) {
		for name := range fa {
			if fa[name] != fb[name] {
				t.Errorf("repairs/%s differs\nsingle:\n%s\nmerged:\n%s", name, fa[name], fb[name])
			}
		}
		if len(fa) != len(fb) {
			t.Errorf("repair files: %d single, %d merged", len(fa), len(fb))
		}
	}
}
