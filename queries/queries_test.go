package queries_test

import (
	"strings"
	"testing"

	"github.com/recon-dev/recon/queries"
)

// dq quotes as PostgreSQL and SQLite do.
type dq struct{}

func (dq) QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// bt quotes as MySQL does.
type bt struct{}

func (bt) QuoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func TestQuoteTable(t *testing.T) {
	cases := []struct {
		q     queries.Quoter
		table string
		want  string
	}{
		{dq{}, "opps", `"opps"`},
		{dq{}, "crm.opps", `"crm"."opps"`},
		{dq{}, "Order", `"Order"`},
		{dq{}, `we"ird`, `"we""ird"`},
		{dq{}, "a.b.c", `"a"."b"."c"`},
		{bt{}, "crm.order", "`crm`.`order`"},
		{bt{}, "we`ird", "`we``ird`"},
	}
	for _, c := range cases {
		if got := queries.QuoteTable(c.q, c.table); got != c.want {
			t.Errorf("QuoteTable(%q) = %s, want %s", c.table, got, c.want)
		}
	}
}

func TestColumn(t *testing.T) {
	for _, c := range []struct {
		q    queries.Quoter
		name string
		want string
	}{
		{dq{}, "amount", `q."amount"`},
		{dq{}, "Mixed Case", `q."Mixed Case"`},
		{dq{}, `a"b`, `q."a""b"`},
		{dq{}, "a.b", `q."a.b"`}, // a column name is never split
		{bt{}, "select", "q.`select`"},
	} {
		if got := queries.Column(c.q, c.name); got != c.want {
			t.Errorf("Column(%q) = %s, want %s", c.name, got, c.want)
		}
	}
}

