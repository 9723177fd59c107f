package reconcile

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The histogram's quantiles are within one bucket (+19%) above the exact
// ones, never below, and its maximum is exact.
func TestLagQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, dist := range []struct {
		name string
		gen  func() time.Duration
	}{
		{"seconds", func() time.Duration { return time.Duration(r.ExpFloat64() * float64(30*time.Second)) }},
		{"mostly zero", func() time.Duration {
			if r.IntN(10) < 7 {
				return 0
			}
			return time.Duration(r.IntN(3600)) * time.Second
		}},
		{"hours and ms", func() time.Duration { return time.Duration(r.Int64N(int64(48 * time.Hour))) }},
	} {
		var h lagHistogram
		var lags []time.Duration
		for range 100_000 {
			l := dist.gen()
			h.add(l)
			lags = append(lags, l)
		}
		slices.Sort(lags)
		for _, q := range []float64{0.5, 0.95} {
			exact := lags[int(q*float64(len(lags)))-1]
			got := h.quantile(q)
			if got < exact || float64(got) > float64(exact)*1.19+float64(time.Millisecond) {
				t.Errorf("%s: p%.0f = %s, exact %s", dist.name, q*100, got, exact)
			}
		}
		if h.max != lags[len(lags)-1] {
			t.Errorf("%s: max %s, want %s", dist.name, h.max, lags[len(lags)-1])
		}
	}
}

func TestLagBucketsAreOrdered(t *testing.T) {
	prev := -1
	for ms := uint64(1); ms < 1<<40; ms = ms*9/8 + 1 {
		b := lagBucket(ms)
		if b < prev || float64(ms) > lagUpper(b) {
			t.Fatalf("lag %d ms: bucket %d (upper %.0f) after bucket %d", ms, b, lagUpper(b), prev)
		}
		prev = b
	}
}

func TestSyncFigures(t *testing.T) {
	spec := testSpec()
	source := sliceSnapshot{rows: [][]string{
		{"1", "1", "USD", "Web", "2024-03-01 12:00:00Z"},
		{"2", "1", "USD", "Web", "2024-03-01 12:00:00Z"},
		{"3", "1", "USD", "Web", "2024-03-01 12:00:00Z"},
		{"4", "1", "USD", "Web", "2024-03-01 12:00:00Z"},
		{"5", "1", "USD", "Web", null},
	}}
	target := sliceSnapshot{rows: [][]string{
		{"1", "1", "USD", "Web", "2024-03-01 12:00:00Z"}, // in agreement, no lag
		{"2", "1", "USD", "Web", "2024-03-01 12:02:00Z"}, // two minutes behind
		{"3", "9", "USD", "Web", "2024-03-01 11:00:00Z"}, // disagrees; ahead of its source: lag 0
		{"4", "x", "USD", "Web", "2024-03-01 12:10:00Z"}, // invalid amount
		{"5", "1", "USD", "Web", "2024-03-01 12:00:00Z"}, // no source timestamp: no lag
	}}
	var sink collect
	res, err := Run(context.Background(), spec, Input{source, time.UTC}, Input{target, time.UTC}, &sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.InAgreement != 3 || res.SyncSuccessRate != 3.0/5 {
		t.Errorf("in agreement %d, rate %v; want 3 and 0.6", res.InAgreement, res.SyncSuccessRate)
	}
	if res.SyncLagMax == nil || *res.SyncLagMax != 600 || *res.SyncLagP50 != 0 || *res.SyncLagP95 < 120 || *res.SyncLagP95 > 600 {
		t.Errorf("lag p50 %v p95 %v max %v", deref(res.SyncLagP50), deref(res.SyncLagP95), deref(res.SyncLagMax))
	}
	empty, err := Run(context.Background(), spec, Input{sliceSnapshot{}, time.UTC}, Input{sliceSnapshot{}, time.UTC}, &sink, Options{})
	if err != nil || empty.SyncSuccessRate != 1 || empty.SyncLagP50 != nil {
		t.Errorf("empty: %+v %v", empty, err)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
