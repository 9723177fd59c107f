// Package status computes what recon status shows: per reconciliation and
// overall, the five figures teams track (sync success rate, sync latency,
// data drift rate, MTTR, reconciliation coverage), the trend of the last
// runs, and which reconciliations are stale: no successful run within
// their max_staleness, the dead man's switch of a nightly job.
//
// Everything comes from the state store; nothing here reads a database
// that is reconciled.
package status

import (
	"context"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/state"
)

// Window is the trailing window of the drift rate and MTTR.
const Window = 30 * 24 * time.Hour

// TrendRuns is how many of the last runs a trend shows.
const TrendRuns = 10

// Report is the status of every configured reconciliation. Its JSON is
// what recon status --json prints.
type Report struct {
	GeneratedAt time.Time `json:"generated_at"`
	// Coverage is the share of configured reconciliations that succeeded
	// within their max_staleness.
	Coverage        float64          `json:"coverage"`
	Stale           []string         `json:"stale"`
	Overall         Figures          `json:"overall"`
	Reconciliations []Reconciliation `json:"reconciliations"`
}

// Figures are the tracked figures of one reconciliation, or of all of them.
// Pointers are null where there is nothing to compute them from.
type Figures struct {
	// SyncSuccessRate is records in agreement / source records, in the last
	// successful run (overall: summed over every reconciliation's).
	SyncSuccessRate *float64 `json:"sync_success_rate"`
	// SyncLag* estimate sync latency in seconds, from the last successful
	// run (overall: the worst reconciliation's).
	SyncLagP50 *float64 `json:"sync_lag_p50_seconds"`
	SyncLagP95 *float64 `json:"sync_lag_p95_seconds"`
	SyncLagMax *float64 `json:"sync_lag_max_seconds"`
	// DriftRate is records with a field mismatch / matched records, in the
	// last successful run; DriftRate30d the same over the window's runs.
	DriftRate    *float64 `json:"drift_rate"`
	DriftRate30d *float64 `json:"drift_rate_30d"`
	// MTTRSeconds is the mean time from an exception's first sighting to
	// its resolution, over resolutions in the window.
	MTTRSeconds    *float64 `json:"mttr_30d_seconds"`
	Resolved30d    int64    `json:"resolved_30d"`
	OpenExceptions int64    `json:"open_exceptions"`
}

// Reconciliation is one reconciliation's status.
type Reconciliation struct {
	Name string `json:"name"`
	Figures
	Schedule     string        `json:"schedule"`
	MaxStaleness time.Duration `json:"-"`
	// MaxStalenessSeconds is the limit its staleness is checked against.
	MaxStalenessSeconds float64    `json:"max_staleness_seconds"`
	LastSuccess         *time.Time `json:"last_success"`
	Stale               bool       `json:"stale"`
	LastRun             *Run       `json:"last_run"`
	// Running is the lock's holder while a run holds it.
	Running *state.Lock `json:"running"`
	Trend   []Run       `json:"trend"`
}

