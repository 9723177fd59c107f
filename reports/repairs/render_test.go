package repairs

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/sources"
	"github.com/recon-dev/recon/sources/postgres"
	"github.com/recon-dev/recon/sources/sqlite"
)

// render writes each type into each kind of column as the column takes it.
func TestRender(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	tbl := &Table{Dialect: postgres.Dialect{}, Location: ny}
	col := func(typ string) sources.Column {
		c := sources.Column{Name: "c", DatabaseType: typ}
		if _, scale, ok := strings.Cut(strings.TrimSuffix(typ, ")"), ","); ok {
			c.Scale, _ = strconv.ParseInt(scale, 10, 64)
			c.ScaleKnown = true
		}
		return c
	}
	field := func(typ reconcile.FieldType, nee bool) reconcile.Field {
		return reconcile.Field{Name: "f", Type: typ, NullEqualsEmpty: nee}
	}
	for _, c := range []struct {
		name   string
		field  reconcile.Field
		raw    *string
		column string
		sql    string // "" when the value cannot be written
	}{
		{"decimal into numeric keeps its scale", field(reconcile.Decimal, false), ptr("5.00"), "NUMERIC", "5.00"},
		// Rounded into place, a value would differ still, and be planned
		// again every run.
		{"decimal within the column's scale", field(reconcile.Decimal, false), ptr("1.2300000000"), "NUMERIC(12,2)", "1.2300000000"},
		{"decimal beyond the column's scale", field(reconcile.Decimal, false), ptr("1.2345678901"), "NUMERIC(12,2)", ""},
		{"a carry beyond the column's scale", field(reconcile.Decimal, false), ptr("99999999.995"), "NUMERIC(12,2)", ""},
		{"decimal into numeric of unknown scale", field(reconcile.Decimal, false), ptr("1.2345678901"), "NUMERIC", "1.2345678901"},
		{"a whole decimal into an integer column", field(reconcile.Decimal, false), ptr("5.00"), "INT4", "5"},
		{"a fractional decimal into an integer column", field(reconcile.Decimal, false), ptr("5.50"), "INT4", ""},
		{"a whole float into an integer column", field(reconcile.Float, false), ptr("7"), "INT8", "7"},
		{"a fractional float into an integer column", field(reconcile.Float, false), ptr("7.5"), "INT8", ""},
		{"decimal into text keeps the owner's text", field(reconcile.Decimal, false), ptr("1E+2"), "TEXT", "'1E+2'"},
		{"empty as NULL into an integer column", field(reconcile.Int, true), ptr(" "), "INT4", "NULL"},
		{"empty as NULL into a text column", field(reconcile.Int, true), ptr(""), "VARCHAR", "''"},
		{"a date into a date column", field(reconcile.Date, false), ptr("2024-01-01"), "DATE", "'2024-01-01'"},
		{"a date into a zoned timestamp: midnight where the system keeps its days", field(reconcile.Date, false), ptr("2024-01-01"), "TIMESTAMPTZ", "'2024-01-01 05:00:00+00:00'"},
		{"a date into a zone-less timestamp", field(reconcile.Date, false), ptr("2024-01-01"), "TIMESTAMP", "'2024-01-01 00:00:00'"},
		{"an instant into a zone-less column", field(reconcile.Timestamp, false), ptr("2024-07-04T16:30:00Z"), "TIMESTAMP", "'2024-07-04 12:30:00'"},
		{"an instant into text keeps its offset", field(reconcile.Timestamp, false), ptr("2024-07-04T16:30:00Z"), "TEXT", "'2024-07-04 12:30:00-04:00'"},
		{"a boolean into a boolean column", field(reconcile.Bool, false), ptr("yes"), "BOOL", "TRUE"},
		{"a boolean into an integer column", field(reconcile.Bool, false), ptr("f"), "INT2", "0"},
		{"NULL", field(reconcile.String, false), nil, "TEXT", "NULL"},
	} {
		var raw []byte
		if c.raw != nil {
			raw = []byte(*c.raw)
		}
		v, err := render(c.field, raw, time.UTC, tbl, col(c.column))
		switch {
		case c.sql == "" && err == nil:
			t.Errorf("%s: rendered %q, want an error", c.name, v.sql)
		case c.sql != "" && (err != nil || v.sql != c.sql):
			t.Errorf("%s: %q, %v; want %q", c.name, v.sql, err, c.sql)
		}
	}
}

// SQLite keeps 15 significant digits of a number in a NUMERIC column.
func TestRenderIntoSQLiteNumeric(t *testing.T) {
	tbl := &Table{Driver: "sqlite", Dialect: sqlite.Dialect{}, Location: time.UTC}
	f := reconcile.Field{Name: "f", Type: reconcile.Decimal}
	for raw, ok := range map[string]bool{"123456789012.345": true, "1234567890123.4500": true, "12345678901234567890.123456789012": false, "0.1234567890123456": false} {
		_, err := render(f, []byte(raw), time.UTC, tbl, sources.Column{Name: "c", DatabaseType: "NUMERIC"})
		if (err == nil) != ok {
			t.Errorf("%s into a SQLite NUMERIC column: %v, want written %t", raw, err, ok)
		}
	}
}

// A Salesforce Bulk API file reads #N/A as null: the text goes to review
// where such a file is written, and is written as it is elsewhere.
func TestRenderSalesforceNull(t *testing.T) {
	f := reconcile.Field{Name: "f", Type: reconcile.String}
	col := sources.Column{Name: "c", DatabaseType: "TEXT"}
	for _, salesforce := range []bool{false, true} {
		tbl := &Table{Dialect: postgres.Dialect{}, Location: time.UTC, salesforce: salesforce}
		if _, err := render(f, []byte("#N/A"), time.UTC, tbl, col); (err == nil) == salesforce {
			t.Errorf("#N/A with a Salesforce file %t: %v", salesforce, err)
		}
		if v, err := render(f, []byte("N/A"), time.UTC, tbl, col); err != nil || v.crm != "N/A" {
			t.Errorf("N/A with a Salesforce file %t: %q, %v", salesforce, v.crm, err)
		}
	}
}

func TestDecimalDigits(t *testing.T) {
	for s, want := range map[string][2]int64{"1.50": {1, 2}, "100": {0, 1}, "-0.00120": {4, 2}, "0": {0, 0}, "12.345": {3, 5}, "1E+3": {0, 1}} {
		places, digits := decimalDigits(decimal.RequireFromString(s))
		if places != want[0] || int64(digits) != want[1] {
			t.Errorf("decimalDigits(%s) = %d, %d; want %d, %d", s, places, digits, want[0], want[1])
		}
	}
}

func ptr(s string) *string { return &s }
