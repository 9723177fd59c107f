package reconcile

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// sliceSnapshot serves rows from memory; "\x00NULL" stands for SQL NULL.
type sliceSnapshot struct{ rows [][]string }

func (s sliceSnapshot) Scan(_ context.Context, cols []string) (Rows, error) {
	return &sliceRows{rows: s.rows, width: len(cols)}, nil
}

type sliceRows struct {
	rows  [][]string
	width int
	i     int
	cur   [][]byte
}

func (r *sliceRows) Next() bool {
	if r.i >= len(r.rows) {
		return false
	}
	r.cur = r.cur[:0]
	for _, v := range r.rows[r.i] {
		if v == "\x00NULL" {
			r.cur = append(r.cur, nil)
		} else {
			r.cur = append(r.cur, []byte(v))
		}
	}
	r.i++
	return true
}
func (r *sliceRows) Row() [][]byte { return r.cur }
func (r *sliceRows) Err() error    { return nil }
func (r *sliceRows) Close() error  { return nil }

type collect struct{ got []Exception }

func (c *collect) Write(d *Difference) error {
	for _, e := range d.AppendExceptions(nil) {
		c.got = append(c.got, cloneException(e))
	}
	return nil
}

// cloneException copies what e shares with the engine's reused memory.
func cloneException(e Exception) Exception {
	for _, t := range []**time.Time{&e.SourceUpdatedAt, &e.TargetUpdatedAt} {
		if *t != nil {
			c := **t
			*t = &c
		}
	}
	return e
}

// line renders an exception compactly for comparison.
func line(e Exception) string {
	s := func(p *string) string {
		if p == nil {
			return "∅"
		}
		return *p
	}
	return fmt.Sprintf("%s key=%s field=%s side=%s src=%s tgt=%s", e.Kind, s(e.RecordKey), s(e.Field), e.Side, s(e.SourceValue), s(e.TargetValue))
}

const null = "\x00NULL"

// runLines runs the engine and renders its exceptions with line.
func runLines(t *testing.T, spec Spec, source, target Input, budget int) ([]string, Result) {
	t.Helper()
	var sink collect
	res, err := Run(context.Background(), spec, source, target, &sink, Options{MemoryBudget: budget})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range sink.got {
		got = append(got, line(e))
	}
	return got, res
}

func testSpec() Spec {
	return Spec{
		Name: "opps",
		Key:  []KeyColumn{{Source: "id", Target: "opp_id", Type: String}},
		Fields: []Field{
			{Name: "amount", Source: "amount", Target: "total", Type: Decimal, Tolerance: Tolerance{Absolute: decimal.RequireFromString("0.01")}},
			{Name: "currency", Source: "currency", Target: "currency", Type: String, Normalize: []Normalization{Trim, Upper}},
			{Name: "lead_source", Source: "lead_source", Target: "lead_source", Type: String, NullEqualsEmpty: true},
		},
		Timestamp: &TimestampSpec{Source: "updated_at", Target: "updated_at", Tolerance: 5 * time.Minute},
	}
}

