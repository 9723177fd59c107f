package sources

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/recon-dev/recon/reconcile"
)

// Rows streams a snapshot's records as text. It owns the snapshot and
// ends it on Close.
type Rows struct {
	snap *snapshot
	src  RowSource
	rel  *Relation
	n    int
	err  error
	// then are statements whose records follow, in the same snapshot.
	ctx  context.Context
	then []string
}

var _ reconcile.Rows = (*Rows)(nil)

// read starts reading the n columns of stmt in snap, and then those of
// the statements then (the same columns); on an error it ends snap.
func (r *Relation) read(ctx context.Context, snap *snapshot, stmt string, n int, then ...string) (*Rows, error) {
	src, err := snap.query(ctx, stmt, n)
	if err != nil {
		snap.Rollback()
		return nil, err
	}
	return &Rows{snap: snap, src: src, rel: r, n: n, ctx: ctx, then: then}, nil
}

// Next advances to the next record.
func (r *Rows) Next() bool {
	for r.err == nil && !r.src.Next() {
		if r.src.Err() != nil || len(r.then) == 0 {
			return false
		}
		if err := r.src.Close(); err != nil {
			r.err = r.rel.wrap("read", err)
			return false
		}
		src, err := r.snap.query(r.ctx, r.then[0], r.n)
		if err != nil {
			r.err = r.rel.wrap("read", err)
			return false
		}
		r.src, r.then = src, r.then[1:]
	}
	return r.err == nil
}

// Row returns the current record's columns; valid until the next Next.
func (r *Rows) Row() [][]byte { return r.src.Row() }

// Err returns the error that stopped the iteration, if any.
func (r *Rows) Err() error {
	if r.err != nil {
		return r.err
	}
	if err := r.src.Err(); err != nil {
		return r.rel.wrap("read", err)
	}
	return nil
}

// Close ends the read and its snapshot.
func (r *Rows) Close() error {
	err := r.src.Close()
	rbErr := r.snap.Rollback()
	if c, ok := r.src.(connCutter); ok && c.CutConn() || r.ctx.Err() != nil {
		// The database ended the transaction with the connection, or the
		// read was cancelled, which a driver may answer the same way.
		rbErr = nil
	}
	if err == nil && rbErr != sql.ErrTxDone {
		err = rbErr
	}
	if err != nil {
		return r.rel.wrap("close", err)
	}
	return nil
}

// sqlRows is a RowSource reading through database/sql.
type sqlRows struct {
	rows  *sql.Rows
	cells []cell
	dest  []any
	row   [][]byte
	err   error
}

func newSQLRows(rows *sql.Rows, n int) *sqlRows {
	r := &sqlRows{rows: rows, cells: make([]cell, n), dest: make([]any, n), row: make([][]byte, n)}
	for i := range r.cells {
		r.dest[i] = &r.cells[i]
	}
	return r
}

func (r *sqlRows) Next() bool {
	if r.err != nil || !r.rows.Next() {
		return false
	}
	if err := r.rows.Scan(r.dest...); err != nil {
		r.err = fmt.Errorf("scan: %w", err)
		return false
	}
	for i := range r.cells {
		r.row[i] = r.cells[i].bytes()
	}
	return true
}

func (r *sqlRows) Row() [][]byte { return r.row }

func (r *sqlRows) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.rows.Err()
}

func (r *sqlRows) Close() error { return r.rows.Close() }

// cell receives one column's value as text without copying where the
// driver hands out bytes. database/sql's RawBytes cannot be used: it turns
// an empty string into nil, which would read as NULL.
type cell struct {
	null bool
	view []byte // the driver's bytes, or buf
	buf  []byte // our own storage for values the driver gives as non-bytes
}

func (c *cell) bytes() []byte {
	if c.null {
		return nil
	}
	if c.view == nil {
		return []byte{}
	}
	return c.view
}

// Scan implements sql.Scanner.
func (c *cell) Scan(src any) error {
	c.null = false
	switch v := src.(type) {
	case nil:
		c.null = true
		return nil
	case []byte:
		c.view = v
		return nil
	case string:
		c.buf = append(c.buf[:0], v...)
	case int64:
		c.buf = strconv.AppendInt(c.buf[:0], v, 10)
	case uint64: // go-sql-driver/mysql: BIGINT UNSIGNED
		c.buf = strconv.AppendUint(c.buf[:0], v, 10)
	case float64:
		c.buf = strconv.AppendFloat(c.buf[:0], v, 'g', -1, 64)
	case float32: // go-sql-driver/mysql: FLOAT; shortest text for 32 bits, so 0.1 stays "0.1"
		c.buf = strconv.AppendFloat(c.buf[:0], float64(v), 'g', -1, 32)
	case bool:
		c.buf = strconv.AppendBool(c.buf[:0], v)
	case time.Time:
		// Drivers that parse timestamps themselves hand out instants.
		c.buf = v.AppendFormat(c.buf[:0], time.RFC3339Nano)
	default:
		return fmt.Errorf("unsupported value type %T", src)
	}
	c.view = c.buf
	return nil
}
