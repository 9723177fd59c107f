package reports

import (
	"github.com/shopspring/decimal"

	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/recon-dev/recon/internal/reporttest"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/reports/repairs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/reports")

func TestNewRunID(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 6, 33, 999_000_000, time.FixedZone("CET", 3600))
	id := NewRunID(at)
	if !regexp.MustCompile(`^20261123T090633Z-[0-9a-f]{6}$`).MatchString(id) {
		t.Errorf("NewRunID = %q, want 20261123T090633Z-xxxxxx", id)
	}
	if other := NewRunID(at); other == id {
		t.Errorf("two ids for the same second are both %q", id)
	}
	if later := NewRunID(at.Add(time.Second)); later <= id {
		t.Errorf("id of a second later %q does not sort after %q", later, id)
	}
}

// goldenCases are the runs whose summary.json and report.md are kept in
// testdata/reports/<case>/.
var goldenCases = map[string]struct {
	exceptions []reconcile.Exception
	run        Run
}{
	"normal":            {normalExceptions(), goldenRun("breached", normalResults())},
	"empty":             {nil, goldenRun("ok", []Result{{Result: reconcile.Result{Name: "contacts", SourceCount: 120, TargetCount: 120, CountVariance: ptr(0.0), Matched: 120}, ConfigHash: "00000000000000aa"}})},
	"no_reconciliation": {nil, goldenRun("ok", nil)},
	"errored":           {erroredExceptions(), goldenRun("error", erroredResults())},
	"periods":           {periodExceptions(), goldenRun("breached", periodResults())},
}

// periodResults is a counts_by reconciliation: daily lead counts, one day
// 3% short.
func periodResults() []Result {
	counts := []reconcile.PeriodCount{{Period: "2026-11-27", Source: 412, Target: 412}, {Period: "2026-11-28", Source: 380, Target: 369, Breached: true},
		{Period: "2026-11-29", Source: 95, Target: 95}, {Period: "2026-11-30", Source: 40, Target: 41}}
	return results([]reconcile.Result{{Name: "leads_daily", SourceCount: 927, TargetCount: 917, CountDelta: -10, CountVariance: ptr(10.0 / 927),
		InAgreement: 916, SyncSuccessRate: 916.0 / 927, Periods: ptr(int64(4)), PeriodsBreached: ptr(int64(1)), PeriodCounts: counts,
		Breaches: []string{"count_variance"}}})
}

func periodExceptions() []reconcile.Exception {
	return []reconcile.Exception{{Reconciliation: "leads_daily", Kind: reconcile.CountMismatch, RecordKey: ptr("2026-11-28"), SourceValue: ptr("380"), TargetValue: ptr("369")}}
}

func goldenRun(status string, results []Result) Run {
	return Run{
		ID:         "20261123T090633Z-3f9a1c",
		StartedAt:  testStart,
		FinishedAt: testStart.Add(97*time.Second + 400*time.Millisecond),
		Status:     status,
		Results:    results,
	}
}

func normalExceptions() []reconcile.Exception {
	at := func(s int) *time.Time { return ptr(testStart.Add(-time.Duration(s) * time.Hour)) }
	es := []reconcile.Exception{
		{Reconciliation: "contacts", Kind: reconcile.MissingInTarget, RecordKey: ptr("c-1001"), SourceUpdatedAt: at(5)},
		{Reconciliation: "contacts", Kind: reconcile.FieldMismatch, RecordKey: ptr("c-1002"), Field: ptr("email"),
			SourceValue: ptr("zoë@example.com"), TargetValue: ptr("zoe@example.com"), SourceUpdatedAt: at(3), TargetUpdatedAt: at(4)},
		{Reconciliation: "contacts", Kind: reconcile.MissingInSource, RecordKey: ptr("c-2001"), TargetUpdatedAt: at(2)},
		{Reconciliation: "contacts", Kind: reconcile.FieldMismatch, RecordKey: ptr("c-1003"), Field: ptr("lifecycle_stage"),
			SourceValue: ptr("Customer | VIP\nsince 2024"), TargetValue: ptr("*lead*")},
		{Reconciliation: "contacts", Kind: reconcile.TimestampMisaligned, RecordKey: ptr("c-1004"), SourceUpdatedAt: at(1), TargetUpdatedAt: at(30)},
		{Reconciliation: "contacts", Kind: reconcile.DuplicateKey, RecordKey: ptr("c-1005"), Side: reconcile.TargetSide, TargetValue: ptr("3")},
		{Reconciliation: "contacts", Kind: reconcile.InvalidRecord, Field: ptr("email"), Side: reconcile.SourceSide, SourceValue: ptr("")},
		{Reconciliation: "contacts", Kind: reconcile.InvalidRecord, RecordKey: ptr(`["acme","42"]`), Field: ptr("phone"), Side: reconcile.TargetSide,
			TargetValue: ptr(strings.Repeat("0123456789", 10))},
	}
	// More amount mismatches than report.md shows.
	for i := range 12 {
		key := string(rune('a'+i)) + "-deal"
		es = append(es, reconcile.Exception{Reconciliation: "deals", Kind: reconcile.FieldMismatch, RecordKey: ptr(key),
			Field: ptr("amount"), SourceValue: ptr("1000.00"), TargetValue: ptr("999.99 <b>&amp;</b>")})
	}
	return append(es, reconcile.Exception{Reconciliation: "deals", Kind: reconcile.FieldMismatch, RecordKey: ptr("z-deal"),
		Field: ptr("stage"), SourceValue: ptr("closed_won"), TargetValue: ptr("Closed Won")})
}

