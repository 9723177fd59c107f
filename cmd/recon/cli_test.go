package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/dbtest"
	"github.com/recon-dev/recon/internal/drift"
	"github.com/recon-dev/recon/internal/runner"
)

// runRecon runs the CLI in-process and returns its exit code and output.
func runRecon(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// demoConfig is a valid config over two SQLite files planted with the scenario.
func demoConfig(t *testing.T) (dir string) {
	t.Helper()
	dir = t.TempDir()
	var dbs []*sql.DB
	for _, name := range []string{"crm.db", "billing.db"} {
		db, err := sql.Open("sqlite", filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs = append(dbs, db)
	}
	if err := drift.Plant(context.Background(), dbs[0], "sqlite", dbs[1], "sqlite", 10); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "recon.yaml", drift.Config(drift.System{Driver: "sqlite", DSN: "crm.db"}, drift.System{Driver: "sqlite", DSN: "billing.db"}))
	return dir
}

func TestConfigErrorsNameFileLineAndWhatToDo(t *testing.T) {
	valid := drift.Config(drift.System{Driver: "sqlite", DSN: "crm.db"}, drift.System{Driver: "sqlite", DSN: "billing.db"})
	for _, tc := range []struct {
		name   string
		config string
		want   []string
	}{
		{"malformed YAML", "version: 1\nsystems: [unclosed\n", []string{"line"}},
		{"empty file", "", []string{"empty"}},
		{"unknown key", strings.Replace(valid, "tolerance: \"0.01\"", "tolerence: \"0.01\"", 1),
			[]string{`line 12: unknown key "tolerence" in a field`, "known keys: name, source, target, type, tolerance"}},
		{"unknown top-level key", valid + "extra: 1\n", []string{`unknown key "extra" at the top level`}},
		{"bad field type", strings.Replace(valid, "type: decimal", "type: money", 1),
			[]string{`reconciliation "opportunities_vs_invoices", field "amount"`, `type "money" is not one of`}},
		{"bad tolerance", strings.Replace(valid, `tolerance: "0.01"`, `tolerance: "a cent"`, 1),
			[]string{`field "amount"`, `tolerance "a cent"`, "0.5%"}},
		{"tolerance on a string", strings.Replace(valid, "{name: currency, type: string,", `{name: currency, type: string, tolerance: "1",`, 1),
			[]string{`field "currency"`, "take no tolerance"}},
		{"bad normalisation", strings.Replace(valid, "normalize: [trim, upper]", "normalize: [trim, shout]", 1),
			[]string{`field "currency"`, `normalize "shout"`, "strip_legal_suffix"}},
		{"region without phone", strings.Replace(valid, "normalize: [trim, upper]", "normalize: [trim, upper], region: GB", 1),
			[]string{`field "currency"`, `region "GB" applies to normalize: [phone]`}},
		{"unknown phone region", strings.Replace(valid, "normalize: [trim, upper]", "normalize: [phone], region: ZZ", 1),
			[]string{`field "currency"`, `region "ZZ" is not a country code`}},
		{"picklist map outside allowed", strings.Replace(valid, "normalize: [trim, upper]", `normalize: [trim, upper], map: {"US DOLLAR": USD}, allowed: [EUR, GBP]`, 1),
			[]string{`field "currency"`, `map sends "US DOLLAR" to "USD", which is not one of allowed: EUR, GBP`}},
		{"date zone on a string", strings.Replace(valid, "normalize: [trim, upper]", "normalize: [trim, upper], date_timezone: America/New_York", 1),
			[]string{`field "currency"`, "date_timezone applies to date fields; this one is string"}},
		{"aggregate without group_by", strings.Replace(valid, `type: decimal, tolerance: "0.01"`, `type: decimal, aggregate: sum, tolerance: "0.01"`, 1),
			[]string{`field "amount"`, "aggregate: sum applies to a side with group_by, and neither side has one"}},
		{"group_by and its consequences", strings.Replace(valid, "target: {system: billing, table: invoices}", "target: {system: billing, table: invoices, group_by: [customer]}", 1),
			[]string{`target group_by [customer] must name the target's key columns, [opportunity_id]`,
				`field "amount": a side has group_by, so say how this field folds that side's rows with aggregate: (sum, count, min, max, distinct)`,
				"repairs are not planned where a side has group_by"}},
		{"sum of text", strings.NewReplacer("target: {system: billing, table: invoices}", "target: {system: billing, table: invoices, group_by: [opportunity_id]}",
			"{name: currency, type: string,", "{name: currency, type: string, aggregate: sum,", "owner: source}", "}", "owner: newest}", "}", ", review: true}", "}",
			"    repair: {direction: source_to_target, max_changes: 500}\n", "").Replace(valid),
			[]string{`field "currency": aggregate: sum adds numbers`, `field "amount": a side has group_by`}},
		{"counts_by with records", strings.Replace(valid, "    key: [{source: code, target: account_code}]\n", "    key: [{source: code, target: account_code}]\n    counts_by: {source: created_at, period: fortnight, last: -1}\n", 1),
			[]string{`reconciliation "accounts_vs_customers", counts_by: period "fortnight" is not one of hour, day, week, month`,
				"last must be a number of periods", "takes no key:, fields:, timestamp: or settle:", "takes no group_by: and no repair:", "of thresholds it takes count_variance"}},
		{"repairs with match tiers", strings.Replace(valid, "    key: [{source: code, target: account_code}]\n", "    key: [{source: code, target: account_code}]\n    match: [[{source: name}]]\n", 1),
			[]string{`reconciliation "accounts_vs_customers": repairs are not planned with match: tiers`}},
		{"allowed values not normalised", strings.Replace(valid, "normalize: [trim, upper]", `normalize: [trim, upper], map: {"us dollar": USD}, allowed: [USD, eur]`, 1),
			[]string{`field "currency"`, `map:/allowed: value "us dollar" is compared after normalize: [trim upper], which makes it "US DOLLAR"`,
				`value "eur" is compared after normalize: [trim upper], which makes it "EUR"`}},
		{"unknown system", strings.Replace(valid, "target: {system: billing, table: invoices}", "target: {system: biling, table: invoices}", 1),
			[]string{`reconciliation "opportunities_vs_invoices"`, `target system "biling" is not defined`, "billing, crm"}},
		{"unknown driver", strings.Replace(valid, "{driver: sqlite, dsn: \"crm.db\"}", "{driver: oracle, dsn: \"x\"}", 1),
			[]string{`system "crm": driver "oracle" is not one of csv, mysql, parquet, pgx, postgres, sqlite`}},
		{"SQL asked of files", strings.Replace(valid, "{driver: sqlite, dsn: \"crm.db\"}", "{driver: csv, dsn: \".\"}", 1),
			[]string{`reconciliation "opportunities_vs_invoices": source: a csv system reads files, which take no where: filter`,
				`reconciliation "accounts_vs_customers": repair: the source, system "crm", is a csv source, which recon cannot write`}},
		{"match tiers with group_by", strings.Replace(strings.Replace(valid, "target: {system: billing, table: invoices}", "target: {system: billing, table: invoices, group_by: [opportunity_id]}", 1),
			"    key: [{source: id, target: opportunity_id, type: int}]\n", "    key: [{source: id, target: opportunity_id, type: int}]\n    match: [[{source: email, normalize: [email], type: float}]]\n", 1),
			[]string{"match tier 2: type \"float\": a key is string or int", "match: tiers pair single records; they do not combine with group_by:"}},
		{"bad timezone", strings.Replace(valid, "America/New_York", "Eastern", 1), []string{`timezone "Eastern"`}},
		{"unset variable", strings.Replace(valid, `dsn: "crm.db"`, `dsn: "${RECON_TEST_UNSET_VAR}"`, 1),
			[]string{"environment variable RECON_TEST_UNSET_VAR is not set"}},
		{"table and query", strings.Replace(valid, "table: accounts}", "table: accounts, query: q.sql}", 1),
			[]string{`reconciliation "accounts_vs_customers"`, "not both"}},
		{"missing query file", strings.Replace(valid, "table: accounts}", "query: queries/nope.sql}", 1),
			[]string{"source query file", "nope.sql"}},
		{"duplicate name", strings.Replace(valid, "name: accounts_vs_customers", "name: opportunities_vs_invoices", 1),
			[]string{"the name is used twice"}},
		{"bad threshold", strings.Replace(valid, `drift_rate: "1%"`, `drift_rate: "one percent"`, 1),
			[]string{"drift_rate", "one percent"}},
		{"wrong version", strings.Replace(valid, "version: 1", "version: 2", 1), []string{"version must be 1"}},
		{"bad owner", strings.Replace(valid, "normalize: [trim, upper], owner: source}", "normalize: [trim, upper], owner: crm}", 1),
			[]string{`field "currency"`, `owner "crm" is not source, target or newest`}},
		{"newest without timestamps", strings.Replace(strings.Replace(valid, "normalize: [trim], owner: target}", "normalize: [trim], owner: newest}", 1),
			"    timestamp: {source: updated_at, target: modified_at, tolerance: 1m}\n", "", 1),
			[]string{`reconciliation "accounts_vs_customers", repair`, `field "tier": owner newest needs the records' timestamp`}},
		{"bad repair", strings.Replace(valid, "repair: {direction: both, formats: [sql, csv, salesforce, hubspot]}",
			"repair: {direction: sideways, formats: [sql, xml], max_changes: 0, soft_delete: {column: gone}}", 1),
			[]string{`repair: direction "sideways" is not one of source_to_target, target_to_source, both`, `format "xml" is not one of sql, csv, salesforce, hubspot`,
				"max_changes must be at least 1", "soft_delete needs a column and a value"}},
		{"unknown repair key", strings.Replace(valid, "repair: {direction: both,", "repair: {drection: both,", 1),
			[]string{`unknown key "drection" in repair`, "known keys: direction, target_table"}},
		{"CRM format without an external id", strings.Replace(valid, "key: [{source: code, target: account_code}]",
			"key: [{source: code, target: account_code}, {source: country, target: country_code}]", 1),
			[]string{"repair.formats salesforce: a composite key needs repair.external_id"}},
		{"plan files that collide", strings.NewReplacer("name: accounts_vs_customers", "name: Opportunities_vs_Invoices.target",
			"repair: {direction: source_to_target, max_changes: 500}", "repair: {direction: both, max_changes: 500}",
			"repair: {direction: both, formats: [sql, csv, salesforce, hubspot]}", "repair: {direction: source_to_target}").Replace(valid),
			[]string{`reconciliation "Opportunities_vs_Invoices.target": its repair plan files would have the names of "opportunities_vs_invoices"'s`}},
		{"repairs into a query", strings.Replace(valid, "target: {system: billing, table: customers}", "target: {system: billing, query: customers.sql}", 1),
			[]string{"the target reads a query, so name the table recon writes there with target_table:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "customers.sql", "SELECT * FROM customers")
			path := writeFile(t, dir, "recon.yaml", tc.config)
			for _, args := range [][]string{{"run", "--out", t.TempDir()}, {"validate"}} {
				cmd := args[0]
				code, _, stderr := runRecon(t, nil, append(args, "--config", path)...)
				if code != exitError {
					t.Errorf("%s: exit %d, want 2\n%s", cmd, code, stderr)
				}
				for _, w := range append([]string{"Error: ", path, "Try: "}, tc.want...) {
					if !strings.Contains(stderr, w) {
						t.Errorf("%s: stderr lacks %q:\n%s", cmd, w, stderr)
					}
				}
				if strings.Contains(stderr, "panic") || strings.Contains(stderr, "main.") {
					t.Errorf("%s: stderr shows internals:\n%s", cmd, stderr)
				}
			}
		})
	}
}

func TestMissingConfigFile(t *testing.T) {
	code, _, stderr := runRecon(t, nil, "run", "--config", "/nonexistent/recon.yaml")
	if code != exitError || !strings.Contains(stderr, "/nonexistent/recon.yaml") || !strings.Contains(stderr, "Try: ") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

func TestValidateNamesMissingColumnsAndIncomparableTypes(t *testing.T) {
	dir := demoConfig(t)
	cfg := filepath.Join(dir, "recon.yaml")
	code, stdout, stderr := runRecon(t, nil, "validate", "--config", cfg)
	if code != exitOK || strings.Count(stdout, "ok  ") != 2 {
		t.Fatalf("valid config: exit %d\n%s%s", code, stdout, stderr)
	}
	text, _ := os.ReadFile(cfg)
	bad := strings.Replace(string(text), "{name: amount, target: total,", "{name: amount, target: totl,", 1)
	bad = strings.Replace(bad, "{name: lead_source, type: string,", "{name: lead_source, type: string, target: lead_source,", 1)
	bad = strings.Replace(bad, "{name: close_date, target: invoice_date, type: date}", "{name: close_date, target: invoice_date, type: date}\n      - {name: stage_as_date, source: stage, target: currency, type: date}", 1)
	writeFile(t, dir, "bad.yaml", bad)
	code, stdout, stderr = runRecon(t, nil, "validate", "--config", filepath.Join(dir, "bad.yaml"))
	if code != exitError {
		t.Fatalf("exit %d, want 2", code)
	}
	for _, w := range []string{
		`BAD opportunities_vs_invoices: field "amount", target billing.table invoices: no such column "totl" (the relation has: invoice_id, opportunity_id, customer, total`,
		`ok  accounts_vs_customers`,
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
	if !strings.Contains(stderr, "Try: ") {
		t.Errorf("stderr: %s", stderr)
	}
	// The same config fails to run the broken reconciliation, names the
	// column, and still runs the other.
	out := t.TempDir()
	code, stdout, _ = runRecon(t, nil, "run", "--config", filepath.Join(dir, "bad.yaml"), "--out", out)
	if code != exitError || !strings.Contains(stdout, `no such column "totl"`) || !strings.Contains(stdout, "accounts_vs_customers          BREACHED") {
		t.Errorf("run: exit %d\n%s", code, stdout)
	}
}

func TestIncomparableColumnTypes(t *testing.T) {
	dir := demoConfig(t)
	text, _ := os.ReadFile(filepath.Join(dir, "recon.yaml"))
	// The SQLite demo declares close_date DATE; reading it as a decimal makes no sense.
	bad := strings.Replace(string(text), "{name: close_date, target: invoice_date, type: date,", "{name: close_date, target: invoice_date, type: decimal,", 1)
	writeFile(t, dir, "bad.yaml", bad)
	code, stdout, _ := runRecon(t, nil, "validate", "--config", filepath.Join(dir, "bad.yaml"))
	if code != exitError || !strings.Contains(stdout, `field "close_date": source column "close_date" is DATE (date), which cannot be read as decimal`) {
		t.Errorf("exit %d\n%s", code, stdout)
	}
}

func TestUnreachableSystemAndWrongPasswordExit2WithoutSecrets(t *testing.T) {
	// A port nobody listens on: listen, note the port, close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().(*net.TCPAddr).Port
	l.Close()

	// A MariaDB user with a password, and a DSN with the wrong one.
	adminDSN := dbtest.MySQL(t)
	admin, err := sql.Open("mysql", adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	const secret = "Corr3ct-Horse!"
	const wrong = "Wr0ng-Battery#"
	user := fmt.Sprintf("recon_%d", os.Getpid())
	for _, stmt := range []string{
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", user, secret),
		fmt.Sprintf("GRANT SELECT ON *.* TO '%s'@'%%'", user),
	} {
		if _, err := admin.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { admin.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user)) })
	cfg, err := mysql.ParseDSN(adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Passwd = user, wrong
	wrongDSN := cfg.FormatDSN()

	for _, tc := range []struct {
		name, dsn, driver string
		want              string
	}{
		{"unreachable postgres", fmt.Sprintf("postgres://recon:%s@127.0.0.1:%d/x?sslmode=disable&connect_timeout=2", url.PathEscape(wrong), closedPort), "postgres", `system "crm": connect`},
		// An unescaped '#' breaks the URL; the error must still not show it.
		{"unparsable postgres url", fmt.Sprintf("postgres://recon:%s@127.0.0.1:%d/x", wrong, closedPort), "postgres", `system "crm": bad dsn: not a valid postgres:// URL`},
		{"wrong mysql password", wrongDSN, "mysql", `system "crm": connect`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := demoConfig(t)
			config := drift.Config(drift.System{Driver: tc.driver, DSN: "${CRM_DSN}"}, drift.System{Driver: "sqlite", DSN: "billing.db"})
			path := writeFile(t, dir, "recon.yaml", config)
			out := t.TempDir()
			for _, args := range [][]string{{"run", "--out", out, "--log-level", "debug"}, {"validate"}} {
				cmd := args[0]
				code, stdout, stderr := runRecon(t, map[string]string{"CRM_DSN": tc.dsn}, append(args, "--config", path)...)
				if code != exitError {
					t.Errorf("%s: exit %d, want 2", cmd, code)
				}
				all := stdout + stderr
				if !strings.Contains(all, tc.want) {
					t.Errorf("%s: output lacks %q:\n%s", cmd, tc.want, all)
				}
				if strings.Contains(all, wrong) || strings.Contains(all, secret) {
					t.Errorf("%s: output shows the password:\n%s", cmd, all)
				}
			}
			summary, err := os.ReadFile(filepath.Join(onlyRunDir(t, out), "summary.json"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(summary), `"status": "error"`) || strings.Contains(string(summary), wrong) {
				t.Errorf("summary.json:\n%s", summary)
			}
		})
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}} {
		code, stdout, stderr := runRecon(t, nil, args...)
		if code != exitOK || !strings.Contains(stdout+stderr, "Usage") {
			t.Errorf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
	for _, c := range commands() {
		code, stdout, stderr := runRecon(t, nil, c.name, "--help")
		if code != exitOK || !strings.Contains(stdout+stderr, "Usage: recon "+c.name) {
			t.Errorf("%s --help: exit %d\n%s%s", c.name, code, stdout, stderr)
		}
	}
	if code, _, stderr := runRecon(t, nil, "frobnicate"); code != exitError || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d %s", code, stderr)
	}
	if code, _, _ := runRecon(t, nil); code != exitError {
		t.Errorf("no command: exit %d", code)
	}
	for _, bad := range [][]string{{"--log-level", "loud"}, {"--log-format", "xml"}, {"--memory"}, {"stray"}, {"--partition", "4/4"}} {
		code, _, stderr := runRecon(t, nil, append([]string{"run", "--config", "/nonexistent.yaml"}, bad...)...)
		if code != exitError || !strings.Contains(stderr, bad[0]) && !strings.Contains(stderr, "flag needs an argument") {
			t.Errorf("run %v: exit %d\n%s", bad, code, stderr)
		}
	}
}

// A --memory the engine would not use as given is refused, not replaced
// by the default without a word.
func TestMemoryFlagRefusesWhatItWouldNotUse(t *testing.T) {
	cfg := filepath.Join(demoConfig(t), "recon.yaml")
	for _, cmd := range []string{"run", "schedule"} {
		for _, mib := range []string{"-1", "0", "99999999999999"} {
			code, _, stderr := runRecon(t, nil, cmd, "--config", cfg, "--out", t.TempDir(), "--memory", mib)
			if code != exitError || !strings.Contains(stderr, "--memory "+mib+": the sort budget is 1 to") || !strings.Contains(stderr, "Try:") {
				t.Errorf("%s --memory %s: exit %d\n%s", cmd, mib, code, stderr)
			}
		}
	}
}

func TestOnlySelectsAndRejectsUnknownNames(t *testing.T) {
	dir := demoConfig(t)
	cfg := filepath.Join(dir, "recon.yaml")
	out := t.TempDir()
	code, stdout, _ := runRecon(t, nil, "run", "--config", cfg, "--out", out, "--only", "opportunities_vs_invoices,opportunities_vs_invoices", "--summary")
	// opportunities_vs_invoices over 10 clean pairs: its drift rate breaches 1%.
	// Named twice, it runs once.
	if code != exitBreached || strings.Contains(stdout, "accounts_vs_customers") || strings.Count(stdout, "opportunities_vs_invoices") != 1 {
		t.Errorf("exit %d\n%s", code, stdout)
	}
	code, _, stderr := runRecon(t, nil, "run", "--config", cfg, "--out", out, "--only", "nope")
	if code != exitError || !strings.Contains(stderr, "use one of: opportunities_vs_invoices, accounts_vs_customers") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

func TestRunsNeverOverlap(t *testing.T) {
	dir := demoConfig(t)
	out := t.TempDir()
	unlock, err := runner.Lock(out)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	code, _, stderr := runRecon(t, nil, "run", "--config", filepath.Join(dir, "recon.yaml"), "--out", out)
	if code != exitError || !strings.Contains(stderr, "another recon run is writing to") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

func TestCancelledRunLeavesNoReport(t *testing.T) {
	dir := demoConfig(t)
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"run", "--config", filepath.Join(dir, "recon.yaml"), "--out", out}, &stdout, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "cancelled") {
		t.Errorf("exit %d\n%s", code, stderr.String())
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("a cancelled run left %s", e.Name())
		}
	}
}

func TestMalformedPostgresKeyValueDSNHidesPassword(t *testing.T) {
	dir := demoConfig(t)
	path := writeFile(t, dir, "recon.yaml", drift.Config(drift.System{Driver: "postgres", DSN: "${CRM_DSN}"}, drift.System{Driver: "sqlite", DSN: "billing.db"}))
	code, stdout, stderr := runRecon(t, map[string]string{"CRM_DSN": "host=127.0.0.1 user=postgres password=s3cr3t topsecret"}, "validate", "--config", path)
	if code != exitError || !strings.Contains(stdout, "not a valid key=value connection string") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, "s3cr3t") || strings.Contains(stdout+stderr, "topsecret") {
		t.Errorf("the password shows:\n%s%s", stdout, stderr)
	}
}

func TestEnvironmentVariablesInConfig(t *testing.T) {
	valid := drift.Config(drift.System{Driver: "sqlite", DSN: "crm.db"}, drift.System{Driver: "sqlite", DSN: "billing.db"})
	dir := t.TempDir()

	// A variable takes the type of its value: a bool, a count (in a flow
	// mapping it must be quoted, as "{" starts a mapping there).
	typed := strings.Replace(valid, "null_equals_empty: true", `null_equals_empty: "${NEE}"`, 1)
	typed = strings.Replace(typed, `drift_rate: "1%"}`, `drift_rate: "1%", invalid_records: "${MAXINV}"}`, 1)
	t.Setenv("NEE", "true")
	t.Setenv("MAXINV", "5")
	cfg, err := config.Load(writeFile(t, dir, "typed.yaml", typed))
	if err != nil {
		t.Fatal(err)
	}
	spec := cfg.Reconciliations[0].Spec
	if !spec.Fields[4].NullEqualsEmpty || spec.Thresholds.MaxInvalidRecords == nil || *spec.Thresholds.MaxInvalidRecords != 5 {
		t.Errorf("expanded values not applied: %+v %+v", spec.Fields[4], spec.Thresholds)
	}

	// A value that does not fit is named by its variable, never shown: it may be a secret.
	t.Setenv("CRM_DSN", "bob:hunter2@tcp(db:3306)/crm")
	broken := strings.Replace(valid, `crm:     {driver: sqlite, dsn: "crm.db"}`, "crm: ${CRM_DSN}", 1)
	_, err = config.Load(writeFile(t, dir, "broken.yaml", broken))
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "the value of ${CRM_DSN}") {
		t.Errorf("error: %v", err)
	}

	// A string key gets the text, whatever it looks like.
	t.Setenv("TRUE_DSN", "true")
	quoted := strings.Replace(valid, `dsn: "crm.db"`, `dsn: "${TRUE_DSN}"`, 1)
	if cfg, err := config.Load(writeFile(t, dir, "quoted.yaml", quoted)); err != nil || cfg.Systems["crm"].Source.DSN != "true" {
		t.Errorf("quoted: %v", err)
	}
}

