package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/recon-dev/recon/internal/reporttest"
)

// checksumTable is the property test's table per dialect: an integer and
// a text key, and a column of each type checksum mode reads exactly.
var checksumTable = map[string]string{
	"postgres": "CREATE TABLE accounts (id BIGINT, code TEXT, name TEXT, qty INT, amount NUMERIC(14,4), due DATE, seen TIMESTAMP, updated_at TIMESTAMPTZ)",
	"mysql":    "CREATE TABLE accounts (id BIGINT, code VARCHAR(20), name VARCHAR(100), qty INT, amount DECIMAL(14,2), due DATE, seen DATETIME(6), updated_at TIMESTAMP(6) NULL)",
	"sqlite":   "CREATE TABLE accounts (id INTEGER, code TEXT, name TEXT, qty INTEGER, amount TEXT, due TEXT, seen TEXT, updated_at TEXT)",
}

const checksumConfig = `version: 1
state: {state}
systems:
  a: {driver: {src}, dsn: "${SRC_DSN}"}
  b: {driver: {tgt}, dsn: "${TGT_DSN}"}
reconciliations:
  - name: by_id
    mode: {mode}
    checksum: {segments: 8, leaf_rows: 6}
    source: {system: a, table: accounts}
    target: {system: b, table: accounts}
    key: [{source: id, target: id, type: int}]
    fields:
      - {name: code, type: string}
      - {name: name, type: string, null_equals_empty: true}
      - {name: qty, type: int}
      - {name: amount, type: decimal}
      - {name: due, type: date}
      - {name: seen, type: timestamp}
    timestamp: {source: updated_at, target: updated_at, tolerance: 1s}
  - name: by_code
    mode: {mode}
    checksum: {leaf_rows: 2}
    source: {system: a, table: accounts, where: "qty >= 0"}
    target: {system: b, table: accounts, where: "qty >= 0"}
    key: [{source: code, target: code}]
    fields:
      - {name: name, type: string}
      - {name: amount, type: decimal}
    timestamp: {source: updated_at, target: updated_at}
`

// checksumRows draws one side's rows of the property test: a shared base
// with random drift of every kind, keys that repeat identically on both
// sides, NULL keys, text keys that collations call equal; integer keys
// from first on.
func checksumRows(r *rand.Rand, n int, first int64, infinity bool) (src, tgt []string) {
	names := []string{"'Acme'", "'acme'", "'Acme '", "''", "NULL", "'Zoë'", "'Zoe\u0308'", "'O''Brien'"}
	codes := []string{"'A%d'", "'a%d'", "'A%d '", "'%d'", "'B%d'"}
	amounts := []string{"10.5", "10.50", "0", "-3.25", "1234567.89", "NULL"}
	for i := range int64(n) {
		id := first + i
		row := []string{
			fmt.Sprint(id),
			fmt.Sprintf(codes[r.IntN(len(codes))], id),
			names[r.IntN(len(names))],
			fmt.Sprint(r.IntN(5) - 1),
			amounts[r.IntN(len(amounts))],
			fmt.Sprintf("'2026-%02d-%02d'", r.IntN(12)+1, r.IntN(28)+1),
			[]string{"'2026-03-08 02:30:00'", "'2026-11-01 01:30:00.123456'", "NULL"}[r.IntN(3)],
			fmt.Sprintf("'2026-11-%02d %02d:00:00.5'", r.IntN(28)+1, r.IntN(24)),
		}
		if infinity && r.IntN(50) == 0 {
			row[6] = "'infinity'" // PostgreSQL's, which recon cannot read: invalid on both sides
		}
		other := append([]string(nil), row...)
		switch p := r.IntN(300); {
		case p < 4: // missing in the target
			other = nil
		case p < 8: // missing in the source
			row = nil
		case p < 16: // a field differs
			c := 1 + r.IntN(len(other)-1)
			other[c] = map[int]string{1: "'X1'", 2: "NULL", 3: "7", 4: "10.51", 5: "'2025-01-01'", 6: "'2026-03-08 02:30:00.000001'", 7: "'2026-01-01 00:00:00'"}[c]
		case p < 19: // the same key twice, identically, on both sides
			src, tgt = append(src, "("+strings.Join(row, ", ")+")"), append(tgt, "("+strings.Join(other, ", ")+")")
		case p < 21: // a NULL key
			row[0], row[1] = "NULL", "NULL"
		}
		if row != nil {
			src = append(src, "("+strings.Join(row, ", ")+")")
		}
		if other != nil {
			tgt = append(tgt, "("+strings.Join(other, ", ")+")")
		}
	}
	return src, tgt
}

