package benchmark

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/recon-dev/recon/internal/dbtest"
	"github.com/recon-dev/recon/internal/reporttest"
)

// The finance and CRM reconciliations at scale: a one-to-many
// reconciliation whose grouped side has {rows} invoice rows (three per
// deal), and a three-tier contact match over {rows} contacts a side with
// a tenth left to the later tiers. Each runs the built binary and reports
// its peak RSS, which must stay bounded (the limit: 300 MiB).

const pgFinanceSeed = `
CREATE TABLE deals (id bigint PRIMARY KEY, amount numeric(14,2), currency text, close_date date);
INSERT INTO deals SELECT g, 3 * ((g % 1000) / 10.0 + 1), 'USD', date '2024-01-01' + (g % 365)::int
FROM generate_series(1, {rows} / 3) g;
CREATE TABLE contacts (id text, email text, first_name text, last_name text, company text, phone text);
INSERT INTO contacts SELECT 'C' || g, 'u' || g || '@x.io', 'First' || g, 'Last' || g, 'Company ' || (g % 100) || ', Inc.',
  '+1555' || lpad((g % 10000000)::text, 7, '0')
FROM generate_series(1, {rows}) g;`

// Invoices: three per deal, one deal in 997 a cent short. Contacts: one in
// 20 has no CRM id, one in 25 a wrong one (both found by e-mail), one in 50
// another e-mail too (found by name and company).
const mysqlFinanceSeed = `
CREATE TABLE deal_invoices (id BIGINT PRIMARY KEY, deal_id BIGINT, subtotal DECIMAL(14,2), currency VARCHAR(3), invoiced_at DATETIME);
INSERT INTO deal_invoices SELECT seq, (seq - 1) DIV 3 + 1,
  (((seq - 1) DIV 3 + 1) % 1000) / 10 + 1 - IF(((seq - 1) DIV 3 + 1) % 997 = 0 AND seq % 3 = 0, 0.01, 0), 'USD',
  DATE_ADD('2024-01-01', INTERVAL (((seq - 1) DIV 3 + 1) % 365) + seq % 3 DAY)
FROM seq_1_to_{rows} WHERE (seq - 1) DIV 3 + 1 <= {rows} DIV 3;
CREATE TABLE contacts (crm_id VARCHAR(20), email VARCHAR(100), firstname VARCHAR(50), lastname VARCHAR(50), company VARCHAR(50), phone VARCHAR(20));
INSERT INTO contacts SELECT IF(seq % 20 = 0, NULL, IF(seq % 25 = 1, CONCAT('X', seq), CONCAT('C', seq))),
  IF(seq % 50 = 0, CONCAT('other', seq, '@x.io'), UPPER(CONCAT('u', seq, '@x.io'))), CONCAT('first', seq), CONCAT('LAST', seq),
  CONCAT('Company ', seq % 100), CONCAT('(555) ', LPAD(seq % 10000000, 7, '0'))
FROM seq_1_to_{rows};`

const financeConfig = `version: 1
systems:
  crm:     {driver: postgres, dsn: "${CRM_DSN}"}
  billing: {driver: mysql, dsn: "${BILLING_DSN}"}
reconciliations:
  - name: deals_vs_invoices
    source: {system: crm, table: deals}
    target: {system: billing, table: deal_invoices, group_by: [deal_id]}
    key: [{source: id, target: deal_id, type: int}]
    fields:
      - {name: amount, target: subtotal, type: decimal, aggregate: sum, money: true}
      - {name: currency, aggregate: distinct, normalize: [trim, upper]}
      - {name: close_date, target: invoiced_at, type: date, aggregate: min}
  - name: contacts
    source: {system: crm, table: contacts}
    target: {system: billing, table: contacts}
    key: [{source: id, target: crm_id}]
    match:
      - [{source: email, target: email, normalize: [email]}]
      - [{source: first_name, target: firstname, normalize: [casefold]}, {source: last_name, target: lastname, normalize: [casefold]}, {source: company, normalize: [strip_legal_suffix, casefold]}]
    fields:
      - {name: phone, normalize: [phone]}
`

// BenchmarkFinanceAndCRM seeds both databases once and runs each
// reconciliation alone with the built binary.
func BenchmarkFinanceAndCRM(b *testing.B) {
	f := fixture{pgDSN: dbtest.Postgres(b), myDSN: dbtest.MySQL(b), rows: benchRows()}
	start := time.Now()
	if err := exec1("postgres", f.pgDSN, withRows(pgFinanceSeed, f.rows)); err != nil {
		b.Fatal(err)
	}
	settlePostgres(b, f.pgDSN, "deals", "contacts")
	if err := exec1("mysql", f.myDSN+"?multiStatements=true", withRows(mysqlFinanceSeed, f.rows)); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d invoice rows and %d contacts a side in %s", f.rows, f.rows, time.Since(start).Round(time.Millisecond))
	dir := b.TempDir()
	bin := buildBinary(b, dir)
	cfg := filepath.Join(dir, "recon.yaml")
	if err := os.WriteFile(cfg, []byte(financeConfig), 0o644); err != nil {
		b.Fatal(err)
	}
	deals := int64(f.rows / 3)
	for _, c := range []struct {
		name string
		want map[string]float64 // figures of summary.json the run must have
	}{
		{"deals_vs_invoices", map[string]float64{"source_count": float64(deals), "target_count": float64(deals),
			"matched": float64(deals), "records_with_field_mismatch": float64(deals / 997)}},
		{"contacts", map[string]float64{"matched": float64(f.rows), "missing_in_target": 0, "missing_in_source": 0, "ambiguous_matches": 0}},
	} {
		b.Run(c.name, func(b *testing.B) {
			out := filepath.Join(dir, c.name)
			runBinary(b, f, bin, "run", "--config", cfg, "--only", c.name, "--out", out)
			checkSummary(b, out, c.want)
		})
	}
}

// checkSummary checks figures of the one reconciliation of the last run
// under out.
func checkSummary(b *testing.B, out string, want map[string]float64) {
	runs, err := filepath.Glob(filepath.Join(out, "2*"))
	if err != nil || len(runs) == 0 {
		b.Fatalf("no run in %s: %v", out, err)
	}
	sum, err := reporttest.ReadSummary(runs[len(runs)-1])
	if err != nil {
		b.Fatal(err)
	}
	got := sum.Reconciliations[0]
	for k, v := range want {
		if got[k] != v {
			b.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
