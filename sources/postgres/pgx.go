package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/lib/pq/oid"

	"github.com/recon-dev/recon/sources"
)

func init() { sources.Register("pgx", PGX{}) }

// PGX is PostgreSQL through jackc/pgx: Dialect's SQL, sessions and
// snapshots, but rows are read through pgx's own API, which hands out the
// text the server sent, where lib/pq and database/sql make a Go value of
// every value for the engine to turn back into text (a third of the
// client's CPU a row). Its connections use the simple protocol, as lib/pq
// does for statements without arguments: every value comes as text, and
// none of the thousands of statements a checksum sends is prepared.
type PGX struct{ Dialect }

var (
	_ sources.ChecksumDialect = PGX{}
	_ sources.NativeReader    = PGX{}
	_ sources.Abortable       = PGX{}
)

// DriverName implements sources.Dialect.
func (PGX) DriverName() string { return "pgx" }

// Configure implements sources.Dialect: pgx takes the URLs and key=value
// DSNs lib/pq does, given the same connect timeout where they set none.
func (PGX) Configure(dsn, _ string) (string, error) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "", badDSN(dsn)
	}
	return withConnectTimeout(dsn, cfg.ConnectTimeout != 0), nil
}

// Secrets implements sources.Dialect: lib/pq's reading of the DSN, and the
// password pgx finds for it (which may come from PGPASSWORD or a
// .pgpass file).
func (d PGX) Secrets(dsn string) []string {
	out := d.Dialect.Secrets(dsn)
	if cfg, err := pgconn.ParseConfig(dsn); err == nil && cfg.Password != "" {
		out = append(out, cfg.Password)
	}
	return out
}

// OpenAbortable implements sources.Abortable, as Dialect's does: pgx
// closes a connection whose context is cancelled, but a run that times
// out closes them all, whatever the driver. Sessions start as lib/pq's do
// (UTF-8) and as pgx's simple protocol needs them to for its arguments.
func (PGX) OpenAbortable(dsn string) (*sql.DB, func(), error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, nil, err
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	cfg.RuntimeParams["client_encoding"] = "UTF8"
	cfg.RuntimeParams["standard_conforming_strings"] = "on"
	d := &dialer{conns: map[*conn]struct{}{}}
	dial := cfg.DialFunc // pgx's, which keeps the connect timeout
	cfg.DialFunc = func(ctx context.Context, network, address string) (net.Conn, error) {
		nc, err := dial(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return d.track(nc), nil
	}
	return stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(nameTypes)), d.closeAll, nil
}

// nameTypes gives conn's type map a name for every type lib/pq names and
// pgx does not (money, timetz, tsquery, …), which it would otherwise
// report as its OID: the dialect reads a column by its type's name (money
// as a number), and a type must read the same through either driver.
func nameTypes(_ context.Context, conn *pgx.Conn) error {
	types := conn.TypeMap()
	for id, name := range oid.TypeName {
		if _, ok := types.TypeForOID(uint32(id)); !ok {
			types.RegisterType(&pgtype.Type{Name: strings.ToLower(name), OID: uint32(id), Codec: pgtype.TextCodec{}})
		}
	}
	return nil
}

// A native read hands its rows over in batches of up to nativeBatchRows
// rows or about nativeBatchBytes, nativeBatches of them in flight.
const (
	nativeBatches    = 3
	nativeBatchRows  = 1024
	nativeBatchBytes = 1 << 20
)

// QueryNative implements sources.NativeReader. (*sql.Conn).Raw lends the
// driver's connection for one call only, so a goroutine holds the call
// open while it copies the rows out of pgx's buffer into batches, which
// Next hands out. A statement that fails fails here.
func (PGX) QueryNative(ctx context.Context, conn *sql.Conn, stmt string, n int) (sources.RowSource, error) {
	ctx, cancel := context.WithCancel(ctx)
	r := &nativeRows{n: n, cancel: cancel, full: make(chan *rowBatch, nativeBatches), free: make(chan *rowBatch, nativeBatches), row: make([][]byte, n)}
	for range nativeBatches {
		r.free <- &rowBatch{buf: make([]byte, 0, nativeBatchBytes)}
	}
	go func() {
		r.err = conn.Raw(func(driverConn any) error {
			c, ok := driverConn.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("pgx: the connection is a %T, not pgx's", driverConn)
			}
			err := r.fill(ctx, c.Conn(), stmt)
			r.connClosed = c.Conn().IsClosed()
			return err
		})
		close(r.full)
	}()
	b, ok := <-r.full
	if !ok {
		cancel()
		if r.err != nil {
			return nil, r.err
		}
	}
	r.cur = b
	return r, nil
}

