package drift

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// PlantCRM writes the demo's finance and CRM scenario beside the drift
// scenario, in SQLite files in dir: deals in crm.db against their invoices
// in billing.db (one to many), the marketing platform's leads in
// marketing.db against the CRM's, and the CRM's contacts against a
// HubSpot-style CSV export in dir/hubspot. CRMExpected lists what recon
// must find in it.
func PlantCRM(ctx context.Context, dir string) error {
	marketing := filepath.Join(dir, "marketing.db")
	if err := os.Remove(marketing); err != nil && !os.IsNotExist(err) {
		return err
	}
	for _, p := range []struct {
		file  string
		stmts []string
	}{
		{"crm.db", []string{
			"CREATE TABLE deals (id INTEGER PRIMARY KEY, stage TEXT, amount TEXT, currency TEXT, close_date TEXT)",
			`INSERT INTO deals VALUES
			 (1, 'Closed Won', '1000.00', 'USD', '2026-03-01'), (2, 'Closed Won', '1000.00', 'USD', '2026-03-01'),
			 (3, 'Closed Won', '1000.00', 'USD', '2026-03-01'), (4, 'Closed Won', '500.00', 'EUR', '2026-03-01'),
			 (5, 'Closed Won', '900.00', 'USD', '2026-03-01'), (6, 'Closed Won', '100.00', 'USD', '2026-03-01'),
			 (7, 'Closed Won', '100.00', 'usd', '2026-03-01'), (8, 'Negotiation', '100.00', 'USD', '2026-03-01'),
			 (11, 'Closed Won', '100.00', 'USD', '2026-03-01')`,
			"CREATE TABLE crm_leads (id INTEGER PRIMARY KEY, created_date TEXT, is_deleted INTEGER)",
			"CREATE TABLE contacts (id TEXT, email TEXT, first_name TEXT, last_name TEXT, company TEXT, phone TEXT, country TEXT, stage TEXT)",
			"INSERT INTO contacts VALUES " + ContactRows,
		}},
		{"billing.db", []string{
			"CREATE TABLE deal_invoices (id INTEGER PRIMARY KEY, deal_id INTEGER, status TEXT, subtotal TEXT, currency TEXT, invoiced_at TEXT)",
			`INSERT INTO deal_invoices VALUES
			 (11, 1, 'paid', '600.00', 'USD', '2026-03-02T03:30:00Z'), (12, 1, 'open', '400.00', ' usd', '2026-04-01T12:00:00Z'),
			 (21, 2, 'paid', '600.00', 'USD', '2026-03-05T12:00:00Z'), (22, 2, 'paid', '400.01', 'USD', '2026-03-06T12:00:00Z'),
			 (31, 3, 'paid', '600.00', 'USD', '2026-03-05T12:00:00Z'), (32, 3, 'paid', '400.50', 'USD', '2026-03-06T12:00:00Z'),
			 (41, 4, 'paid', '250.00', 'EUR', '2026-03-05T12:00:00Z'), (42, 4, 'paid', '250.00', 'USD', '2026-03-05T12:00:00Z'),
			 (51, 5, 'paid', '1000.00', 'USD', '2026-03-05T12:00:00Z'), (52, 5, 'paid', '-100.00', 'USD', '2026-03-20T12:00:00Z'),
			 (61, 6, 'void', '100.00', 'USD', '2026-03-05T12:00:00Z'),
			 (71, 7, 'paid', '100.00', 'USD', '2026-04-16T03:00:00Z'),
			 (111, 11, 'paid', '100.00', 'USD', '2026-04-16T12:00:00Z'),
			 (91, 10, 'paid', '5.00', 'USD', '2026-03-01T12:00:00Z')`,
		}},
		{"marketing.db", []string{"CREATE TABLE leads (id INTEGER PRIMARY KEY, email TEXT, created_at TEXT)"}},
	} {
		db, err := sql.Open("sqlite", filepath.Join(dir, p.file))
		if err != nil {
			return err
		}
		for _, s := range p.stmts {
			if _, err := db.ExecContext(ctx, s); err != nil {
				db.Close()
				return fmt.Errorf("%s: %w", p.file, err)
			}
		}
		if err := plantLeads(ctx, db, p.file); err != nil {
			db.Close()
			return err
		}
		if err := db.Close(); err != nil {
			return err
		}
	}
	export := filepath.Join(dir, "hubspot")
	if err := os.MkdirAll(export, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(export, "contacts-2026-11-29.csv"), []byte(HubSpotExport), 0o644)
}

// leadBatch is n leads created at the same time.
type leadBatch struct {
	n       int
	at      string
	deleted int
}

