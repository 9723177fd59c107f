package repairs

import (
	"testing"
	"time"

	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/sources"
	"github.com/recon-dev/recon/sources/postgres"
)

// render writes each type into each kind of column as the column takes it.
func TestRender(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	tbl := &Table{Dialect: postgres.Dialect{}, Location: ny}
	col := func(typ string) sources.Column { return sources.Column{Name: "c", DatabaseType: typ} }
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

func ptr(s string) *string { return &s }
