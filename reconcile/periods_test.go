package reconcile

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestPeriodWindows(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, ny)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		p    Period
		now  time.Time
		n    int
		want []string
	}{
		{Day, at("2026-11-02 00:30"), 3, []string{"2026-10-31", "2026-11-01", "2026-11-02"}},
		// 01:00 happens twice on 2026-11-01 in New York: one period.
		{Hour, at("2026-11-01 03:10"), 4, []string{"2026-11-01T00", "2026-11-01T01", "2026-11-01T02", "2026-11-01T03"}},
		// 02:00 never happens on 2026-03-08.
		{Hour, at("2026-03-08 04:00"), 3, []string{"2026-03-08T01", "2026-03-08T03", "2026-03-08T04"}},
		{Week, at("2026-11-30 09:00"), 2, []string{"2026-W48", "2026-W49"}}, // a Monday
		{Week, at("2027-01-02 09:00"), 2, []string{"2026-W52", "2026-W53"}}, // ISO 2026 has 53 weeks
		{Month, at("2026-01-15 09:00"), 3, []string{"2025-11", "2025-12", "2026-01"}},
	} {
		var got []string
		for _, k := range window(tc.p, ny, tc.now, tc.n) {
			got = append(got, k.label(tc.p))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s window of %d at %s = %v, want %v", tc.p, tc.n, tc.now, got, tc.want)
		}
	}
}

// Daily lead counts across the end of daylight saving time: each row is
// placed by its instant's New York date, whichever zone it was stored in.
func TestCountsPerPeriod(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	limit := 0.02
	spec := Spec{Name: "leads_daily", Thresholds: Thresholds{CountVariance: &limit},
		CountsBy: &CountsBy{Source: "created_at", Target: "created_date", Period: Day, Location: ny, Last: 4}}
	var src, tgt [][]string
	add := func(rows *[][]string, n int, ts string) {
		for range n {
			*rows = append(*rows, []string{ts})
		}
	}
	// Source in UTC instants, target as New York wall clocks.
	add(&src, 100, "2026-10-31T12:00:00Z")
	add(&tgt, 100, "2026-10-31 08:00:00")
	add(&src, 100, "2026-11-01T04:30:00Z") // 00:30 EDT, Nov 1
	add(&tgt, 97, "2026-11-01 00:30:00")   // 3% fewer that day
	add(&src, 100, "2026-11-02T04:30:00Z") // 23:30 EST, Nov 1: still Nov 1 after the change
	add(&tgt, 97, "2026-11-01 23:30:00")
	add(&src, 50, "2026-11-02T15:00:00Z")
	add(&tgt, 49, "2026-11-02 10:00:00") // 2%: within the limit
	add(&src, 7, "2026-10-20T12:00:00Z") // before the window
	add(&src, 3, "2026-11-02")           // a DATE column: the day as written, not midnight UTC
	add(&tgt, 3, "2026-11-02")
	add(&tgt, 1, "not a time")
	add(&tgt, 1, null)
	now, _ := time.ParseInLocation("2006-01-02 15:04", "2026-11-03 09:00", ny)
	var sink collect
	res, err := Run(context.Background(), spec, Input{Snapshot: sliceSnapshot{src}, Location: time.UTC},
		Input{Snapshot: sliceSnapshot{tgt}, Location: ny}, &sink, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range sink.got {
		got = append(got, line(e))
	}
	want := []string{"count_mismatch key=2026-11-01 field=∅ side= src=200 tgt=194"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	wantPeriods := []PeriodCount{{"2026-10-31", 100, 100, false}, {"2026-11-01", 200, 194, true}, {"2026-11-02", 53, 52, false}, {"2026-11-03", 0, 0, false}}
	if !slices.Equal(res.PeriodCounts, wantPeriods) {
		t.Errorf("periods %+v, want %+v", res.PeriodCounts, wantPeriods)
	}
	if *res.Periods != 4 || *res.PeriodsBreached != 1 || !slices.Equal(res.Breaches, []string{"count_variance"}) ||
		res.SourceCount != 353 || res.TargetCount != 346 || res.InvalidRecords != 2 {
		t.Errorf("result %+v", res)
	}
}
