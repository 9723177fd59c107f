package benchmark

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recon-dev/recon/internal/dbtest"
	"github.com/recon-dev/recon/internal/reporttest"
	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/reconcile"
)

// The sizes benchmark: an orders table in PostgreSQL against its copy in
// MariaDB, typed alike so that checksum mode applies (integer keys,
// decimals, dates, instants, text compared as written), at each size of
// RECON_BENCH_SIZES and two rates of sparse drift. Each drift is one
// record in every 1/rate missing in the target, one with another amount
// and one with a stale timestamp.

// benchSizes are the table sizes to measure: RECON_BENCH_SIZES.
func benchSizes() []int { return sizesIn("RECON_BENCH_SIZES", 100_000) }

// sizesIn reads the comma-separated sizes in the environment variable
// name, or gives fallback.
func sizesIn(name string, fallback int) []int {
	var out []int
	for _, s := range strings.Split(os.Getenv(name), ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		out = []int{fallback}
	}
	return out
}

// drifts name the drift rates and their period: one drift of each kind
// every period rows.
var drifts = []struct {
	name   string
	period int
}{{"1%", 300}, {"0.01%", 30_000}}

const ordersPG = `
CREATE TABLE orders (id bigint PRIMARY KEY, customer text, status text, quantity int, amount numeric(12,2),
  due date, updated_at timestamptz);
INSERT INTO orders
SELECT g, 'Customer ' || (g % 100000), CASE WHEN g % 7 = 0 THEN 'open' ELSE 'shipped' END, (g % 10)::int,
  (g % 100000) / 100.0 + 100, date '2024-01-01' + (g % 365)::int, timestamptz '2024-03-01 00:00:00+00' + g * interval '1 second'
FROM generate_series(1, {rows}) g;`

const ordersMariaDB = `
CREATE TABLE {table} (id BIGINT PRIMARY KEY, customer VARCHAR(100), status VARCHAR(20), quantity INT, amount DECIMAL(12,2),
  due DATE, updated_at TIMESTAMP(6) NULL) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
INSERT INTO {table}
SELECT seq, CONCAT('Customer ', seq % 100000), IF(seq % 7 = 0, 'open', 'shipped'), seq % 10,
  IF(seq % {period} = 3, 1, (seq % 100000) / 100 + 100), DATE_ADD('2024-01-01', INTERVAL seq % 365 DAY),
  DATE_ADD('2024-03-01 00:00:00', INTERVAL CAST(seq AS SIGNED) - IF(seq % {period} = 5, 3600, 0) SECOND)
FROM seq_1_to_{rows} WHERE seq % {period} <> 7;`

const ordersConfig = `version: 1
systems:
  shop:      {driver: postgres, dsn: "${CRM_DSN}"}
  warehouse: {driver: mysql, dsn: "${BILLING_DSN}"}
reconciliations:
  - name: orders
    mode: {mode}
    source: {system: shop, table: orders}
    target: {system: warehouse, table: {table}}
    key: [{source: id, target: id, type: int}]
    fields:
      - {name: customer}
      - {name: status}
      - {name: quantity, type: int}
      - {name: amount, type: decimal}
      - {name: due, type: date}
    timestamp: {source: updated_at, target: updated_at, tolerance: 5m}
`

var ordersSpec = reconcile.Spec{
	Name: "orders",
	Key:  []reconcile.KeyColumn{{Source: "id", Target: "id", Type: reconcile.Int}},
	Fields: []reconcile.Field{
		{Name: "customer", Source: "customer", Target: "customer", Type: reconcile.String},
		{Name: "status", Source: "status", Target: "status", Type: reconcile.String},
		{Name: "quantity", Source: "quantity", Target: "quantity", Type: reconcile.Int},
		{Name: "amount", Source: "amount", Target: "amount", Type: reconcile.Decimal},
		{Name: "due", Source: "due", Target: "due", Type: reconcile.Date},
	},
	Timestamp: &reconcile.TimestampSpec{Source: "updated_at", Target: "updated_at", Tolerance: 5 * time.Minute},
}

