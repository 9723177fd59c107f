package state

import (
	"context"
	"database/sql"
	"strings"
	"time"
)

// Identity is what makes an exception the same one from run to run: its
// reconciliation (given apart), kind, record key and field. A null key or
// field is NullText, not "", which is a key of its own.
type Identity struct {
	Kind, RecordKey, Field string
}

// NullText stands for a null key or field in an Identity.
const NullText = "\x01null"

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

// seenChunk bounds the identities one statement of Seen carries: five
// parameters each, well within SQLite's and PostgreSQL's limits.
const seenChunk = 1000

// Seen records a batch of the exceptions a run of a reconciliation found,
// and returns for each when it was first seen: an exception open since an
// earlier run keeps that run; a new one is first seen by this run, which
// started at started. The caller sends a run's exceptions in batches, so
// that neither it nor this holds them all.
func (s *Store) Seen(ctx context.Context, runID, reconciliation string, started time.Time, ids []Identity) ([]FirstSeen, error) {
	out := make([]FirstSeen, 0, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), seenChunk)
		seen, err := s.seen(ctx, runID, reconciliation, started, ids[:n])
		if err != nil {
			return nil, err
		}
		out, ids = append(out, seen...), ids[n:]
	}
	return out, nil
}

func (s *Store) seen(ctx context.Context, runID, reconciliation string, started time.Time, ids []Identity) ([]FirstSeen, error) {
	ctx, done := s.bound(ctx)
	defer done()
	out := make([]FirstSeen, len(ids))
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.fail("", err)
	}
	defer tx.Rollback()
	values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?),", len(ids)), ",")
	args := make([]any, 0, 5*len(ids))
	for _, id := range ids {
		args = append(args, runID, reconciliation, id.Kind, id.RecordKey, id.Field)
	}
	if _, err := tx.ExecContext(ctx, s.q("INSERT INTO recon_seen (run_id, reconciliation, kind, record_key, field) VALUES "+values+
		" ON CONFLICT DO NOTHING"), args...); err != nil {
		return nil, s.fail("record exceptions", err)
	}
	triples := strings.TrimSuffix(strings.Repeat("(?, ?, ?),", len(ids)), ",")
	args = append(args[:0], reconciliation)
	for _, id := range ids {
		args = append(args, id.Kind, id.RecordKey, id.Field)
	}
	rows, err := tx.QueryContext(ctx, s.q("SELECT kind, record_key, field, first_seen_run, first_seen_at FROM recon_open_exceptions "+
		"WHERE reconciliation = ? AND (kind, record_key, field) IN (VALUES "+triples+")"), args...)
	if err != nil {
		return nil, s.fail("read open exceptions", err)
	}
	open := map[Identity]FirstSeen{}
	for rows.Next() {
		var id Identity
		var fs FirstSeen
		var at string
		if err := rows.Scan(&id.Kind, &id.RecordKey, &id.Field, &fs.Run, &at); err != nil {
			rows.Close()
			return nil, s.fail("", err)
		}
		if fs.At, err = parseTime(at); err != nil {
			rows.Close()
			return nil, s.fail("", err)
		}
		open[id] = fs
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.fail("", err)
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

// Finish ends a reconciliation's part of a run that completed and started
// at started: exceptions open before and not seen now are resolved at that
// start (and counted, with how long they were open, in its day's
// aggregates); those seen for the first time become open, first seen by
// this run.
func (s *Store) Finish(ctx context.Context, runID, reconciliation string, started time.Time) (Lifecycle, error) {
	ctx, done := s.bound(ctx)
	defer done()
	var lc Lifecycle
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return lc, s.fail("", err)
	}
	defer tx.Rollback()
	notSeen := `NOT EXISTS (SELECT 1 FROM recon_seen s WHERE s.run_id = ? AND s.reconciliation = o.reconciliation
		AND s.kind = o.kind AND s.record_key = o.record_key AND s.field = o.field)`
	rows, err := tx.QueryContext(ctx, s.q("SELECT first_seen_at FROM recon_open_exceptions o WHERE o.reconciliation = ? AND "+notSeen), reconciliation, runID)
	if err != nil {
		return lc, s.fail("resolve", err)
	}
	var openSeconds float64
	for rows.Next() {
		var at string
		if err := rows.Scan(&at); err != nil {
			rows.Close()
			return lc, s.fail("", err)
		}
		first, err := parseTime(at)
		if err != nil {
			rows.Close()
			return lc, s.fail("", err)
		}
		lc.Resolved++
		openSeconds += started.Sub(first).Seconds()
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return lc, s.fail("", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM recon_open_exceptions WHERE reconciliation = ? AND NOT EXISTS (SELECT 1 FROM recon_seen s
		WHERE s.run_id = ? AND s.reconciliation = recon_open_exceptions.reconciliation AND s.kind = recon_open_exceptions.kind
		AND s.record_key = recon_open_exceptions.record_key AND s.field = recon_open_exceptions.field)`), reconciliation, runID); err != nil {
		return lc, s.fail("resolve", err)
	}
	if lc.Resolved > 0 {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO recon_resolved (reconciliation, day, resolved, open_seconds) VALUES (?, ?, ?, ?)
			ON CONFLICT (reconciliation, day) DO UPDATE SET resolved = recon_resolved.resolved + excluded.resolved,
			open_seconds = recon_resolved.open_seconds + excluded.open_seconds`),
			reconciliation, started.UTC().Format(time.DateOnly), lc.Resolved, openSeconds); err != nil {
			return lc, s.fail("aggregate", err)
		}
	}
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM recon_seen s JOIN recon_open_exceptions o ON o.reconciliation = s.reconciliation
		AND o.kind = s.kind AND o.record_key = s.record_key AND o.field = s.field WHERE s.run_id = ? AND s.reconciliation = ?`),
		runID, reconciliation).Scan(&lc.Open); err != nil {
		return lc, s.fail("", err)
	}
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO recon_open_exceptions (reconciliation, kind, record_key, field, first_seen_run, first_seen_at)
		SELECT s.reconciliation, s.kind, s.record_key, s.field, ?, ? FROM recon_seen s WHERE s.run_id = ? AND s.reconciliation = ?
		AND NOT EXISTS (SELECT 1 FROM recon_open_exceptions o WHERE o.reconciliation = s.reconciliation
			AND o.kind = s.kind AND o.record_key = s.record_key AND o.field = s.field)`),
		runID, formatTime(started), runID, reconciliation)
	if err != nil {
		return lc, s.fail("open", err)
	}
	if lc.New, err = res.RowsAffected(); err != nil {
		return lc, err
	}
	// What this run saw is in the open set now; what runs that died saw
	// is of no use; aggregates past the retention go.
	for _, q := range []struct {
		stmt string
		args []any
	}{
		{"DELETE FROM recon_seen WHERE reconciliation = ?", []any{reconciliation}},
		{"DELETE FROM recon_resolved WHERE reconciliation = ? AND day < ?", []any{reconciliation, started.Add(-RunRetention).UTC().Format(time.DateOnly)}},
	} {
		if _, err := tx.ExecContext(ctx, s.q(q.stmt), q.args...); err != nil {
			return lc, s.fail("", err)
		}
	}
	return lc, tx.Commit()
}

