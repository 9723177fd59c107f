package reconcile

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Period is the length of the periods a counts_by reconciliation counts
// rows in.
type Period int

// The periods. Their names are the config's `period:` vocabulary.
const (
	Hour  Period = iota + 1
	Day          // midnight to midnight in the zone
	Week         // ISO weeks, starting Monday
	Month        // calendar months
)

var periodNames = [...]string{"", "hour", "day", "week", "month"}

func (p Period) String() string { return periodNames[p] }

// ParsePeriod maps a config name to a Period.
func ParsePeriod(s string) (Period, bool) {
	i := slices.Index(periodNames[1:], s)
	return Period(i + 1), i >= 0
}

// PeriodNames lists the accepted names, for error messages.
func PeriodNames() []string { return slices.Clone(periodNames[1:]) }

// CountsBy makes a reconciliation compare how many rows each side has per
// period (daily leads in the marketing platform against the CRM) instead
// of matching records.
type CountsBy struct {
	// Source and Target are the columns whose instant puts a row in a
	// period; zone-less ones are read in their system's zone.
	Source, Target string
	Period         Period
	// Location is the zone periods are computed in, DST included.
	Location *time.Location
	// Last, when positive, is how many periods are compared, ending with
	// the current one; rows outside them are not counted.
	Last int
}

// PeriodCount is one period's row counts.
type PeriodCount struct {
	// Period is the period's start as a label: 2026-11-29T13 (hour),
	// 2026-11-29 (day), 2026-W48 (ISO week), 2026-11 (month).
	Period   string `json:"period"`
	Source   int64  `json:"source"`
	Target   int64  `json:"target"`
	Breached bool   `json:"breached"`
}

// periodKey numbers a period so that numbers order like periods: hours
// as yyyymmddhh, days yyyymmdd, ISO weeks yyyyww, months yyyymm.
type periodKey int64

func keyOf(p Period, t time.Time) periodKey {
	switch p {
	case Hour:
		return periodKey(((t.Year()*100+int(t.Month()))*100+t.Day())*100 + t.Hour())
	case Week:
		y, w := t.ISOWeek()
		return periodKey(y*100 + w)
	case Month:
		return periodKey(t.Year()*100 + int(t.Month()))
	}
	return periodKey((t.Year()*100+int(t.Month()))*100 + t.Day())
}

func (k periodKey) label(p Period) string {
	n := int64(k)
	switch p {
	case Hour:
		return fmt.Sprintf("%04d-%02d-%02dT%02d", n/1000000, n/10000%100, n/100%100, n%100)
	case Week:
		return fmt.Sprintf("%04d-W%02d", n/100, n%100)
	case Month:
		return fmt.Sprintf("%04d-%02d", n/100, n%100)
	}
	return fmt.Sprintf("%04d-%02d-%02d", n/10000, n/100%100, n%100)
}

// window lists the keys of the last n periods ending with the one now is
// in, oldest first. Stepping back an hour at a time, a wall-clock hour
// that repeats when clocks fall back is one period.
func window(p Period, loc *time.Location, now time.Time, n int) []periodKey {
	t := now.In(loc)
	keys := []periodKey{keyOf(p, t)}
	for len(keys) < n {
		switch p {
		case Hour:
			t = t.Add(-time.Hour)
		case Day:
			t = time.Date(t.Year(), t.Month(), t.Day()-1, 12, 0, 0, 0, loc)
		case Week:
			t = time.Date(t.Year(), t.Month(), t.Day()-7, 12, 0, 0, 0, loc)
		case Month:
			t = time.Date(t.Year(), t.Month()-1, 1, 12, 0, 0, 0, loc)
		}
		if k := keyOf(p, t); k != keys[len(keys)-1] {
			keys = append(keys, k)
		}
	}
	slices.Reverse(keys)
	return keys
}