func TestRunFindsEachKindOfDrift(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	for _, budget := range []int{0, 64} { // in memory, and spilling a run every record or two
		t.Run(fmt.Sprintf("budget=%d", budget), func(t *testing.T) {
			source := sliceSnapshot{rows: [][]string{
				{"9", "10.50", "usd", "Web", "2024-03-01 12:00:00+00"},
				{"10", "100", "EUR", "", "2024-03-01 12:00:00+00"},
				{"11", "5.00", "USD", "Ads", "2024-03-01 12:00:00+00"},
				{"12", "7", "USD", "Ads", "2024-03-01 12:00:00+00"},
				{"13", "7", "USD", "Ads", "2024-03-01 12:00:00+00"},
				{"13", "7", "USD", "Ads", "2024-03-01 12:00:00+00"},
				{null, "1", "USD", "Ads", "2024-03-01 12:00:00+00"},
				{"15", "abc", "USD", "Ads", "2024-03-01 12:00:00+00"},
				{"16", "1", "USD", "Ads", "2024-03-01 12:00:00+00"},
			}}
			target := sliceSnapshot{rows: [][]string{
				{"9", "10.5", " USD ", "Web", "2024-03-01 07:00:00"}, // NY wall clock = 12:00 UTC
				{"10", "100.00", "EUR", null, "2024-03-01 07:04:00"},
				{"11", "5.02", "usd", "Ads", "2024-03-01 07:00:00"},
				{"12", "7", "USD", "ads", "2024-02-01 07:00:00"},
				{"13", "7", "USD", "Ads", "2024-03-01 07:00:00"},
				{"15", "1", "USD", "Ads", "2024-03-01 07:00:00"},
				{"17", "1", "USD", "Ads", "2024-03-01 07:00:00"},
			}}
			got, res := runLines(t, testSpec(), Input{source, time.UTC}, Input{target, ny}, budget)
			want := []string{
				"field_mismatch key=11 field=amount side= src=5.00 tgt=5.02",
				"field_mismatch key=12 field=lead_source side= src=Ads tgt=ads",
				"timestamp_misaligned key=12 field=∅ side= src=∅ tgt=∅",
				"duplicate_key key=13 field=∅ side=source src=2 tgt=∅",
				"invalid_record key=15 field=amount side=source src=abc tgt=∅",
				"missing_in_target key=16 field=∅ side= src=∅ tgt=∅",
				"missing_in_source key=17 field=∅ side= src=∅ tgt=∅",
				"invalid_record key=∅ field=∅ side=source src=∅ tgt=∅",
			}
			if !slices.Equal(got, want) {
				t.Errorf("exceptions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if res.SourceCount != 9 || res.TargetCount != 7 || res.Matched != 6 || res.MissingInTarget != 1 ||
				res.MissingInSource != 1 || res.RecordsWithFieldMismatch != 2 || res.TimestampMisaligned != 1 ||
				res.TargetStale != 1 || res.DuplicateKeys != 1 || res.InvalidRecords != 2 {
				t.Errorf("figures: %+v", res)
			}
			if res.FieldMismatches["amount"] != 1 || res.FieldMismatches["currency"] != 0 || res.FieldMismatches["lead_source"] != 1 {
				t.Errorf("field mismatches: %v", res.FieldMismatches)
			}
			if got, want := res.DriftRate, 2.0/6; got != want {
				t.Errorf("drift rate %v, want %v", got, want)
			}
		})
	}
}

func TestCompositeKeys(t *testing.T) {
	spec := Spec{
		Name: "lines",
		Key: []KeyColumn{
			{Source: "invoice", Target: "invoice", Type: String},
			{Source: "line", Target: "line_no", Type: Int},
		},
		Fields: []Field{{Name: "qty", Source: "qty", Target: "qty", Type: Int}},
	}
	source := sliceSnapshot{rows: [][]string{
		{"INV-1", "1", "5"}, {"INV-1", "2", "7"}, {"INV-1", "10", "1"}, {"INV-2", "1", "3"}, {"inv-1", "1", "5"},
		{"INV-3", null, "1"}, {"INV-4", "x", "1"},
	}}
	target := sliceSnapshot{rows: [][]string{
		{"INV-1", "01", "5"}, {"INV-1", "2", "8"}, {"INV-1", "10", "1"}, {"INV-2", "2", "3"}, {"INV-1", "1", "5"},
	}}
	for _, budget := range []int{0, 40} {
		got, res := runLines(t, spec, Input{source, time.UTC}, Input{target, time.UTC}, budget)
		want := []string{
			`duplicate_key key=["INV-1","1"] field=∅ side=target src=∅ tgt=2`, // "01" is line 1 as an int key
			`field_mismatch key=["INV-1","2"] field=qty side= src=7 tgt=8`,
			`missing_in_target key=["INV-2","1"] field=∅ side= src=∅ tgt=∅`,
			`missing_in_source key=["INV-2","2"] field=∅ side= src=∅ tgt=∅`,
			`missing_in_target key=["inv-1","1"] field=∅ side= src=∅ tgt=∅`, // keys are exact text: case matters
			`invalid_record key=∅ field=∅ side=source src=∅ tgt=∅`,
			`invalid_record key=["INV-4","x"] field=line side=source src=x tgt=∅`,
		}
		if !slices.Equal(got, want) {
			t.Errorf("budget %d:\n%s\nwant:\n%s", budget, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if res.Matched != 3 || res.SourceCount != 7 || res.TargetCount != 5 {
			t.Errorf("figures: %+v", res)
		}
	}
}

// Timestamps beyond 2262 (9999-12-31 is a common "valid until") overflow
// Unix nanoseconds; they must still compare, and report, right.
func TestFarTimestamps(t *testing.T) {
	spec := Spec{Name: "far", Key: []KeyColumn{{Source: "k", Target: "k", Type: String}},
		Timestamp: &TimestampSpec{Source: "t", Target: "t", Tolerance: time.Minute}}
	source := sliceSnapshot{rows: [][]string{{"1", "2200-01-01 00:00:00Z"}, {"2", "9999-12-31 00:00:00Z"}, {"3", "1500-01-01 00:00:00Z"}}}
	target := sliceSnapshot{rows: [][]string{{"1", "2300-01-01 00:00:00Z"}, {"2", "9999-12-31 00:00:30Z"}, {"3", "1500-01-01 00:00:00Z"}, {"4", "9999-12-31 00:00:00Z"}}}
	var sink collect
	res, err := Run(context.Background(), spec, Input{source, time.UTC}, Input{target, time.UTC}, &sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.TimestampMisaligned != 1 || res.TargetAhead != 1 || res.TargetStale != 0 || res.Matched != 3 {
		t.Errorf("figures: %+v", res)
	}
	if len(sink.got) != 2 {
		t.Fatalf("exceptions: %v", sink.got)
	}
	misaligned, missing := sink.got[0], sink.got[1]
	if got := misaligned.TargetUpdatedAt.Format(time.RFC3339); got != "2300-01-01T00:00:00Z" {
		t.Errorf("target_updated_at %s", got)
	}
	if got := missing.TargetUpdatedAt.Format(time.RFC3339); missing.Kind != MissingInSource || got != "9999-12-31T00:00:00Z" {
		t.Errorf("%s target_updated_at %s", missing.Kind, got)
	}
}

// diffCollector keeps a deep copy of every Difference, as a consumer that
// plans repairs would.
type diffCollector struct{ got []string }

func (c *diffCollector) Write(d *Difference) error {
	side := func(r *Record) string {
		if r == nil {
			return "-"
		}
		var cols []string
		for _, v := range append(append(slices.Clone(r.Key), r.Fields...), r.Timestamp) {
			if v == nil {
				cols = append(cols, "∅")
			} else {
				cols = append(cols, fmt.Sprintf("%q", v))
			}
		}
		at := "∅"
		if r.UpdatedAt != nil {
			at = r.UpdatedAt.Format(time.RFC3339)
		}
		return fmt.Sprintf("[%s] rows=%d invalid=%v at=%s", strings.Join(cols, " "), r.Rows, r.Invalid, at)
	}
	key := "∅"
	if d.Key != nil {
		key = *d.Key
	}
	c.got = append(c.got, fmt.Sprintf("%s mismatched=%v misaligned=%v unkeyed=%v/%d | %s | %s",
		key, d.Mismatched, d.Misaligned, d.Unkeyed, d.BadKey, side(d.Source), side(d.Target)))
	return nil
}

// The stream carries what a repair needs: each side's key as stored (not as
// normalised), every value of a record missing on the other side, both
// sides' values of a mismatch, and the timestamps, through a spill as well.
func TestDifferencesCarryStoredKeysAndValues(t *testing.T) {
	spec := Spec{
		Name: "accounts",
		Key:  []KeyColumn{{Source: "code", Target: "code", Type: String, Normalize: []Normalization{Trim, Upper}}},
		Fields: []Field{
			{Name: "n", Source: "n", Target: "n", Type: Int},
			{Name: "s", Source: "s", Target: "s", Type: String},
		},
		Timestamp: &TimestampSpec{Source: "t", Target: "t"},
	}
	intKey := spec
	intKey.Key = []KeyColumn{{Source: "code", Target: "code", Type: Int}}
	for _, budget := range []int{0, 48} {
		source := sliceSnapshot{rows: [][]string{
			{" abc ", "1", "x", "2024-01-01 00:00:00Z"},
			{"DEF", "2", "y", "2024-01-01 00:00:00Z"},
			{"only-src", "3", null, null},
		}}
		target := sliceSnapshot{rows: [][]string{
			{"ABC", "1", "x\r\n", "2024-01-02 00:00:00Z"},
			{"def", "2", "y", "2024-01-01 00:00:00Z"},
		}}
		var c diffCollector
		if _, err := Run(context.Background(), spec, Input{source, time.UTC}, Input{target, time.UTC}, &c, Options{MemoryBudget: budget}); err != nil {
			t.Fatal(err)
		}
		want := []string{
			`ABC mismatched=[1] misaligned=true unkeyed=false/0 | [" abc " "1" "x" "2024-01-01 00:00:00Z"] rows=1 invalid=[] at=2024-01-01T00:00:00Z | ["ABC" "1" "x\r\n" "2024-01-02 00:00:00Z"] rows=1 invalid=[] at=2024-01-02T00:00:00Z`,
			`ONLY-SRC mismatched=[] misaligned=false unkeyed=false/0 | ["only-src" "3" ∅ ∅] rows=1 invalid=[] at=∅ | -`,
		}
		if !slices.Equal(c.got, want) {
			t.Errorf("budget %d:\n%s\nwant:\n%s", budget, strings.Join(c.got, "\n"), strings.Join(want, "\n"))
		}

		source = sliceSnapshot{rows: [][]string{{"042", "1", "a", null}, {"7", "1", "a", null}, {"x", "1", "a", null}}}
		target = sliceSnapshot{rows: [][]string{{" 42", "2", "a", null}, {"7", "zz", "a", null}, {"7", "1", "a", null}}}
		c = diffCollector{}
		if _, err := Run(context.Background(), intKey, Input{source, time.UTC}, Input{target, time.UTC}, &c, Options{MemoryBudget: budget}); err != nil {
			t.Fatal(err)
		}
		want = []string{
			`7 mismatched=[] misaligned=false unkeyed=false/0 | ["7" "1" "a" ∅] rows=1 invalid=[] at=∅ | ["7" "1" "a" ∅] rows=2 invalid=[] at=∅`, // of duplicates without timestamps, the smaller values
			`42 mismatched=[0] misaligned=false unkeyed=false/0 | ["042" "1" "a" ∅] rows=1 invalid=[] at=∅ | [" 42" "2" "a" ∅] rows=1 invalid=[] at=∅`,
			`x mismatched=[] misaligned=false unkeyed=true/0 | ["x" "1" "a" ∅] rows=1 invalid=[] at=∅ | -`,
		}
		if !slices.Equal(c.got, want) {
			t.Errorf("int key, budget %d:\n%s\nwant:\n%s", budget, strings.Join(c.got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestExceptionsNameEachSidesStoredKey(t *testing.T) {
	spec := testSpec()
	spec.Key[0].Normalize = []Normalization{Trim}
	source := sliceSnapshot{rows: [][]string{{" 9", "1", "USD", "Web", null}, {"8", "1", "USD", "Web", null}}}
	target := sliceSnapshot{rows: [][]string{{"9 ", "2", "USD", "Web", null}}}
	var sink collect
	if _, err := Run(context.Background(), spec, Input{source, time.UTC}, Input{target, time.UTC}, &sink, Options{}); err != nil {
		t.Fatal(err)
	}
	if len(sink.got) != 2 {
		t.Fatalf("exceptions: %v", sink.got)
	}
	mismatch, missing := sink.got[1], sink.got[0]
	if *mismatch.RecordKey != "9" || *mismatch.SourceKey != " 9" || *mismatch.TargetKey != "9 " {
		t.Errorf("mismatch keys: record %q source %q target %q", *mismatch.RecordKey, *mismatch.SourceKey, *mismatch.TargetKey)
	}
	if missing.Kind != MissingInTarget || *missing.SourceKey != "8" || missing.TargetKey != nil {
		t.Errorf("missing: %+v", missing)
	}
}

// Of rows sharing a key, the one compared is the newest by timestamp, ties
// broken by the smallest values: whatever order the database returns them
// in, the exceptions are the same.
func TestDuplicatesAreComparedDeterministically(t *testing.T) {
	spec := testSpec()
	rows := [][]string{
		{"7", "1.00", "EUR", "Ads", "2024-03-01 12:00:00Z"},
		{"7", "2.00", "USD", "Web", "2024-03-02 12:00:00Z"}, // the newest: compared
		{"7", "3.00", "USD", "Web", null},
		{"7", "0.50", "USD", "Web", "bad"},
		{"8", "9.00", "USD", "Web", "2024-03-02 12:00:00Z"},
		{"8", "5.00", "USD", "Web", "2024-03-02 12:00:00Z"}, // a tie: the smaller amount's text
	}
	target := sliceSnapshot{rows: [][]string{{"7", "2.00", "USD", "Web", "2024-03-02 12:00:00Z"}, {"8", "9.00", "USD", "Web", "2024-03-02 12:00:00Z"}}}
	var first []string
	r := rand.New(rand.NewPCG(7, 7))
	for i := range 20 {
		shuffled := slices.Clone(rows)
		r.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		got, _ := runLines(t, spec, Input{sliceSnapshot{rows: shuffled}, time.UTC}, Input{target, time.UTC}, 48*(i%2))
		if i == 0 {
			first = got
			want := []string{
				"duplicate_key key=7 field=∅ side=source src=4 tgt=∅",
				"duplicate_key key=8 field=∅ side=source src=2 tgt=∅",
				"field_mismatch key=8 field=amount side= src=5.00 tgt=9.00",
			}
			if !slices.Equal(got, want) {
				t.Fatalf("exceptions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		} else if !slices.Equal(got, first) {
			t.Fatalf("order %d gives\n%s\nnot\n%s", i, strings.Join(got, "\n"), strings.Join(first, "\n"))
		}
	}
}

func TestProgressRemaining(t *testing.T) {
	for _, tc := range []struct {
		read, expect [2]int64
		elapsed      time.Duration
		left         time.Duration
		known        bool
	}{
		{[2]int64{500, 250}, [2]int64{1000, 1000}, 10 * time.Second, 30 * time.Second, true}, // the slower side decides
		{[2]int64{1000, 1200}, [2]int64{1000, 1000}, 10 * time.Second, 0, true},              // past the guess: nothing left
		{[2]int64{500, 500}, [2]int64{0, 1000}, 10 * time.Second, 0, false},                  // no guess for a side
		{[2]int64{0, 500}, [2]int64{1000, 1000}, 10 * time.Second, 0, false},                 // nothing read yet
	} {
		var p Progress
		p.SourceRows.Store(tc.read[0])
		p.TargetRows.Store(tc.read[1])
		p.ExpectSourceRows, p.ExpectTargetRows = tc.expect[0], tc.expect[1]
		left, known := p.Remaining(tc.elapsed)
		if left != tc.left || known != tc.known {
			t.Errorf("read %v of %v in %s: %s %t, want %s %t", tc.read, tc.expect, tc.elapsed, left, known, tc.left, tc.known)
		}
	}
}

// TestEqualTextIsJudgedWithoutParsing: text equal on both sides is not
// parsed where it cannot fail to parse, yet what parsing would have found
// is still found: text a normalisation refuses (a phone number, a value
// outside the allowed ones) is invalid on both sides, and the currency of
// money at stake is the record's, though equal text left it unparsed.
func TestEqualTextIsJudgedWithoutParsing(t *testing.T) {
	spec := Spec{
		Name: "equal_text",
		Key:  []KeyColumn{{Source: "id", Target: "id", Type: String}},
		Fields: []Field{
			{Name: "amount", Source: "amount", Target: "amount", Type: Decimal, Money: true},
			{Name: "currency", Source: "currency", Target: "currency", Type: String, Normalize: []Normalization{Trim, Upper}},
			{Name: "phone", Source: "phone", Target: "phone", Type: String, Normalize: []Normalization{Phone}},
			{Name: "stage", Source: "stage", Target: "stage", Type: String, Allowed: []string{"Won", "Lost"}},
		},
	}
	source := [][]string{
		{"1", "10.00", " eur", "+14155552671", "Won"},
		{"2", "10.00", "usd", "not a phone", "Won"},
		{"3", "10.00", "usd", "+14155552671", "Pending"},
	}
	target := [][]string{
		{"1", "12.50", " eur", "+14155552671", "Won"},
		{"2", "10.00", "usd", "not a phone", "Won"},
		{"3", "10.00", "usd", "+14155552671", "Pending"},
	}
	for _, budget := range []int{0, 1} { // in memory, and spilled record by record
		got, res := runLines(t, spec, Input{sliceSnapshot{source}, time.UTC}, Input{sliceSnapshot{target}, time.UTC}, budget)
		want := []string{
			"field_mismatch key=1 field=amount side= src=10.00 tgt=12.50",
			"invalid_record key=2 field=phone side=source src=not a phone tgt=∅",
			"invalid_record key=2 field=phone side=target src=∅ tgt=not a phone",
			"invalid_record key=3 field=stage side=source src=Pending tgt=∅",
			"invalid_record key=3 field=stage side=target src=∅ tgt=Pending",
		}
		if !slices.Equal(got, want) {
			t.Errorf("budget %d: exceptions\n%s\nwant\n%s", budget, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if len(res.ValueAtStake) != 1 || res.ValueAtStake[0].Currency == nil || *res.ValueAtStake[0].Currency != "EUR" {
			t.Errorf("budget %d: value at stake %+v, want one stake in EUR", budget, res.ValueAtStake)
		}
		if res.InvalidRecords != 4 || res.InAgreement != 0 {
			t.Errorf("budget %d: %d invalid records, %d in agreement; want 4 and 0", budget, res.InvalidRecords, res.InAgreement)
		}
	}
}
