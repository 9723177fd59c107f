package sources

import (
	"context"
	"database/sql"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// TxBeginner is what a snapshot begins on: a pool (*sqlx.DB), or one of
// its connections (*sqlx.Conn) where the dialect reads natively.
type TxBeginner interface {
	BeginTxx(ctx context.Context, opts *sql.TxOptions) (*sqlx.Tx, error)
}

// NativeReader is a Dialect whose driver streams rows through an API of
// its own at a fraction of database/sql's cost a value (pgx hands out the
// bytes it received, where database/sql converts each value to a Go value
// for the engine to turn back into text). A snapshot's reads of rows then
// go through it, on the connection that holds the snapshot's transaction;
// everything else (columns, checksums) still goes through database/sql.
type NativeReader interface {
	// QueryNative runs stmt on conn, in the transaction open on it, and
	// streams its rows of n columns as text, NULL as nil.
	QueryNative(ctx context.Context, conn *sql.Conn, stmt string, n int) (RowSource, error)
}

// RowSource streams one statement's rows as text, NULL as nil.
type RowSource interface {
	Next() bool
	// Row is the current row; valid until the next Next.
	Row() [][]byte
	Err() error
	Close() error
}

// connCutter is a RowSource whose Close, before the end of its rows,
// closes the connection under it rather than read the rest (pgx): the
// database then ends the transaction with the connection, and rolling it
// back fails for want of one.
type connCutter interface {
	// CutConn reports whether Close closed the connection.
	CutConn() bool
}

// Killer is a Dialect whose server goes on with a statement after its
// client has gone, until the statement next sends a row: MySQL and
// MariaDB, which would otherwise sum a checksum's segments over the whole
// table for nobody after a run is cancelled. The snapshot's statements
// that send nothing until they end are then ended on the server, from
// another connection of the pool.
type Killer interface {
	// SessionID is the SQL of the id of the connection it runs on.
	SessionID() string
	// KillStatement is the SQL that ends the statement session id runs,
	// and leaves the session.
	KillStatement(id int64) string
}

// killTimeout bounds the statement that ends another.
const killTimeout = 10 * time.Second

// statements are the sessions of a Killer's pool running a statement that
// sends nothing until it ends.
type statements struct {
	mu      sync.Mutex
	running map[int64]int // session id: statements
}

func (s *statements) add(id int64, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == nil {
		s.running = map[int64]int{}
	}
	if s.running[id] += n; s.running[id] <= 0 {
		delete(s.running, id)
	}
}

func (s *statements) sessions() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Collect(maps.Keys(s.running))
}

// kill ends the statement session id runs (at worst it runs on, as
// without).
func (db *DB) kill(k Killer, id int64) {
	ctx, cancel := context.WithTimeout(context.Background(), killTimeout)
	defer cancel()
	db.db.ExecContext(ctx, k.KillStatement(id))
}

// killRunning ends every statement endOnCancel watches, for Abort: which
// comes before the pool closes, where the statements' own contexts may
// end them after, when the pool can no longer.
func (db *DB) killRunning() {
	if k, ok := db.dialect.(Killer); ok {
		for _, id := range db.statements.sessions() {
			db.kill(k, id)
		}
	}
}

// snapshot is one read-only transaction of a relation, and, where the
// dialect reads natively, the connection the transaction holds.
type snapshot struct {
	*sqlx.Tx
	conn   *sql.Conn
	native NativeReader
	// reading is the native read last started: until it ends, it holds
	// the connection, so that the transaction can do nothing else.
	reading RowSource
	// db and session, where the dialect is a Killer, end on the server the
	// statement the transaction runs.
	db      *DB
	session int64
}

// beginSnapshot starts a snapshot of db.
func (db *DB) beginSnapshot(ctx context.Context) (*snapshot, error) {
	native, ok := db.dialect.(NativeReader)
	if !ok {
		tx, err := db.dialect.BeginSnapshot(ctx, db.db)
		if err != nil {
			return nil, err
		}
		s := &snapshot{Tx: tx}
		if err := db.killable(ctx, s); err != nil {
			tx.Rollback()
			return nil, err
		}
		return s, nil
	}
	conn, err := db.db.Connx(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := db.dialect.BeginSnapshot(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &snapshot{Tx: tx, conn: conn.Conn, native: native}, nil
}

// killable makes s end its statements on the server where the dialect is
// a Killer.
func (db *DB) killable(ctx context.Context, s *snapshot) error {
	k, ok := db.dialect.(Killer)
	if !ok {
		return nil
	}
	if err := s.QueryRowContext(ctx, k.SessionID()).Scan(&s.session); err != nil {
		return err
	}
	s.db = db
	return nil
}

// endOnCancel makes a cancelled ctx, or an Abort of the pool, end the
// statement the snapshot runs on the server as well as in the driver, for
// a statement that sends nothing until it ends; stop stops watching.
func (s *snapshot) endOnCancel(ctx context.Context) (stop func()) {
	if s.db == nil {
		return func() {}
	}
	s.db.statements.add(s.session, 1)
	k := s.db.dialect.(Killer)
	stopKill := context.AfterFunc(ctx, func() { s.db.kill(k, s.session) })
	return func() {
		stopKill()
		s.db.statements.add(s.session, -1)
	}
}

// query streams the rows of n columns stmt reads.
func (s *snapshot) query(ctx context.Context, stmt string, n int) (RowSource, error) {
	if s.native != nil {
		src, err := s.native.QueryNative(ctx, s.conn, stmt, n)
		s.reading = src
		return src, err
	}
	rows, err := s.QueryContext(ctx, stmt)
	if err != nil {
		return nil, err
	}
	return newSQLRows(rows, n), nil
}

// Rollback ends the snapshot's transaction, after its native read if one
// is open, and gives its connection back to the pool.
func (s *snapshot) Rollback() error {
	if s.reading != nil {
		s.reading.Close()
	}
	err := s.Tx.Rollback()
	if s.conn != nil {
		s.conn.Close()
	}
	return err
}
