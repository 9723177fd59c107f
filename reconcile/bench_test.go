package reconcile

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"syscall"
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
			if err := s.add(appendIntKey(nil, int64((i*7919)%n)), payload, known{}); err != nil {
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

// BenchmarkMerge measures the final merge of a side of 10M text keys at
// the default budget: 48 runs (fewer records each, the same fan-in),
// read as the merge join's goroutines read them, encoded.
func BenchmarkMerge(b *testing.B) {
	const runs, perRun = 48, 20_000
	s := newSorter(b.TempDir(), "bench", 0, 2)
	var paths []string
	for r := range runs {
		w, err := createRun(fmt.Sprintf("%s/bench-%02d.run", s.dir, r))
		if err != nil {
			b.Fatal(err)
		}
		for i := range perRun {
			// Opportunity ids as text, as the text-key benchmark's are:
			// each run a sorted slice of every 48th.
			id := strconv.Itoa(1_000_000 + i*runs + r)
			w.write(appendRecord(nil, append([]byte{tagText}, id...), known{}, [][]byte{[]byte("Account " + id), []byte("2024-03-01 00:00:01+00")}))
		}
		if err := w.close(); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, w.f.Name())
	}
	for b.Loop() {
		m, err := s.openMerge(paths)
		if err != nil {
			b.Fatal(err)
		}
		var prev []byte
		for got := 0; ; got++ {
			enc, err := m.nextEncoded()
			if err != nil {
				b.Fatal(err)
			}
			if enc == nil {
				if got != runs*perRun {
					b.Fatalf("merged %d records, want %d", got, runs*perRun)
				}
				break
			}
			if bytes.Compare(m.last.key, prev) < 0 {
				b.Fatalf("record %d out of order", got)
			}
			prev = append(prev[:0], m.last.key...)
		}
		m.close()
	}
	b.ReportMetric(float64(runs*perRun*b.N)/b.Elapsed().Seconds(), "records/s")
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
	// As ingest leaves them (see checker).
	a.known, t.known = newChecker(spec, sides, 0).check(a.cols), newChecker(spec, sides, 1).check(t.cols)
	for b.Loop() {
		if err := j.compare(a, 1, t, 1); err != nil {
			b.Fatal(err)
		}
	}
	if j.res.InAgreement != j.res.Matched || j.res.Matched == 0 {
		b.Fatalf("%d of %d pairs in agreement, want all", j.res.InAgreement, j.res.Matched)
	}
}

// memSnapshot serves rows generated beforehand, in key order, as a
// database ordering an integer key does: the streamed join's benchmark
// then measures the engine and not the rows' making.
type memSnapshot struct {
	buf  []byte
	ends []int // each column's end in buf, row after row
	cols int
}

func (m *memSnapshot) Scan(context.Context, []string) (Rows, error) {
	return &memRows{m: m, row: make([][]byte, m.cols)}, nil
}

func (m *memSnapshot) ScanKeys(_ context.Context, req KeyScan) (Rows, KeyScanned, error) {
	ordered := req.Ordered && (req.Agree == nil || req.Agree(true))
	rows, err := m.Scan(context.Background(), req.Columns)
	return rows, KeyScanned{Ordered: ordered}, err
}

type memRows struct {
	m     *memSnapshot
	at    int // the next row's first column in m.ends
	start int
	row   [][]byte
}

func (r *memRows) Next() bool {
	if r.at >= len(r.m.ends) {
		return false
	}
	for c := range r.row {
		end := r.m.ends[r.at+c]
		r.row[c] = r.m.buf[r.start:end:end]
		r.start = end
	}
	r.at += r.m.cols
	return true
}
func (r *memRows) Row() [][]byte { return r.row }
func (r *memRows) Err() error    { return nil }
func (r *memRows) Close() error  { return nil }

