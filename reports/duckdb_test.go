package reports

import (
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/recon-dev/recon/internal/reporttest"
	"github.com/recon-dev/recon/reconcile"
)

func duckdb(t *testing.T, sql string) []map[string]any { return reporttest.DuckDB(t, sql) }

func sqlString(s string) string { return reporttest.SQLString(s) }

// counts returns, for each condition, how many rows of from match it; all
// in one DuckDB call, each condition as its own filter.
func counts(t *testing.T, from string, conds ...string) []int64 {
	t.Helper()
	var parts []string
	for i, c := range conds {
		parts = append(parts, fmt.Sprintf("SELECT %d AS q, count(*) AS n %s WHERE %s", i, from, c))
	}
	sql := strings.Join(parts, " UNION ALL ") + " ORDER BY q"
	rows := duckdb(t, sql)
	if len(rows) != len(conds) {
		t.Fatalf("duckdb %s: got %d rows, want %d", sql, len(rows), len(conds))
	}
	ns := make([]int64, len(rows))
	for i, r := range rows {
		n, err := strconv.ParseInt(fmt.Sprint(r["n"]), 10, 64)
		if err != nil {
			t.Fatalf("duckdb %s: n: %v", sql, err)
		}
		ns[i] = n
	}
	return ns
}

// nullableColumns are the nullable columns of exceptions.parquet and how to
// tell, in an exception, whether each is null.
var nullableColumns = []struct {
	name   string
	isNull func(reconcile.Exception) bool
}{
	{"record_key", func(e reconcile.Exception) bool { return e.RecordKey == nil }},
	{"field", func(e reconcile.Exception) bool { return e.Field == nil }},
	{"side", func(e reconcile.Exception) bool { return e.Side == "" }},
	{"source_value", func(e reconcile.Exception) bool { return e.SourceValue == nil }},
	{"target_value", func(e reconcile.Exception) bool { return e.TargetValue == nil }},
	{"source_updated_at", func(e reconcile.Exception) bool { return e.SourceUpdatedAt == nil }},
	{"target_updated_at", func(e reconcile.Exception) bool { return e.TargetUpdatedAt == nil }},
	{"source_key", func(e reconcile.Exception) bool { return e.SourceKey == nil }},
	{"target_key", func(e reconcile.Exception) bool { return e.TargetKey == nil }},
	{"match_tier", func(e reconcile.Exception) bool { return e.MatchTier == nil }},
}

func TestDuckDBReadsExceptions(t *testing.T) {
	const n = 200_000 // several row groups
	path := writeRun(t, n)
	from := "FROM read_parquet(" + sqlString(path) + ")"

	// The truth, from the generator.
	nulls := map[string]int64{}
	kinds := map[reconcile.Kind]int64{}
	var emptyTargets, sourceChars int64
	sourceMicros := new(big.Int)
	for i := range n {
		e := genException(i)
		for _, c := range nullableColumns {
			if c.isNull(e) {
				nulls[c.name]++
			}
		}
		kinds[e.Kind]++
		if e.TargetValue != nil && *e.TargetValue == "" {
			emptyTargets++
		}
		if e.SourceValue != nil {
			sourceChars += int64(utf8.RuneCountInString(*e.SourceValue))
		}
		if e.SourceUpdatedAt != nil {
			sourceMicros.Add(sourceMicros, big.NewInt(e.SourceUpdatedAt.UnixMicro()))
		}
	}

	t.Run("is null", func(t *testing.T) {
		var conds []string
		for _, c := range nullableColumns {
			conds = append(conds, c.name+" IS NULL", c.name+" IS NOT NULL")
		}
		got := counts(t, from, conds...)
		for i, c := range nullableColumns {
			if got[2*i] != nulls[c.name] || got[2*i+1] != n-nulls[c.name] {
				t.Errorf("%s IS NULL: %d rows, IS NOT NULL: %d rows; want %d and %d",
					c.name, got[2*i], got[2*i+1], nulls[c.name], n-nulls[c.name])
			}
		}
	})

	t.Run("types", func(t *testing.T) {
		rows := duckdb(t, "SELECT column_name, column_type FROM (DESCRIBE SELECT * "+from+")")
		want := []string{
			"run_id VARCHAR", "reconciliation VARCHAR", "kind VARCHAR", "record_key VARCHAR", "field VARCHAR",
			"side VARCHAR", "source_value VARCHAR", "target_value VARCHAR",
			"source_updated_at TIMESTAMP WITH TIME ZONE", "target_updated_at TIMESTAMP WITH TIME ZONE",
			"source_key VARCHAR", "target_key VARCHAR", "first_seen_run VARCHAR", "first_seen_at TIMESTAMP WITH TIME ZONE",
			"match_tier INTEGER",
		}
		var got []string
		for _, r := range rows {
			got = append(got, fmt.Sprint(r["column_name"], " ", r["column_type"]))
		}
		if strings.Join(got, ", ") != strings.Join(want, ", ") {
			t.Errorf("columns:\n got %v\nwant %v", got, want)
		}
		rows = duckdb(t, "SELECT typeof(source_updated_at) AS s, typeof(target_updated_at) AS t "+from+" LIMIT 1")
		if rows[0]["s"] != "TIMESTAMP WITH TIME ZONE" || rows[0]["t"] != "TIMESTAMP WITH TIME ZONE" {
			t.Errorf("typeof timestamps = %v, want TIMESTAMP WITH TIME ZONE", rows[0])
		}
	})

	t.Run("filters", func(t *testing.T) {
		conds := []string{"target_value = ''", "reconciliation = 'recon-1'", "run_id <> '20261123T090633Z-000000'"}
		want := []int64{emptyTargets, n - 100_000, 0}
		for _, k := range kindOrder {
			conds = append(conds, "kind = "+sqlString(string(k)))
			want = append(want, kinds[k])
		}
		if got := counts(t, from, conds...); !slices.Equal(got, want) {
			t.Errorf("rows where\n%s\n got %v\nwant %v", strings.Join(conds, "\n"), got, want)
		}
	})

	t.Run("aggregates", func(t *testing.T) {
		rows := duckdb(t, "SELECT count(*) AS n, sum(length(source_value)) AS chars, sum(epoch_us(source_updated_at)) AS us "+from)
		if got := fmt.Sprint(rows[0]["n"], " ", rows[0]["chars"], " ", rows[0]["us"]); got != fmt.Sprint(n, " ", sourceChars, " ", sourceMicros) {
			t.Errorf("count, characters of source_value, sum of source_updated_at µs = %s, want %d %d %s", got, n, sourceChars, sourceMicros)
		}
	})

	t.Run("values", func(t *testing.T) {
		rows := duckdb(t, "SELECT file_row_number AS i, run_id, reconciliation, kind, record_key, field, side, "+
			"source_value, target_value, epoch_us(source_updated_at) AS su, epoch_us(target_updated_at) AS tu, "+
			"strftime(source_updated_at, '%Y-%m-%dT%H:%M:%S.%fZ') AS st "+
			"FROM read_parquet("+sqlString(path)+", file_row_number = true) "+
			"WHERE file_row_number IN (0, 1, 7, 65535, 65536, 99999, 100000, 131072, 199999) ORDER BY i")
		if len(rows) != 9 {
			t.Fatalf("got %d rows, want 9", len(rows))
		}
		for _, r := range rows {
			i, _ := strconv.Atoi(fmt.Sprint(r["i"]))
			e := genException(i)
			want := map[string]any{
				"i": r["i"], "run_id": "20261123T090633Z-000000", "reconciliation": e.Reconciliation, "kind": string(e.Kind),
				"record_key": text(e.RecordKey), "field": text(e.Field), "side": text(nil),
				"source_value": text(e.SourceValue), "target_value": text(e.TargetValue),
				"su": nil, "tu": nil, "st": nil,
			}
			if e.Side != "" {
				want["side"] = string(e.Side)
			}
			if e.SourceUpdatedAt != nil {
				want["su"] = strconv.FormatInt(e.SourceUpdatedAt.UnixMicro(), 10)
				want["st"] = e.SourceUpdatedAt.Format("2006-01-02T15:04:05.000000Z")
			}
			if e.TargetUpdatedAt != nil {
				want["tu"] = strconv.FormatInt(e.TargetUpdatedAt.UnixMicro(), 10)
			}
			if fmt.Sprint(r) != fmt.Sprint(want) {
				t.Errorf("row %d:\n got %v\nwant %v", i, r, want)
			}
		}
	})
}

