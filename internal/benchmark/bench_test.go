package benchmark

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/recon-dev/recon/internal/dbtest"
	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/reports"
	"github.com/recon-dev/recon/sources"
	_ "github.com/recon-dev/recon/sources/all"
)

func TestMain(m *testing.M) {
	if argv := os.Getenv(launchEnv); argv != "" {
		os.Exit(launch(strings.Split(argv, "\x1f")))
	}
	os.Exit(dbtest.Main(m))
}

// Peak RSS is the kernel's ru_maxrss of the recon process. A process that
// os/exec starts from this one inherits this one's high-water mark (it
// starts as a vfork sharing its memory), which after seeding tables is
// larger than recon's: so recon is started by a fresh, small copy of this
// binary (launchEnv names the command), whose mark is a few MiB, and
// which prints recon's as launchMarker, with recon's own wall time (the
// copy's start-up, 17 ms, is not recon's).
const (
	launchEnv    = "RECON_BENCH_LAUNCH"
	launchMarker = "recon-bench-peak-rss-kib "
)

func launch(argv []string) int {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "launch:", err)
		return 2
	}
	fmt.Printf("\n%s%d %d\n", launchMarker, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss, took.Nanoseconds())
	return cmd.ProcessState.ExitCode()
}

func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("RECON_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 200_000
}

// textKeySizes are the table sizes BenchmarkPostgresVsMariaDB measures:
// RECON_BENCH_TEXT_SIZES, a comma-separated list, or benchRows().
func textKeySizes() []int { return sizesIn("RECON_BENCH_TEXT_SIZES", benchRows()) }

// pgSeed builds opportunities server-side; every clean row's values equal
// the MariaDB invoice built from the same number.
const pgSeed = `
DROP TABLE IF EXISTS opportunities;
CREATE TABLE opportunities (id bigint PRIMARY KEY, account_name text, amount numeric(12,2), currency char(3),
  close_date date, stage text, lead_source text, owner_email text, phone text, region text, product text,
  quantity int, discount numeric(5,2), updated_at timestamptz);
INSERT INTO opportunities
SELECT g, 'Account ' || g, (g % 100000) / 100.0 + 100, 'USD', date '2024-01-01' + (g % 365)::int, 'Closed Won',
  CASE WHEN g % 3 = 0 THEN NULL ELSE 'Web' END, 'rep' || (g % 50) || '@example.com',
  '+1555' || lpad((g % 10000000)::text, 7, '0'), 'EMEA', 'Product ' || (g % 20), (g % 10)::int, (g % 20) / 4.0,
  timestamptz '2024-03-01 00:00:00+00' + g * interval '1 second'
FROM generate_series(1, {rows}) g;`

// mysqlSeed builds invoices from MariaDB's sequence engine, with drift:
// 0.1% missing, 0.5% wrong amounts, 0.2% stale; ” for NULL lead sources and
// upper-case emails, which the config normalises away.
const mysqlSeed = `
DROP TABLE IF EXISTS invoices;
CREATE TABLE invoices (opportunity_id VARCHAR(20) PRIMARY KEY, customer VARCHAR(200), total DECIMAL(14,4),
  currency VARCHAR(3), invoice_date DATE, lead_source VARCHAR(50), owner_email VARCHAR(200), phone VARCHAR(30),
  region VARCHAR(20), product VARCHAR(50), quantity INT, discount DECIMAL(5,2), updated_at DATETIME(6))
  CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
INSERT INTO invoices
SELECT seq, CONCAT('Account ', seq), IF(seq % 200 = 0, 1, (seq % 100000) / 100 + 100), 'USD',
  DATE_ADD('2024-01-01', INTERVAL seq % 365 DAY), IF(seq % 3 = 0, '', 'Web'),
  IF(seq % 5 = 0, UPPER(CONCAT('rep', seq % 50, '@example.com')), CONCAT('rep', seq % 50, '@example.com')),
  CONCAT('+1555', LPAD(seq % 10000000, 7, '0')), 'EMEA', CONCAT('Product ', seq % 20), seq % 10, (seq % 20) / 4,
  DATE_ADD('2024-03-01 00:00:00', INTERVAL CAST(seq AS SIGNED) - IF(seq % 500 = 0, 3600, 0) SECOND)
FROM seq_1_to_{rows} WHERE seq % 1000 <> 7;`

