// Package sources reads the records a reconciliation compares from the
// systems it names, and tells repairs how to write to SQL ones.
//
// The seam is a registry of Drivers (system.go): each kind of system is a
// folder that registers one under its name, and a System opened by it
// yields Tables that list their columns and stream their rows as text.
// SQL databases share one Driver built from their Dialect ("postgres",
// "pgx", "mysql", "sqlite": Register), and only they can be written (DB);
// a Dialect whose driver streams rows faster outside database/sql reads
// them through its own API (NativeReader, snapshot.go); files
// ("csv", "parquet", under sources/file) register their own. sources/all
// imports them all.
//
// Invariants of every source:
//   - Values are delivered as text, NULL as nil and distinct from the
//     empty string, so that the engine parses every system's values the
//     same way.
//   - A column name from config that differs from the real one only in
//     case resolves to the real one (Resolve).
//   - Errors name the system and never show a password.
//
// Invariants of SQL sources:
//   - Every snapshot runs in one read-only transaction, with the strongest
//     consistent-snapshot isolation the database offers. Only a DB opened
//     with OpenWritable (recon apply) ever writes.
//   - Values are delivered as the database's own text for them, so that the
//     engine parses every system's values the same way: each dialect casts
//     columns whose driver would otherwise reinterpret them (time zones).
//     Zone-less timestamps stay zone-less; the engine applies the system's
//     configured zone.
//   - Identifiers from config are quoted by the dialect; a config column name
//     that differs from the real one only in case resolves to the real one.
//   - Passwords in DSNs never appear in errors: every error leaving this
//     package has the DSN's secrets scrubbed.
package sources

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/jmoiron/sqlx"

	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/reconcile"
)

// Dialect is what an adapter tells this package about one kind of database:
// how to read it, and (queries.Writer) how to write repairs to it.
type Dialect interface {
	queries.Writer
	// DriverName is the database/sql driver to open.
	DriverName() string
	// Configure checks a user's DSN and returns the one to open, with the
	// session options recon relies on forced (read-only, UTC, text values).
	// A relative file path in the DSN is relative to baseDir.
	Configure(dsn, baseDir string) (string, error)
	// Secrets returns the parts of dsn never to show (passwords).
	Secrets(dsn string) []string
	// BeginSnapshot starts a read-only transaction on a consistent snapshot.
	BeginSnapshot(ctx context.Context, db TxBeginner) (*sqlx.Tx, error)
}

var (
	dialectsMu sync.RWMutex
	dialects   = map[string]Dialect{}
)

// Register makes an SQL dialect available under a driver name, as a
// Driver and for repairs. Adapters call it from init; registering a name
// twice is a programming error and panics.
func Register(name string, d Dialect) {
	dialectsMu.Lock()
	if _, dup := dialects[name]; dup {
		dialectsMu.Unlock()
		panic("sources: Register called twice for driver " + name)
	}
	dialects[name] = d
	dialectsMu.Unlock()
	RegisterDriver(name, sqlDriver{d})
}

// Lookup returns the SQL dialect registered under a driver name: an error
// for an unknown name and for a kind of system that is not SQL.
func Lookup(name string) (Dialect, error) { return lookup(name) }

func lookup(name string) (Dialect, error) {
	dialectsMu.RLock()
	d, ok := dialects[name]
	dialectsMu.RUnlock()
	if !ok {
		if _, err := lookupDriver(name); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("driver %q is not an SQL database: recon cannot write to it", name)
	}
	return d, nil
}

// sqlDriver opens SQL systems of one dialect.
type sqlDriver struct{ dialect Dialect }

func (d sqlDriver) Open(ctx context.Context, cfg Config) (System, error) { return OpenDB(ctx, cfg) }
func (d sqlDriver) Secrets(dsn string) []string                          { return d.dialect.Secrets(dsn) }
func (d sqlDriver) CheckSelection(queries.Selection) error               { return nil }

