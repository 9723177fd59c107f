package state

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Identity is what makes an exception the same one from run to run: its
// reconciliation (given apart), kind, record key and field. A null key or
// field is "".
type Identity struct {
	Kind, RecordKey, Field string
}

// FirstSeen is when an exception was first seen: the run and its start.
type FirstSeen struct {
	Run string
	At  time.Time
}

// Lifecycle counts a reconciliation's exceptions (distinct identities)
// against the previous run that completed.
type Lifecycle struct {
	New      int64 // seen now, not open before
	Open     int64 // open before and seen now
	Resolved int64 // open before and not seen now
}

// Seen records a batch of the exceptions a run of a reconciliation found,
// and returns for each when it was first seen: an exception open since an
// earlier run keeps that run; a new one is first seen by this run, which
// started at started. Batches keep memory bounded however many exceptions
// a run finds.
func (s *Store) Seen(ctx context.Context, runID, reconciliation string, started time.Time, ids []Identity) ([]FirstSeen, error) {
	out := make([]FirstSeen, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", s.name, err)
	}
	defer tx.Rollback()
	values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?),", len(ids)), ",")
	args := make([]any, 0, 5*len(ids))
	for _, id := range ids {
		args = append(args, runID, reconciliation, id.Kind, id.RecordKey, id.Field)
	}
	if _, err := tx.ExecContext(ctx, s.q("INSERT INTO recon_seen (run_id, reconciliation, kind, record_key, field) VALUES "+values+
		" ON CONFLICT DO NOTHING"), args...); err != nil {
		return nil, fmt.Errorf("state %s: record exceptions: %w", s.name, err)
	}
	triples := strings.TrimSuffix(strings.Repeat("(?, ?, ?),", len(ids)), ",")
	args = append(args[:0], reconciliation)
	for _, id := range ids {
		args = append(args, id.Kind, id.RecordKey, id.Field)
	}
	rows, err := tx.QueryContext(ctx, s.q("SELECT kind, record_key, field, first_seen_run, first_seen_at FROM recon_open_exceptions "+
		"WHERE reconciliation = ? AND (kind, record_key, field) IN (VALUES "+triples+")"), args...)
	if err != nil {
		return nil, fmt.Errorf("state %s: read open exceptions: %w", s.name, err)
	}
	open := map[Identity]FirstSeen{}
	for rows.Next() {
		var id Identity
		var fs FirstSeen
		var at string
		if err := rows.Scan(&id.Kind, &id.RecordKey, &id.Field, &fs.Run, &at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("state %s: %w", s.name, err)
		}
		if fs.At, err = parseTime(at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("state %s: %w", s.name, err)
		}
		open[id] = fs
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state %s: %w", s.name, err)
	}
	for i, id := range ids {
		fs, ok := open[id]
		if !ok {
			fs = FirstSeen{Run: runID, At: started.UTC()}
		}
		out[i] = fs
	}
	return out, tx.Commit()
}