// countPeriods runs a counts_by reconciliation: each side's rows are
// counted per period, in memory bounded by the number of periods, and
// every period whose counts differ beyond the count variance is a
// difference.
func countPeriods(ctx context.Context, spec Spec, source, target Input, sink Sink, opts Options, progress *Progress) (Result, error) {
	cb := spec.CountsBy
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	var inWindow func(periodKey) bool
	var periods []periodKey
	if cb.Last > 0 {
		periods = window(cb.Period, cb.Location, now, cb.Last)
		first, last := periods[0], periods[len(periods)-1]
		inWindow = func(k periodKey) bool { return k >= first && k <= last }
	}
	var counts [2]map[periodKey]int64
	var invalid, read [2]int64
	g, gctx := errgroup.WithContext(ctx)
	for i, in := range []Input{source, target} {
		side := []Side{SourceSide, TargetSide}[i]
		rows := []*atomic.Int64{&progress.SourceRows, &progress.TargetRows}[i]
		g.Go(func() error {
			var err error
			counts[i], invalid[i], err = countSide(gctx, spec, side, in, inWindow, rows)
			read[i] = rows.Load()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return Result{}, err
	}
	if cb.Last <= 0 {
		periods = slices.Sorted(maps.Keys(counts[0]))
		for k := range counts[1] {
			if _, ok := counts[0][k]; !ok {
				periods = append(periods, k)
			}
		}
		slices.Sort(periods)
	}
	res := Result{Name: spec.Name, FieldMismatches: map[string]int64{}, InvalidRecords: invalid[0] + invalid[1],
		SourceRowsRead: read[0], TargetRowsRead: read[1]}
	var breached int64
	d := Difference{Spec: &spec}
	for _, k := range periods {
		pc := PeriodCount{Period: k.label(cb.Period), Source: counts[0][k], Target: counts[1][k]}
		pc.Breached = periodBreached(pc.Source, pc.Target, spec.Thresholds.CountVariance)
		res.SourceCount += pc.Source
		res.TargetCount += pc.Target
		res.InAgreement += min(pc.Source, pc.Target)
		res.PeriodCounts = append(res.PeriodCounts, pc)
		if pc.Breached {
			breached++
			d.Period = &res.PeriodCounts[len(res.PeriodCounts)-1]
			if err := sink.Write(&d); err != nil {
				return Result{}, err
			}
		}
	}
	n := int64(len(periods))
	res.Periods, res.PeriodsBreached = &n, &breached
	res.evaluate(spec.Thresholds)
	return res, nil
}

// periodBreached reports whether a period's counts differ beyond the
// variance limit (any difference without one).
func periodBreached(source, target int64, limit *float64) bool {
	switch {
	case limit == nil:
		return source != target
	case source == 0:
		return target != 0
	}
	return float64(abs(target-source))/float64(source) > *limit
}

// countSide counts one side's rows per period. A row whose column is NULL
// or not a timestamp is in no period: it is counted as invalid.
func countSide(ctx context.Context, spec Spec, side Side, in Input, inWindow func(periodKey) bool, progress *atomic.Int64) (map[periodKey]int64, int64, error) {
	cb := spec.CountsBy
	rows, err := in.Snapshot.Scan(ctx, []string{pick(side, cb.Source, cb.Target)})
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", side, err)
	}
	defer rows.Close()
	counts := map[periodKey]int64{}
	var n, invalid int64
	stamp := comparator{typ: Timestamp}
	for rows.Next() {
		if n++; n%4096 == 0 {
			progress.Store(n)
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
		}
		raw := rows.Row()[0]
		// A date (a DATE column) is a day as written, in any zone: it is
		// no instant to move into the counting zone.
		if y, m, d, rest, ok := scanDate(string(bytes.TrimSpace(raw))); ok && rest == "" {
			if k := keyOf(cb.Period, time.Date(y, time.Month(m), d, 0, 0, 0, 0, cb.Location)); inWindow == nil || inWindow(k) {
				counts[k]++
			}
			continue
		}
		v, err := stamp.parse(raw, in.Location)
		if err != nil || v.null {
			invalid++
			continue
		}
		k := keyOf(cb.Period, v.instant().In(cb.Location))
		if inWindow == nil || inWindow(k) {
			counts[k]++
		}
	}
	progress.Store(n)
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", side, err)
	}
	if err := rows.Close(); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", side, err)
	}
	return counts, invalid, nil
}

// countText renders a period's count as an exception's value.
func countText(n int64) *string {
	s := strconv.FormatInt(n, 10)
	return &s
}