// Config names one system to read from.
type Config struct {
	Name   string // the system's name in the config, for messages
	Driver string
	DSN    string
	// BaseDir is what relative file paths in the DSN are relative to
	// (the config file's directory).
	BaseDir string
	// Options are the kind of system's own settings (a CSV delimiter);
	// a driver refuses ones it does not know.
	Options map[string]string
}

// DB is an open connection pool to one system.
type DB struct {
	name    string
	dialect Dialect
	db      *sqlx.DB
	secrets []string
	abort   func() // closes every connection at once; nil if the driver needs none
	// statements are those of a Killer dialect to end on the server when
	// the pool is aborted.
	statements statements
}

// Abortable is a Dialect that opens its own pool, whose connections a run
// can close under a read that a database which stopped answering would
// never end (a driver that honours a cancelled context does not need it).
type Abortable interface {
	OpenAbortable(dsn string) (db *sql.DB, abort func(), err error)
}

// WritableDialect is a Dialect whose Configure makes connections that
// cannot write (SQLite opens its file read-only): ConfigureWrites returns
// the DSN of connections that may write repairs.
type WritableDialect interface {
	ConfigureWrites(dsn, baseDir string) (string, error)
}

// OpenDB connects to an SQL system for snapshots and checks that it
// answers.
func OpenDB(ctx context.Context, cfg Config) (*DB, error) {
	return open(ctx, cfg, false)
}

// OpenWritable connects to a system to write repairs (recon apply).
func OpenWritable(ctx context.Context, cfg Config) (*DB, error) {
	return open(ctx, cfg, true)
}

func open(ctx context.Context, cfg Config, writes bool) (*DB, error) {
	d, err := lookup(cfg.Driver)
	if err != nil {
		return nil, fmt.Errorf("system %q: %w", cfg.Name, err)
	}
	if len(cfg.Options) > 0 {
		return nil, fmt.Errorf("system %q: a %s database takes no options: (its settings go in the dsn)", cfg.Name, cfg.Driver)
	}
	secrets := d.Secrets(cfg.DSN)
	configure := d.Configure
	if w, ok := d.(WritableDialect); ok && writes {
		configure = w.ConfigureWrites
	}
	dsn, err := configure(cfg.DSN, cfg.BaseDir)
	if err != nil {
		return nil, scrub(fmt.Errorf("system %q: bad dsn: %w", cfg.Name, err), secrets)
	}
	var db *sqlx.DB
	var abort func()
	if a, ok := d.(Abortable); ok {
		sdb, ab, err := a.OpenAbortable(dsn)
		if err != nil {
			return nil, scrub(fmt.Errorf("system %q: open: %w", cfg.Name, err), secrets)
		}
		db, abort = sqlx.NewDb(sdb, d.DriverName()), ab
	} else if db, err = sqlx.Open(d.DriverName(), dsn); err != nil {
		return nil, scrub(fmt.Errorf("system %q: open: %w", cfg.Name, err), secrets)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, scrub(fmt.Errorf("system %q: connect: %w", cfg.Name, err), secrets)
	}
	return &DB{name: cfg.Name, dialect: d, db: db, secrets: secrets, abort: abort}, nil
}

// Close closes the pool.
func (db *DB) Close() error { return db.db.Close() }

// Abort closes every connection of the pool now, ending the reads on them:
// for a run that times out on a database that stopped answering. The pool
// is not to be used after.
func (db *DB) Abort() {
	db.killRunning()
	if db.abort != nil {
		db.abort()
	}
}

// Dialect is the system's dialect, which writes repairs for it too.
func (db *DB) Dialect() Dialect { return db.dialect }

// Conn returns one connection of the pool, for recon apply, which writes
// repairs on it in the session its plan sets up.
func (db *DB) Conn(ctx context.Context) (*sql.Conn, error) {
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return nil, db.Wrap("connect", err)
	}
	return conn, nil
}

// Wrap names the system in err and scrubs the DSN's secrets from it.
func (db *DB) Wrap(what string, err error) error {
	return scrub(fmt.Errorf("system %q, %s: %w", db.name, what, err), db.secrets)
}

