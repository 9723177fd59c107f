package state

import (
	"context"
	"database/sql"
	"strings"
	"time"
)

// Run is one run of one reconciliation in the history. Pointer fields are
// nil where unknown (a run still running, or one that failed).
type Run struct {
	RunID, Reconciliation string
	Trigger               string // "manual" or "schedule"
	ConfigHash            string
	StartedAt             time.Time
	FinishedAt            *time.Time
	Status                string // "running", "ok", "breached" or "error"
	ErrorClass, Error     *string
	// The figures of a run that completed.
	SourceCount, TargetCount, Matched, InAgreement, RecordsWithFieldMismatch int64
	Exceptions, ExceptionsNew, ExceptionsOpen, ExceptionsResolved            int64
	LagP50, LagP95, LagMax                                                   *float64 // seconds
	// SourceRowsRead and TargetRowsRead are the rows each side sent; nil
	// for runs recorded before they were.
	SourceRowsRead, TargetRowsRead *int64
	// Mode is how the records were compared ("rows" or "checksum") and
	// DurationSeconds how long the engine took; nil for runs recorded
	// before they were.
	Mode            *string
	DurationSeconds *float64
}

// Succeeded reports whether the run completed (whatever it found).
func (r Run) Succeeded() bool { return r.Status == "ok" || r.Status == "breached" }

const runColumns = `run_id, reconciliation, trigger, config_hash, started_at, finished_at, status, error_class, error,
	source_count, target_count, matched, in_agreement, records_with_field_mismatch,
	exceptions, exceptions_new, exceptions_open, exceptions_resolved,
	sync_lag_p50_seconds, sync_lag_p95_seconds, sync_lag_max_seconds, source_rows_read, target_rows_read, mode, duration_seconds`

// StartRun records a run that starts, as running.
func (s *Store) StartRun(ctx context.Context, r Run) error {
	ctx, done := s.bound(ctx)
	defer done()
	r.Status = "running"
	return s.saveRun(ctx, r, false)
}

// EndRun records how a run ended.
func (s *Store) EndRun(ctx context.Context, r Run) error {
	ctx, done := s.bound(ctx)
	defer done()
	return s.saveRun(ctx, r, true)
}

func (s *Store) saveRun(ctx context.Context, r Run, update bool) error {
	var finished *string
	if r.FinishedAt != nil {
		f := formatTime(*r.FinishedAt)
		finished = &f
	}
	args := []any{r.RunID, r.Reconciliation, r.Trigger, r.ConfigHash, formatTime(r.StartedAt), finished, r.Status, r.ErrorClass, r.Error,
		r.SourceCount, r.TargetCount, r.Matched, r.InAgreement, r.RecordsWithFieldMismatch,
		r.Exceptions, r.ExceptionsNew, r.ExceptionsOpen, r.ExceptionsResolved, r.LagP50, r.LagP95, r.LagMax, r.SourceRowsRead, r.TargetRowsRead, r.Mode, r.DurationSeconds}
	query := "INSERT INTO recon_runs (" + runColumns + ") VALUES (?" + strings.Repeat(", ?", len(args)-1) + ")"
	if update {
		query += ` ON CONFLICT (run_id, reconciliation) DO UPDATE SET finished_at = excluded.finished_at, status = excluded.status,
			error_class = excluded.error_class, error = excluded.error, source_count = excluded.source_count,
			target_count = excluded.target_count, matched = excluded.matched, in_agreement = excluded.in_agreement,
			records_with_field_mismatch = excluded.records_with_field_mismatch, exceptions = excluded.exceptions,
			exceptions_new = excluded.exceptions_new, exceptions_open = excluded.exceptions_open,
			exceptions_resolved = excluded.exceptions_resolved, sync_lag_p50_seconds = excluded.sync_lag_p50_seconds,
			sync_lag_p95_seconds = excluded.sync_lag_p95_seconds, sync_lag_max_seconds = excluded.sync_lag_max_seconds,
			source_rows_read = excluded.source_rows_read, target_rows_read = excluded.target_rows_read,
			mode = excluded.mode, duration_seconds = excluded.duration_seconds`
	}
	if _, err := s.db.ExecContext(ctx, s.q(query), args...); err != nil {
		return s.fail("record run "+r.RunID+" of "+r.Reconciliation, err)
	}
	if update {
		cutoff := formatTime(r.StartedAt.Add(-RunRetention))
		if _, err := s.db.ExecContext(ctx, s.q("DELETE FROM recon_runs WHERE reconciliation = ? AND started_at < ?"), r.Reconciliation, cutoff); err != nil {
			return s.fail("prune runs", err)
		}
	}
	return nil
}

// Runs returns the runs of a reconciliation that started at or after since,
// newest first, at most limit (0: all).
func (s *Store) Runs(ctx context.Context, reconciliation string, since time.Time, limit int) ([]Run, error) {
	ctx, done := s.bound(ctx)
	defer done()
	where := "WHERE reconciliation = ? AND started_at >= ? ORDER BY started_at DESC, run_id DESC"
	args := []any{reconciliation, formatTime(since)}
	if limit > 0 {
		where += " LIMIT ?"
		args = append(args, limit)
	}
	return s.runs(ctx, where, args...)
}

// runs reads the runs a WHERE (and ORDER BY, LIMIT) clause selects.
func (s *Store) runs(ctx context.Context, where string, args ...any) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, s.q("SELECT "+runColumns+" FROM recon_runs "+where), args...)
	if err != nil {
		return nil, s.fail("read runs", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var started string
		var finished sql.NullString
		if err := rows.Scan(&r.RunID, &r.Reconciliation, &r.Trigger, &r.ConfigHash, &started, &finished, &r.Status, &r.ErrorClass, &r.Error,
			&r.SourceCount, &r.TargetCount, &r.Matched, &r.InAgreement, &r.RecordsWithFieldMismatch,
			&r.Exceptions, &r.ExceptionsNew, &r.ExceptionsOpen, &r.ExceptionsResolved, &r.LagP50, &r.LagP95, &r.LagMax,
			&r.SourceRowsRead, &r.TargetRowsRead, &r.Mode, &r.DurationSeconds); err != nil {
			return nil, s.fail("read runs", err)
		}
		if r.StartedAt, err = parseTime(started); err != nil {
			return nil, s.fail("run "+r.RunID, err)
		}
		if finished.Valid {
			t, err := parseTime(finished.String)
			if err != nil {
				return nil, s.fail("run "+r.RunID, err)
			}
			r.FinishedAt = &t
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("read runs", err)
	}
	return out, nil
}

// LastSuccess returns the newest run of a reconciliation that completed, or nil.
func (s *Store) LastSuccess(ctx context.Context, reconciliation string) (*Run, error) {
	runs, err := s.Successes(ctx, reconciliation, 1)
	if err != nil || len(runs) == 0 {
		return nil, err
	}
	return &runs[0], nil
}

// Successes returns the newest runs of a reconciliation that completed,
// newest first, at most limit.
func (s *Store) Successes(ctx context.Context, reconciliation string, limit int) ([]Run, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.runs(ctx, "WHERE reconciliation = ? AND status IN ('ok', 'breached') ORDER BY started_at DESC, run_id DESC LIMIT ?", reconciliation, limit)
}
