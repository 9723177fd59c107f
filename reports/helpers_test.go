package reports

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/recon-dev/recon/reconcile"
)

func ptr[T any](v T) *T { return &v }

var testStart = time.Date(2026, 11, 23, 9, 6, 33, 0, time.UTC)

// genException returns the i-th exception of a synthetic run: grouped by
// reconciliation (100,000 each), every kind, nulls in every nullable column
// (row 0 is null in all of them), unicode, empty strings, markdown-hostile
// text and timestamps on both sides of the Unix epoch.
func genException(i int) reconcile.Exception {
	kind := kindOrder[i%len(kindOrder)]
	e := reconcile.Exception{
		Reconciliation: fmt.Sprintf("recon-%d", i/100_000),
		Kind:           kind,
	}
	if i%11 != 0 {
		e.RecordKey = ptr(fmt.Sprintf(`["%d","Zoë"]`, i))
	}
	if i%4 != 0 {
		e.SourceKey = ptr(fmt.Sprintf(`[" %d","zoë"]`, i))
	}
	if i%9 != 0 {
		e.TargetKey = ptr(fmt.Sprintf(`["%04d","ZOË"]`, i))
	}
	if i%3 != 0 {
		e.Field = ptr([]string{"amount", "stage", "émail", "名前"}[i%4])
	}
	if i%6 != 0 {
		tier := i%3 + 1
		e.MatchTier = &tier
	}
	if kind == reconcile.DuplicateKey || kind == reconcile.InvalidRecord || kind == reconcile.AmbiguousMatch {
		e.Side = []reconcile.Side{reconcile.SourceSide, reconcile.TargetSide}[i/6%2]
	}
	if i%7 != 0 {
		e.SourceValue = ptr(fmt.Sprintf("s%d €😀 a|b\nc", i))
	}
	switch i % 5 {
	case 0:
	case 1:
		e.TargetValue = ptr("")
	default:
		e.TargetValue = ptr(fmt.Sprintf("t%d ß", i))
	}
	if i%13 != 0 {
		e.SourceUpdatedAt = ptr(testStart.Add(time.Duration(i)*time.Second + time.Duration(i%1000)*time.Microsecond))
	}
	if i%17 != 0 {
		e.TargetUpdatedAt = ptr(time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC).Add(-time.Duration(i) * time.Microsecond))
	}
	return e
}

// writeRun writes a report of n generated exceptions under a temporary
// directory and returns the path of its exceptions.parquet.
func writeRun(t *testing.T, n int) string {
	t.Helper()
	return writeExceptions(t, n, genException)
}

// writeExceptions writes a report of gen(0) … gen(n-1) and returns the path
// of its exceptions.parquet.
func writeExceptions(t *testing.T, n int, gen func(int) reconcile.Exception) string {
	t.Helper()
	const id = "20261123T090633Z-000000"
	w, err := Create(t.TempDir(), id)
	if err != nil {
		t.Fatal(err)
	}
	w.TrackLifecycle(nil, testStart)
	defer w.Abort()
	for i := range n {
		if err := w.write(gen(i)); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := w.Close(Run{ID: id, StartedAt: testStart, FinishedAt: testStart.Add(time.Minute), Status: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, exceptionsFile)
}

func TestCommaDecimal(t *testing.T) {
	for in, want := range map[string]string{"0": "0", "999": "999", "1000": "1,000", "-1234567.50": "-1,234,567.50",
		"123456": "123,456", "0.001": "0.001", "9999999999999999999.99": "9,999,999,999,999,999,999.99"} {
		if got := commaDecimal(in); got != want {
			t.Errorf("commaDecimal(%q) = %q, want %q", in, got, want)
		}
	}
}
