package reconcile

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// genSnapshot generates n rows of a 12-field opportunity on the fly, so the
// benchmark measures the engine and not a data source.
type genSnapshot struct {
	n     int
	drift bool // the target's variant: text keys, scale-4 amounts, 1% drift
}

func (g genSnapshot) Scan(context.Context, []string) (Rows, error) {
	return &genRows{g: g, row: make([][]byte, 14)}, nil
}

type genRows struct {
	g   genSnapshot
	i   int
	buf []byte
	row [][]byte
}

func (r *genRows) Next() bool {
	if r.i >= r.g.n {
		return false
	}
	r.i++
	i := r.i
	// Keys arrive in a collation's order, not ours: a stride through the range.
	k := (i*7919)%r.g.n + 1
	b := r.buf[:0]
	var offs [15]int
	fields := []func([]byte) []byte{
		func(b []byte) []byte { return strconv.AppendInt(b, int64(k), 10) },
		func(b []byte) []byte { return fmt.Appendf(b, "Account %d", k) },
		func(b []byte) []byte {
			if r.g.drift && k%100 == 0 {
				return append(b, "1.0000"...)
			}
			if r.g.drift {
				return fmt.Appendf(b, "%d.%02d00", 100+k%1000, k%100)
			}
			return fmt.Appendf(b, "%d.%02d", 100+k%1000, k%100)
		},
		func(b []byte) []byte { return append(b, "USD"...) },
		func(b []byte) []byte { return fmt.Appendf(b, "2024-%02d-%02d", 1+k%12, 1+k%28) },
		func(b []byte) []byte { return append(b, "Closed Won"...) },
		func(b []byte) []byte { return append(b, "Web"...) },
		func(b []byte) []byte { return fmt.Appendf(b, "rep%d@example.com", k%50) },
		func(b []byte) []byte { return fmt.Appendf(b, "+1555%07d", k) },
		func(b []byte) []byte { return append(b, "EMEA"...) },
		func(b []byte) []byte { return fmt.Appendf(b, "Product %d", k%20) },
		func(b []byte) []byte { return strconv.AppendInt(b, int64(k%10), 10) },
		func(b []byte) []byte { return fmt.Appendf(b, "%d.25", k%20) },
		func(b []byte) []byte {
			return time.Date(2024, 3, 1, 0, 0, k%60, 0, time.UTC).AppendFormat(b, "2006-01-02 15:04:05.999999Z07:00")
		},
	}
	for j, f := range fields {
		offs[j] = len(b)
		b = f(b)
	}
	offs[len(fields)] = len(b)
	for j := range fields {
		r.row[j] = b[offs[j]:offs[j+1]]
	}
	r.buf = b
	return true
}
func (r *genRows) Row() [][]byte { return r.row }
func (r *genRows) Err() error    { return nil }
func (r *genRows) Close() error  { return nil }

type countSink struct{ n int }

func (c *countSink) Write(d *Difference) error { c.n += len(d.AppendExceptions(nil)); return nil }

func benchSpec() Spec {
	s := Spec{Name: "bench", Key: []KeyColumn{{Source: "id", Target: "id", Type: String}}}
	names := []string{"account_name", "amount", "currency", "close_date", "stage", "lead_source", "owner_email", "phone", "region", "product", "quantity", "discount"}
	types := []FieldType{String, Decimal, String, Date, String, String, String, String, String, String, Int, Decimal}
	for i, n := range names {
		f := Field{Name: n, Source: n, Target: n, Type: types[i]}
		if n == "amount" {
			f.Tolerance.Absolute = decimal.RequireFromString("0.01")
		}
		if n == "owner_email" {
			f.Normalize = []Normalization{Trim, Lower}
		}
		s.Fields = append(s.Fields, f)
	}
	s.Timestamp = &TimestampSpec{Source: "updated_at", Target: "updated_at", Tolerance: time.Minute}
	return s
}

