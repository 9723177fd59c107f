package state_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/recon-dev/recon/internal/state"
)

// BenchmarkLifecycle is a nightly run's exception lifecycle in an SQLite
// store: n exceptions looked up and recorded in the report writer's
// batches, then the run finished, against a store where the previous run
// left the same n open (the steady state of a drifted table).
func BenchmarkLifecycle(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("exceptions=%d", n), func(b *testing.B) {
			s, err := state.Open(ctx, filepath.Join(b.TempDir(), "recon-state.db"), "", "bench")
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			all := make([]state.Identity, n)
			for i := range all {
				all[i] = state.Identity{Kind: "field_mismatch", RecordKey: strconv.Itoa(300*i + 3), Field: "amount"}
			}
			run := func(id string, at time.Time) {
				for i := 0; i < n; i += batch {
					if _, err := s.Seen(ctx, id, "orders", at, all[i:min(i+batch, n)]); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := s.Finish(ctx, id, "orders", at); err != nil {
					b.Fatal(err)
				}
			}
			at := time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)
			run("first", at)
			i := 0
			for b.Loop() {
				i++
				run("run"+strconv.Itoa(i), at.Add(time.Duration(i)*time.Hour))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/exception")
		})
	}
}

// batch is the report writer's (reports.pendingRows).
const batch = 1024