func normalResults() []Result {
	rs := results([]reconcile.Result{
		{Name: "contacts", SourceCount: 1_204_511, TargetCount: 1_204_512, CountDelta: -1, CountVariance: ptr(0.00000083),
			Matched: 1_204_504, MissingInTarget: 1, MissingInSource: 1,
			FieldMismatches: map[string]int64{"email": 1, "lifecycle_stage": 1, "phone": 0}, RecordsWithFieldMismatch: 2,
			TimestampMisaligned: 1, TargetStale: 1, DuplicateKeys: 1, InvalidRecords: 2, DriftRate: 0.0000041},
		{Name: "deals", SourceCount: 400, TargetCount: 390, CountDelta: 10, CountVariance: ptr(0.025),
			Matched: 377, MissingInTarget: 10, FieldMismatches: map[string]int64{"amount": 12, "stage": 1, "close_date": 1},
			RecordsWithFieldMismatch: 13, DriftRate: 0.0575,
			ValueAtStake: []reconcile.Stake{
				{Field: "amount", Currency: ptr("EUR"), Mismatched: decimal.RequireFromString("1234567.50"), MissingInTarget: decimal.RequireFromString("0.01"), Total: decimal.RequireFromString("1234567.51")},
				{Field: "amount", Currency: ptr("USD"), Mismatched: decimal.RequireFromString("0.00"), MissingInTarget: decimal.RequireFromString("9999999999999999999.99"), Total: decimal.RequireFromString("9999999999999999999.99")}},
			Breaches: []string{"count_variance 2.50% > 2.00%", "drift_rate 5.75% > 1.00%"}},
		{Name: "invoices | EU", CountVariance: nil},
	})
	for i, ex := range []int64{40, 31, -1, 26, 14} {
		p := TrendPoint{RunID: fmt.Sprintf("2026111%dT020000Z-00000%d", i, i), StartedAt: testStart.Add(time.Duration(i-4) * 24 * time.Hour),
			Exceptions: ex, DriftRate: float64(ex) / 400}
		if ex < 0 {
			p = TrendPoint{RunID: p.RunID, StartedAt: p.StartedAt, Failed: true}
		}
		rs[1].Trend = append(rs[1].Trend, p)
	}
	limit := int64(5000)
	rs[1].Repairs = &repairs.Summary{Direction: "both", Review: 3, MaxChanges: &limit, Plans: []repairs.PlanSummary{
		{Side: "target", System: "billing | EU", Table: "deals", Driver: "mysql", Insert: 10, Update: 12, Records: 22, Batches: 1,
			Files: map[string]string{"sql": "repairs/deals.target.sql", "csv": "repairs/deals.target.upsert.csv"}},
		{Side: "source", System: "crm", Table: "opportunities", Driver: "postgres", Update: 1, Records: 1, Batches: 1,
			Files: map[string]string{"sql": "repairs/deals.source.sql"}},
	}}
	return rs
}

// results gives each reconciliation's figures a config hash.
func results(rs []reconcile.Result) []Result {
	out := make([]Result, len(rs))
	for i, r := range rs {
		out[i] = Result{Result: r, ConfigHash: fmt.Sprintf("%016x", i+1)}
	}
	return out
}

func erroredExceptions() []reconcile.Exception {
	return []reconcile.Exception{
		{Reconciliation: "accounts", Kind: reconcile.MissingInTarget, RecordKey: ptr("a-1")},
		{Reconciliation: "payments", Kind: reconcile.DuplicateKey, RecordKey: ptr("p-9"), Side: reconcile.SourceSide, SourceValue: ptr("2")},
	}
}