var spec = reconcile.Spec{
	Name: "opportunities_vs_invoices",
	Key:  []reconcile.KeyColumn{{Source: "id", Target: "opportunity_id", Type: reconcile.String}},
	Fields: []reconcile.Field{
		{Name: "account_name", Source: "account_name", Target: "customer", Type: reconcile.String, Normalize: []reconcile.Normalization{reconcile.Trim}},
		{Name: "amount", Source: "amount", Target: "total", Type: reconcile.Decimal, Tolerance: reconcile.Tolerance{Absolute: decimal.RequireFromString("0.01")}},
		{Name: "currency", Source: "currency", Target: "currency", Type: reconcile.String, Normalize: []reconcile.Normalization{reconcile.Trim, reconcile.Upper}},
		{Name: "close_date", Source: "close_date", Target: "invoice_date", Type: reconcile.Date},
		{Name: "stage", Source: "stage", Target: "stage", Type: reconcile.String},
		{Name: "lead_source", Source: "lead_source", Target: "lead_source", Type: reconcile.String, NullEqualsEmpty: true},
		{Name: "owner_email", Source: "owner_email", Target: "owner_email", Type: reconcile.String, Normalize: []reconcile.Normalization{reconcile.Trim, reconcile.Lower}},
		{Name: "phone", Source: "phone", Target: "phone", Type: reconcile.String},
		{Name: "region", Source: "region", Target: "region", Type: reconcile.String},
		{Name: "product", Source: "product", Target: "product", Type: reconcile.String},
		{Name: "quantity", Source: "quantity", Target: "quantity", Type: reconcile.Int},
		{Name: "discount", Source: "discount", Target: "discount", Type: reconcile.Decimal},
	},
	Timestamp: &reconcile.TimestampSpec{Source: "updated_at", Target: "updated_at", Tolerance: 5 * time.Minute},
}

type fixture struct {
	pgDSN, myDSN string
	rows         int
}

// seed fills the databases of pg and my with rows rows a side, replacing
// what an earlier seed left.
func seed(b *testing.B, pg, my string, rows int) fixture {
	f := fixture{pgDSN: pg, myDSN: my, rows: rows}
	start := time.Now()
	if err := exec1("postgres", f.pgDSN, withRows(pgSeed, f.rows)); err != nil {
		b.Fatal(err)
	}
	settlePostgres(b, f.pgDSN, "opportunities")
	// stage is added apart, with the value every opportunity has.
	if err := exec1("mysql", f.myDSN+"?multiStatements=true", withRows(mysqlSeed, f.rows)+
		"ALTER TABLE invoices ADD COLUMN stage VARCHAR(20) NOT NULL DEFAULT 'Closed Won';"); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d rows per side in %s", f.rows, time.Since(start).Round(time.Millisecond))
	return f
}

// BenchmarkPostgresVsMariaDB seeds the pair at each of textKeySizes and
// measures, on it, the read floor, the engine in-process, and the built
// binary against the floor. Its keys are text on one side, so both sides
// go through the external sort, which spills to disk beyond the memory
// budget (about 200k rows).
func BenchmarkPostgresVsMariaDB(b *testing.B) {
	pg, my := dbtest.Postgres(b), dbtest.MySQL(b)
	for _, rows := range textKeySizes() {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			f := seed(b, pg, my, rows)
			src := open(b, "postgres", f.pgDSN).Relation(queries.Selection{Table: "opportunities"})
			tgt := open(b, "mysql", f.myDSN).Relation(queries.Selection{Table: "invoices"})
			b.Run("read_floor", func(b *testing.B) { readFloor(b, f, src, tgt) })
			b.Run("reconcile", func(b *testing.B) { reconcileInProcess(b, f, src, tgt) })
			b.Run("binary_vs_floor", func(b *testing.B) {
				binary(b, f, func() { drainBoth(b, src, tgt, columns(reconcile.SourceSide), columns(reconcile.TargetSide)) })
			})
		})
	}
}