// Run is a run in a trend, newest first.
type Run struct {
	RunID      string     `json:"run_id"`
	Trigger    string     `json:"trigger"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Status     string     `json:"status"`
	ErrorClass *string    `json:"error_class"`
	Error      *string    `json:"error"`
	DriftRate  *float64   `json:"drift_rate"`
	Exceptions int64      `json:"exceptions"`
	New        int64      `json:"exceptions_new"`
	Resolved   int64      `json:"exceptions_resolved"`
	// Mode ("rows" or "checksum") and DurationSeconds are the engine's,
	// for a run that completed (and was recorded by a recon that kept them).
	Mode            *string  `json:"mode"`
	DurationSeconds *float64 `json:"duration_seconds"`
}

// Compute reports the status of cfg's reconciliations at now.
func Compute(ctx context.Context, cfg *config.Config, store *state.Store, now time.Time) (Report, error) {
	r := Report{GeneratedAt: now.UTC(), Stale: []string{}, Reconciliations: []Reconciliation{}}
	var agree, sources, mismatched30, matched30, resolved int64
	var open time.Duration
	fresh := 0
	for _, rc := range cfg.Reconciliations {
		name := rc.Spec.Name
		runs, err := store.Runs(ctx, name, now.Add(-Window), 0)
		if err != nil {
			return r, err
		}
		last, err := store.LastSuccess(ctx, name)
		if err != nil {
			return r, err
		}
		rec := Reconciliation{Name: name, Schedule: rc.Schedule, Trend: []Run{}}
		var mismatched, matched int64
		for i, h := range runs {
			run := trendRun(h)
			if i == 0 {
				rec.LastRun = &run
			}
			if i < TrendRuns {
				rec.Trend = append(rec.Trend, run)
			}
			if h.Succeeded() {
				mismatched += h.RecordsWithFieldMismatch
				matched += h.Matched
			}
		}
		rec.DriftRate30d = rate(mismatched, matched)
		mismatched30, matched30 = mismatched30+mismatched, matched30+matched
		rec.MaxStaleness = MaxStaleness(rc, last, now)
		rec.MaxStalenessSeconds = rec.MaxStaleness.Seconds()
		if last != nil {
			end := *last.FinishedAt
			rec.LastSuccess = &end
			rec.SyncSuccessRate = rateOr1(last.InAgreement, last.SourceCount)
			rec.SyncLagP50, rec.SyncLagP95, rec.SyncLagMax = last.LagP50, last.LagP95, last.LagMax
			rec.DriftRate = rate(last.RecordsWithFieldMismatch, last.Matched)
			agree += last.InAgreement
			sources += last.SourceCount
			r.Overall.SyncLagP50 = maxOf(r.Overall.SyncLagP50, last.LagP50)
			r.Overall.SyncLagP95 = maxOf(r.Overall.SyncLagP95, last.LagP95)
			r.Overall.SyncLagMax = maxOf(r.Overall.SyncLagMax, last.LagMax)
		}
		rec.Stale = last == nil || now.Sub(*last.FinishedAt) > rec.MaxStaleness
		if rec.Stale {
			r.Stale = append(r.Stale, name)
		} else {
			fresh++
		}
		n, d, err := store.Resolutions(ctx, name, now.Add(-Window))
		if err != nil {
			return r, err
		}
		rec.Resolved30d = n
		if n > 0 {
			m := d.Seconds() / float64(n)
			rec.MTTRSeconds = &m
		}
		resolved, open = resolved+n, open+d
		if rec.OpenExceptions, err = store.OpenExceptions(ctx, name); err != nil {
			return r, err
		}
		r.Overall.OpenExceptions += rec.OpenExceptions
		if held, err := store.Holder(ctx, name, now); err != nil {
			return r, err
		} else if held != nil {
			rec.Running = held
		}
		r.Reconciliations = append(r.Reconciliations, rec)
	}
	if len(cfg.Reconciliations) > 0 {
		r.Coverage = float64(fresh) / float64(len(cfg.Reconciliations))
	}
	if sources > 0 || agree > 0 {
		r.Overall.SyncSuccessRate = rateOr1(agree, sources)
	}
	r.Overall.DriftRate30d = rate(mismatched30, matched30)
	r.Overall.Resolved30d = resolved
	if resolved > 0 {
		m := open.Seconds() / float64(resolved)
		r.Overall.MTTRSeconds = &m
	}
	return r, nil
}

// MaxStaleness is how long a reconciliation may go without a successful
// run: its max_staleness; else, when it has a schedule, 1.1 × the
// schedule's interval plus the last successful run's duration; else 26 h.
// The interval is the schedule's at the last success's start: the one
// from the scheduled time at or before it to the next, so that weekday or
// irregular schedules are not called stale over a gap they were built to
// have, and a manual run just before a scheduled one does not shrink it.
func MaxStaleness(rc config.Reconciliation, last *state.Run, now time.Time) time.Duration {
	if rc.MaxStaleness > 0 {
		return rc.MaxStaleness
	}
	if rc.Schedule == "" {
		return config.DefaultMaxStaleness
	}
	sched, err := config.CronParser.Parse(rc.Schedule)
	if err != nil {
		return config.DefaultMaxStaleness
	}
	// Never succeeded: the interval of the next runs.
	slot, took := sched.Next(now), time.Duration(0)
	if last != nil && last.FinishedAt != nil {
		took = last.FinishedAt.Sub(last.StartedAt)
		if s, ok := slotAtOrBefore(sched, last.StartedAt); ok {
			slot = s
		}
	}
	interval := sched.Next(slot).Sub(slot)
	return time.Duration(1.1*float64(interval)) + took
}

// slotAtOrBefore is the latest time at or before t that sched runs, if
// there is one within about a year and the schedule is not too dense to
// walk to it.
func slotAtOrBefore(sched cron.Schedule, t time.Time) (time.Time, bool) {
	for back := time.Second; back < 400*24*time.Hour; back *= 2 {
		slot := sched.Next(t.Add(-back))
		if slot.After(t) {
			continue
		}
		for range 10000 {
			next := sched.Next(slot)
			if next.After(t) {
				return slot, true
			}
			slot = next
		}
		return time.Time{}, false
	}
	return time.Time{}, false
}

func trendRun(h state.Run) Run {
	run := Run{RunID: h.RunID, Trigger: h.Trigger, StartedAt: h.StartedAt, FinishedAt: h.FinishedAt, Status: h.Status,
		ErrorClass: h.ErrorClass, Error: h.Error, Exceptions: h.Exceptions, New: h.ExceptionsNew, Resolved: h.ExceptionsResolved,
		Mode: h.Mode, DurationSeconds: h.DurationSeconds}
	if h.Succeeded() {
		run.DriftRate = rate(h.RecordsWithFieldMismatch, h.Matched)
		if run.DriftRate == nil {
			zero := 0.0
			run.DriftRate = &zero
		}
	}
	return run
}

func rate(num, den int64) *float64 {
	if den == 0 {
		return nil
	}
	r := float64(num) / float64(den)
	return &r
}

func rateOr1(num, den int64) *float64 {
	if den == 0 {
		one := 1.0
		return &one
	}
	return rate(num, den)
}

func maxOf(a, b *float64) *float64 {
	if a == nil || (b != nil && *b > *a) {
		return b
	}
	return a
}