// BenchmarkSizes measures, per size and drift, the read floor, the binary
// in rows mode and the binary in checksum mode, and checks that both modes
// find exactly the planted drift.
func BenchmarkSizes(b *testing.B) {
	pg, my := dbtest.Postgres(b), dbtest.MySQL(b)
	dir := b.TempDir()
	bin := buildBinary(b, dir)
	for _, rows := range benchSizes() {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			start := time.Now()
			if err := exec1("postgres", pg, "DROP TABLE IF EXISTS orders;"+withRows(ordersPG, rows)); err != nil {
				b.Fatal(err)
			}
			settlePostgres(b, pg, "orders")
			for _, d := range drifts {
				table := "orders_" + strconv.Itoa(d.period)
				script := strings.NewReplacer("{table}", table, "{period}", strconv.Itoa(d.period)).Replace(withRows(ordersMariaDB, rows))
				if err := exec1("mysql", my+"?multiStatements=true", "DROP TABLE IF EXISTS "+table+";"+script); err != nil {
					b.Fatal(err)
				}
			}
			b.Logf("seeded %d rows a side in %s", rows, time.Since(start).Round(time.Millisecond))
			src := open(b, "postgres", pg).Relation(queries.Selection{Table: "orders"})
			for _, d := range drifts {
				table := "orders_" + strconv.Itoa(d.period)
				b.Run("drift="+d.name, func(b *testing.B) {
					tgt := open(b, "mysql", my).Relation(queries.Selection{Table: table})
					b.Run("read_floor", func(b *testing.B) {
						for b.Loop() {
							drainBoth(b, src, tgt, ordersColumns(), ordersColumns())
						}
						b.ReportMetric(float64(2*rows*b.N)/b.Elapsed().Seconds(), "rows/s")
					})
					// Each kind of drift once a period: missing at 7, the
					// amount at 3, the timestamp at 5.
					want := [3]int64{every(rows, d.period, 7), every(rows, d.period, 3), every(rows, d.period, 5)}
					f := fixture{pgDSN: pg, myDSN: my, rows: rows}
					config := func(b *testing.B, mode, driver string) (args []string, out string) {
						run := filepath.Join(b.TempDir(), "recon.yaml")
						text := strings.NewReplacer("{mode}", mode, "{table}", table, "driver: postgres", "driver: "+driver).Replace(ordersConfig)
						if err := os.WriteFile(run, []byte(text), 0o644); err != nil {
							b.Fatal(err)
						}
						out = filepath.Join(filepath.Dir(run), "reports")
						return []string{"run", "--config", run, "--out", out}, out
					}
					b.Run("rows_vs_floor", func(b *testing.B) {
						args, out := config(b, "rows", "postgres")
						againstFloor(b, f, bin, func() { drainBoth(b, src, tgt, ordersColumns(), ordersColumns()) }, args...)
						checkOrders(b, out, "rows", want)
					})
					b.Run("checksum", func(b *testing.B) {
						args, out := config(b, "checksum", "postgres")
						runBinary(b, f, bin, args...)
						checkOrders(b, out, "checksum", want)
					})
					if d.period != drifts[len(drifts)-1].period {
						return
					}
					// Rows mode through pgx, against the floor of pgx's
					// reads, once a size.
					b.Run("driver=pgx", func(b *testing.B) {
						src := open(b, "pgx", pg).Relation(queries.Selection{Table: "orders"})
						drain := func() { drainBoth(b, src, tgt, ordersColumns(), ordersColumns()) }
						b.Run("read_floor", func(b *testing.B) {
							for b.Loop() {
								drain()
							}
							b.ReportMetric(float64(2*rows*b.N)/b.Elapsed().Seconds(), "rows/s")
						})
						b.Run("rows_vs_floor", func(b *testing.B) {
							args, out := config(b, "rows", "pgx")
							againstFloor(b, f, bin, drain, args...)
							checkOrders(b, out, "rows", want)
						})
					})
					rate := linkRate()
					if rate == "" || rows > linkMaxRows {
						return
					}
					// The same over a link per database, once each.
					b.Run("link="+rate, func(b *testing.B) {
						shapeLinks(b, rate, pg, my)
						b.Run("read_floor", func(b *testing.B) {
							for b.Loop() {
								drainBoth(b, src, tgt, ordersColumns(), ordersColumns())
							}
							b.ReportMetric(float64(2*rows*b.N)/b.Elapsed().Seconds(), "rows/s")
						})
						for _, mode := range []string{"rows", "checksum"} {
							b.Run(mode, func(b *testing.B) {
								args, out := config(b, mode, "postgres")
								runBinary(b, f, bin, args...)
								checkOrders(b, out, mode, want)
							})
						}
					})
				})
			}
		})
	}
}

