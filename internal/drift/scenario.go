// Package drift plants a known set of sync failures into a CRM-like source
// and a billing-like target database, and says exactly which exceptions a
// correct reconciliation must report. The demo and the end-to-end tests use
// it for every pair of engines.
//
// Besides real drift of every kind, it plants the differences that must NOT
// raise alarms: decimal scale (10.5 vs 10.5000), amounts within tolerance,
// case and surrounding spaces, legal suffixes, NFC vs NFD, blank-padded CHAR,
// NULL vs the empty string where configured equal, timestamps stored in another zone
// (across a DST change), integer keys held as text, and text keys whose
// order differs between collations.
package drift

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxFiller bounds the clean pairs: planted cases use ids from 100001.
const MaxFiller = 100_000

// BillingZone is the zone the billing system keeps its zone-less timestamps in.
const BillingZone = "America/New_York"

// Exception is one exception the scenario plants, in the report's terms.
type Exception struct {
	Reconciliation string
	Kind           string
	Key            string // "" for a NULL key
	Field          string // "" where the report has null
	Side           string // "" where the report has null
}

func (e Exception) String() string {
	return fmt.Sprintf("%s|%s|%s|%s|%s", e.Reconciliation, e.Kind, e.Key, e.Field, e.Side)
}

func ptr[T any](v T) *T { return &v }

var base = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

type opp struct {
	id         int
	account    string
	amount     string
	currency   string
	closeDate  string
	stage      string
	leadSource *string
	owner      string
	updated    time.Time
}

type invoice struct {
	oppID       *string
	customer    string
	total       string
	currency    string
	invoiceDate string
	leadSource  *string
	owner       string
	updated     time.Time
}

func cleanPair(id int) (opp, invoice) {
	o := opp{
		id: id, account: fmt.Sprintf("Customer %d", id), amount: fmt.Sprintf("%d.%02d", 100+id%9000, id%100),
		currency: "USD", closeDate: "2024-02-15", stage: "Closed Won", leadSource: ptr("Web"),
		owner: fmt.Sprintf("rep%d@example.com", id%7), updated: base.Add(time.Duration(id) * time.Minute),
	}
	return o, invoiceFor(o)
}

func invoiceFor(o opp) invoice {
	return invoice{
		oppID: ptr(strconv.Itoa(o.id)), customer: o.account, total: o.amount, currency: o.currency,
		invoiceDate: o.closeDate, leadSource: o.leadSource, owner: o.owner, updated: o.updated,
	}
}

// opportunities returns both sides of opportunities_vs_invoices and the
// exceptions planted in them.
func opportunities(filler int) ([]opp, []invoice, []Exception) {
	const rec = "opportunities_vs_invoices"
	var opps []opp
	var invs []invoice
	var want []Exception
	expect := func(kind, key, field, side string) {
		want = append(want, Exception{rec, kind, key, field, side})
	}
	for id := 1; id <= filler; id++ {
		o, i := cleanPair(id)
		opps, invs = append(opps, o), append(invs, i)
	}
	pair := func(id int, edit func(*opp, *invoice)) {
		o, i := cleanPair(id)
		edit(&o, &i)
		opps, invs = append(opps, o), append(invs, i)
	}

	// Real drift, one case each.
	o, _ := cleanPair(100001) // closed won, never invoiced
	opps = append(opps, o)
	expect("missing_in_target", "100001", "", "")
	o, i := cleanPair(100002) // invoiced although not closed won: the where filter excludes it
	o.stage = "Negotiation"
	opps, invs = append(opps, o), append(invs, i)
	expect("missing_in_source", "100002", "", "")
	_, i = cleanPair(100003) // an invoice for an opportunity the CRM does not have
	invs = append(invs, i)
	expect("missing_in_source", "100003", "", "")
	pair(100004, func(o *opp, i *invoice) { o.amount, i.total = "5000.00", "4500.0000" })
	expect("field_mismatch", "100004", "amount", "")
	pair(100005, func(o *opp, i *invoice) { o.currency, i.currency = "USD", "EUR" })
	expect("field_mismatch", "100005", "currency", "")
	pair(100006, func(o *opp, i *invoice) { o.closeDate, i.invoiceDate = "2024-03-31", "2024-04-01" })
	expect("field_mismatch", "100006", "close_date", "")
	pair(100007, func(o *opp, i *invoice) { // two fields on one record: two rows
		i.total, i.owner = "999.9900", "someone.else@example.com"
	})
	expect("field_mismatch", "100007", "amount", "")
	expect("field_mismatch", "100007", "owner_email", "")
	pair(100008, func(o *opp, i *invoice) { o.leadSource, i.leadSource = nil, ptr("Partner") })
	expect("field_mismatch", "100008", "lead_source", "")
	pair(100009, func(o *opp, i *invoice) { i.updated = o.updated.Add(-48 * time.Hour) }) // stale target
	expect("timestamp_misaligned", "100009", "", "")
	pair(100010, func(o *opp, i *invoice) { i.updated = o.updated.Add(time.Hour) }) // target ahead
	expect("timestamp_misaligned", "100010", "", "")
	pair(100011, func(o *opp, i *invoice) {}) // invoiced twice
	_, i = cleanPair(100011)
	invs = append(invs, i)
	expect("duplicate_key", "100011", "", "target")
	_, i = cleanPair(100012) // an invoice that lost its opportunity id
	i.oppID = nil
	invs = append(invs, i)
	expect("invalid_record", "", "", "target")
	pair(100013, func(o *opp, i *invoice) { i.invoiceDate = "31/03/2024" }) // not a date
	expect("invalid_record", "100013", "close_date", "target")
	pair(100014, func(o *opp, i *invoice) { o.account, i.customer = "Initech", "Initrode" })
	expect("field_mismatch", "100014", "account_name", "")

	// Differences that are not drift.
	pair(100101, func(o *opp, i *invoice) { o.amount, i.total = "10.50", "10.5000" })
	pair(100102, func(o *opp, i *invoice) { o.amount, i.total = "100.00", "100.0040" }) // within 0.01
	pair(100103, func(o *opp, i *invoice) { i.currency = "usd" })
	pair(100104, func(o *opp, i *invoice) { o.account, i.customer = "Acme, Inc.", "ACME" })
	pair(100105, func(o *opp, i *invoice) { o.account, i.customer = "Müller GmbH", "Mu\u0308ller" })
	pair(100106, func(o *opp, i *invoice) { o.owner, i.owner = "Jo.Smith@Example.com", " jo.smith@example.com " })
	pair(100107, func(o *opp, i *invoice) { o.leadSource, i.leadSource = nil, ptr("") })
	pair(100108, func(o *opp, i *invoice) { i.updated = o.updated.Add(4 * time.Minute) }) // within 5m
	// Summer time in the billing zone: its offset differs from winter's.
	pair(100109, func(o *opp, i *invoice) {
		o.updated = time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
		i.updated = o.updated
	})
	pair(100110, func(o *opp, i *invoice) { o.account, i.customer = "Globex   Corporation", "globex" })
	pair(100111, func(o *opp, i *invoice) { i.oppID = ptr(" 100111 ") }) // key kept as padded text
	return opps, invs, want
}