// BenchmarkRun measures the engine alone: ingest, sort (spilling beyond the
// default budget), merge join and comparison of 12 fields plus a timestamp.
func BenchmarkRun(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			for b.Loop() {
				var sink countSink
				res, err := Run(context.Background(), benchSpec(), Input{genSnapshot{n: n}, time.UTC},
					Input{genSnapshot{n: n, drift: true}, time.UTC}, &sink, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if res.Matched != int64(n) || res.FieldMismatches["amount"] != int64(n/100) {
					b.Fatalf("unexpected result %+v", res)
				}
			}
			b.ReportMetric(float64(2*n*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// The hot paths one at a time, per value or per record, with allocations
// (make bench runs them with -benchmem).

func BenchmarkParse(b *testing.B) {
	for _, c := range []struct {
		name string
		f    Field
		text string
	}{
		{"decimal", Field{Type: Decimal}, "12345.67"},
		{"int", Field{Type: Int}, "1234567"},
		{"date", Field{Type: Date}, "2024-03-01"},
		{"timestamp", Field{Type: Timestamp}, "2024-03-01 12:34:56.123456+00"},
		{"string/trim,lower", Field{Type: String, Normalize: []Normalization{Trim, Lower}}, " Rep7@Example.com "},
		{"string/email", Field{Type: String, Normalize: []Normalization{Email}}, " Rep7@Example.com "},
		{"string/phone", Field{Type: String, Normalize: []Normalization{Phone}}, "(415) 555-2671"},
		{"string/country", Field{Type: String, Normalize: []Normalization{Country}}, "United States of America"},
	} {
		b.Run(c.name, func(b *testing.B) {
			cmp := newComparator(c.f)
			raw := []byte(c.text)
			for b.Loop() {
				if _, err := cmp.parse(raw, time.UTC); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// Phone and country results are remembered (the value above repeats);
	// every value distinct shows what a number costs to read.
	b.Run("string/phone/distinct", func(b *testing.B) {
		cmp := newComparator(Field{Type: String, Normalize: []Normalization{Phone}})
		var raw []byte
		for i := 0; b.Loop(); i++ {
			raw = fmt.Appendf(raw[:0], "(415) 55%d-%04d", i/10000%10, i%10000)
			if _, err := cmp.parse(raw, time.UTC); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkKeyEncode(b *testing.B) {
	for _, c := range []struct {
		name string
		cols []KeyColumn
		raw  [][]byte
	}{
		{"int", []KeyColumn{{Type: Int}}, [][]byte{[]byte("1234567")}},
		{"text", []KeyColumn{{Type: String}}, [][]byte{[]byte("0065e00000AbCdE")}},
		{"composite", []KeyColumn{{Type: String}, {Type: Int}}, [][]byte{[]byte("EU"), []byte("42")}},
		{"email", []KeyColumn{{Type: String, Normalize: []Normalization{Email}}}, [][]byte{[]byte(" Jo@Acme.com")}},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := newKeyEncoder(c.cols)
			for b.Loop() {
				if _, _, kerr := e.encode(c.raw); kerr != nil {
					b.Fatal(kerr)
				}
			}
		})
	}
}

func BenchmarkCompare(b *testing.B) {
	cmp := newComparator(Field{Type: Decimal, Tolerance: Tolerance{Absolute: decimal.RequireFromString("0.01")}})
	x, _ := cmp.parse([]byte("12345.67"), time.UTC)
	y, _ := cmp.parse([]byte("12345.6700"), time.UTC)
	for b.Loop() {
		if !cmp.equal(x, y) {
			b.Fatal("not equal")
		}
	}
}

// BenchmarkSpill sorts and spills records through a small budget, then
// merges the runs: the external sort alone, per record.
func BenchmarkSpill(b *testing.B) {
	const n = 200_000
	payload := [][]byte{[]byte("Account 123456"), []byte("12345.67"), []byte("USD"), []byte("2024-03-01")}
	for b.Loop() {
		s := newSorter(b.TempDir(), "bench", 4<<20, len(payload))
		for i := range n {
			if err := s.add(appendIntKey(nil, int64((i*7919)%n)), payload); err != nil {
				b.Fatal(err)
			}
		}
		it, err := s.finish()
		if err != nil {
			b.Fatal(err)
		}
		for got := 0; ; got++ {
			r, err := it.next()
			if err != nil {
				b.Fatal(err)
			}
			if r == nil {
				if got != n {
					b.Fatalf("merged %d records, want %d", got, n)
				}
				break
			}
		}
		it.close()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkComparePair measures the join's work for one matched pair of
// 12 fields and a timestamp, as two databases send them (amounts and
// timestamps written differently, the rest alike) and the merge
// goroutines hand them over (timestamps read, the source's columns
// checked): per pair.
func BenchmarkComparePair(b *testing.B) {
	spec := benchSpec()
	var sides [2]*sideState
	for i, side := range []Side{SourceSide, TargetSide} {
		sides[i] = newSideState(side, spec, Input{Location: time.UTC}, b.TempDir(), 1<<20, new(atomic.Int64))
	}
	j := newJoin(spec, sides, &countSink{}, new(atomic.Int64))
	for i := range j.groups {
		j.groups[i] = &groupIter{}
	}
	text := func(s ...string) [][]byte {
		cols := make([][]byte, len(s))
		for i, v := range s {
			cols[i] = []byte(v)
		}
		return cols
	}
	// account_name amount currency close_date stage lead_source owner_email phone region product quantity discount, updated_at
	a := &record{key: appendIntKey(nil, 4711), cols: text("Account 4711", "147.11", "USD", "2024-03-01", "Closed Won", "Web",
		"rep11@example.com", "+15550004711", "EMEA", "Product 11", "1", "3.75", "2024-03-01 01:18:31+00")}
	t := &record{key: a.key, cols: text("Account 4711", "147.1100", "USD", "2024-03-01", "Closed Won", "Web",
		"rep11@example.com", "+15550004711", "EMEA", "Product 11", "1", "3.75", "2024-03-01 01:18:31.000000")}
	// As the merge goroutines leave them (see checker).
	a.known, t.known = j.newChecker(0).check(a.cols), j.newChecker(1).check(t.cols)
	for b.Loop() {
		if err := j.compare(a, 1, t, 1); err != nil {
			b.Fatal(err)
		}
	}
	if j.res.InAgreement != j.res.Matched || j.res.Matched == 0 {
		b.Fatalf("%d of %d pairs in agreement, want all", j.res.InAgreement, j.res.Matched)
	}
}