// The daily leads around the end of daylight saving time in New York: the
// marketing platform keeps UTC instants, the CRM New York wall clocks.
// November 1 has 3% fewer in the CRM (its deleted leads do not count),
// November 2 is 2% short (within the limit), and November 3 has one the
// platform lacks.
var (
	marketingLeads = []leadBatch{{100, "2026-10-31T12:00:00Z", 0}, {100, "2026-11-01T04:30:00Z", 0},
		{100, "2026-11-02T04:30:00Z", 0}, {50, "2026-11-02T15:00:00Z", 0}}
	crmLeads = []leadBatch{{100, "2026-10-31 08:00:00", 0}, {97, "2026-11-01 00:30:00", 0}, {97, "2026-11-01 23:30:00", 0},
		{5, "2026-11-01 12:00:00", 1}, {49, "2026-11-02 10:00:00", 0}, {1, "2026-11-03 10:00:00", 0}}
)

func plantLeads(ctx context.Context, db *sql.DB, file string) error {
	stmt, batches := "INSERT INTO leads (created_at) VALUES ", marketingLeads
	switch file {
	case "crm.db":
		stmt, batches = "INSERT INTO crm_leads (created_date, is_deleted) VALUES ", crmLeads
	case "marketing.db":
	default:
		return nil
	}
	for _, b := range batches {
		row := fmt.Sprintf("('%s')", b.at)
		if file == "crm.db" {
			row = fmt.Sprintf("('%s', %d)", b.at, b.deleted)
		}
		if _, err := db.ExecContext(ctx, stmt+strings.TrimSuffix(strings.Repeat(row+", ", b.n), ", ")); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	return nil
}

// ContactRows are the CRM's contacts of the scenario, as SQL VALUES rows
// (id, email, first_name, last_name, company, phone, country, stage),
// and HubSpotExport the HubSpot export they are reconciled against.
const ContactRows = `
			 ('C1', 'ann@acme.com', 'Ann', 'Lee', 'Acme', '(415) 555-0101', 'USA', 'Customer'),
			 ('C2', 'Bob@Acme.com', 'Bob', 'Ray', 'Acme', '415-555-0102', 'US', 'Lead'),
			 ('C3', 'cy@acme.com', 'Cy', 'Fox', 'Acme', '415 555 0103', 'GB', 'Lead'),
			 ('C4', 'team@acme.com', 'Di', 'Orr', 'Acme', '415 555 0104', 'DE', 'Lead'),
			 ('C5', NULL, 'Ed', 'Kim', 'Initech, Inc.', '415 555 0105', 'France', 'Customer'),
			 ('C6', 'flo@acme.com', 'Flo', 'Ng', 'Acme', '415 555 0106', 'US', 'Customer'),
			 ('C7', 'gus@acme.com', 'Gus', 'Poe', 'Acme', '415 555 0107', 'US', 'Customer'),
			 ('C8', 'hal@acme.com', 'Hal', 'Ito', 'Acme', '415 555 0108', 'US', 'Lead'),
			 ('C9', 'ida@acme.com', 'Ida', 'Bo', 'Acme', '415 555 0109', 'US', 'Lead')`

const HubSpotExport = "\ufeff" + `"Record ID","Salesforce Contact ID","Email","First Name","Last Name","Company Name","Phone Number","Country/Region","Lifecycle Stage"` + "\r\n" +
	`"101","C1","ann@acme.com","Ann","Lee","Acme","+1 415.555.0101","United States of America","customer"` + "\r\n" +
	`"102",,"bob@acme.com","Bob","Ray","Acme","+14155550102","United States","lead"` + "\r\n" +
	`"103","C999","cy@acme.com","Cy","Fox","Acme","+44 20 7946 0958","United Kingdom","lead"` + "\r\n" +
	`"104",,"team@acme.com","Di","Orr","Acme","+14155550104","DE","lead"` + "\r\n" +
	`"105",,"team@acme.com","Dan","Orr","Acme","+14155550199","DE","lead"` + "\r\n" +
	`"106",,,"ed","KIM","Initech","+14155550105","FRA","customer"` + "\r\n" +
	`"107","C6","flo@acme.com","Flo","Ng","Acme","+14155550166","US","customer"` + "\r\n" +
	`"108","C7","gus@acme.com","Gus","Poe","Acme","+14155550107","Narnia","customer"` + "\r\n" +
	`"109","C9","ida@acme.com","Ida","Bo","Acme","+14155550109","US","Evangelist"` + "\r\n" +
	`"110",,"zed@acme.com","Zed","Oz","Acme","+14155550110","US","lead"` + "\r\n"

// DemoConfig is make demo's config: the drift scenario's reconciliations
// over SQLite files, then the finance and CRM ones over what PlantCRM
// writes beside them.
func DemoConfig() string {
	cfg := Config(System{Driver: "sqlite", DSN: "crm.db"}, System{Driver: "sqlite", DSN: "billing.db"})
	systems := `  billing: {driver: sqlite, dsn: "billing.db", timezone: ` + BillingZone + `}
`
	return strings.Replace(cfg, systems, systems+crmSystems, 1) + crmReconciliations
}

const crmSystems = `  marketing: {driver: sqlite, dsn: "marketing.db"}
  crm_local: {driver: sqlite, dsn: "crm.db", timezone: America/New_York}
  hubspot: {driver: csv, dsn: "hubspot"}
`

const crmReconciliations = `  # Finance: one deal against its invoices (instalments, credit notes).
  - name: deals_vs_invoices
    source: {system: crm, table: deals, where: "stage = 'Closed Won'"}
    target: {system: billing, table: deal_invoices, group_by: [deal_id], where: "status <> 'void'"}
    key: [{source: id, target: deal_id, type: int}]
    fields:
      - {name: amount, source: amount, target: subtotal, type: decimal, aggregate: sum, tolerance: "0.01", money: true}
      - {name: currency, type: string, aggregate: distinct, normalize: [trim, upper]}
      - {name: close_date, target: invoiced_at, type: date, aggregate: min, tolerance: "45", date_timezone: America/New_York}
  # Marketing ops: daily lead counts, New York days, across the end of DST.
  - name: leads_daily
    source: {system: marketing, table: leads}
    target: {system: crm_local, table: crm_leads, where: "is_deleted = 0"}
    counts_by: {source: created_at, target: created_date, period: day, timezone: America/New_York}
    thresholds: {count_variance: "2%"}
` + ContactsReconciliation

// ContactsReconciliation is the demo's contacts_vs_hubspot: the CRM's
// contacts (system crm, ContactRows) against the HubSpot export (system
// hubspot, HubSpotExport).
const ContactsReconciliation = `  # Contacts against a HubSpot export: by Salesforce id, then e-mail, then name and company.
  - name: contacts_vs_hubspot
    source: {system: crm, table: contacts}
    target: {system: hubspot, table: "contacts-*.csv"}
    key: [{source: id, target: Salesforce Contact ID}]
    match:
      - [{source: email, target: Email, normalize: [email]}]
      - [{source: first_name, target: First Name, normalize: [trim, casefold]}, {source: last_name, target: Last Name, normalize: [trim, casefold]}, {source: company, target: Company Name, normalize: [strip_legal_suffix, casefold]}]
    fields:
      - {name: phone, target: Phone Number, normalize: [phone]}
      - {name: country, target: Country/Region, normalize: [country]}
      - {name: stage, target: Lifecycle Stage, normalize: [trim, lower], allowed: [lead, customer]}
`

// CRMExpected lists the exceptions PlantCRM's scenario must give, as
// reconciliation|kind|record_key|field|side, under the demo config.
func CRMExpected() []string {
	return []string{
		"deals_vs_invoices|field_mismatch|3|amount|",
		"deals_vs_invoices|field_mismatch|4|currency|",
		"deals_vs_invoices|missing_in_target|6||",
		"deals_vs_invoices|field_mismatch|11|close_date|",
		"deals_vs_invoices|missing_in_source|10||",
		"leads_daily|count_mismatch|2026-11-01||",
		"leads_daily|count_mismatch|2026-11-03||",
		"contacts_vs_hubspot|key_mismatch|C2|id|",             // matched by e-mail; HubSpot has no Salesforce id
		"contacts_vs_hubspot|key_mismatch|C3|id|",             // matched by e-mail; HubSpot's id points elsewhere
		"contacts_vs_hubspot|field_mismatch|C3|phone|",        // and the phone differs
		"contacts_vs_hubspot|ambiguous_match|C4|email|source", // team@ is two HubSpot contacts: never guessed
		"contacts_vs_hubspot|ambiguous_match||Email|target",
		"contacts_vs_hubspot|ambiguous_match||Email|target",
		"contacts_vs_hubspot|key_mismatch|C5|id|",              // matched by name and company
		"contacts_vs_hubspot|field_mismatch|C6|phone|",         // matched by id, the phone differs
		"contacts_vs_hubspot|invalid_record|C7|country|target", // Narnia
		"contacts_vs_hubspot|invalid_record|C9|stage|target",   // an unmapped lifecycle stage
		"contacts_vs_hubspot|missing_in_target|C8||",
		"contacts_vs_hubspot|missing_in_source|zed@acme.com||", // no id: named by its e-mail
	}
}