// TestChecksumModeReportsWhatRowsModeReports is the property test of
// checksum mode: on random drift in real PostgreSQL, MariaDB and SQLite,
// a run in checksum mode writes exactly the exceptions and figures of a
// run in rows mode, while reading only the segments that differ.
func TestChecksumModeReportsWhatRowsModeReports(t *testing.T) {
	for _, pair := range [][2]string{{"postgres", "mysql"}, {"mysql", "postgres"}, {"postgres", "postgres"}, {"mysql", "mysql"}, {"sqlite", "postgres"}, {"pgx", "mysql"}} {
		t.Run(pair[0]+"_vs_"+pair[1], func(t *testing.T) {
			for seed := range uint64(3) {
				r := rand.New(rand.NewPCG(seed, uint64(len(pair[0])*7+len(pair[1]))))
				// Key ranges start at the least key, negative in the
				// second; in the third one key far beyond the rest makes
				// ranges useless, so that segments are hashes.
				first := []int64{1, -1<<45 + 7, 1}[seed]
				src, tgt := checksumRows(r, 300, first, pair == [2]string{"postgres", "postgres"})
				if seed == 2 {
					far := "(1000000000000000, 'FAR', 'far', 1, 1.5, '2026-01-01', NULL, NULL)"
					src, tgt = append(src, far), append(tgt, far)
				}
				dbs := [2]database{openDatabase(t, pair[0]), openDatabase(t, pair[1])}
				for i, rows := range [][]string{src, tgt} {
					execAll(t, dbs[i], checksumTable[string(dbs[i].dialect)],
						"INSERT INTO accounts (id, code, name, qty, amount, due, seen, updated_at) VALUES "+strings.Join(rows, ", "))
				}
				dir := t.TempDir()
				env := map[string]string{"SRC_DSN": dbs[0].dsn, "TGT_DSN": dbs[1].dsn}
				runs := map[string]string{}
				for _, mode := range []string{"rows", "checksum"} {
					config := strings.NewReplacer("{state}", mode+".db", "{src}", dbs[0].driver, "{tgt}", dbs[1].driver, "{mode}", mode).Replace(checksumConfig)
					path := writeFile(t, dir, mode+".yaml", config)
					if mode == "checksum" && seed == 0 {
						// recon validate says, reading no rows, what the run will do.
						want := "mode checksum: checksums possible"
						if pair[0] == "sqlite" {
							want = `mode checksum: checksums are not possible (the source system "a" cannot checksum), so rows are compared`
						}
						code, stdout, stderr := runRecon(t, env, "validate", "--config", path)
						if code != exitOK || strings.Count(stdout, want) != 2 {
							t.Errorf("recon validate: exit %d, want %q for both reconciliations\n%s%s", code, want, stdout, stderr)
						}
					}
					out := filepath.Join(dir, mode)
					if code, stdout, stderr := runRecon(t, env, "run", "--config", path, "--out", out); code != exitOK {
						t.Fatalf("%s mode: exit %d\n%s\n%s", mode, code, stdout, stderr)
					}
					runs[mode] = onlyRunDir(t, out)
				}
				sameExceptions(t, runs["rows"], runs["checksum"])
				rows, sums := checksumFigures(t, runs["rows"]), checksumFigures(t, runs["checksum"])
				for i := range rows {
					want := "checksum"
					if pair[0] == "sqlite" {
						want = "rows" // SQLite's column types do not bind its values
					}
					if sums[i]["mode"] != want || rows[i]["mode"] != "rows" {
						t.Fatalf("%s: mode %v in checksum mode, %v in rows mode; want %s and rows", sums[i]["name"], sums[i]["mode"], rows[i]["mode"], want)
					}
					if want == "checksum" {
						c := sums[i]["checksum"].(map[string]any)
						if c["rows_in_agreement"].(float64) == 0 || c["segments_read"].(float64) >= c["segments_checksummed"].(float64) || c["levels"].(float64) < 2 {
							t.Errorf("%s: checksum figures %v: every segment read, or none split", sums[i]["name"], c)
						}
						if sums[i]["source_rows_read"].(float64) > 0.75*rows[i]["source_rows_read"].(float64) {
							t.Errorf("%s: read %v source rows in checksum mode, %v in rows mode", sums[i]["name"], sums[i]["source_rows_read"], rows[i]["source_rows_read"])
						}
					}
					for _, f := range []map[string]any{rows[i], sums[i]} {
						for _, k := range []string{"duration_seconds", "source_rows_read", "target_rows_read", "mode", "checksum", "config_hash"} {
							delete(f, k)
						}
					}
					a, _ := json.MarshalIndent(rows[i], "", " ")
					b, _ := json.MarshalIndent(sums[i], "", " ")
					if string(a) != string(b) {
						t.Errorf("seed %d: figures differ\nrows mode: %s\nchecksum mode: %s", seed, a, b)
					}
				}
			}
		})
	}
}

