package reports

import (
	"testing"
	"time"
)

// BenchmarkWriteExceptions measures writing exceptions.parquet (and the
// samples the pages show), per exception, allocations included: the cost
// a run with much drift pays on top of comparing.
func BenchmarkWriteExceptions(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		w, err := Create(b.TempDir(), "20261123T090633Z-000000")
		if err != nil {
			b.Fatal(err)
		}
		w.TrackLifecycle(nil, testStart)
		for i := range n {
			if err := w.write(genException(i)); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Close(Run{ID: "20261123T090633Z-000000", StartedAt: testStart, FinishedAt: testStart.Add(time.Minute), Status: "ok"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/exception")
}