// Finish ends a reconciliation's part of a run that completed, at now:
// exceptions open before and not seen now are resolved (and counted, with
// how long they were open, in the day's aggregates); those seen for the
// first time become open, first seen by this run.
func (s *Store) Finish(ctx context.Context, runID, reconciliation string, started, now time.Time) (Lifecycle, error) {
	var lc Lifecycle
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return lc, fmt.Errorf("state %s: %w", s.name, err)
	}
	defer tx.Rollback()
	notSeen := `NOT EXISTS (SELECT 1 FROM recon_seen s WHERE s.run_id = ? AND s.reconciliation = o.reconciliation
		AND s.kind = o.kind AND s.record_key = o.record_key AND s.field = o.field)`
	rows, err := tx.QueryContext(ctx, s.q("SELECT first_seen_at FROM recon_open_exceptions o WHERE o.reconciliation = ? AND "+notSeen), reconciliation, runID)
	if err != nil {
		return lc, fmt.Errorf("state %s: resolve: %w", s.name, err)
	}
	var openSeconds float64
	for rows.Next() {
		var at string
		if err := rows.Scan(&at); err != nil {
			rows.Close()
			return lc, fmt.Errorf("state %s: %w", s.name, err)
		}
		first, err := parseTime(at)
		if err != nil {
			rows.Close()
			return lc, fmt.Errorf("state %s: %w", s.name, err)
		}
		lc.Resolved++
		openSeconds += now.Sub(first).Seconds()
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return lc, fmt.Errorf("state %s: %w", s.name, err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM recon_open_exceptions WHERE reconciliation = ? AND NOT EXISTS (SELECT 1 FROM recon_seen s
		WHERE s.run_id = ? AND s.reconciliation = recon_open_exceptions.reconciliation AND s.kind = recon_open_exceptions.kind
		AND s.record_key = recon_open_exceptions.record_key AND s.field = recon_open_exceptions.field)`), reconciliation, runID); err != nil {
		return lc, fmt.Errorf("state %s: resolve: %w", s.name, err)
	}
	if lc.Resolved > 0 {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO recon_resolved (reconciliation, day, resolved, open_seconds) VALUES (?, ?, ?, ?)
			ON CONFLICT (reconciliation, day) DO UPDATE SET resolved = recon_resolved.resolved + excluded.resolved,
			open_seconds = recon_resolved.open_seconds + excluded.open_seconds`),
			reconciliation, now.UTC().Format(time.DateOnly), lc.Resolved, openSeconds); err != nil {
			return lc, fmt.Errorf("state %s: aggregate: %w", s.name, err)
		}
	}
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM recon_seen s JOIN recon_open_exceptions o ON o.reconciliation = s.reconciliation
		AND o.kind = s.kind AND o.record_key = s.record_key AND o.field = s.field WHERE s.run_id = ? AND s.reconciliation = ?`),
		runID, reconciliation).Scan(&lc.Open); err != nil {
		return lc, fmt.Errorf("state %s: %w", s.name, err)
	}
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO recon_open_exceptions (reconciliation, kind, record_key, field, first_seen_run, first_seen_at)
		SELECT s.reconciliation, s.kind, s.record_key, s.field, ?, ? FROM recon_seen s WHERE s.run_id = ? AND s.reconciliation = ?
		AND NOT EXISTS (SELECT 1 FROM recon_open_exceptions o WHERE o.reconciliation = s.reconciliation
			AND o.kind = s.kind AND o.record_key = s.record_key AND o.field = s.field)`),
		runID, formatTime(started), runID, reconciliation)
	if err != nil {
		return lc, fmt.Errorf("state %s: open: %w", s.name, err)
	}
	if lc.New, err = res.RowsAffected(); err != nil {
		return lc, err
	}
	if err := forget(ctx, tx, s, runID, reconciliation); err != nil {
		return lc, err
	}
	return lc, tx.Commit()
}

// Discard forgets what a run of a reconciliation saw, when it failed: a
// failed run resolves nothing and opens nothing.
func (s *Store) Discard(ctx context.Context, runID, reconciliation string) error {
	return forget(ctx, s.db, s, runID, reconciliation)
}

func forget(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, s *Store, runID, reconciliation string) error {
	if _, err := db.ExecContext(ctx, s.q("DELETE FROM recon_seen WHERE run_id = ? AND reconciliation = ?"), runID, reconciliation); err != nil {
		return fmt.Errorf("state %s: %w", s.name, err)
	}
	return nil
}

// OpenExceptions counts a reconciliation's open exceptions.
func (s *Store) OpenExceptions(ctx context.Context, reconciliation string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM recon_open_exceptions WHERE reconciliation = ?"), reconciliation).Scan(&n)
	return n, err
}

// Resolutions returns how many exceptions of a reconciliation were
// resolved on days from since on, and for how long, in total, they were open.
func (s *Store) Resolutions(ctx context.Context, reconciliation string, since time.Time) (resolved int64, open time.Duration, err error) {
	var seconds float64
	err = s.db.QueryRowContext(ctx, s.q("SELECT COALESCE(SUM(resolved), 0), COALESCE(SUM(open_seconds), 0) FROM recon_resolved WHERE reconciliation = ? AND day >= ?"),
		reconciliation, since.UTC().Format(time.DateOnly)).Scan(&resolved, &seconds)
	return resolved, time.Duration(seconds * float64(time.Second)), err
}
