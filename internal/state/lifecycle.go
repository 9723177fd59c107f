package state

import (
	"context"
	"fmt"
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

// seenChunk bounds the identities one statement of Seen carries: three
// parameters each, well within SQLite's and PostgreSQL's limits.
const seenChunk = 1024

// Seen records a batch of the exceptions a run of a reconciliation found,
// and returns for each when it was first seen: an exception open since an
// earlier run keeps that run; a new one is first seen by this run, which
// started at started. The caller sends a run's exceptions in batches, so
// that neither it nor this holds them all.
//
// Each exception costs one upsert into the open set, which marks it seen
// by this run; one this run adds stays unopened (invisible to
// OpenExceptions) until Finish opens it. A separate table of sightings,
// joined to the open set at the end, cost twice as much (16 µs an
// exception in SQLite against 9, BenchmarkLifecycle).
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
	// An identity twice in one statement is an error in PostgreSQL ("ON
	// CONFLICT DO UPDATE command cannot affect row a second time").
	first := make(map[Identity]FirstSeen, len(ids))
	at := formatTime(started)
	args := make([]any, 0, 5+3*len(ids))
	args = append(args, reconciliation, runID, at, runID, at)
	for _, id := range ids {
		if _, ok := first[id]; !ok {
			first[id] = FirstSeen{}
			args = append(args, id.Kind, id.RecordKey, id.Field)
		}
	}
	values := strings.TrimSuffix(strings.Repeat("(?, ?, ?),", len(first)), ",")
	// A row no run that completed opened (left by this run, or by one that
	// died) is first seen now. A run never takes a mark from a run that
	// started after it: one that lost its lock (paused past its lease)
	// and wakes gets no sighting back and fails, and the run that took
	// the lock keeps its marks. "WHERE true" tells SQLite's parser that
	// ON CONFLICT is the upsert's, not a join's.
	rows, err := s.db.QueryContext(ctx, s.q(`INSERT INTO recon_open_exceptions
		(reconciliation, kind, record_key, field, first_seen_run, first_seen_at, last_seen_run, last_seen_at, opened)
		SELECT ?, column1, column2, column3, ?, ?, ?, ?, 0 FROM (VALUES `+values+`) AS sighting WHERE true
		ON CONFLICT (reconciliation, kind, record_key, field) DO UPDATE SET
		last_seen_run = excluded.last_seen_run, last_seen_at = excluded.last_seen_at,
		first_seen_run = CASE WHEN recon_open_exceptions.opened = 1 THEN recon_open_exceptions.first_seen_run ELSE excluded.first_seen_run END,
		first_seen_at = CASE WHEN recon_open_exceptions.opened = 1 THEN recon_open_exceptions.first_seen_at ELSE excluded.first_seen_at END
		WHERE recon_open_exceptions.last_seen_at <= excluded.last_seen_at
		RETURNING kind, record_key, field, first_seen_run, first_seen_at`), args...)
	if err != nil {
		return nil, s.fail("record exceptions", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id Identity
		var fs FirstSeen
		if err := rows.Scan(&id.Kind, &id.RecordKey, &id.Field, &fs.Run, &at); err != nil {
			return nil, s.fail("", err)
		}
		if fs.At, err = parseTime(at); err != nil {
			return nil, s.fail("", err)
		}
		first[id] = fs
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("record exceptions", err)
	}
	out := make([]FirstSeen, len(ids))
	for i, id := range ids {
		if out[i] = first[id]; out[i].Run == "" {
			return nil, s.fail("record exceptions", fmt.Errorf("a run that started later marked %s %q of %s: this run lost its lock", id.Kind, id.RecordKey, reconciliation))
		}
	}
	return out, nil
}

// Finish ends a reconciliation's part of a run that completed and started
// at started: exceptions open before and not seen now are resolved at that
// start (and counted, with how long they were open, in its day's
// aggregates); those seen for the first time become open, first seen by
// this run. Rows a run that died left behind go.
func (s *Store) Finish(ctx context.Context, runID, reconciliation string, started time.Time) (Lifecycle, error) {
	ctx, done := s.bound(ctx)
	defer done()
	var lc Lifecycle
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return lc, s.fail("", err)
	}
	defer tx.Rollback()
	// A run that lost its lock to one that started after it resolves
	// nothing of what that run saw.
	var later int64
	if err := tx.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM recon_open_exceptions WHERE reconciliation = ? AND last_seen_at > ?"),
		reconciliation, formatTime(started)).Scan(&later); err != nil {
		return lc, s.fail("resolve", err)
	}
	if later > 0 {
		return lc, s.fail("resolve", fmt.Errorf("a run of %s that started later has marked %d exceptions: this run lost its lock", reconciliation, later))
	}
	rows, err := tx.QueryContext(ctx, s.q("SELECT first_seen_at FROM recon_open_exceptions WHERE reconciliation = ? AND opened = 1 AND last_seen_run <> ?"),
		reconciliation, runID)
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
	if _, err := tx.ExecContext(ctx, s.q("DELETE FROM recon_open_exceptions WHERE reconciliation = ? AND last_seen_run <> ?"), reconciliation, runID); err != nil {
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
	res, err := tx.ExecContext(ctx, s.q("UPDATE recon_open_exceptions SET opened = 1 WHERE reconciliation = ? AND opened = 0"), reconciliation)
	if err != nil {
		return lc, s.fail("open", err)
	}
	if lc.New, err = res.RowsAffected(); err != nil {
		return lc, err
	}
	// What is left was seen now: open before, or new.
	if err := tx.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM recon_open_exceptions WHERE reconciliation = ?"), reconciliation).Scan(&lc.Open); err != nil {
		return lc, s.fail("", err)
	}
	lc.Open -= lc.New
	if _, err := tx.ExecContext(ctx, s.q("DELETE FROM recon_resolved WHERE reconciliation = ? AND day < ?"),
		reconciliation, started.Add(-RunRetention).UTC().Format(time.DateOnly)); err != nil {
		return lc, s.fail("", err)
	}
	return lc, tx.Commit()
}

// Discard forgets what a run of a reconciliation saw, when it failed: a
// failed run resolves nothing and opens nothing. (The open exceptions it
// saw keep its mark; the next run that completes marks them again or
// resolves them.)
func (s *Store) Discard(ctx context.Context, runID, reconciliation string) error {
	ctx, done := s.bound(ctx)
	defer done()
	if _, err := s.db.ExecContext(ctx, s.q("DELETE FROM recon_open_exceptions WHERE reconciliation = ? AND opened = 0 AND last_seen_run = ?"),
		reconciliation, runID); err != nil {
		return s.fail("", err)
	}
	return nil
}

// OpenExceptions counts a reconciliation's open exceptions.
func (s *Store) OpenExceptions(ctx context.Context, reconciliation string) (int64, error) {
	ctx, done := s.bound(ctx)
	defer done()
	var n int64
	err := s.db.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM recon_open_exceptions WHERE reconciliation = ? AND opened = 1"), reconciliation).Scan(&n)
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