func checksumFigures(t *testing.T, dir string) []map[string]any {
	t.Helper()
	s, err := reporttest.ReadSummary(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s.Reconciliations
}

// sameExceptions checks that two runs wrote the same exceptions in the
// same order, but for the run they name.
func sameExceptions(t *testing.T, a, b string) {
	t.Helper()
	read := func(dir string) []reporttest.Row {
		rs, err := reporttest.ReadExceptions(filepath.Join(dir, "exceptions.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range rs {
			rs[i].RunID, rs[i].FirstSeenRun = "", ""
			rs[i].FirstSeenAt = rs[i].FirstSeenAt.Truncate(1 << 62)
		}
		return rs
	}
	x, y := read(a), read(b)
	if len(x) == 0 {
		t.Fatal("the first run found nothing: the comparison proves nothing")
	}
	if !reflect.DeepEqual(x, y) {
		var xs, ys []string
		for _, r := range x {
			xs = append(xs, r.String())
		}
		for _, r := range y {
			ys = append(ys, r.String())
		}
		t.Fatalf("exceptions differ (%d in %s, %d in %s)\nonly in the first: %v\nonly in the second: %v", len(x), a, len(y), b, minus(xs, ys), minus(ys, xs))
	}
}

// TestChecksumModeOnMySQLOddities checks checksum mode against rows mode
// on what MySQL shows one way and sends another: ZEROFILL and YEAR
// integers (sent without their padding) and dates ALLOW_INVALID_DATES let
// in (February 30, which recon cannot read).
func TestChecksumModeOnMySQLOddities(t *testing.T) {
	my, my2, pg := openDatabase(t, "mysql"), openDatabase(t, "mysql"), openDatabase(t, "postgres")
	// Each row differs in one way only, in a segment of its own (id mod 64).
	execAll(t, my, "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'",
		"CREATE TABLE odd (id INT, code INT(5) ZEROFILL, y YEAR, d DATE)",
		"INSERT INTO odd VALUES (1, 42, 2001, '2024-01-01'), (2, 7, 0, '2024-01-01'), (3, 1, 1999, '2024-02-30'), (4, 1, 1999, '2024-01-02')")
	execAll(t, my2, "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'",
		"CREATE TABLE odd (id INT, code INT(5) ZEROFILL, y YEAR, d DATE)",
		"INSERT INTO odd VALUES (1, 42, 2001, '2024-01-01'), (2, 7, 0, '2024-01-01'), (3, 1, 1999, '2024-02-30'), (4, 1, 1999, '2024-01-02')")
	execAll(t, pg, "CREATE TABLE odd (id INT, code TEXT, y TEXT, d DATE)",
		"INSERT INTO odd VALUES (1, '00042', '2001', '2024-01-01'), (2, '7', '0000', '2024-01-01'), (4, '1', '1999', '2024-01-02')")
	config := `version: 1
state: {state}
systems:
  my: {driver: mysql, dsn: "${SRC_DSN}"}
  pg: {driver: postgres, dsn: "${TGT_DSN}"}
  my2: {driver: mysql, dsn: "${MY2_DSN}"}
reconciliations:
  - name: padded
    mode: {mode}
    source: {system: my, table: odd, where: "id <> 3"}
    target: {system: pg, table: odd}
    key: [{source: id, target: id, type: int}]
    fields:
      - {name: code, type: string}
      - {name: y, type: string}
      - {name: d, type: date}
  - name: invalid_dates
    mode: {mode}
    source: {system: my, table: odd}
    target: {system: my2, table: odd}
    key: [{source: id, target: id, type: int}]
    fields:
      - {name: d, type: date}
`
	dir := t.TempDir()
	env := map[string]string{"SRC_DSN": my.dsn, "TGT_DSN": pg.dsn, "MY2_DSN": my2.dsn}
	runs := map[string]string{}
	for _, mode := range []string{"rows", "checksum"} {
		path := writeFile(t, dir, mode+".yaml", strings.NewReplacer("{state}", mode+".db", "{mode}", mode).Replace(config))
		out := filepath.Join(dir, mode)
		if code, stdout, stderr := runRecon(t, env, "run", "--config", path, "--out", out); code != exitOK {
			t.Fatalf("%s mode: exit %d\n%s\n%s", mode, code, stdout, stderr)
		}
		runs[mode] = onlyRunDir(t, out)
	}
	for _, f := range checksumFigures(t, runs["checksum"]) {
		if f["mode"] != "checksum" {
			t.Fatalf("%s: checksum mode fell back to %v: the test proves nothing", f["name"], f["mode"])
		}
	}
	sameExceptions(t, runs["rows"], runs["checksum"])
	got, err := reporttest.ReadExceptions(filepath.Join(runs["rows"], "exceptions.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range got {
		lines = append(lines, r.String())
	}
	slices.Sort(lines)
	checkExceptions(t, lines, []string{
		"padded|field_mismatch|1|code|",           // 42 is sent as "42", not "00042"
		"padded|field_mismatch|2|y|",              // YEAR 0 is sent as "0"
		"invalid_dates|invalid_record|3|d|source", // February 30, on both sides
		"invalid_dates|invalid_record|3|d|target",
	})
}

// TestUnsignedKeysBeyondInt64AreSorted checks that BIGINT UNSIGNED keys,
// whose values beyond 2^63 recon keys by their digits (which do not sort
// as the numbers do), are sorted by recon, not read in the database's
// order.
func TestUnsignedKeysBeyondInt64AreSorted(t *testing.T) {
	a, b := openDatabase(t, "mysql"), openDatabase(t, "mysql")
	for _, d := range []database{a, b} {
		execAll(t, d, "CREATE TABLE big (id BIGINT UNSIGNED, v VARCHAR(10))",
			"INSERT INTO big VALUES (9223372036854775808, 'a'), (10000000000000000000, 'b'), (5, 'c')")
	}
	config := `version: 1
systems:
  a: {driver: mysql, dsn: "${SRC_DSN}"}
  b: {driver: mysql, dsn: "${TGT_DSN}"}
reconciliations:
  - name: big
    source: {system: a, table: big}
    target: {system: b, table: big}
    key: [{source: id, target: id, type: int}]
    fields: [{name: v}]
`
	got, _, summary := runScenario(t, a, b, config, exitOK)
	if len(got) != 0 || summary.Reconciliations[0]["matched"].(float64) != 3 {
		t.Errorf("exceptions %v, figures %v; want 3 matched and nothing else", got, summary.Reconciliations[0])
	}
}
