package state

import (
	"context"
	"time"
)

// Lock is who holds a reconciliation's lock, and until when.
type Lock struct {
	Holder    string    `json:"holder"`
	Acquired  time.Time `json:"acquired_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// TryLock takes the lock of a reconciliation for holder until now+ttl,
// unless another holder has it and its lease has not expired; then it
// returns false and who holds it.
func (s *Store) TryLock(ctx context.Context, reconciliation, holder string, now time.Time, ttl time.Duration) (bool, Lock, error) {
	ctx, done := s.bound(ctx)
	defer done()
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO recon_locks (reconciliation, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (reconciliation) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
		WHERE recon_locks.expires_at < ? OR recon_locks.holder = excluded.holder`),
		reconciliation, holder, formatTime(now), formatTime(now.Add(ttl)), formatTime(now))
	if err != nil {
		return false, Lock{}, s.fail("lock "+reconciliation, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, Lock{Holder: holder, Acquired: now, ExpiresAt: now.Add(ttl)}, nil
	}
	var l Lock
	var acquired, expires string
	if err := s.db.QueryRowContext(ctx, s.q("SELECT holder, acquired_at, expires_at FROM recon_locks WHERE reconciliation = ?"), reconciliation).
		Scan(&l.Holder, &acquired, &expires); err != nil {
		return false, l, s.fail("lock "+reconciliation, err)
	}
	l.Acquired, _ = parseTime(acquired)
	l.ExpiresAt, _ = parseTime(expires)
	return false, l, nil
}

// Renew extends holder's lease of a reconciliation's lock to now+ttl; false
// if holder no longer holds it (its lease expired and another took it).
func (s *Store) Renew(ctx context.Context, reconciliation, holder string, now time.Time, ttl time.Duration) (bool, error) {
	ctx, done := s.bound(ctx)
	defer done()
	res, err := s.db.ExecContext(ctx, s.q("UPDATE recon_locks SET expires_at = ? WHERE reconciliation = ? AND holder = ?"),
		formatTime(now.Add(ttl)), reconciliation, holder)
	if err != nil {
		return false, s.fail("renew lock "+reconciliation, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Unlock releases holder's lock of a reconciliation.
func (s *Store) Unlock(ctx context.Context, reconciliation, holder string) error {
	ctx, done := s.bound(ctx)
	defer done()
	if _, err := s.db.ExecContext(ctx, s.q("DELETE FROM recon_locks WHERE reconciliation = ? AND holder = ?"), reconciliation, holder); err != nil {
		return s.fail("unlock "+reconciliation, err)
	}
	return nil
}

// Holder returns who holds a reconciliation's lock at now, or nil when no
// one does (or the lease has expired).
func (s *Store) Holder(ctx context.Context, reconciliation string, now time.Time) (*Lock, error) {
	ctx, done := s.bound(ctx)
	defer done()
	rows, err := s.db.QueryContext(ctx, s.q("SELECT holder, acquired_at, expires_at FROM recon_locks WHERE reconciliation = ? AND expires_at >= ?"),
		reconciliation, formatTime(now))
	if err != nil {
		return nil, s.fail("", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	var l Lock
	var acquired, expires string
	if err := rows.Scan(&l.Holder, &acquired, &expires); err != nil {
		return nil, s.fail("", err)
	}
	l.Acquired, _ = parseTime(acquired)
	l.ExpiresAt, _ = parseTime(expires)
	return &l, nil
}