// againstFloor measures bin run with args against the read floor (floor
// reads both sides) measured just before it, repeatRuns times: single
// runs on a shared machine vary more than the ratio does. It reports the
// medians of the runs, the floors and their ratios, and the peak RSS.
func againstFloor(b *testing.B, f fixture, bin string, floor func(), args ...string) {
	var floors, runs, ratios []float64
	var peak int64
	for range repeatRuns(f.rows) {
		start := time.Now()
		floor()
		read := time.Since(start).Seconds()
		took, kib := runOnce(b, f, bin, args...)
		floors, runs, ratios = append(floors, read), append(runs, took.Seconds()), append(ratios, took.Seconds()/read)
		peak = max(peak, kib)
	}
	b.ReportMetric(median(runs)*1e9, "ns/op")
	b.ReportMetric(median(floors)*1e9, "floor-ns/op")
	b.ReportMetric(median(ratios), "x-floor")
	// The spread of the pairs' ratios says how much the machine's speed
	// moved meanwhile; the median of the pairs' ratios, not the quotient
	// of the two medians, is the comparison that pairing keeps fair.
	b.ReportMetric(slices.Min(ratios), "x-floor-min")
	b.ReportMetric(slices.Max(ratios), "x-floor-max")
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
}

// repeatRuns is how many alternated floor and rows-mode runs measure
// rows mode on tables of rows rows: RECON_BENCH_REPEAT, else 15 up to a
// million rows and 7 beyond. A pair on this shared VM can be 0.3 off the
// median of its run, and the shorter the pair the more a passing stall
// weighs: more pairs steady the median, and at a million rows they cost
// seconds, not minutes.
func repeatRuns(rows int) int {
	if n, err := strconv.Atoi(os.Getenv("RECON_BENCH_REPEAT")); err == nil && n > 0 {
		return n
	}
	if rows <= 1_000_000 {
		return 15
	}
	return 7
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// every counts the numbers from 1 to n whose remainder by period is r.
func every(n, period, r int) int64 {
	if n < r {
		return 0
	}
	return int64((n-r)/period + 1)
}

// ordersColumns are the columns the orders reconciliation reads, named
// alike on both sides.
func ordersColumns() []string {
	cols := []string{"id"}
	for _, f := range ordersSpec.Fields {
		cols = append(cols, f.Source)
	}
	return append(cols, "updated_at")
}

// checkOrders checks a run's figures against the planted drift and that
// it ran in the mode asked for.
func checkOrders(b *testing.B, out, mode string, want [3]int64) {
	entries, err := os.ReadDir(out)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		s, err := reporttest.ReadSummary(filepath.Join(out, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		r := s.Reconciliations[0]
		got := func(k string) int64 { v, _ := r[k].(float64); return int64(v) }
		if got := [3]int64{got("missing_in_target"), got("records_with_field_mismatch"), got("timestamp_misaligned")}; r["mode"] != mode || got != want {
			b.Fatalf("%s mode: mode %v, missing, mismatched and misaligned %v; want %s and %v", mode, r["mode"], got, mode, want)
		}
		if c, ok := r["checksum"].(map[string]any); ok {
			b.ReportMetric(c["segments_checksummed"].(float64), "segments")
			b.ReportMetric(float64(got("source_rows_read")+got("target_rows_read")), "rows-read")
		}
	}
}
