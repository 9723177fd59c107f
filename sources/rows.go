package sources

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recon-dev/recon/reconcile"
)

// Rows streams a snapshot's records as text. It owns the snapshot's
// transaction and ends it on Close.
type Rows struct {
	tx    *sqlx.Tx
	rows  *sql.Rows
	rel   *Relation
	cells []cell
	dest  []any
	row   [][]byte
	err   error
	// then are statements whose records follow, in the same snapshot.
	ctx  context.Context
	then []string
}

var _ reconcile.Rows = (*Rows)(nil)

func newRows(tx *sqlx.Tx, rows *sql.Rows, n int, rel *Relation) *Rows {
	r := &Rows{tx: tx, rows: rows, rel: rel, cells: make([]cell, n), dest: make([]any, n), row: make([][]byte, n)}
	for i := range r.cells {
		r.dest[i] = &r.cells[i]
	}
	return r
}

// Next advances to the next record.
func (r *Rows) Next() bool {
	for r.err == nil && !r.rows.Next() {
		if r.rows.Err() != nil || len(r.then) == 0 {
			return false
		}
		if err := r.rows.Close(); err != nil {
			r.err = r.rel.wrap("read", err)
			return false
		}
		rows, err := r.tx.QueryContext(r.ctx, r.then[0])
		if err != nil {
			r.err = r.rel.wrap("read", err)
			return false
		}
		r.rows, r.then = rows, r.then[1:]
	}
	if r.err != nil {
		return false
	}
	if err := r.rows.Scan(r.dest...); err != nil {
		r.err = r.rel.wrap("scan", err)
		return false
	}
	for i := range r.cells {
		r.row[i] = r.cells[i].bytes()
	}
	return true
}

// Row returns the current record's columns; valid until the next Next.
func (r *Rows) Row() [][]byte { return r.row }

// Err returns the error that stopped the iteration, if any.
func (r *Rows) Err() error {
	if r.err != nil {
		return r.err
	}
	if err := r.rows.Err(); err != nil {
		return r.rel.wrap("read", err)
	}
	return nil
}

// Close ends the read and its transaction.
func (r *Rows) Close() error {
	err := r.rows.Close()
	if rbErr := r.tx.Rollback(); err == nil && rbErr != sql.ErrTxDone {
		err = rbErr
	}
	if err != nil {
		return r.rel.wrap("close", err)
	}
	return nil
}

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