func exec1(driver, dsn, script string) error {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(script)
	return err
}

// settlePostgres vacuums freshly loaded tables at once, and checkpoints:
// the first read of a table after a bulk load writes its hint bits, and
// autovacuum comes a minute later to write its visibility map (at 10M
// rows, tens of seconds of writing), which would otherwise land in the
// middle of the measurements, on one side of a pair and not the other.
func settlePostgres(b *testing.B, dsn string, tables ...string) {
	start := time.Now()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for _, t := range tables {
		// Not in the seed's script: VACUUM cannot run in the transaction
		// a multi-statement query is.
		if _, err := db.Exec("VACUUM (FREEZE, ANALYZE) " + t); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.Exec("CHECKPOINT"); err != nil {
		b.Logf("no checkpoint after the load (%v): dirty pages are written while measuring", err)
	}
	b.Logf("vacuumed %s in %s", strings.Join(tables, ", "), time.Since(start).Round(time.Millisecond))
}

func open(b *testing.B, driver, dsn string) *sources.DB {
	db, err := sources.OpenDB(context.Background(), sources.Config{Name: driver, Driver: driver, DSN: dsn})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func columns(side reconcile.Side) []string {
	pick := func(s, t string) string {
		if side == reconcile.SourceSide {
			return s
		}
		return t
	}
	cols := []string{pick(spec.Key[0].Source, spec.Key[0].Target)}
	for _, f := range spec.Fields {
		cols = append(cols, pick(f.Source, f.Target))
	}
	return append(cols, pick(spec.Timestamp.Source, spec.Timestamp.Target))
}

func drain(b *testing.B, rel *sources.Relation, cols []string) int {
	rows, err := rel.Scan(context.Background(), cols)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}

// drainBoth reads both relations at once, as recon reads them: the read
// floor.
func drainBoth(b *testing.B, src, tgt *sources.Relation, srcCols, tgtCols []string) {
	var wg sync.WaitGroup
	wg.Go(func() { drain(b, src, srcCols) })
	drain(b, tgt, tgtCols)
	wg.Wait()
}

// readFloor reads the tables through our drivers and nothing else.
func readFloor(b *testing.B, f fixture, src, tgt *sources.Relation) {
	b.Run("postgres", func(b *testing.B) {
		for b.Loop() {
			drain(b, src, columns(reconcile.SourceSide))
		}
		b.ReportMetric(float64(f.rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("mariadb", func(b *testing.B) {
		for b.Loop() {
			drain(b, tgt, columns(reconcile.TargetSide))
		}
		b.ReportMetric(float64(f.rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("pgx", func(b *testing.B) {
		pgx := open(b, "pgx", f.pgDSN).Relation(queries.Selection{Table: "opportunities"})
		for b.Loop() {
			drain(b, pgx, columns(reconcile.SourceSide))
		}
		b.ReportMetric(float64(f.rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("both_in_parallel", func(b *testing.B) {
		for b.Loop() {
			drainBoth(b, src, tgt, columns(reconcile.SourceSide), columns(reconcile.TargetSide))
		}
		b.ReportMetric(float64(2*f.rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// reconcileInProcess runs the engine in-process, report included.
func reconcileInProcess(b *testing.B, f fixture, src, tgt *sources.Relation) {
	for b.Loop() {
		id := reports.NewRunID(time.Now())
		w, err := reports.Create(b.TempDir(), id)
		if err != nil {
			b.Fatal(err)
		}
		res, err := reconcile.Run(context.Background(), spec, reconcile.Input{Snapshot: src, Location: time.UTC},
			reconcile.Input{Snapshot: tgt, Location: time.UTC}, w, reconcile.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Close(reports.Run{ID: id, Status: "ok", Results: []reports.Result{{Result: res}}}); err != nil {
			b.Fatal(err)
		}
		if res.Matched == 0 || res.MissingInTarget != int64(f.rows/1000) {
			b.Fatalf("unexpected result: %+v", res)
		}
	}
	b.ReportMetric(float64(2*f.rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// binary runs the built binary against the floor and reports its peak
// resident memory.
func binary(b *testing.B, f fixture, floor func()) {
	dir := b.TempDir()
	bin := buildBinary(b, dir)
	cfg := filepath.Join(dir, "recon.yaml")
	if err := os.WriteFile(cfg, []byte(binaryConfig), 0o644); err != nil {
		b.Fatal(err)
	}
	againstFloor(b, f, bin, floor, "run", "--config", cfg, "--out", filepath.Join(dir, "reports"))
}

// buildBinary builds recon into dir.
func buildBinary(b *testing.B, dir string) string {
	bin := filepath.Join(dir, "recon")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/recon").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// runBinary runs bin with args against f's databases and reports its
// time, its peak resident memory and the rows a second it read on both
// sides.
func runBinary(b *testing.B, f fixture, bin string, args ...string) {
	var peakKiB int64
	var took time.Duration
	for b.Loop() {
		t, kib := runOnce(b, f, bin, args...)
		took, peakKiB = took+t, max(peakKiB, kib)
	}
	b.ReportMetric(float64(took.Nanoseconds())/float64(b.N), "ns/op")
	b.ReportMetric(float64(peakKiB)/1024, "peak-RSS-MiB")
	b.ReportMetric(float64(2*f.rows*b.N)/took.Seconds(), "rows/s")
}

// runOnce runs bin with args against f's databases, through the launcher,
// and returns how long it took and its peak resident memory in KiB.
func runOnce(b *testing.B, f fixture, bin string, args ...string) (time.Duration, int64) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "CRM_DSN="+f.pgDSN, "BILLING_DSN="+f.myDSN, launchEnv+"="+strings.Join(append([]string{bin}, args...), "\x1f"))
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() > 1 {
		b.Fatalf("recon run: %v\n%s", err, out)
	}
	_, figures, _ := strings.Cut(string(out), launchMarker)
	var kib, ns int64
	if n, _ := fmt.Sscan(figures, &kib, &ns); n != 2 {
		b.Fatalf("no peak RSS and time in the launcher's output:\n%s", out)
	}
	return time.Duration(ns), kib
}

const binaryConfig = `version: 1
systems:
  crm:     {driver: postgres, dsn: "${CRM_DSN}"}
  billing: {driver: mysql, dsn: "${BILLING_DSN}"}
reconciliations:
  - name: opportunities_vs_invoices
    source: {system: crm, table: opportunities}
    target: {system: billing, table: invoices}
    key: [{source: id, target: opportunity_id}]
    fields:
      - {name: account_name, target: customer, normalize: [trim]}
      - {name: amount, target: total, type: decimal, tolerance: "0.01"}
      - {name: currency, normalize: [trim, upper]}
      - {name: close_date, target: invoice_date, type: date}
      - {name: stage}
      - {name: lead_source, null_equals_empty: true}
      - {name: owner_email, normalize: [trim, lower]}
      - {name: phone}
      - {name: region}
      - {name: product}
      - {name: quantity, type: int}
      - {name: discount, type: decimal}
    timestamp: {source: updated_at, target: updated_at, tolerance: 5m}
    thresholds: {count_variance: "2%", drift_rate: "1%"}
`

func withRows(script string, n int) string {
	return strings.ReplaceAll(script, "{rows}", strconv.Itoa(n))
}