// Scrub returns dsn with the driver's secrets in it (passwords) replaced,
// for what may be shown or hashed.
func Scrub(driver, dsn string) string {
	d, err := lookupDriver(driver)
	if err != nil {
		return dsn
	}
	for _, s := range d.Secrets(dsn) {
		if s != "" {
			dsn = strings.ReplaceAll(dsn, s, "*****")
		}
	}
	return dsn
}

// Name is the system's name in the config.
func (db *DB) Name() string { return db.name }

// Column is one column of a relation as the database describes it.
type Column struct {
	Name         string
	DatabaseType string // the database's type name, upper case ("NUMERIC", "VARCHAR", "TIMESTAMPTZ")
	// Scale is a decimal column's digits after the point, where the driver
	// tells it (ScaleKnown).
	Scale      int64
	ScaleKnown bool
}

// Relation is one selection (table or query) on a system.
type Relation struct {
	db  *DB
	sel queries.Selection
}

// Relation returns the relation sel on db.
func (db *DB) Relation(sel queries.Selection) *Relation {
	return &Relation{db: db, sel: sel}
}

// Table is Relation, as a System.
func (db *DB) Table(sel queries.Selection) Table { return db.Relation(sel) }

// Columns reads the relation's columns without reading any row. It fails
// where the table, the filter or the query is wrong.
func (r *Relation) Columns(ctx context.Context) ([]Column, error) {
	tx, err := r.db.beginSnapshot(ctx)
	if err != nil {
		return nil, r.wrap("begin snapshot", err)
	}
	defer tx.Rollback()
	return r.probe(ctx, tx)
}