// TestDuckDBSparseNulls covers what wrong null_count statistics break: a
// column whose only null is the first row of a page (xitongsys/parquet-go
// v1.6.2 leaves that one out of its count, so the statistics say 0 nulls and
// DuckDB skips the row group for IS NULL).
func TestDuckDBSparseNulls(t *testing.T) {
	const n = 1000
	path := writeExceptions(t, n, func(i int) reconcile.Exception {
		e := reconcile.Exception{Reconciliation: "deals", Kind: reconcile.FieldMismatch,
			RecordKey: ptr(strconv.Itoa(i)), Field: ptr("amount"), SourceValue: ptr("1"), TargetValue: ptr("2"),
			SourceUpdatedAt: ptr(testStart), TargetUpdatedAt: ptr(testStart)}
		if i == 0 {
			e.RecordKey, e.Field, e.SourceValue, e.TargetValue, e.SourceUpdatedAt, e.TargetUpdatedAt = nil, nil, nil, nil, nil, nil
		}
		return e
	})
	from := "FROM read_parquet(" + sqlString(path) + ")"
	conds := []string{"record_key IS NULL", "field IS NULL", "source_value IS NULL", "target_value IS NULL",
		"source_updated_at IS NULL", "target_updated_at IS NULL", "side IS NULL"}
	want := []int64{1, 1, 1, 1, 1, 1, n}
	if got := counts(t, from, conds...); !slices.Equal(got, want) {
		t.Errorf("rows where\n%s\n got %v\nwant %v", strings.Join(conds, "\n"), got, want)
	}
}

func TestDuckDBReadsEmptyRun(t *testing.T) {
	path := writeRun(t, 0)
	from := "FROM read_parquet(" + sqlString(path) + ")"
	if got := counts(t, from, "true"); got[0] != 0 {
		t.Errorf("rows = %d, want 0", got[0])
	}
	rows := duckdb(t, "SELECT string_agg(column_name || ' ' || column_type, ', ') AS cols FROM (DESCRIBE SELECT * "+from+")")
	want := "run_id VARCHAR, reconciliation VARCHAR, kind VARCHAR, record_key VARCHAR, field VARCHAR, side VARCHAR, " +
		"source_value VARCHAR, target_value VARCHAR, source_updated_at TIMESTAMP WITH TIME ZONE, target_updated_at TIMESTAMP WITH TIME ZONE, " +
		"source_key VARCHAR, target_key VARCHAR, first_seen_run VARCHAR, first_seen_at TIMESTAMP WITH TIME ZONE, match_tier INTEGER"
	if rows[0]["cols"] != want {
		t.Errorf("columns:\n got %v\nwant %s", rows[0]["cols"], want)
	}
}