func erroredResults() []Result {
	return results([]reconcile.Result{
		{Name: "accounts", SourceCount: 10, TargetCount: 9, CountDelta: 1, CountVariance: ptr(0.1), Matched: 9, MissingInTarget: 1,
			DriftRate: 0.1, Breaches: []string{"count_variance 10.00% > 2.00%"}},
		{Name: "payments", SourceCount: 5000, Error: ptr("read target: pq: relation \"payments\" does not exist\nhint: check the schema")},
	})
}

// writeGolden writes a golden case's report under out and returns its
// directory.
func writeGolden(t *testing.T, out, name string) string {
	t.Helper()
	c := goldenCases[name]
	w, err := Create(out, c.run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range c.exceptions {
		if err := w.write(e); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := w.Close(c.run)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestGolden(t *testing.T) {
	for name, c := range goldenCases {
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			dir := writeGolden(t, out, name)
			if dir != filepath.Join(out, c.run.ID) {
				t.Errorf("Close = %s, want %s", dir, filepath.Join(out, c.run.ID))
			}
			if got := listDir(t, out); !slices.Equal(got, []string{c.run.ID}) {
				t.Errorf("%s holds %v, want only %s", out, got, c.run.ID)
			}
			if got, want := listDir(t, dir), []string{exceptionsFile, htmlFile, reportFile, summaryFile}; !slices.Equal(got, want) {
				t.Errorf("report holds %v, want %v", got, want)
			}
			r := openParquet(t, filepath.Join(dir, exceptionsFile))
			if r.NumRows() != int64(len(c.exceptions)) {
				t.Errorf("exceptions.parquet has %d rows, want %d", r.NumRows(), len(c.exceptions))
			}
			for _, f := range []string{summaryFile, reportFile, htmlFile} {
				got, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("..", "testdata", "reports", name, f)
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./reports -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from %s (run go test ./reports -update if the change is meant):\n%s", f, golden, got)
				}
			}
		})
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestReportHiddenUntilClose(t *testing.T) {
	out := t.TempDir()
	const id = "20261123T090633Z-aaaaaa"
	w, err := Create(out, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.write(genException(1)); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, out); !slices.Equal(got, []string{"." + id + ".partial"}) {
		t.Errorf("while writing, %s holds %v, want only .%s.partial", out, got, id)
	}
	if _, err := w.Close(goldenRun("ok", nil)); err == nil {
		t.Error("Close with another run's id succeeded")
	}
	if _, err := w.Close(Run{ID: id, Status: "fine"}); err == nil {
		t.Error("Close with status \"fine\" succeeded")
	}
	if _, err := w.Close(Run{ID: id, Status: "ok"}); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, out); !slices.Equal(got, []string{id}) {
		t.Errorf("after Close, %s holds %v, want only %s", out, got, id)
	}
	if err := w.write(genException(2)); err == nil {
		t.Error("Write after Close succeeded")
	}
	if _, err := w.Close(Run{ID: id, Status: "ok"}); err == nil {
		t.Error("second Close succeeded")
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after Close: %v", err)
	}
	if got := listDir(t, filepath.Join(out, id)); len(got) != 4 {
		t.Errorf("Abort after Close changed the report: it holds %v", got)
	}
}

func TestAbort(t *testing.T) {
	out := t.TempDir()
	const id = "20261123T090633Z-bbbbbb"
	w, err := Create(out, id)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if err := w.write(genException(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, out); len(got) != 0 {
		t.Errorf("after Abort, %s holds %v", out, got)
	}
	if err := w.write(genException(1)); err == nil {
		t.Error("Write after Abort succeeded")
	}
	if _, err := w.Close(Run{ID: id, Status: "ok"}); err == nil {
		t.Error("Close after Abort succeeded")
	}
	if err := w.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}
}

func TestCreateRefuses(t *testing.T) {
	out := t.TempDir()
	for _, id := range []string{"", ".hidden", "../escape", `a\b`, "a/b"} {
		if _, err := Create(out, id); err == nil {
			t.Errorf("Create with run id %q succeeded", id)
		}
	}
	if err := os.Mkdir(filepath.Join(out, "done"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(out, "done"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over an existing report: %v, want fs.ErrExist", err)
	}
	if _, err := Create(out, "twice"); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(out, "twice"); err == nil {
		t.Error("second Create of a run being written succeeded")
	}
}

func TestWriteRefusesUnknownKindAndSide(t *testing.T) {
	w, err := Create(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if err := w.write(reconcile.Exception{Reconciliation: "r", Kind: "missing"}); err == nil {
		t.Error("Write of kind \"missing\" succeeded")
	}
	if err := w.write(reconcile.Exception{Reconciliation: "r", Kind: reconcile.DuplicateKey, Side: "both"}); err == nil {
		t.Error("Write of side \"both\" succeeded")
	}
}

// TestWriteKeepsWhatItWasGiven: the caller may reuse the memory its
// pointers point to once Write returns, and text is made valid UTF-8.
func TestWriteKeepsWhatItWasGiven(t *testing.T) {
	const id = "20261123T090633Z-cccccc"
	w, err := Create(t.TempDir(), id)
	if err != nil {
		t.Fatal(err)
	}
	w.TrackLifecycle(nil, testStart)
	defer w.Abort()
	value := "first"
	at := testStart
	key := "k\xff"
	e := reconcile.Exception{Reconciliation: "bad\xffname", Kind: reconcile.FieldMismatch, SourceValue: &value, SourceUpdatedAt: &at, SourceKey: &key}
	if err := w.write(e); err != nil {
		t.Fatal(err)
	}
	value, at, key = "second \xc3", at.Add(time.Hour), "k2"
	if err := w.write(e); err != nil {
		t.Fatal(err)
	}
	dir, err := w.Close(Run{ID: id, Status: "ok"})
	if err != nil {
		t.Fatal(err)
	}

	fr, err := pqarrow.NewFileReader(openParquet(t, filepath.Join(dir, exceptionsFile)), pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := fr.GetRecordReader(t.Context(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() {
		t.Fatal(rr.Err())
	}
	rec := rr.RecordBatch()
	for j, want := range [][]any{
		{id, "bad\uFFFDname", "field_mismatch", nil, nil, nil, "first", nil, testStart.UnixMicro(), nil, "k\uFFFD", nil, id, testStart.UnixMicro(), nil},
		{id, "bad\uFFFDname", "field_mismatch", nil, nil, nil, "second \uFFFD", nil, testStart.Add(time.Hour).UnixMicro(), nil, "k2", nil, id, testStart.UnixMicro(), nil},
	} {
		if got := rowValues(rec, j); !slices.Equal(got, want) {
			t.Errorf("row %d:\n got %q\nwant %q", j, got, want)
		}
	}
}

// TestMemoryBounded writes far more exception text than the heap may hold.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const n, size, limit = 200_000, 1000, 96 << 20
	rnd := rand.New(rand.NewPCG(1, 2))
	gen := func(i int) reconcile.Exception {
		e := genException(i)
		noise := make([]byte, size/2)
		for j := range noise {
			noise[j] = byte(rnd.Uint32())
		}
		e.SourceValue = ptr(hex.EncodeToString(noise)) // hardly compressible
		return e
	}
	w, err := Create(t.TempDir(), "mem")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	var peak uint64
	var ms runtime.MemStats
	for i := range n {
		if err := w.write(gen(i)); err != nil {
			t.Fatal(err)
		}
		if i%10_000 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	if peak > limit {
		t.Errorf("heap reached %d MiB writing %d MiB of exceptions, want at most %d MiB", peak>>20, n*size>>20, limit>>20)
	}
}

// seer is a FirstSeer that knows some exceptions from earlier runs and
// records the batches it is asked about.
type seer struct {
	known   map[string]FirstSeen // "kind key field"
	batches []string
	failFor string // a reconciliation whose lookups fail
}

func (s *seer) FirstSeen(reconciliation string, keys []ExceptionKey) ([]FirstSeen, error) {
	s.batches = append(s.batches, fmt.Sprintf("%s:%d", reconciliation, len(keys)))
	if reconciliation == s.failFor {
		return nil, errors.New("state store: connection refused")
	}
	out := make([]FirstSeen, len(keys))
	for i, k := range keys {
		if k.RecordKey != nil && k.Field != nil {
			out[i] = s.known[fmt.Sprint(k.Kind, " ", *k.RecordKey, " ", *k.Field)]
		}
	}
	return out, nil
}

// Exceptions learn when they were first seen in batches of one
// reconciliation at a time, bounded in size; those the seer does not know
// are first seen by this run.
func TestFirstSeenFromTheSeer(t *testing.T) {
	const id = "20261123T090633Z-dddddd"
	earlier := FirstSeen{Run: "20261101T000000Z-aaaaaa", At: testStart.Add(-22 * 24 * time.Hour)}
	s := &seer{known: map[string]FirstSeen{"field_mismatch k7 amount": earlier}}
	w, err := Create(t.TempDir(), id)
	if err != nil {
		t.Fatal(err)
	}
	w.TrackLifecycle(s, testStart)
	defer w.Abort()
	for i := range 2500 {
		rec := "a"
		if i >= 2000 {
			rec = "b"
		}
		if err := w.write(reconcile.Exception{Reconciliation: rec, Kind: reconcile.FieldMismatch, RecordKey: ptr(fmt.Sprintf("k%d", i)), Field: ptr("amount")}); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := w.Close(Run{ID: id, Status: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a:1024", "a:976", "b:500"}; !slices.Equal(s.batches, want) {
		t.Errorf("batches %v, want %v", s.batches, want)
	}
	rows, err := reporttest.ReadRows(filepath.Join(dir, exceptionsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		want := FirstSeen{Run: id, At: testStart}
		if r["record_key"] == "k7" {
			want = earlier
		}
		if r["first_seen_run"] != want.Run || !r["first_seen_at"].(time.Time).Equal(want.At) {
			t.Fatalf("%v first seen %v at %v, want %+v", r["record_key"], r["first_seen_run"], r["first_seen_at"], want)
		}
	}
}

// A state store that fails a lookup fails that reconciliation, not the
// report: the runner drops its held-back exceptions, which are never
// looked up again nor written, and the other reconciliations are reported.
func TestAFailedLookupFailsOnlyItsReconciliation(t *testing.T) {
	const id = "20261123T090633Z-eeeeee"
	s := &seer{failFor: "a"}
	w := trackedWriter(t, id, s)
	writeMissing(t, w, "a", 10)
	if err := w.Flush(); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("flush: %v", err)
	}
	w.DropPending()
	writeMissing(t, w, "b", 3)
	closeWithOnlyB(t, w, id, &s.batches, "a:10")
}

// slowSeer answers a lookup only once released, failing reconciliation
// failFor's.
type slowSeer struct {
	seer
	release chan struct{}
}

func (s *slowSeer) FirstSeen(reconciliation string, keys []ExceptionKey) ([]FirstSeen, error) {
	<-s.release
	return s.seer.FirstSeen(reconciliation, keys)
}

// A full batch is looked up while the next fills: writing does not wait
// on the state store. A batch whose lookup fails is dropped and its
// failure returned by the next flush, as a failure of the reconciliation.
func TestBatchesAreLookedUpWhileTheNextFills(t *testing.T) {
	const id = "20261123T090633Z-ffffff"
	s := &slowSeer{seer: seer{failFor: "a"}, release: make(chan struct{})}
	w := trackedWriter(t, id, s)
	done := make(chan error, 1)
	go func() {
		for i := range pendingRows + 5 { // the first batch's lookup blocks until released
			if err := w.write(reconcile.Exception{Reconciliation: "a", Kind: reconcile.MissingInTarget, RecordKey: ptr(fmt.Sprint(i))}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("writing waited on the state store's lookup")
	}
	close(s.release)
	if err := w.Flush(); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("flush: %v, want the lookup's failure", err)
	}
	w.DropPending()
	s.failFor = ""
	writeMissing(t, w, "b", 3)
	closeWithOnlyB(t, w, id, &s.batches, "a:1024")
}

// trackedWriter is a Writer of run id that asks seer when exceptions were
// first seen.
func trackedWriter(t *testing.T, id string, seer FirstSeer) *Writer {
	t.Helper()
	w, err := Create(t.TempDir(), id)
	if err != nil {
		t.Fatal(err)
	}
	w.TrackLifecycle(seer, testStart)
	t.Cleanup(func() { w.Abort() })
	return w
}

// writeMissing writes n exceptions of reconciliation rec.
func writeMissing(t *testing.T, w *Writer, rec string, n int) {
	t.Helper()
	for i := range n {
		if err := w.write(reconcile.Exception{Reconciliation: rec, Kind: reconcile.MissingInTarget, RecordKey: ptr(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
}

// closeWithOnlyB flushes and closes w, whose reconciliation a failed
// after its first lookup, firstLookup, and b then wrote 3 exceptions: the
// report must hold b's alone.
func closeWithOnlyB(t *testing.T, w *Writer, id string, lookups *[]string, firstLookup string) {
	t.Helper()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	dir, err := w.Close(Run{ID: id, Status: "error"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{firstLookup, "b:3"}; !slices.Equal(*lookups, want) {
		t.Errorf("lookups %v, want %v", *lookups, want)
	}
	rows, err := reporttest.ReadRows(filepath.Join(dir, exceptionsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0]["reconciliation"] != "b" {
		t.Errorf("rows %v, want b's 3", rows)
	}
}
