// Package postgres registers two source drivers of PostgreSQL: "postgres",
// through lib/pq, and "pgx", through jackc/pgx, which reads rows at less
// cost (pgx.go). Snapshots run in REPEATABLE READ READ ONLY transactions
// with the session zone set to UTC, and every column is read as its ::text
// form, so timestamptz values carry their offset and timestamp values stay
// zone-less.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/sources"
)

func init() { sources.Register("postgres", Dialect{}) }

// Dialect is PostgreSQL's sources.Dialect.
type Dialect struct{}

var _ sources.ChecksumDialect = Dialect{}

// DriverName implements sources.Dialect.
func (Dialect) DriverName() string { return "postgres" }

// QuoteIdent implements queries.Quoter.
func (Dialect) QuoteIdent(name string) string { return pq.QuoteIdentifier(name) }

// Configure implements sources.Dialect: lib/pq takes URLs and key=value
// DSNs as they are, given a connect timeout (10 s) when they set none, so
// that an unreachable host fails a run instead of hanging it.
func (Dialect) Configure(dsn, _ string) (string, error) {
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		return "", badDSN(dsn)
	}
	return withConnectTimeout(dsn, cfg.ConnectTimeout != 0), nil
}

// badDSN says what is wrong with a DSN that does not parse, without its
// text, which may hold a password.
func badDSN(dsn string) error {
	if strings.Contains(dsn, "://") {
		return errors.New("not a valid postgres:// URL; percent-encode special characters (@ : / # ? %) in the user and password")
	}
	return errors.New("not a valid key=value connection string; quote values with spaces as password='...'")
}

// withConnectTimeout adds a connect timeout of 10 s to a DSN that has
// none.
func withConnectTimeout(dsn string, has bool) string {
	switch {
	case has:
		return dsn
	case !strings.Contains(dsn, "://"):
		return dsn + " connect_timeout=10"
	case strings.Contains(dsn, "?"):
		return dsn + "&connect_timeout=10"
	}
	return dsn + "?connect_timeout=10"
}

// Secrets implements sources.Dialect.
func (Dialect) Secrets(dsn string) []string {
	var out []string
	if cfg, err := pq.NewConfig(dsn); err == nil && cfg.Password != "" {
		out = append(out, cfg.Password, url.QueryEscape(cfg.Password), url.PathEscape(cfg.Password))
	}
	// A URL that does not parse may still hold a password: read the user
	// info by hand.
	if scheme, rest, ok := strings.Cut(dsn, "://"); ok && scheme != "" {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, p, ok := strings.Cut(rest[:at], ":"); ok && p != "" {
				out = append(out, p)
				if plain, err := url.PathUnescape(p); err == nil {
					out = append(out, plain)
				}
			}
		}
	}
	return out
}

// session is what every snapshot and repair session sets, so that values
// read as the same text: instants in UTC, ISO dates, floats exact.
var session = []string{
	"SET TIME ZONE 'UTC'",
	"SET DateStyle = 'ISO, YMD'",
	"SET IntervalStyle = 'postgres'",
	"SET extra_float_digits = 3",
}