type account struct {
	code, name, country, tier, segments string
	updated                             time.Time
}

// accounts returns both sides of accounts_vs_customers. Its keys are text
// whose order differs between byte order, PostgreSQL's collations and
// MySQL's case-insensitive ones.
func accounts() ([]account, []account, []Exception) {
	const rec = "accounts_vs_customers"
	codes := []string{"a-100", "B-200", "b-150", "_z", "Z-1", "é-5", "e-6", "10", "9", "Ω-1", "ab", "aB-2", "zz", " lead-space"}
	var src, tgt []account
	for n, c := range codes {
		a := account{code: c, name: "Company " + c, country: "US", tier: "Gold", segments: "SMB;Retail", updated: base.Add(time.Duration(n) * time.Hour)}
		src, tgt = append(src, a), append(tgt, a)
	}
	var want []Exception
	tgt[0].country = "CA"
	want = append(want, Exception{rec, "field_mismatch", "a-100", "country", ""})
	tgt[1].segments = "SMB"
	want = append(want, Exception{rec, "field_mismatch", "B-200", "segments", ""})
	tgt[2].updated = tgt[2].updated.Add(-time.Hour)
	want = append(want, Exception{rec, "timestamp_misaligned", "b-150", "", ""})
	// Not drift: order of picklist items, blank padding, case and spaces.
	tgt[3].segments = "Retail; SMB"
	tgt[4].country = " us"
	tgt[5].name = "COMPANY É-5 LLC"
	tgt[6].tier = "Gold      "
	src = append(src, account{code: "only-crm", name: "Solo", country: "US", tier: "Gold", segments: "SMB", updated: base})
	want = append(want, Exception{rec, "missing_in_target", "only-crm", "", ""})
	tgt = append(tgt, account{code: "Only-Billing", name: "Solo", country: "US", tier: "Gold", segments: "SMB", updated: base})
	want = append(want, Exception{rec, "missing_in_source", "Only-Billing", "", ""})
	return src, tgt, want
}

// Expected returns the exceptions a correct run over a scenario planted with
// any filler reports, as Exception.String() texts.
func Expected() []string {
	_, _, a := opportunities(0)
	_, _, b := accounts()
	var out []string
	for _, e := range append(a, b...) {
		out = append(out, e.String())
	}
	return out
}

