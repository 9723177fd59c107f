package repairs

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/sources"
)

// val is one value as a written column takes it, in each plan's terms.
type val struct {
	null bool
	// text is the column's text for the value: what the generic CSV holds.
	text string
	// sql is the value as SQL: a literal, NULL, or a bare number or
	// TRUE/FALSE.
	sql string
	// crm is the value as CRM imports take it: dates YYYY-MM-DD, instants
	// ISO 8601 in UTC with Z, booleans true/false, picklists ;-joined.
	crm string
}

// render turns the owner's stored text of a field (nil for NULL) into the
// value a column of t takes. Text and untyped columns get the owner's text
// as it is, except dates and instants, which are written in the written
// system's terms; typed columns get the value in their type's form, so
// that 5.00 goes into an integer column as 5 (5.50 cannot: an error, for
// review), an instant into a zone-less column as the system's wall-clock
// time, and a date into a timestamp column as midnight in the system's zone.
func render(f reconcile.Field, raw []byte, loc *time.Location, t *Table, col sources.Column) (val, error) {
	if raw == nil {
		return val{null: true, sql: "NULL"}, nil
	}
	pv, err := f.Parse(raw, loc)
	if err != nil {
		return val{}, err
	}
	fam := sources.FamilyOf(col.DatabaseType)
	numeric := fam == sources.Integer || fam == sources.Decimal || fam == sources.Float
	textual := fam == sources.Text || fam == sources.Unknown
	v := val{text: string(raw), crm: string(raw)}
	bare := false
	switch {
	case pv.Null() && textual: // the empty string, where it equals NULL: a text column keeps it as it is
	case pv.Null(): // ... and a typed column takes no empty string: NULL
		return val{null: true, sql: "NULL"}, nil
	case f.Type == reconcile.String:
		if hasNormalization(f, reconcile.Multiselect) {
			v.crm = joinPicklist(string(raw))
		}
	case f.Type == reconcile.Int:
		v.crm = pv.Decimal().String()
		if numeric {
			v.text, bare = v.crm, true
		}
	case f.Type == reconcile.Decimal:
		d := pv.Decimal()
		v.crm = d.String()
		if d.Exponent() < 0 {
			v.crm = d.StringFixed(-d.Exponent())
		}
		// A value the column would round goes to review, not rounded
		// into place (and planned again every run).
		places, digits := decimalDigits(d)
		switch {
		case fam == sources.Integer && !d.IsInteger():
			return val{}, fmt.Errorf("%s has a fraction; an integer column cannot hold it", v.crm)
		case fam == sources.Integer:
			v.text, bare = d.BigInt().String(), true // 5.00 into an integer column as 5
		case fam == sources.Decimal && col.ScaleKnown && places > col.Scale:
			return val{}, fmt.Errorf("%s has %d digits after the point; the column keeps %d and would round it", v.crm, places, col.Scale)
		case fam == sources.Decimal && t.Driver == "sqlite" && digits > sqliteDigits:
			return val{}, fmt.Errorf("%s has %d significant digits; SQLite keeps %d of a number", v.crm, digits, sqliteDigits)
		case numeric:
			v.text, bare = v.crm, true
		}
	case f.Type == reconcile.Float:
		x := pv.Float()
		switch {
		case math.IsInf(x, 0) || math.IsNaN(x):
		case fam == sources.Integer && x != math.Trunc(x):
			return val{}, fmt.Errorf("%s has a fraction; an integer column cannot hold it", raw)
		case numeric:
			v.crm = strconv.FormatFloat(x, 'g', -1, 64)
			v.text, bare = v.crm, true
		default:
			v.crm = strconv.FormatFloat(x, 'g', -1, 64)
		}
	case f.Type == reconcile.Bool:
		v.crm = strconv.FormatBool(pv.Bool())
		switch {
		case fam == sources.Bool:
			v.text, v.sql = v.crm, strings.ToUpper(v.crm)
			return v, nil
		case numeric:
			v.text, bare = "0", true
			if pv.Bool() {
				v.text = "1"
			}
		}
	case f.Type == reconcile.Date:
		v.crm = pv.Date().Format("2006-01-02")
		v.text = v.crm
		if fam == sources.Timestamp { // midnight where the system keeps its days, as a date of it reads back
			day := pv.Date()
			v.text = t.Dialect.Instant(time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, t.Location), col.DatabaseType, t.Location)
		}
	case f.Type == reconcile.Timestamp:
		v.crm = pv.Instant().UTC().Format("2006-01-02T15:04:05.000Z")
		v.text = t.Dialect.Instant(pv.Instant(), col.DatabaseType, t.Location)
	}
	if t.salesforce && v.crm == salesforceNull {
		return val{}, fmt.Errorf("%s is what a Salesforce Bulk API file writes for null: it cannot hold it as text", salesforceNull)
	}
	if bare {
		v.sql = v.text
		return v, nil
	}
	v.sql, err = t.Dialect.StringLiteral(v.text)
	return v, err
}

// sqliteDigits is how many significant digits SQLite keeps of a number in
// a column of NUMERIC affinity (it stores it as a REAL).
const sqliteDigits = 15

// decimalDigits returns d's digits after the point and its significant
// digits, trailing zeros left out: 1.50 has 1 and 2.
func decimalDigits(d decimal.Decimal) (places int64, digits int) {
	coef, exp := new(big.Int).Abs(d.Coefficient()), d.Exponent()
	ten, rem := big.NewInt(10), new(big.Int)
	for coef.Sign() != 0 {
		q, r := new(big.Int).QuoRem(coef, ten, rem)
		if r.Sign() != 0 {
			break
		}
		coef, exp = q, exp+1
	}
	if exp < 0 {
		places = int64(-exp)
	}
	if coef.Sign() == 0 {
		return 0, 0
	}
	return places, len(coef.String())
}

// renderConfigValue renders a value written in the config (a soft-delete
// marker) for a column of t: a boolean for boolean and numeric columns when
// it reads as one, a number for numeric columns, else text.
func renderConfigValue(s string, t *Table, col sources.Column) (val, error) {
	fam := sources.FamilyOf(col.DatabaseType)
	numeric := fam == sources.Integer || fam == sources.Decimal || fam == sources.Float
	if fam == sources.Bool || numeric {
		if v, err := render(reconcile.Field{Type: reconcile.Bool}, []byte(s), time.UTC, t, col); err == nil {
			return v, nil
		}
	}
	if numeric {
		return render(reconcile.Field{Type: reconcile.Decimal}, []byte(s), time.UTC, t, col)
	}
	return render(reconcile.Field{Type: reconcile.String}, []byte(s), time.UTC, t, col)
}

func hasNormalization(f reconcile.Field, n reconcile.Normalization) bool {
	for _, m := range f.Normalize {
		if m == n {
			return true
		}
	}
	return false
}

// joinPicklist writes a multi-select value as CRM imports take it: items
// trimmed, empty ones dropped, joined by ";".
func joinPicklist(s string) string {
	var items []string
	for _, it := range strings.Split(s, ";") {
		if it = strings.TrimSpace(it); it != "" {
			items = append(items, it)
		}
	}
	return strings.Join(items, ";")
}