// validate and run check the table a repair writes before planning.
func TestValidateChecksRepairTables(t *testing.T) {
	dir := demoConfig(t)
	text, err := os.ReadFile(filepath.Join(dir, "recon.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const accountsRepair = "repair: {direction: both, formats: [sql, csv, salesforce, hubspot]}"
	if !strings.Contains(string(text), accountsRepair) {
		t.Fatalf("the demo config has no %q", accountsRepair)
	}
	cfg := strings.Replace(string(text), accountsRepair, "repair: {direction: source_to_target, soft_delete: {column: is_deleted, value: true}}", 1)
	writeFile(t, dir, "repair.yaml", cfg)
	code, stdout, stderr := runRecon(t, nil, "validate", "--config", filepath.Join(dir, "repair.yaml"))
	want := `BAD accounts_vs_customers: repair table customers on target system "billing": no such column "is_deleted"`
	if code != exitError || !strings.Contains(stdout, want) {
		t.Errorf("exit %d, want 2 and %q\n%s%s", code, want, stdout, stderr)
	}
	code, stdout, _ = runRecon(t, nil, "run", "--config", filepath.Join(dir, "repair.yaml"), "--out", t.TempDir())
	if code != exitError || !strings.Contains(stdout, `no such column "is_deleted"`) {
		t.Errorf("run: exit %d\n%s", code, stdout)
	}
	writeFile(t, dir, "ok.yaml", strings.Replace(cfg, "soft_delete: {column: is_deleted, value: true}", "max_changes: 10", 1))
	if strings.Count(cfg, "repair:") != 2 {
		t.Fatal("the test's config lost a repair section")
	}
	if code, stdout, stderr := runRecon(t, nil, "validate", "--config", filepath.Join(dir, "ok.yaml")); code != exitOK {
		t.Errorf("a repair the table can take: exit %d\n%s%s", code, stdout, stderr)
	}
}

// A numeric(12,2) key against an integer one never matches as text:
// validate says so and names the fix.
func TestValidateRejectsKeysThatCannotMatch(t *testing.T) {
	dir := t.TempDir()
	for _, ddl := range []struct{ file, table string }{{"a.db", "CREATE TABLE deals (id NUMERIC(12,2), v TEXT)"}, {"b.db", "CREATE TABLE invoices (deal_id INTEGER, v TEXT)"}} {
		db, err := sql.Open("sqlite", filepath.Join(dir, ddl.file))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ddl.table); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	cfg := `version: 1
systems: {a: {driver: sqlite, dsn: a.db}, b: {driver: sqlite, dsn: b.db}}
reconciliations:
  - name: deals
    source: {system: a, table: deals}
    target: {system: b, table: invoices}
    key: [{source: id, target: deal_id%s}]
    fields: [{name: v}]
`
	code, stdout, _ := runRecon(t, nil, "validate", "--config", writeFile(t, dir, "bad.yaml", fmt.Sprintf(cfg, "")))
	if code != exitError || !strings.Contains(stdout, "key #1: the source's id is decimal and the target's deal_id is integer: as text keys they never match") ||
		!strings.Contains(stdout, "declare the key type: int") {
		t.Errorf("exit %d\n%s", code, stdout)
	}
	if code, stdout, _ := runRecon(t, nil, "validate", "--config", writeFile(t, dir, "ok.yaml", fmt.Sprintf(cfg, ", type: int"))); code != exitOK {
		t.Errorf("type: int: exit %d\n%s", code, stdout)
	}
}