// Discard forgets what a run of a reconciliation saw, when it failed: a
// failed run resolves nothing and opens nothing.
func (s *Store) Discard(ctx context.Context, runID, reconciliation string) error {
	ctx, done := s.bound(ctx)
	defer done()
	return forget(ctx, s.db, s, runID, reconciliation)
}

func forget(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, s *Store, runID, reconciliation string) error {
	if _, err := db.ExecContext(ctx, s.q("DELETE FROM recon_seen WHERE run_id = ? AND reconciliation = ?"), runID, reconciliation); err != nil {
		return s.fail("", err)
	}
	return nil
}

// OpenExceptions counts a reconciliation's open exceptions.
func (s *Store) OpenExceptions(ctx context.Context, reconciliation string) (int64, error) {
	ctx, done := s.bound(ctx)
	defer done()
	var n int64
	err := s.db.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM recon_open_exceptions WHERE reconciliation = ?"), reconciliation).Scan(&n)
	return n, err
}

// Resolutions returns how many exceptions of a reconciliation were
// resolved on days from since on, and for how long, in total, they were open.
func (s *Store) Resolutions(ctx context.Context, reconciliation string, since time.Time) (resolved int64, open time.Duration, err error) {
	ctx, done := s.bound(ctx)
	defer done()
	var seconds float64
	err = s.db.QueryRowContext(ctx, s.q("SELECT COALESCE(SUM(resolved), 0), COALESCE(SUM(open_seconds), 0) FROM recon_resolved WHERE reconciliation = ? AND day >= ?"),
		reconciliation, since.UTC().Format(time.DateOnly)).Scan(&resolved, &seconds)
	return resolved, time.Duration(seconds * float64(time.Second)), err
}
