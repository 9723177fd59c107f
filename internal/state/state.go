// Package state is recon's memory across runs: the history of every run
// of every reconciliation, the exceptions still open with when each was
// first seen, aggregates of the ones resolved (for MTTR), and the locks
// that keep one reconciliation from running twice at once. It lives in an
// SQLite file (the default, beside the config) or in PostgreSQL, for teams
// that run recon on several hosts.
//
// Invariants:
//   - The schema is versioned; migrations apply automatically, in a
//     transaction, and an older recon refuses a newer schema.
//   - State stays small however many runs happen: it keeps the open
//     exceptions and per-day aggregates of resolved ones, never a row per
//     exception per run; run history older than RunRetention is pruned.
//   - A failed run resolves nothing: only Finish, called for a
//     reconciliation that completed, changes the open set.
//   - A lock is a lease: its holder renews it while it runs, and a holder
//     that dies loses it when the lease expires.
package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // the "sqlite" driver

	"github.com/recon-dev/recon/sources/postgres"
)

// RunRetention is how long run history and resolution aggregates are kept.
const RunRetention = 400 * 24 * time.Hour

// Store is an open state store.
type Store struct {
	db      *sql.DB
	driver  string // "sqlite" or "postgres"
	dsn     string
	name    string   // for messages: the file, or the DSN without its password
	secrets []string // of the DSN, scrubbed from every error
	abort   func()   // cuts PostgreSQL's connections; nil for SQLite
}

// callTimeout bounds every call to the store: one that stops answering
// fails a run instead of hanging it (PostgreSQL's connections are cut).
const callTimeout = time.Minute

// bound gives a call its deadline, and cuts the connections of a store that
// does not answer by then.
func (s *Store) bound(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	if s.abort == nil {
		return ctx, cancel
	}
	stop := context.AfterFunc(ctx, func() {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			s.abort()
		}
	})
	return ctx, func() { stop(); cancel() }
}

// fail wraps an error of the store, naming it and scrubbing its secrets.
func (s *Store) fail(what string, err error) error {
	msg := err.Error()
	for _, secret := range s.secrets {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "*****")
		}
	}
	if what != "" {
		what += ": "
	}
	return fmt.Errorf("state %s: %s%w", s.name, what, scrubbed{msg: msg, err: err})
}

type scrubbed struct {
	msg string
	err error
}

func (e scrubbed) Error() string { return e.msg }
func (e scrubbed) Unwrap() error { return e.err }

// IsPostgres reports whether a state: value names PostgreSQL rather than an
// SQLite file: a postgres:// URL, or libpq's key=value form, which a
// system's dsn may take too (host=db user=recon password=…), and which
// must not be taken for a file's path, secrets and all.
func IsPostgres(dsn string) bool {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return true
	}
	fields := strings.Fields(dsn)
	known := false
	for _, f := range fields {
		key, _, ok := strings.Cut(f, "=")
		if !ok || key == "" || strings.ContainsAny(key, `/\.`) {
			return false
		}
		switch key {
		case "host", "hostaddr", "port", "dbname", "user", "password", "sslmode", "service", "connect_timeout":
			known = true
		}
	}
	return known
}

// Open opens the state store dsn: PostgreSQL's (IsPostgres), or the path of an
// SQLite file (created if missing; relative to baseDir). name is how
// messages show it, without secrets.
func Open(ctx context.Context, dsn, baseDir, name string) (*Store, error) {
	s := &Store{driver: "sqlite", dsn: dsn, name: name}
	open := dsn
	var db *sql.DB
	if IsPostgres(dsn) {
		s.driver = "postgres"
		pg := postgres.Dialect{}
		s.secrets = pg.Secrets(dsn)
		configured, err := pg.Configure(dsn, "") // with a connect timeout
		if err != nil {
			return nil, s.fail("", err)
		}
		if db, s.abort, err = pg.OpenAbortable(configured); err != nil {
			return nil, s.fail("", err)
		}
	} else {
		path := dsn
		if !filepath.IsAbs(path) {
			path = filepath.Join(baseDir, path)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("state %s: %w", name, err)
		}
		// WAL lets a daemon and a manual run share the file; busy_timeout
		// makes a writer wait for the other instead of failing, and
		// immediate transactions take the write lock at BEGIN, where
		// busy_timeout applies, rather than at their first write, where
		// SQLite fails at once if another process wrote meanwhile.
		open = "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(30000)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		var err error
		if db, err = sql.Open(s.driver, open); err != nil {
			return nil, s.fail("", err)
		}
		db.SetMaxOpenConns(1) // one writer per process; others wait on busy_timeout
	}
	s.db = db
	ctx, done := s.bound(ctx)
	defer done()
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, s.fail("", err)
	}
	return s, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Name is how messages show the store.
func (s *Store) Name() string { return s.name }

// q rewrites a statement written with ? placeholders for the driver.
func (s *Store) q(query string) string {
	if s.driver == "postgres" {
		return sqlx.Rebind(sqlx.DOLLAR, query)
	}
	return query
}