// BeginSnapshot implements sources.Dialect.
func (Dialect) BeginSnapshot(ctx context.Context, db sources.TxBeginner) (*sqlx.Tx, error) {
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	for _, stmt := range session {
		if _, err := tx.ExecContext(ctx, "SET LOCAL "+strings.TrimPrefix(stmt, "SET ")); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return tx, nil
}

// Session implements queries.Writer.
func (Dialect) Session() []string { return slices.Clone(session) }

// Begin implements queries.Writer.
func (Dialect) Begin() string { return "BEGIN" }

// NoTable implements queries.Writer.
func (Dialect) NoTable() string { return "" }

// OnConflictDoNothing implements queries.Writer: without a conflict target,
// any unique key that says the row exists leaves it alone.
func (Dialect) OnConflictDoNothing(string) string { return " ON CONFLICT DO NOTHING" }

// StringLiteral implements queries.Writer: a standard literal for plain
// text, an escape string (E'...') for text with backslashes or control
// characters, which standard_conforming_strings cannot change.
func (Dialect) StringLiteral(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", errors.New("PostgreSQL text cannot hold a NUL character")
	}
	if !utf8.ValidString(s) {
		return "", errors.New("not valid UTF-8")
	}
	if !strings.Contains(s, `\`) && !queries.HasControl(s) {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'", nil
	}
	var b strings.Builder
	b.WriteString("E'")
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\'':
			b.WriteString("''")
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02X`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String(), nil
}

// SameText implements queries.Writer: text equality under the C collation
// is byte equality.
func (Dialect) SameText(expr, literal string) string {
	return "(" + expr + `) COLLATE "C" IS NOT DISTINCT FROM ` + literal
}

// Instant implements queries.Writer.
func (Dialect) Instant(t time.Time, databaseType string, loc *time.Location) string {
	switch databaseType {
	case "TIMESTAMPTZ":
		return t.UTC().Format("2006-01-02 15:04:05.999999") + "+00:00"
	case "TIMESTAMP":
		return t.In(loc).Format("2006-01-02 15:04:05.999999")
	}
	return t.In(loc).Format("2006-01-02 15:04:05.999999-07:00")
}

// TypedColumns implements sources.TypedDialect.
func (Dialect) TypedColumns() {}

// ExactGroupKey implements sources.GroupingDialect: the key's text under
// the "C" collation, which compares bytes.
func (Dialect) ExactGroupKey(expr string) string { return "(" + expr + ") COLLATE \"C\"" }

// SelectExpr implements sources.Dialect: the text form of every type is
// exact, except that real is widened to float8 first, as every dialect
// delivers 4-byte floats, and money is read as a number, not "$1,234.50".
func (Dialect) SelectExpr(ref, databaseType string) string {
	switch databaseType {
	case "FLOAT4":
		return ref + "::float8::text"
	case "MONEY":
		return ref + "::numeric::text"
	}
	return ref + "::text"
}

// Canonical implements sources.ChecksumDialect.
func (Dialect) Canonical(ref string, col sources.Column, typ reconcile.FieldType, utc bool, invalid string) string {
	fam, t := sources.FamilyOf(col.DatabaseType), col.DatabaseType
	// Dates and instants PostgreSQL holds but the engine cannot read
	// (infinity, BC, beyond year 9999) are invalid; NULL stays NULL.
	inRange := func(lo, hi, canonical string) string {
		return fmt.Sprintf("CASE WHEN %s >= '%s' AND %s < '%s' THEN %s WHEN %s IS NOT NULL THEN %s END", ref, lo, ref, hi, canonical, ref, invalid)
	}
	// Microseconds since 1970 in integers: whole seconds and microseconds
	// are exact in date_part's float8, where the epoch with a fraction is
	// not (and extract's numeric needs PostgreSQL 14).
	micros := fmt.Sprintf("(date_part('epoch', date_trunc('second', %s))::int8 * 1000000 + date_part('microseconds', %s)::int8 %% 1000000)::text", ref, ref)
	switch {
	case fam == sources.Integer && (typ == reconcile.Int || typ == reconcile.Decimal || typ == reconcile.String):
		return ref + "::text"
	case fam == sources.Text && typ == reconcile.String && t != "BPCHAR":
		return ref + "::text" // bpchar's text drops the padding it is read with
	case fam == sources.Decimal && typ == reconcile.Decimal && t != "MONEY":
		return fmt.Sprintf("CASE WHEN %s::text IN ('NaN', 'Infinity', '-Infinity') THEN %s ELSE trim_scale(%s)::text END", ref, invalid, ref)
	case t == "DATE" && typ == reconcile.Date:
		return inRange("0001-01-01", "10000-01-01", fmt.Sprintf("(%s - DATE '1970-01-01')::text", ref))
	case t == "TIMESTAMPTZ" && typ == reconcile.Timestamp:
		return inRange("0001-01-01 00:00:00+00", "10000-01-01 00:00:00+00", micros)
	case t == "TIMESTAMP" && typ == reconcile.Timestamp && utc:
		return inRange("0001-01-01", "10000-01-01", micros)
	}
	return ""
}

// Frame implements sources.ChecksumDialect.
func (Dialect) Frame(canonical string, text bool) []string {
	if text {
		return []string{fmt.Sprintf("COALESCE('V' || char_length(%s) || ':' || %s, 'N')", canonical, canonical)}
	}
	return []string{fmt.Sprintf("COALESCE(%s, 'N')", canonical), "'|'"}
}

// Concat implements sources.ChecksumDialect.
func (Dialect) Concat(texts []string) string { return "(" + strings.Join(texts, " || ") + ")" }

// Hash implements sources.ChecksumDialect.
func (Dialect) Hash(text string, digits int) string {
	return fmt.Sprintf("(('x' || encode(substring(sha256(convert_to(%s, 'UTF8')) FROM 1 FOR 8), 'hex'))::bit(64) >> %d)::bigint", text, 64-4*digits)
}

// PlanSegments implements sources.SegmentPlanner. PostgreSQL expects a
// group per row of (key − origin) / width, so it sorted the table to sum
// it (10M rows: 720 MB of temporary files, 18.2 s); told not to sort, and
// that parallel workers cost nothing to start or to send through (their
// few partial sums), it sums in parallel hash tables (14.6 s, no file;
// 1M rows: 1.5 s instead of 2.0). The savepoint's rollback undoes the
// settings, before leaf rows are read, which a parallel plan would slow.
func (Dialect) PlanSegments() (before, after string) {
	return "SAVEPOINT recon_segments; SET LOCAL enable_sort = off; SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0",
		"ROLLBACK TO SAVEPOINT recon_segments; RELEASE SAVEPOINT recon_segments"
}

var _ sources.SegmentPlanner = Dialect{}

// UniqueColumn implements sources.ChecksumDialect: a unique index of the
// column alone, with no predicate, in the table the name resolves to.
// The index must be valid: a CREATE UNIQUE INDEX CONCURRENTLY that failed
// on duplicates leaves one that is not. And the table must have no
// inheritance children, whose rows a read of it includes and its index
// does not cover; a partitioned table's unique index covers them all.
func (d Dialect) UniqueColumn(ctx context.Context, tx *sqlx.Tx, table, column string) bool {
	var ok bool
	err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
		JOIN pg_class c ON c.oid = i.indrelid
		WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indisvalid AND i.indnkeyatts = 1
		AND i.indpred IS NULL AND i.indexprs IS NULL AND a.attname = $2
		AND (c.relkind = 'p' OR NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhparent = c.oid)))`,
		queries.QuoteTable(d, table), column).Scan(&ok)
	return err == nil && ok
}

// RangeSegment implements sources.ChecksumDialect: in int8, since an int4
// or int2 key less an origin (perhaps the other side's) may overflow its
// type.
func (Dialect) RangeSegment(key string, origin, width int64) string {
	return fmt.Sprintf("(%s::int8 - (%d)) / %d", key, origin, width)
}

// TextPartition implements sources.TextPartitioner: lib/pq has the server
// send text as UTF-8. A text that may be a canonical integer is taken as
// one (CASE, so that no other text is cast).
func (d Dialect) TextPartition(_ context.Context, _ *sqlx.Tx, text string, p reconcile.Partition) (string, error) {
	return fmt.Sprintf("(%s %% %d = %d OR CASE WHEN %s ~ '^-?[0-9]{1,19}$' THEN mod(mod((%s)::numeric, %d) + %d, %d) = %d ELSE false END)",
		d.Hash(text, 8), p.Count, p.Index, text, text, p.Count, p.Count, p.Count, p.Index), nil
}

var _ sources.TextPartitioner = Dialect{}
