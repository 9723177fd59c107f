package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/recon-dev/recon/internal/drift"
	"github.com/recon-dev/recon/internal/reporttest"
)

// ddl writes a portable CREATE TABLE's types in a dialect: {DEC} an exact
// decimal of scale 2, {UBIG} an unsigned 64-bit integer (PostgreSQL has
// none: numeric(20,0)), {TSTZ} an instant, {TS} a wall clock.
func ddl(dialect, stmt string) string {
	types := map[string][]string{
		"postgres": {"{DEC}", "numeric(14,2)", "{UBIG}", "numeric(20,0)", "{TSTZ}", "timestamptz", "{TS}", "timestamp", "{TEXT}", "text"},
		"mysql":    {"{DEC}", "DECIMAL(14,2)", "{UBIG}", "BIGINT UNSIGNED", "{TSTZ}", "TIMESTAMP NULL", "{TS}", "DATETIME(6)", "{TEXT}", "VARCHAR(200)"},
		"sqlite":   {"{DEC}", "TEXT", "{UBIG}", "TEXT", "{TSTZ}", "TEXT", "{TS}", "TEXT", "{TEXT}", "TEXT"},
	}
	return strings.NewReplacer(types[dialect]...).Replace(stmt)
}

// execAll runs statements on a database, their types written for its dialect.
func execAll(t *testing.T, d database, stmts ...string) {
	t.Helper()
	db, err := sql.Open(d.driver, d.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if d.dialect == "mysql" {
		db.SetMaxOpenConns(1)
		if _, err := db.Exec("SET time_zone = '+00:00'"); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range stmts {
		if _, err := db.Exec(ddl(string(d.dialect), s)); err != nil {
			t.Fatalf("%s: %s: %v", d.dialect, s, err)
		}
	}
}

// runScenario writes config (with ${SRC_DSN} and ${TGT_DSN} for the two
// databases), runs recon on it in-process and returns the run's
// exceptions as strings, sorted, and its summary.
func runScenario(t *testing.T, src, tgt database, config string, wantExit int) ([]string, []reporttest.Row, reporttest.Summary) {
	t.Helper()
	dir := t.TempDir()
	path := writeFile(t, dir, "recon.yaml", config)
	out := filepath.Join(dir, "out")
	env := map[string]string{"SRC_DSN": src.dsn, "TGT_DSN": tgt.dsn}
	if code, stdout, stderr := runRecon(t, env, "validate", "--config", path); code != exitOK {
		t.Fatalf("recon validate: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr := runRecon(t, env, "run", "--config", path, "--out", out)
	if code != wantExit {
		t.Fatalf("recon run: exit %d, want %d\n%s\n%s", code, wantExit, stdout, stderr)
	}
	run := onlyRunDir(t, out)
	rows, err := reporttest.ReadExceptions(filepath.Join(run, "exceptions.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.String())
	}
	slices.Sort(got)
	sum, err := reporttest.ReadSummary(run)
	if err != nil {
		t.Fatal(err)
	}
	return got, rows, sum
}

func checkExceptions(t *testing.T, got, want []string) {
	t.Helper()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("exceptions differ from what was planted\nmissed: %v\nfalse alarms: %v", minus(want, got), minus(got, want))
	}
}

var enginePairs = [][2]string{{"postgres", "mysql"}, {"mysql", "postgres"}, {"sqlite", "mysql"}}

// TestCRMValuesInManySpellings plants contacts whose phones, countries,
// websites, e-mails and stages are written differently in each system
// but mean the same, plus real drift and unreadable values, and 64-bit
// unsigned ids at their limit, in keys and fields.
func TestCRMValuesInManySpellings(t *testing.T) {
	for _, pair := range enginePairs {
		t.Run(pair[0]+"_vs_"+pair[1], func(t *testing.T) {
			src, tgt := openDatabase(t, pair[0]), openDatabase(t, pair[1])
			execAll(t, src,
				"CREATE TABLE contacts (id INT PRIMARY KEY, email {TEXT}, phone {TEXT}, uk_phone {TEXT}, country {TEXT}, website {TEXT}, stage {TEXT}, account_id {UBIG})",
				`INSERT INTO contacts VALUES
				 (1, ' Jo@Acme.COM', '(415) 555-2671', '020 7946 0958', 'USA', 'https://www.acme.com/pricing', ' Closed Won', '18446744073709551615'),
				 (2, 'al@b.io', '415-555-2671', NULL, 'Deutschland', 'b.io', 'open', '9223372036854775808'),
				 (3, 'cy@c.io', '+1 415 555 2671', NULL, 'GB', 'c.io', 'Lost', 1),
				 (4, 'di@d.io', '212 555 0100', NULL, 'Narnia', 'd.io', 'open', 2),
				 (5, 'ed@e.io', '212 555 0100', NULL, 'fr', 'e.io', 'Negotiation', 3),
				 (6, 'fe@f.io', '212 555 0100', NULL, 'France', 'www.F.io', 'open', '18446744073709551615')`,
				"CREATE TABLE accounts (id {UBIG}, name {TEXT})",
				`INSERT INTO accounts VALUES ('18446744073709551615', 'Max'), ('9223372036854775808', 'Over'), ('9223372036854775807', 'Edge'), (1, 'One')`)
			execAll(t, tgt,
				"CREATE TABLE people (crm_id INT PRIMARY KEY, email_address {TEXT}, mobile {TEXT}, uk_mobile {TEXT}, country_code {TEXT}, domain {TEXT}, deal_stage {TEXT}, account_ref {UBIG})",
				`INSERT INTO people VALUES
				 (1, 'jo@acme.com', '+1 415.555.2671', '+44 20 7946 0958', 'US', 'jo@acme.com', 'closedwon', '18446744073709551615'),
				 (2, 'al@b.io', '+14155552672', NULL, 'DEU', 'http://B.io/', 'Open', '9223372036854775808'),
				 (3, 'cy@c.io', 'n/a', NULL, 'United Kingdom', 'c.io', 'closed lost', 1),
				 (4, 'di@d.io', '(212) 555-0100', NULL, 'IT', 'd.io', 'open', 2),
				 (5, 'ed@e.io', '(212) 555-0100', NULL, 'FRA', 'e.io', 'open', 3),
				 (6, 'fe@f.io', '+1 212 555 0100', NULL, 'fra', 'f.io', 'open', '18446744073709551614')`,
				"CREATE TABLE customers (account_id {UBIG}, name {TEXT})",
				`INSERT INTO customers VALUES ('18446744073709551615', 'Max'), ('9223372036854775808', 'Over'), (1, 'One'), ('18446744073709551614', 'Below max')`)
			got, _, _ := runScenario(t, src, tgt, `version: 1
systems:
  crm: {driver: `+src.driver+`, dsn: "${SRC_DSN}"}
  marketing: {driver: `+tgt.driver+`, dsn: "${TGT_DSN}"}
reconciliations:
  - name: contacts
    source: {system: crm, table: contacts}
    target: {system: marketing, table: people}
    key: [{source: id, target: crm_id, type: int}]
    fields:
      - {name: email, target: email_address, normalize: [email]}
      - {name: phone, target: mobile, normalize: [phone]}
      - {name: uk_phone, target: uk_mobile, normalize: [phone], region: GB}
      - {name: country, target: country_code, normalize: [country]}
      - {name: website, target: domain, normalize: [domain]}
      - {name: stage, target: deal_stage, normalize: [trim, lower], map: {"closed won": won, closedwon: won, "closed lost": lost}, allowed: [won, lost, open]}
      - {name: account_id, target: account_ref, type: int}
  - name: accounts
    source: {system: crm, table: accounts}
    target: {system: marketing, table: customers}
    key: [{source: id, target: account_id, type: int}]
    fields:
      - {name: name}
`, exitOK)
			checkExceptions(t, got, []string{
				"contacts|field_mismatch|2|phone|",                 // a different number, however written
				"contacts|invalid_record|3|phone|target",           // "n/a" is no phone number
				"contacts|invalid_record|4|country|source",         // Narnia is no country
				"contacts|invalid_record|5|stage|source",           // "negotiation" is not an allowed stage
				"contacts|field_mismatch|6|account_id|",            // 2^64-1 vs 2^64-2
				"accounts|missing_in_target|9223372036854775807||", // int64's maximum, on one side
				"accounts|missing_in_source|18446744073709551614||",
			})
		})
	}
}

// TestInvoicesPerOpportunity plants closed-won opportunities against their
// invoices (instalments, credit notes, void invoices, two currencies) in
// real databases and finds exactly the planted drift.
func TestInvoicesPerOpportunity(t *testing.T) {
	for _, pair := range enginePairs {
		t.Run(pair[0]+"_vs_"+pair[1], func(t *testing.T) {
			crm, billing := openDatabase(t, pair[0]), openDatabase(t, pair[1])
			execAll(t, crm,
				"CREATE TABLE opportunities (id INT PRIMARY KEY, stage {TEXT}, amount {DEC}, currency {TEXT}, close_date DATE)",
				`INSERT INTO opportunities VALUES
				 (1, 'Closed Won', 1000.00, 'USD', '2026-03-01'),
				 (2, 'Closed Won', 1000.00, 'USD', '2026-03-01'),
				 (3, 'Closed Won', 1000.00, 'USD', '2026-03-01'),
				 (4, 'Closed Won',  500.00, 'EUR', '2026-03-01'),
				 (5, 'Closed Won',  900.00, 'USD', '2026-03-01'),
				 (6, 'Closed Won',  100.00, 'USD', '2026-03-01'),
				 (7, 'Closed Won',  100.00, 'usd', '2026-03-01'),
				 (8, 'Closed Won',    0.30, 'USD', '2026-03-01'),
				 (9, 'Negotiation', 100.00, 'USD', '2026-03-01'),
				 (11, 'Closed Won', 100.00, 'USD', '2026-03-01')`)
			execAll(t, billing,
				"CREATE TABLE invoices (id INT PRIMARY KEY, opportunity_id INT, status {TEXT}, subtotal {DEC}, currency {TEXT}, invoiced_at {TSTZ})",
				`INSERT INTO invoices VALUES
				 (11, 1, 'paid', 600.00, 'USD', '2026-03-02 03:30:00'),
				 (12, 1, 'open', 400.00, ' usd', '2026-04-01 12:00:00'),
				 (21, 2, 'paid', 600.00, 'USD', '2026-03-05 12:00:00'),
				 (22, 2, 'paid', 400.01, 'USD', '2026-03-06 12:00:00'),
				 (31, 3, 'paid', 600.00, 'USD', '2026-03-05 12:00:00'),
				 (32, 3, 'paid', 400.50, 'USD', '2026-03-06 12:00:00'),
				 (41, 4, 'paid', 250.00, 'EUR', '2026-03-05 12:00:00'),
				 (42, 4, 'paid', 250.00, 'USD', '2026-03-05 12:00:00'),
				 (51, 5, 'paid', 1000.00, 'USD', '2026-03-05 12:00:00'),
				 (52, 5, 'paid', -100.00, 'USD', '2026-03-20 12:00:00'),
				 (61, 6, 'void', 100.00, 'USD', '2026-03-05 12:00:00'),
				 (71, 7, 'paid', 100.00, 'USD', '2026-04-16 03:00:00'),
				 (111, 11, 'paid', 100.00, 'USD', '2026-04-16 12:00:00'),
				 (81, 8, 'paid', 0.10, 'USD', '2026-03-01 12:00:00'),
				 (82, 8, 'paid', 0.10, 'USD', '2026-03-01 12:00:00'),
				 (83, 8, 'paid', 0.10, 'USD', '2026-03-01 12:00:00'),
				 (91, 10, 'paid', 5.00, 'USD', '2026-03-01 12:00:00')`)
			got, _, sum := runScenario(t, crm, billing, `version: 1
systems:
  crm: {driver: `+crm.driver+`, dsn: "${SRC_DSN}"}
  billing: {driver: `+billing.driver+`, dsn: "${TGT_DSN}", timezone: UTC}
reconciliations:
  - name: opportunities_vs_invoices
    source: {system: crm, table: opportunities, where: "stage = 'Closed Won'"}
    target: {system: billing, table: invoices, group_by: [opportunity_id], where: "status <> 'void'"}
    key: [{source: id, target: opportunity_id, type: int}]
    fields:
      - {name: amount, source: amount, target: subtotal, type: decimal, aggregate: sum, tolerance: "0.01", money: true}
      - {name: currency, type: string, aggregate: distinct, normalize: [trim, upper]}
      - {name: close_date, target: invoiced_at, type: date, aggregate: min, tolerance: "45", date_timezone: America/New_York}
`, exitOK)
			checkExceptions(t, got, []string{
				"opportunities_vs_invoices|field_mismatch|3|amount|",      // 1000.50 invoiced for 1000.00: 50 cents over
				"opportunities_vs_invoices|field_mismatch|4|currency|",    // invoiced in EUR and USD
				"opportunities_vs_invoices|missing_in_target|6||",         // only a void invoice
				"opportunities_vs_invoices|field_mismatch|11|close_date|", // first invoiced 46 New York days after closing
				"opportunities_vs_invoices|missing_in_source|10||",        // an invoice for no closed-won deal
			})
			// Opportunity 7's invoice is 46 days later in UTC, 45 in New York.
			// Count parity compares closed-won deals with invoiced deals.
			r := sum.Reconciliations[0]
			if r["source_count"] != 9.0 || r["target_count"] != 9.0 || r["duplicate_keys"] != 0.0 || r["matched"] != 8.0 {
				t.Errorf("summary: %v", r)
			}
			// 50 cents over on deal 3, and deal 6's 100.00 never invoiced;
			// deal 2's cent is within the tolerance, so nothing at stake.
			stakes, _ := json.Marshal(r["value_at_stake"])
			if want := `[{"currency":"USD","field":"amount","mismatched":"0.50","missing_in_target":"100.00","total":"100.50"}]`; string(stakes) != want {
				t.Errorf("value_at_stake %s, want %s", stakes, want)
			}
		})
	}
}

// insertRows inserts n rows of the same values, in batches.
func insertRows(t *testing.T, d database, table string, n int, values string) {
	t.Helper()
	var stmts []string
	for n > 0 {
		batch := min(n, 100)
		rows := make([]string, batch)
		for i := range rows {
			rows[i] = "(" + values + ")"
		}
		stmts = append(stmts, "INSERT INTO "+table+" VALUES "+strings.Join(rows, ", "))
		n -= batch
	}
	execAll(t, d, stmts...)
}

// TestDailyLeadCountsAcrossDST plants daily lead counts in the marketing
// platform (UTC instants) and the CRM (New York wall clocks) around the
// end of daylight saving time: the day 3% short is found, and the day only
// one side has, and nothing else.
func TestDailyLeadCountsAcrossDST(t *testing.T) {
	for _, pair := range enginePairs {
		t.Run(pair[0]+"_vs_"+pair[1], func(t *testing.T) {
			marketing, crm := openDatabase(t, pair[0]), openDatabase(t, pair[1])
			execAll(t, marketing, "CREATE TABLE leads (email {TEXT}, created_at {TSTZ})")
			execAll(t, crm, "CREATE TABLE leads (email {TEXT}, created_date {TS}, is_deleted BOOLEAN)")
			utc := func(ts string) string {
				if marketing.dialect == "postgres" {
					return "'" + ts + "+00'"
				}
				return "'" + ts + "'"
			}
			insertRows(t, marketing, "leads", 100, "'a@x.io', "+utc("2026-10-31 12:00:00"))
			insertRows(t, crm, "leads", 100, "'a@x.io', '2026-10-31 08:00:00', false")
			insertRows(t, marketing, "leads", 100, "'b@x.io', "+utc("2026-11-01 04:30:00")) // 00:30 EDT, November 1
			insertRows(t, marketing, "leads", 100, "'c@x.io', "+utc("2026-11-02 04:30:00")) // 23:30 EST, still November 1
			insertRows(t, crm, "leads", 97, "'b@x.io', '2026-11-01 00:30:00', false")
			insertRows(t, crm, "leads", 97, "'c@x.io', '2026-11-01 23:30:00', false")
			insertRows(t, crm, "leads", 5, "'d@x.io', '2026-11-01 12:00:00', true") // deleted: not counted
			insertRows(t, marketing, "leads", 50, "'e@x.io', "+utc("2026-11-02 15:00:00"))
			insertRows(t, crm, "leads", 49, "'e@x.io', '2026-11-02 10:00:00', false") // 2% short: within the limit
			insertRows(t, crm, "leads", 1, "'f@x.io', '2026-11-03 10:00:00', false")  // a day the platform has none of
			got, _, sum := runScenario(t, marketing, crm, `version: 1
systems:
  marketing: {driver: `+marketing.driver+`, dsn: "${SRC_DSN}"}
  crm: {driver: `+crm.driver+`, dsn: "${TGT_DSN}", timezone: America/New_York}
reconciliations:
  - name: leads_daily
    source: {system: marketing, table: leads}
    target: {system: crm, table: leads, where: "is_deleted = false"}
    counts_by: {source: created_at, target: created_date, period: day, timezone: America/New_York}
    thresholds: {count_variance: "2%"}
`, exitBreached)
			checkExceptions(t, got, []string{"leads_daily|count_mismatch|2026-11-01||", "leads_daily|count_mismatch|2026-11-03||"})
			r := sum.Reconciliations[0]
			if r["periods"] != 4.0 || r["periods_breached"] != 2.0 || r["source_count"] != 350.0 || r["target_count"] != 344.0 {
				t.Errorf("summary: %v", r)
			}
		})
	}
}

// TestContactsFromAHubSpotExport matches CRM contacts in a database against
// a HubSpot-style CSV export by id, then e-mail, then name and company,
// and finds exactly the planted drift: broken and missing id links,
// ambiguous e-mails, a phone that differs, an unknown country, an unmapped
// lifecycle stage, and contacts on one side only.
func TestContactsFromAHubSpotExport(t *testing.T) {
	for _, kind := range []string{"postgres", "mysql", "sqlite"} {
		t.Run(kind, func(t *testing.T) {
			crm := openDatabase(t, kind)
			execAll(t, crm,
				"CREATE TABLE contacts (id {TEXT}, email {TEXT}, first_name {TEXT}, last_name {TEXT}, company {TEXT}, phone {TEXT}, country {TEXT}, stage {TEXT})",
				"INSERT INTO contacts VALUES "+drift.ContactRows)
			export := filepath.Join(t.TempDir(), "hubspot")
			if err := os.MkdirAll(export, 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, export, "contacts-2026-11-29.csv", drift.HubSpotExport)
			got, rows, sum := runScenario(t, crm, database{dsn: export}, `version: 1
systems:
  crm: {driver: `+crm.driver+`, dsn: "${SRC_DSN}"}
  hubspot: {driver: csv, dsn: "${TGT_DSN}"}
reconciliations:
`+drift.ContactsReconciliation, exitOK)
			var want []string
			for _, e := range drift.CRMExpected() {
				if strings.HasPrefix(e, "contacts_vs_hubspot|") {
					want = append(want, e)
				}
			}
			checkExceptions(t, got, want)
			tiers := map[string]int{}
			for _, r := range rows {
				if r.MatchTier != nil {
					tiers[r.Kind+"|"+orEmpty(r.RecordKey)] = *r.MatchTier
				}
			}
			if tiers["key_mismatch|C2"] != 2 || tiers["key_mismatch|C5"] != 3 || tiers["field_mismatch|C6"] != 1 || tiers["missing_in_target|C8"] != 0 {
				t.Errorf("match tiers %v", tiers)
			}
			r := sum.Reconciliations[0]
			if by, _ := json.Marshal(r["matched_by_tier"]); string(by) != "[4,2,1]" || r["ambiguous_matches"] != 3.0 || r["key_mismatches"] != 3.0 {
				t.Errorf("summary: matched_by_tier %s, %v", by, r)
			}
		})
	}
}

func orEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestDemoFindsExactlyWhatIsPlanted runs make demo's config on freshly
// planted systems: every planted exception is found, nothing else.
func TestDemoFindsExactlyWhatIsPlanted(t *testing.T) {
	dir := demoConfig(t) // the drift scenario in crm.db and billing.db
	if err := drift.PlantCRM(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	config, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo", "recon.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, dir, "recon.yaml", string(config))
	out := filepath.Join(dir, "out")
	if code, stdout, stderr := runRecon(t, nil, "run", "--config", path, "--out", out); code != exitBreached {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	rows, err := reporttest.ReadExceptions(filepath.Join(onlyRunDir(t, out), "exceptions.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.String())
	}
	slices.Sort(got)
	checkExceptions(t, got, append(drift.Expected(), drift.CRMExpected()...))
}

// TestInvoicesFromAParquetDump reconciles deals in a database against a
// billing system's Parquet dump of invoices (typed columns: decimals,
// instants, an unsigned id): the planted drift and nothing else.
func TestInvoicesFromAParquetDump(t *testing.T) {
	for _, kind := range []string{"postgres", "mysql", "sqlite"} {
		t.Run(kind, func(t *testing.T) {
			crm := openDatabase(t, kind)
			execAll(t, crm,
				"CREATE TABLE deals (id INT PRIMARY KEY, amount {DEC}, currency {TEXT})",
				"INSERT INTO deals VALUES (1, 1000.00, 'USD'), (2, 250.00, 'EUR'), (3, 99.99, 'USD'), (4, 10.00, 'USD')")
			dump := t.TempDir()
			writeInvoicesParquet(t, filepath.Join(dump, "invoices-0001.parquet"), []invoice{
				{1, 1, "600.00", "USD"}, {2, 1, "400.00", "USD"}, // adds up
				{3, 2, "250.00", "EUR"}, {4, 2, "-0.01", "EUR"}, // a credit note of a cent: over the tolerance of none
			})
			writeInvoicesParquet(t, filepath.Join(dump, "invoices-0002.parquet"), []invoice{
				{5, 3, "99.99", "usd"}, {6, 5, "1.00", "USD"}, // deal 4 never invoiced, 5 is no deal
			})
			got, _, _ := runScenario(t, crm, database{dsn: dump}, `version: 1
systems:
  crm: {driver: `+crm.driver+`, dsn: "${SRC_DSN}"}
  lake: {driver: parquet, dsn: "${TGT_DSN}"}
reconciliations:
  - name: deals_vs_invoices
    source: {system: crm, table: deals}
    target: {system: lake, table: "invoices-*.parquet", group_by: [deal_id]}
    key: [{source: id, target: deal_id, type: int}]
    fields:
      - {name: amount, target: subtotal, type: decimal, aggregate: sum}
      - {name: currency, aggregate: distinct, normalize: [upper]}
`, exitOK)
			checkExceptions(t, got, []string{
				"deals_vs_invoices|field_mismatch|2|amount|",
				"deals_vs_invoices|missing_in_target|4||",
				"deals_vs_invoices|missing_in_source|5||",
			})
		})
	}
}

type invoice struct {
	id, deal           uint64
	subtotal, currency string
}

// writeInvoicesParquet writes invoices as a billing system's dump would:
// unsigned ids, decimal(12,2) subtotals.
func writeInvoicesParquet(t *testing.T, path string, invoices []invoice) {
	t.Helper()
	dec := &arrow.Decimal128Type{Precision: 12, Scale: 2}
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Uint64}, {Name: "deal_id", Type: arrow.PrimitiveTypes.Uint64},
		{Name: "subtotal", Type: dec}, {Name: "currency", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, inv := range invoices {
		b.Field(0).(*array.Uint64Builder).Append(inv.id)
		b.Field(1).(*array.Uint64Builder).Append(inv.deal)
		n, err := decimal128.FromString(inv.subtotal, dec.Precision, dec.Scale)
		if err != nil {
			t.Fatal(err)
		}
		b.Field(2).(*array.Decimal128Builder).Append(n)
		b.Field(3).(*array.StringBuilder).Append(inv.currency)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
	defer tbl.Release()
	if err := pqarrow.WriteTable(tbl, f, 1024, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
}

// TestGroupingInTheDatabaseIsExact groups invoices in PostgreSQL and
// MariaDB themselves (sums, counts, first and last dates, the newest
// change) and checks that it finds exactly what the engine's own folding
// finds: the same planted drift, with keys that only a byte-exact
// grouping keeps apart ('inv-A' and 'inv-a', 'x' and 'x ').
func TestGroupingInTheDatabaseIsExact(t *testing.T) {
	for _, pair := range [][2]string{{"sqlite", "postgres"}, {"sqlite", "mysql"}, {"postgres", "sqlite"}} {
		t.Run(pair[0]+"_vs_"+pair[1], func(t *testing.T) {
			crm, billing := openDatabase(t, pair[0]), openDatabase(t, pair[1])
			execAll(t, crm, "CREATE TABLE deals (code {TEXT}, amount {DEC}, invoices INT, first_invoice DATE, updated_at {TSTZ})",
				`INSERT INTO deals VALUES ('D1', 1000.00, 2, '2026-03-01', '2026-03-10 00:00:00'), ('D2', 500.00, 1, '2026-03-01', '2026-03-10 00:00:00'),
				 ('d2', 70.00, 1, '2026-03-02', '2026-03-10 00:00:00'), ('D3', 100.00, 3, '2026-03-01', '2026-03-10 00:00:00'),
				 ('D4', 1.00, 1, '2026-03-01', '2026-03-10 00:00:00'), ('D5 ', 5.00, 1, '2026-03-01', '2026-03-10 00:00:00')`)
			execAll(t, billing, "CREATE TABLE invoice_lines (id INT PRIMARY KEY, deal {TEXT}, subtotal {DEC}, invoiced_on DATE, changed_at {TSTZ})",
				`INSERT INTO invoice_lines VALUES
				 (1, 'D1', 600.00, '2026-03-01', '2026-03-09 00:00:00'), (2, 'D1', 400.00, '2026-03-05', '2026-03-10 00:00:00'),
				 (3, 'D2', 500.00, '2026-03-01', '2026-03-10 00:00:00'), (4, 'd2', 70.01, '2026-03-02', '2026-03-10 00:00:00'),
				 (5, 'D3', 50.00, '2026-03-01', '2026-03-10 00:00:00'), (6, 'D3', 50.00, '2026-03-02', '2026-03-10 00:00:00'),
				 (7, 'D3', NULL, '2026-03-02', '2026-03-10 00:00:00'),
				 (8, 'D4', 1.00, '2026-03-01', '2026-03-10 00:00:00'), (9, 'D4', -0.50, '2026-03-03', '2026-03-10 00:00:00'),
				 (10, 'D5', 5.00, '2026-03-01', '2026-03-10 00:00:00'), (11, NULL, 9.00, '2026-03-01', '2026-03-10 00:00:00'),
				 (12, NULL, 9.00, '2026-03-01', '2026-03-10 00:00:00')`)
			config := `version: 1
systems:
  crm: {driver: ` + crm.driver + `, dsn: "${SRC_DSN}"}
  billing: {driver: ` + billing.driver + `, dsn: "${TGT_DSN}"}
reconciliations:
  - name: deals_vs_lines
    source: {system: crm, table: deals}
    target: {system: billing, table: invoice_lines, group_by: [deal]}
    key: [{source: code, target: deal}]
    fields:
      - {name: amount, target: subtotal, type: decimal, aggregate: sum}
      - {name: invoices, target: subtotal, type: int, aggregate: count}
      - {name: first_invoice, target: invoiced_on, type: date, aggregate: min}
    timestamp: {source: updated_at, target: changed_at, tolerance: 1h}
`
			want := []string{
				"deals_vs_lines|field_mismatch|d2|amount|",   // 70.01 for 70.00, kept apart from D2
				"deals_vs_lines|field_mismatch|D3|invoices|", // two invoices with a subtotal, not three
				"deals_vs_lines|field_mismatch|D4|amount|",   // a credit note of 0.50
				"deals_vs_lines|field_mismatch|D4|invoices|", //
				"deals_vs_lines|missing_in_target|D5 ||",     // 'D5 ' is not 'D5'
				"deals_vs_lines|missing_in_source|D5||",      //
				"deals_vs_lines|invalid_record|||target",     // two invoice lines of no deal
				"deals_vs_lines|invalid_record|||target",     //
			}
			got, _, _ := runScenario(t, crm, billing, config, exitOK)
			checkExceptions(t, got, want)
			// The same run again with the grouping done in the database,
			// which recon says in its debug log.
			dir := t.TempDir()
			path := writeFile(t, dir, "recon.yaml", config)
			code, _, stderr := runRecon(t, map[string]string{"SRC_DSN": crm.dsn, "TGT_DSN": billing.dsn}, "run", "--config", path, "--out", dir, "--log-level", "debug")
			grouped := strings.Contains(stderr, "grouped in the database")
			if code != exitOK || grouped != (billing.dialect != "sqlite") {
				t.Errorf("exit %d; grouped in the database: %t, want %t\n%s", code, grouped, billing.dialect != "sqlite", stderr)
			}
		})
	}
}