func (r *Relation) probe(ctx context.Context, tx *snapshot) ([]Column, error) {
	rows, err := tx.QueryContext(ctx, queries.Probe(r.db.dialect, r.sel))
	if err != nil {
		return nil, r.wrap("read columns", err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, r.wrap("read column types", err)
	}
	cols := make([]Column, len(types))
	for i, t := range types {
		cols[i] = Column{Name: t.Name(), DatabaseType: strings.ToUpper(t.DatabaseTypeName())}
		if _, scale, ok := t.DecimalSize(); ok && FamilyOf(cols[i].DatabaseType) == Decimal {
			cols[i].Scale, cols[i].ScaleKnown = scale, true
		}
	}
	return cols, nil
}

// ErrFile is in the error of a file a system reads that is missing,
// malformed or of other columns than the config says: the file, not the
// database or the network, must be put right.
var ErrFile = errors.New("a system's file")

// ErrNoColumn reports config columns the relation does not have.
var ErrNoColumn = errors.New("no such column")

// Resolve finds each wanted column among cols: by exact name, else by the
// one name that equals it ignoring case. It returns them in wanted's order.
func Resolve(cols []Column, wanted []string) ([]Column, error) {
	out := make([]Column, len(wanted))
	for i, w := range wanted {
		c, err := resolveOne(cols, w)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

func resolveOne(cols []Column, wanted string) (Column, error) {
	var folded []Column
	for _, c := range cols {
		if c.Name == wanted {
			return c, nil
		}
		if strings.EqualFold(c.Name, wanted) {
			folded = append(folded, c)
		}
	}
	if len(folded) == 1 {
		return folded[0], nil
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	if len(folded) > 1 {
		return Column{}, fmt.Errorf("column %q is ambiguous: it matches several columns ignoring case (%s)", wanted, strings.Join(names, ", "))
	}
	return Column{}, fmt.Errorf("%w %q (the relation has: %s)", ErrNoColumn, wanted, strings.Join(names, ", "))
}

// Scan starts a snapshot read of columns, in that order. The snapshot's
// transaction ends when the returned Rows is closed.
func (r *Relation) Scan(ctx context.Context, columns []string) (reconcile.Rows, error) {
	tx, err := r.db.beginSnapshot(ctx)
	if err != nil {
		return nil, r.wrap("begin snapshot", err)
	}
	cols, err := r.probe(ctx, tx)
	if err != nil {
		tx.Rollback()
		return nil, err
	}
	if cols, err = Resolve(cols, columns); err != nil {
		tx.Rollback()
		return nil, r.wrap("check columns", err)
	}
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = r.db.dialect.SelectExpr(queries.Column(r.db.dialect, c.Name), c.DatabaseType)
	}
	rows, err := r.read(ctx, tx, queries.Select(r.db.dialect, r.sel, exprs), len(cols))
	if err != nil {
		return nil, r.wrap("read", err)
	}
	return rows, nil
}

// TypedDialect is a Dialect whose columns hold only values of their
// declared type (not SQLite's, whose column types are affinities that
// admit any value), so that SQL arithmetic on an integer column is the
// engine's on its text.
type TypedDialect interface {
	TypedColumns()
}

var _ reconcile.KeyScanner = (*Relation)(nil)

// ScanKeys reads the rows of req.Columns (the key first) narrowed to a
// partition and ordered by the key, where the key column is of an integer
// type in a TypedDialect whose values are int64s (not a BIGINT UNSIGNED):
// ordering by it is numeric, the engine's order, and its partition is
// k mod K. Otherwise it reads every row, in no order, and says so. It
// orders only if req.Agree, asked once it knows whether it can, agrees.
func (r *Relation) ScanKeys(ctx context.Context, req reconcile.KeyScan) (reconcile.Rows, reconcile.KeyScanned, error) {
	var done reconcile.KeyScanned
	tx, err := r.db.beginSnapshot(ctx)
	if err != nil {
		return nil, done, r.wrap("begin snapshot", err)
	}
	cols, err := r.probe(ctx, tx)
	if err != nil {
		tx.Rollback()
		return nil, done, err
	}
	if cols, err = Resolve(cols, req.Columns); err != nil {
		tx.Rollback()
		return nil, done, r.wrap("check columns", err)
	}
	d := r.db.dialect
	key, ref := cols[0].DatabaseType, queries.Column(d, cols[0].Name)
	_, typed := d.(TypedDialect)
	// A BIGINT UNSIGNED above 2^63-1 is no int64: its encoded key is its
	// text, whose order is not the number's, and its partition is not
	// k mod K.
	integer := typed && FamilyOf(key) == Integer && !(strings.Contains(key, "UNSIGNED") && strings.Contains(key, "BIGINT"))
	var cond, order string
	tp, textual := d.(TextPartitioner)
	switch p := req.Partition; {
	case p != nil && integer:
		cond = queries.IntegerPartition(ref, p.Index, p.Count)
	case p != nil && textual && req.KeyType == reconcile.String && FamilyOf(key) == Text:
		// The text the engine reads is the expression's.
		if cond, err = tp.TextPartition(ctx, tx.Tx, d.SelectExpr(ref, key), *p); err != nil {
			tx.Rollback()
			return nil, done, r.wrap("read", err)
		}
	}
	if cond != "" {
		if req.Partition.Index == 0 {
			cond = "(" + cond + " OR " + ref + " IS NULL)"
		}
		done.Partitioned = true
	}
	if req.Ordered && (req.Agree == nil || req.Agree(integer)) && integer {
		order, done.Ordered = ref, true
	}
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = d.SelectExpr(queries.Column(d, c.Name), c.DatabaseType)
	}
	rows, err := r.read(ctx, tx, queries.SelectBy(d, r.sel, exprs, cond, order), len(cols))
	if err != nil {
		return nil, reconcile.KeyScanned{}, r.wrap("read", err)
	}
	return rows, done, nil
}

// TextPartitioner is a Dialect that can narrow a read to about a
// partition of text keys (reconcile.Partition): it computes the SHA-256
// of the UTF-8 text a key's expression sends, or the integer a canonical
// integer's text is.
type TextPartitioner interface {
	// TextPartition is a condition that holds for every row whose text
	// (an expression of the key) is in p, NULL aside (and for few
	// others), or "" where the session cannot compute it (its text is not
	// sent as UTF-8).
	TextPartition(ctx context.Context, tx *sqlx.Tx, text string, p reconcile.Partition) (string, error)
}

// GroupingDialect is a Dialect that can group rows by a key's exact
// bytes, whatever its collation says is equal ('a' and 'A', 'a' and
// 'a '), so that the database's groups are the engine's.
type GroupingDialect interface {
	// ExactGroupKey wraps a SelectExpr so that grouping by it is by bytes.
	ExactGroupKey(expr string) string
}

var _ reconcile.Grouper = (*Relation)(nil)

// ScanGrouped reads one row per key, aggregated in the database, where
// that is exactly what the engine would compute: the dialect groups by
// bytes, sums are over integer or decimal columns, minimums and maximums
// over integer, decimal, date or timestamp columns of the field's kind.
// Otherwise it reads nothing and says ok false.
func (r *Relation) ScanGrouped(ctx context.Context, g reconcile.Grouping) (reconcile.Rows, bool, error) {
	gd, ok := r.db.dialect.(GroupingDialect)
	if !ok {
		return nil, false, nil
	}
	tx, err := r.db.beginSnapshot(ctx)
	if err != nil {
		return nil, false, r.wrap("begin snapshot", err)
	}
	cols, err := r.probe(ctx, tx)
	if err != nil {
		tx.Rollback()
		return nil, false, err
	}
	names := slices.Clone(g.Keys)
	for _, c := range g.Columns {
		names = append(names, c.Name)
	}
	found, err := Resolve(cols, names)
	if err != nil {
		tx.Rollback()
		return nil, false, r.wrap("check columns", err)
	}
	d := r.db.dialect
	var keys, exprs []string
	for _, c := range found[:len(g.Keys)] {
		keys = append(keys, gd.ExactGroupKey(d.SelectExpr(queries.Column(d, c.Name), c.DatabaseType)))
	}
	exprs = append(exprs, keys...)
	for i, c := range g.Columns {
		col := found[len(g.Keys)+i]
		expr, ok := aggregateExpr(d, c, col)
		if !ok {
			tx.Rollback()
			return nil, false, nil
		}
		exprs = append(exprs, expr)
	}
	exprs = append(exprs, d.SelectExpr("COUNT(*)", "BIGINT"))
	rows, err := r.read(ctx, tx, queries.SelectGrouped(d, r.sel, exprs, keys), len(exprs))
	if err != nil {
		return nil, false, r.wrap("read grouped", err)
	}
	return rows, true, nil
}

// aggregateExpr is the SQL of one grouped column, where the database
// computes it exactly as the engine would.
func aggregateExpr(d Dialect, c reconcile.GroupedColumn, col Column) (string, bool) {
	ref := queries.Column(d, col.Name)
	fam := FamilyOf(col.DatabaseType)
	// The field's kind of number must be the column's: an int field over
	// a decimal column would not see a row's 2.5, which the engine calls
	// invalid; MONEY's text is "$1,234.50", no number.
	numeric := (fam == Integer || (fam == Decimal && c.Type == reconcile.Decimal)) && col.DatabaseType != "MONEY"
	switch {
	case c.Aggregate == reconcile.Count:
		return d.SelectExpr("COUNT("+ref+")", "BIGINT"), true
	case c.Aggregate == reconcile.Sum && numeric:
		return d.SelectExpr("SUM("+ref+")", "DECIMAL"), true
	case c.Aggregate != reconcile.Min && c.Aggregate != reconcile.Max:
		return "", false
	case (c.Type == reconcile.Int || c.Type == reconcile.Decimal) && numeric,
		c.Type == reconcile.Date && (fam == Date || fam == Timestamp),
		c.Type == reconcile.Timestamp && fam == Timestamp:
		return d.SelectExpr(strings.ToUpper(c.Aggregate.String())+"("+ref+")", col.DatabaseType), true
	}
	return "", false
}

func (r *Relation) wrap(what string, err error) error {
	return scrub(fmt.Errorf("system %q, %s: %s: %w", r.db.name, r.sel, what, err), r.db.secrets)
}

// scrub replaces secrets in err's text, keeping err for errors.Is/As.
func scrub(err error, secrets []string) error {
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		if s != "" {
			clean = strings.ReplaceAll(clean, s, "*****")
		}
	}
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