// Plant creates the CRM tables (opportunities, accounts) on source and the
// billing tables (invoices, customers) on target, with filler clean
// opportunity/invoice pairs besides the planted cases.
func Plant(ctx context.Context, source *sql.DB, sourceDialect Dialect, target *sql.DB, targetDialect Dialect, filler int) error {
	if filler < 0 || filler >= MaxFiller {
		return fmt.Errorf("filler %d: between 0 and %d clean pairs fit below the planted ids", filler, MaxFiller-1)
	}
	zone, err := time.LoadLocation(BillingZone)
	if err != nil {
		return err
	}
	opps, invs, _ := opportunities(filler)
	srcAcc, tgtAcc, _ := accounts()

	oppTable := table{name: "opportunities", cols: []column{
		{"id", kindInt, true}, {"account_name", kindText, false}, {"amount", kindMoney2, false},
		{"currency", kindShort, false}, {"close_date", kindDate, false}, {"stage", kindShort, false},
		{"lead_source", kindShort, false}, {"owner_email", kindText, false}, {"updated_at", kindInstant, false},
	}}
	for _, o := range opps {
		oppTable.rows = append(oppTable.rows, []any{o.id, o.account, o.amount, o.currency, o.closeDate, o.stage, nullable(o.leadSource), o.owner, o.updated})
	}
	accTable := func(name, code, country, updated string, kind colKind, rows []account) table {
		t := table{name: name, cols: []column{
			{code, kindShort, true}, {"name", kindText, false}, {country, kindShort, false},
			{"tier", kindChar10, false}, {"segments", kindText, false}, {updated, kind, false},
		}}
		for _, a := range rows {
			t.rows = append(t.rows, []any{a.code, a.name, a.country, a.tier, a.segments, a.updated})
		}
		return t
	}
	invTable := table{name: "invoices", cols: []column{
		{"invoice_id", kindInt, true}, {"opportunity_id", kindShort, false}, {"customer", kindText, false},
		{"total", kindMoney4, false}, {"currency", kindShort, false}, {"invoice_date", kindDateText, false},
		{"lead_source", kindShort, false}, {"owner_email", kindText, false}, {"updated_at", kindWallTime, false},
	}}
	for n, i := range invs {
		invTable.rows = append(invTable.rows, []any{n + 1, nullable(i.oppID), i.customer, i.total, i.currency, i.invoiceDate, nullable(i.leadSource), i.owner, i.updated})
	}

	for _, side := range []struct {
		db      *sql.DB
		dialect Dialect
		tables  []table
	}{
		{source, sourceDialect, []table{oppTable, accTable("accounts", "code", "country", "updated_at", kindInstant, srcAcc)}},
		{target, targetDialect, []table{invTable, accTable("customers", "account_code", "country_code", "modified_at", kindInstant, tgtAcc)}},
	} {
		conn, err := side.db.Conn(ctx)
		if err != nil {
			return err
		}
		err = side.dialect.create(ctx, conn, zone, side.tables...)
		conn.Close()
		if err != nil {
			return fmt.Errorf("plant %s: %w", side.dialect, err)
		}
	}
	return nil
}

func nullable(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// System names one database in a generated config.
type System struct {
	Driver string
	DSN    string // may be a ${VAR} reference
}

// Config returns the recon config that reconciles a planted scenario.
func Config(crm, billing System) string {
	return fill(configTemplate, "{crm_driver}", crm.Driver, "{crm_dsn}", crm.DSN,
		"{billing_driver}", billing.Driver, "{billing_dsn}", billing.DSN)
}

// fill replaces a config template's {placeholders}, given as old, new
// pairs, and its {zone} with BillingZone.
func fill(template string, pairs ...string) string {
	return strings.NewReplacer(append(pairs, "{zone}", BillingZone)...).Replace(template)
}

const configTemplate = `version: 1
systems:
  crm:     {driver: {crm_driver}, dsn: "{crm_dsn}"}
  billing: {driver: {billing_driver}, dsn: "{billing_dsn}", timezone: {zone}}
reconciliations:
  - name: opportunities_vs_invoices
    source: {system: crm, table: opportunities, where: "stage = 'Closed Won'"}
    target: {system: billing, table: invoices}
    key: [{source: id, target: opportunity_id, type: int}]
    fields:
      - {name: account_name, target: customer, type: string, normalize: [nfc, trim, collapse_spaces, strip_legal_suffix, casefold]}
      - {name: amount, target: total, type: decimal, tolerance: "0.01", owner: source, review: true}
      - {name: currency, type: string, normalize: [trim, upper], owner: source}
      - {name: close_date, target: invoice_date, type: date, owner: source}
      - {name: lead_source, type: string, null_equals_empty: true, owner: source}
      - {name: owner_email, type: string, normalize: [trim, lower], owner: newest}
    timestamp: {source: updated_at, target: updated_at, tolerance: 5m}
    thresholds: {count_variance: "2%", drift_rate: "1%"}
    repair: {direction: source_to_target, max_changes: 500}
  - name: accounts_vs_customers
    source: {system: crm, table: accounts}
    target: {system: billing, table: customers}
    key: [{source: code, target: account_code}]
    fields:
      - {name: name, type: string, normalize: [nfc, trim, collapse_spaces, strip_legal_suffix, casefold]}
      - {name: country, target: country_code, type: string, normalize: [trim, upper], owner: source}
      - {name: tier, type: string, normalize: [trim], owner: target}
      - {name: segments, type: string, normalize: [multiselect], owner: source}
    timestamp: {source: updated_at, target: modified_at, tolerance: 1m}
    thresholds: {count_variance: "5%", drift_rate: "10%"}
    repair: {direction: both, formats: [sql, csv, salesforce, hubspot]}
`