// migrations are the schema's versions, in order: migrations[i] takes the
// schema from version i to i+1. Never edit one that has shipped; add one.
var migrations = []string{
	`CREATE TABLE recon_runs (
		run_id TEXT NOT NULL,
		reconciliation TEXT NOT NULL,
		trigger TEXT NOT NULL,
		config_hash TEXT NOT NULL,
		started_at TEXT NOT NULL,
		finished_at TEXT,
		status TEXT NOT NULL,
		error_class TEXT,
		error TEXT,
		source_count BIGINT,
		target_count BIGINT,
		matched BIGINT,
		in_agreement BIGINT,
		records_with_field_mismatch BIGINT,
		exceptions BIGINT,
		exceptions_new BIGINT,
		exceptions_open BIGINT,
		exceptions_resolved BIGINT,
		sync_lag_p50_seconds DOUBLE PRECISION,
		sync_lag_p95_seconds DOUBLE PRECISION,
		sync_lag_max_seconds DOUBLE PRECISION,
		PRIMARY KEY (run_id, reconciliation)
	);
	CREATE INDEX recon_runs_by_reconciliation ON recon_runs (reconciliation, started_at);
	CREATE TABLE recon_open_exceptions (
		reconciliation TEXT NOT NULL,
		kind TEXT NOT NULL,
		record_key TEXT NOT NULL,
		field TEXT NOT NULL,
		first_seen_run TEXT NOT NULL,
		first_seen_at TEXT NOT NULL,
		PRIMARY KEY (reconciliation, kind, record_key, field)
	);
	CREATE TABLE recon_seen (
		run_id TEXT NOT NULL,
		reconciliation TEXT NOT NULL,
		kind TEXT NOT NULL,
		record_key TEXT NOT NULL,
		field TEXT NOT NULL,
		PRIMARY KEY (run_id, reconciliation, kind, record_key, field)
	);
	CREATE TABLE recon_resolved (
		reconciliation TEXT NOT NULL,
		day TEXT NOT NULL,
		resolved BIGINT NOT NULL,
		open_seconds DOUBLE PRECISION NOT NULL,
		PRIMARY KEY (reconciliation, day)
	);
	CREATE TABLE recon_locks (
		reconciliation TEXT NOT NULL PRIMARY KEY,
		holder TEXT NOT NULL,
		acquired_at TEXT NOT NULL,
		expires_at TEXT NOT NULL
	)`,
	// Rows each side sent, so that the next run can tell how far along it is.
	`ALTER TABLE recon_runs ADD COLUMN source_rows_read BIGINT;
	ALTER TABLE recon_runs ADD COLUMN target_rows_read BIGINT`,
	// A run marks the open exceptions it sees (its id and start), and adds
	// the new ones unopened until it completes, instead of listing its
	// sightings apart (half the cost). Sightings of runs that died are of
	// no use.
	`ALTER TABLE recon_open_exceptions ADD COLUMN last_seen_run TEXT NOT NULL DEFAULT '';
	ALTER TABLE recon_open_exceptions ADD COLUMN last_seen_at TEXT NOT NULL DEFAULT '';
	ALTER TABLE recon_open_exceptions ADD COLUMN opened BIGINT NOT NULL DEFAULT 1;
	DROP TABLE recon_seen`,
	// How each run compared its records, and how long that took, so that
	// mode: auto can tell whether checksums pay here.
	`ALTER TABLE recon_runs ADD COLUMN mode TEXT;
	ALTER TABLE recon_runs ADD COLUMN duration_seconds DOUBLE PRECISION`,
}

// ErrNewerSchema is a state store written by a newer recon.
var ErrNewerSchema = errors.New("the state was written by a newer recon")

func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// One migrator at a time: an exclusive transaction in SQLite, an
	// advisory lock in PostgreSQL.
	begin := "BEGIN IMMEDIATE"
	if s.driver == "postgres" {
		begin = "BEGIN"
	}
	if _, err := conn.ExecContext(ctx, begin); err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			conn.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	if s.driver == "postgres" {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext('recon_schema'))"); err != nil {
			return err
		}
	}
	if _, err := conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS recon_schema (version BIGINT NOT NULL)"); err != nil {
		return err
	}
	var version int
	err = conn.QueryRowContext(ctx, "SELECT version FROM recon_schema").Scan(&version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := conn.ExecContext(ctx, "INSERT INTO recon_schema (version) VALUES (0)"); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("%w: its schema is version %d, this recon knows versions up to %d; upgrade recon (or point state: at another store)",
			ErrNewerSchema, version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		for _, stmt := range strings.Split(migrations[v], ";\n") {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
			}
		}
		if _, err := conn.ExecContext(ctx, s.q("UPDATE recon_schema SET version = ?"), v+1); err != nil {
			return err
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return err
	}
	done = true
	return nil
}

// timeText is how the store keeps instants: UTC, fixed width, so that text
// order is time order.
const timeText = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeText) }

func parseTime(s string) (time.Time, error) { return time.Parse(timeText, s) }