func TestTrimQuery(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{in: "SELECT 1", want: "SELECT 1"},
		{in: "  SELECT 1  \n", want: "SELECT 1"},
		{in: "SELECT 1;", want: "SELECT 1"},
		{in: "SELECT 1 ;\n\n", want: "SELECT 1"},
		{in: "SELECT 1;;\r\n", want: "SELECT 1"},
		{in: "\n\tSELECT ';'\n", want: "SELECT ';'"},
		{in: "SELECT 1\n-- done\n", want: "SELECT 1"},
		{in: "SELECT 1;\n-- done\n", want: "SELECT 1"},
		{in: "SELECT 1; -- done", want: "SELECT 1"},
		{in: "SELECT 1; /* done; */ ;", want: "SELECT 1"},
		{in: "SELECT '--;' AS a;", want: "SELECT '--;' AS a"},
		{in: "SELECT 'it''s;'", want: "SELECT 'it''s;'"},
		{in: "SELECT \"a;--\" FROM t -- c", want: "SELECT \"a;--\" FROM t"},
		{in: "-- header\nSELECT 1", want: "-- header\nSELECT 1"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if got := queries.TrimQuery(c.in); got != c.want {
				t.Errorf("TrimQuery(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestStatements(t *testing.T) {
	const file = "SELECT id, stage FROM opportunities WHERE stage = 'Closed Won';\n"
	cases := []struct {
		name      string
		q         queries.Quoter
		sel       queries.Selection
		from      string
		probe     string
		selectSQL string // over exprs a, b
		str       string
	}{
		{
			name:      "table",
			q:         dq{},
			sel:       queries.Selection{Table: "opps"},
			from:      `"opps" AS q`,
			probe:     `SELECT * FROM "opps" AS q WHERE 1=0`,
			selectSQL: `SELECT a, b FROM "opps" AS q`,
			str:       "table opps",
		},
		{
			name:      "schema table mysql",
			q:         bt{},
			sel:       queries.Selection{Table: "crm.order"},
			from:      "`crm`.`order` AS q",
			probe:     "SELECT * FROM `crm`.`order` AS q WHERE 1=0",
			selectSQL: "SELECT a, b FROM `crm`.`order` AS q",
			str:       "table crm.order",
		},
		{
			name:      "where",
			q:         dq{},
			sel:       queries.Selection{Table: "opps", Where: "stage = 'Closed Won'"},
			from:      `"opps" AS q WHERE (stage = 'Closed Won')`,
			probe:     `SELECT * FROM "opps" AS q WHERE (stage = 'Closed Won') AND 1=0`,
			selectSQL: `SELECT a, b FROM "opps" AS q WHERE (stage = 'Closed Won')`,
			str:       "table opps where stage = 'Closed Won'",
		},
		{
			// OR binds looser than AND: the parentheses keep the probe empty.
			name:      "where with OR",
			q:         dq{},
			sel:       queries.Selection{Table: "opps", Where: " a = 1 OR b = 2 \n"},
			from:      `"opps" AS q WHERE (a = 1 OR b = 2)`,
			probe:     `SELECT * FROM "opps" AS q WHERE (a = 1 OR b = 2) AND 1=0`,
			selectSQL: `SELECT a, b FROM "opps" AS q WHERE (a = 1 OR b = 2)`,
			str:       "table opps where  a = 1 OR b = 2 \n",
		},
		{
			name:      "blank where",
			q:         dq{},
			sel:       queries.Selection{Table: "opps", Where: "  \n"},
			from:      `"opps" AS q`,
			probe:     `SELECT * FROM "opps" AS q WHERE 1=0`,
			selectSQL: `SELECT a, b FROM "opps" AS q`,
			str:       "table opps where   \n",
		},
		{
			name:      "query file",
			q:         dq{},
			sel:       queries.Selection{Query: file, QueryFile: "queries/won.sql"},
			from:      "(\nSELECT id, stage FROM opportunities WHERE stage = 'Closed Won'\n) AS q",
			probe:     "SELECT * FROM (\nSELECT id, stage FROM opportunities WHERE stage = 'Closed Won'\n) AS q WHERE 1=0",
			selectSQL: "SELECT a, b FROM (\nSELECT id, stage FROM opportunities WHERE stage = 'Closed Won'\n) AS q",
			str:       "query queries/won.sql",
		},
		{
			name:      "query with trailing comment",
			q:         dq{},
			sel:       queries.Selection{Query: "SELECT 1 AS x -- one"},
			from:      "(\nSELECT 1 AS x\n) AS q",
			probe:     "SELECT * FROM (\nSELECT 1 AS x\n) AS q WHERE 1=0",
			selectSQL: "SELECT a, b FROM (\nSELECT 1 AS x\n) AS q",
			str:       "query",
		},
		{
			// A query wins over a table and a filter.
			name:      "query and table",
			q:         dq{},
			sel:       queries.Selection{Table: "opps", Where: "x", Query: "SELECT 1"},
			from:      "(\nSELECT 1\n) AS q",
			probe:     "SELECT * FROM (\nSELECT 1\n) AS q WHERE 1=0",
			selectSQL: "SELECT a, b FROM (\nSELECT 1\n) AS q",
			str:       "query",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := queries.From(c.q, c.sel); got != c.from {
				t.Errorf("From = %q, want %q", got, c.from)
			}
			if got := queries.Probe(c.q, c.sel); got != c.probe {
				t.Errorf("Probe = %q, want %q", got, c.probe)
			}
			if got := queries.Select(c.q, c.sel, []string{"a", "b"}); got != c.selectSQL {
				t.Errorf("Select = %q, want %q", got, c.selectSQL)
			}
			if got := c.sel.String(); got != c.str {
				t.Errorf("String = %q, want %q", got, c.str)
			}
		})
	}
}

// TestQueryFile checks the query file the demo ships: a comment header and
// no trailing semicolon survive wrapping.
func TestQueryFile(t *testing.T) {
	text := "-- header\nSELECT id FROM opportunities\nWHERE stage = 'Closed Won'\n"
	got := queries.From(dq{}, queries.Selection{Query: text})
	want := "(\n-- header\nSELECT id FROM opportunities\nWHERE stage = 'Closed Won'\n) AS q"
	if got != want {
		t.Errorf("From = %q, want %q", got, want)
	}
}

func TestSelectGrouped(t *testing.T) {
	got := queries.SelectGrouped(dq{}, queries.Selection{Table: "invoices", Where: "status <> 'void'"}, []string{"k", "SUM(a)", "COUNT(*)"}, []string{"k"})
	if want := `SELECT k, SUM(a), COUNT(*) FROM "invoices" AS ` + queries.Alias + ` WHERE (status <> 'void') GROUP BY k`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
