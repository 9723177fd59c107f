package reconcile

import (
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func invoicesSpec() Spec {
	ny, _ := time.LoadLocation("America/New_York")
	return Spec{
		Name:          "opportunities_vs_invoices",
		Key:           []KeyColumn{{Source: "id", Target: "opportunity_id", Type: Int}},
		TargetGroupBy: true,
		Fields: []Field{
			{Name: "amount", Source: "amount", Target: "subtotal", Type: Decimal, Aggregate: Sum, Tolerance: Tolerance{Absolute: decimal.RequireFromString("0.01")}},
			{Name: "currency", Source: "currency", Target: "currency", Type: String, Aggregate: Distinct, Normalize: []Normalization{Trim, Upper}},
			{Name: "close_date", Source: "close_date", Target: "invoice_date", Type: Date, Aggregate: Min, Tolerance: Tolerance{Absolute: decimal.NewFromInt(45)}, DateLocation: ny},
			{Name: "invoices", Source: "invoice_count", Target: "id", Type: Int, Aggregate: Count},
		},
	}
}

// One opportunity against its invoices: sums exact to the cent,
// credit notes negative, currencies as sets, the first invoice's date.
func TestGroupedSideIsFoldedPerKey(t *testing.T) {
	source := sliceSnapshot{rows: [][]string{
		// id, amount, currency, close_date, invoice_count
		{"1", "1000.00", "USD", "2024-03-01", "2"},              // two instalments that add up
		{"2", "1000.00", "USD", "2024-03-01", "2"},              // off by a cent: within tolerance
		{"3", "1000.00", "USD", "2024-03-01", "2"},              // off by 2 cents: a mismatch
		{"4", "500.00", "EUR", "2024-03-01", "2"},               // invoiced in two currencies
		{"5", "900.00", "USD", "2024-03-01", "2"},               // an invoice and a credit note
		{"6", "100.00", "USD", "2024-03-01", "1"},               // not invoiced at all
		{"7", "100.00", "USD", "2024-01-01", "1"},               // invoiced 46 days after closing
		{"8", "0.30", "usd", "2024-03-01", "3"},                 // 0.1+0.1+0.1: exact, never float
		{"9", "99999999999999999.99", "USD", "2024-03-01", "2"}, // beyond int64 cents
	}}
	target := sliceSnapshot{rows: [][]string{
		// opportunity_id, subtotal, currency, invoice_date, id
		{"1", "600.00", "USD", "2024-03-05T03:00:00Z", "11"}, {"1", "400.00", " usd", "2024-04-01", "12"},
		{"2", "600.00", "USD", "2024-03-05", "21"}, {"2", "400.01", "USD", "2024-04-01", "22"},
		{"3", "600.00", "USD", "2024-03-05", "31"}, {"3", "400.02", "USD", "2024-04-01", "32"},
		{"4", "250.00", "EUR", "2024-03-05", "41"}, {"4", "250.00", "USD", "2024-03-05", "42"},
		{"5", "1000.00", "USD", "2024-03-05", "51"}, {"5", "-100.00", "USD", "2024-03-20", "52"},
		{"7", "100.00", "USD", "2024-02-16", "71"},
		{"8", "0.1", "USD", "2024-03-01", "81"}, {"8", "0.1", "USD", "2024-03-01", "82"}, {"8", "0.10", "USD", "2024-03-01", "83"},
		{"9", "99999999999999999.98", "USD", "2024-03-01", "91"}, {"9", "0.01", "USD", "2024-03-01", "92"},
		{"10", "5.00", "USD", "2024-03-01", "101"}, // an invoice of no closed-won opportunity
	}}
	for _, budget := range []int{64 << 20, 1} { // in memory, and spilled
		got, res := runLines(t, invoicesSpec(), Input{Snapshot: source, Location: time.UTC}, Input{Snapshot: target, Location: time.UTC}, budget)
		want := []string{
			"field_mismatch key=3 field=amount side= src=1000.00 tgt=1000.02",
			`field_mismatch key=4 field=currency side= src=EUR tgt=["EUR","USD"]`,
			"field_mismatch key=7 field=close_date side= src=2024-01-01 tgt=2024-02-16",
			"missing_in_target key=6 field=∅ side= src=∅ tgt=∅",
			"missing_in_source key=10 field=∅ side= src=∅ tgt=∅",
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("budget %d:\ngot  %q\nwant %q", budget, got, want)
		}
		// Count parity compares opportunities with invoiced opportunities.
		if res.SourceCount != 9 || res.TargetCount != 9 || res.DuplicateKeys != 0 || res.Matched != 8 {
			t.Errorf("budget %d: %+v", budget, res)
		}
	}
}

// A value that does not parse in any row of a group makes the group's
// record invalid for that field: it is neither summed around nor compared.
func TestGroupWithAnUnreadableRowIsInvalid(t *testing.T) {
	spec := invoicesSpec()
	spec.Fields = spec.Fields[:1]
	source := sliceSnapshot{rows: [][]string{{"1", "10.00"}, {"2", "10.00"}}}
	target := sliceSnapshot{rows: [][]string{{"1", "5.00"}, {"1", "five"}, {"2", "5.00"}, {"2", null}, {"2", "5"}}}
	got, res := runLines(t, spec, Input{Snapshot: source, Location: time.UTC}, Input{Snapshot: target, Location: time.UTC}, 1<<20)
	want := []string{"invalid_record key=1 field=amount side=target src=∅ tgt=five"}
	if !slices.Equal(got, want) || res.InvalidRecords != 1 || res.RecordsWithFieldMismatch != 0 {
		t.Errorf("got %q, %+v; want %q", got, res, want)
	}
}

// A value its normalisation refuses (no country is called Narnia) makes
// the group's record invalid too, though the folded text it leaves, read
// without the normalisation, would compare as a mismatch.
func TestGroupWithAnUnnormalisableRowIsInvalid(t *testing.T) {
	spec := invoicesSpec()
	spec.Fields = []Field{{Name: "country", Source: "country", Target: "country", Type: String, Aggregate: Min, Normalize: []Normalization{Country}}}
	source := sliceSnapshot{rows: [][]string{{"1", "US"}, {"2", "France"}}}
	target := sliceSnapshot{rows: [][]string{{"1", "United States"}, {"1", "Narnia"}, {"2", "FR"}, {"2", "fra"}}}
	got, res := runLines(t, spec, Input{Snapshot: source, Location: time.UTC}, Input{Snapshot: target, Location: time.UTC}, 1<<20)
	want := []string{"invalid_record key=1 field=country side=target src=∅ tgt=Narnia"}
	if !slices.Equal(got, want) || res.InvalidRecords != 1 || res.RecordsWithFieldMismatch != 0 {
		t.Errorf("got %q, %+v; want %q", got, res, want)
	}
}

// A distinct set of decimals holds numbers, not texts: 12.5 and 12.50 are
// one member, and equal to 12.500 on the other side.
func TestDistinctDecimalsAreNumbers(t *testing.T) {
	spec := invoicesSpec()
	spec.Fields = []Field{{Name: "unit_price", Source: "price", Target: "price", Type: Decimal, Aggregate: Distinct}}
	source := sliceSnapshot{rows: [][]string{{"1", "12.500"}, {"2", "0.2"}}}
	target := sliceSnapshot{rows: [][]string{{"1", "12.5"}, {"1", "12.50"}, {"2", "0.20"}, {"2", "0.21"}}}
	got, _ := runLines(t, spec, Input{Snapshot: source, Location: time.UTC}, Input{Snapshot: target, Location: time.UTC}, 1<<20)
	want := []string{`field_mismatch key=2 field=unit_price side= src=0.2 tgt=["0.2","0.21"]`}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAddSmallIsExactOrRefuses(t *testing.T) {
	for _, tc := range []struct {
		a    int64
		ea   int32
		b    int64
		eb   int32
		want string
		ok   bool
	}{
		{1, -1, 1, -2, "0.11", true},
		{5, 0, -125, -2, "3.75", true},
		{9223372036854775807, 0, 1, 0, "", false},
		{1, 18, 1, 0, "1000000000000000001", true},
		{10, 18, 1, 0, "", false}, // scaling overflows
		{1, 19, 1, 0, "", false},  // beyond the table of powers
		{-9223372036854775807, 0, -2, 0, "", false},
	} {
		s, e, ok := addSmall(tc.a, tc.ea, tc.b, tc.eb)
		if ok != tc.ok || (ok && decimal.New(s, e).String() != tc.want) {
			t.Errorf("addSmall(%de%d, %de%d) = %de%d %v, want %s %v", tc.a, tc.ea, tc.b, tc.eb, s, e, ok, tc.want, tc.ok)
		}
	}
}