// nativeRows is a read's rows, batches of them filled by a goroutine.
type nativeRows struct {
	n      int
	cancel context.CancelFunc
	full   chan *rowBatch // in order; closed after the last, once err is set
	free   chan *rowBatch // batches Next is done with
	err    error
	cur    *rowBatch // nil once the read is over
	i      int       // cur's next row
	pos    int       // where in cur.buf the next row's values start
	row    [][]byte
	// connClosed says that pgx closed the connection (the read was cut
	// short); set, like err, before full is closed.
	connClosed bool
}

// rowBatch is rows' values, end to end, and where each ends (-1: NULL).
type rowBatch struct {
	buf  []byte
	ends []int
	rows int
}

// fill reads stmt's rows into batches and sends them down r.full.
func (r *nativeRows) fill(ctx context.Context, conn *pgx.Conn, stmt string) error {
	rows, err := conn.Query(ctx, stmt)
	if err != nil {
		return err
	}
	defer rows.Close()
	var b *rowBatch
	for rows.Next() {
		if b == nil {
			select {
			case b = <-r.free:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
			b.buf, b.ends, b.rows = b.buf[:0], b.ends[:0], 0
		}
		values := rows.RawValues()
		if len(values) != r.n {
			r.cancel() // rather than read the rest
			return fmt.Errorf("pgx: read %d columns, want %d", len(values), r.n)
		}
		for _, v := range values {
			if v == nil {
				b.ends = append(b.ends, -1)
				continue
			}
			b.buf = append(b.buf, v...)
			b.ends = append(b.ends, len(b.buf))
		}
		if b.rows++; b.rows == nativeBatchRows || len(b.buf) >= nativeBatchBytes {
			if err := r.send(ctx, b); err != nil {
				return err
			}
			b = nil
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if b != nil && b.rows > 0 {
		return r.send(ctx, b)
	}
	return nil
}

func (r *nativeRows) send(ctx context.Context, b *rowBatch) error {
	select {
	case r.full <- b:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Next implements sources.RowSource.
func (r *nativeRows) Next() bool {
	for r.cur == nil || r.i == r.cur.rows {
		if r.cur != nil {
			r.free <- r.cur // room: no more batches exist than it holds
			r.cur = nil
		}
		b, ok := <-r.full
		if !ok {
			return false
		}
		r.cur, r.i, r.pos = b, 0, 0
	}
	for c, end := range r.cur.ends[r.i*r.n : (r.i+1)*r.n] {
		if end < 0 {
			r.row[c] = nil
			continue
		}
		r.row[c] = r.cur.buf[r.pos:end:end]
		r.pos = end
	}
	r.i++
	return true
}

// Row implements sources.RowSource.
func (r *nativeRows) Row() [][]byte { return r.row }

// Err implements sources.RowSource: the read's error, once Next has
// returned false.
func (r *nativeRows) Err() error {
	if r.cur != nil {
		return nil
	}
	return r.err
}

// Close implements sources.RowSource: it cuts the read short, if it is
// not over, and waits for the connection to be given back. pgx answers
// the cancelled context by closing the connection, which ends the
// snapshot's transaction at once (lib/pq reads every row left instead).
func (r *nativeRows) Close() error {
	r.cancel()
	for range r.full {
	}
	r.cur = nil
	return nil
}

// CutConn implements the sources package's connCutter: valid once Close
// has returned.
func (r *nativeRows) CutConn() bool { return r.connClosed }