// ordersSnapshots are n orders as PostgreSQL and MariaDB send them
// (timestamps written differently, the rest alike), with a drift of each
// kind every 300 rows: missing at 7, the amount at 3, the timestamp at 5.
func ordersSnapshots(n int) (src, tgt *memSnapshot) {
	src, tgt = &memSnapshot{cols: 7}, &memSnapshot{cols: 7}
	add := func(m *memSnapshot, cols ...[]byte) {
		for _, c := range cols {
			m.buf = append(m.buf, c...)
			m.ends = append(m.ends, len(m.buf))
		}
	}
	at := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for k := 1; k <= n; k++ {
		id := strconv.AppendInt(nil, int64(k), 10)
		customer := fmt.Appendf(nil, "Customer %d", k%100000)
		status := []byte("shipped")
		if k%7 == 0 {
			status = []byte("open")
		}
		quantity := strconv.AppendInt(nil, int64(k%10), 10)
		amount := fmt.Appendf(nil, "%d.%02d", 100+k%100000/100, k%100)
		due := at.AddDate(0, 0, k%365).AppendFormat(nil, time.DateOnly)
		updated := at.Add(time.Duration(k) * time.Second)
		add(src, id, customer, status, quantity, amount, due, updated.AppendFormat(nil, time.RFC3339Nano))
		switch k % 300 {
		case 7:
			continue
		case 3:
			amount = []byte("1.00")
		case 5:
			updated = updated.Add(-time.Hour)
		}
		add(tgt, id, customer, status, quantity, amount, due, updated.AppendFormat(nil, "2006-01-02 15:04:05.000000"))
	}
	return src, tgt
}

func ordersSpec() Spec {
	s := Spec{Name: "orders", Key: []KeyColumn{{Source: "id", Target: "id", Type: Int}}}
	for _, f := range []struct {
		name string
		typ  FieldType
	}{{"customer", String}, {"status", String}, {"quantity", Int}, {"amount", Decimal}, {"due", Date}} {
		s.Fields = append(s.Fields, Field{Name: f.name, Source: f.name, Target: f.name, Type: f.typ})
	}
	s.Timestamp = &TimestampSpec{Source: "updated_at", Target: "updated_at", Tolerance: 5 * time.Minute}
	return s
}

// BenchmarkStreamedJoin measures the engine's work on integer keys both
// databases send in key order (make bench's integer-key tables, 1% drift)
// with the reads taken out: what recon adds to the read floor there. Its
// CPU time per pair is the figure to watch: the join runs beside the
// reads, which on a machine the databases share leaves no core idle.
func BenchmarkStreamedJoin(b *testing.B) {
	const n = 200_000
	src, tgt := ordersSnapshots(n)
	benchJoin(b, n, ordersSpec(), src, tgt, func(res Result) bool {
		return res.Matched == int64(n)-int64((n-7)/300+1) && res.FieldMismatches["amount"] == int64((n-3)/300+1) &&
			res.TimestampMisaligned == int64((n-5)/300+1)
	})
}

// benchJoin runs spec over src and tgt, n pairs, and reports the time and
// the CPU time per pair; want checks each result.
func benchJoin(b *testing.B, n int, spec Spec, src, tgt Snapshot, want func(Result) bool) {
	cpu := processCPU()
	for b.Loop() {
		var sink countSink
		res, err := Run(context.Background(), spec, Input{src, time.UTC}, Input{tgt, time.UTC}, &sink, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if !want(res) {
			b.Fatalf("unexpected result %+v", res)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/pair")
	b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(n*b.N), "cpu-ns/pair")
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSortedJoin is BenchmarkStreamedJoin's twin for text keys, which
// no database sends in the engine's order (make bench's text-key tables):
// the engine sorts both sides, spilling beyond its budget, then merges
// and compares them. The rows are made beforehand, so that its CPU time
// per pair is the engine's alone.
func BenchmarkSortedJoin(b *testing.B) {
	const n = 300_000
	// Wrapped, they cannot be read in key order.
	src, tgt := struct{ Snapshot }{snapshotOf(genSnapshot{n: n})}, struct{ Snapshot }{snapshotOf(genSnapshot{n: n, drift: true})}
	benchJoin(b, n, benchSpec(), src, tgt, func(res Result) bool {
		return res.Matched == n && res.FieldMismatches["amount"] == n/100
	})
}

// snapshotOf holds the rows of s in memory.
func snapshotOf(s Snapshot) *memSnapshot {
	rows, _ := s.Scan(context.Background(), nil)
	m := &memSnapshot{}
	for rows.Next() {
		m.cols = len(rows.Row())
		for _, c := range rows.Row() {
			m.buf = append(m.buf, c...)
			m.ends = append(m.ends, len(m.buf))
		}
	}
	return m
}
