// Package postgres registers the "postgres" source driver: PostgreSQL through
// lib/pq. Snapshots run in REPEATABLE READ READ ONLY transactions with the
// session zone set to UTC, and every column is read as its ::text form, so
// timestamptz values carry their offset and timestamp values stay zone-less.
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
	"github.com/recon-dev/recon/sources"
)

func init() { sources.Register("postgres", Dialect{}) }

// Dialect is PostgreSQL's sources.Dialect.
type Dialect struct{}

var _ sources.Dialect = Dialect{}

// DriverName implements sources.Dialect.
func (Dialect) DriverName() string { return "postgres" }

// QuoteIdent implements queries.Quoter.
func (Dialect) QuoteIdent(name string) string { return pq.QuoteIdentifier(name) }

// Configure implements sources.Dialect: lib/pq takes URLs and key=value
// DSNs as they are, given a connect timeout (10 s) when they set none, so
// that an unreachable host fails a run instead of hanging it. A DSN that
// does not parse is reported without its text, which may hold a password.
func (Dialect) Configure(dsn, _ string) (string, error) {
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		if strings.Contains(dsn, "://") {
			return "", errors.New("not a valid postgres:// URL; percent-encode special characters (@ : / # ? %) in the user and password")
		}
		return "", errors.New("not a valid key=value connection string; quote values with spaces as password='...'")
	}
	if cfg.ConnectTimeout == 0 {
		if strings.Contains(dsn, "://") {
			sep := "?"
			if strings.Contains(dsn, "?") {
				sep = "&"
			}
			return dsn + sep + "connect_timeout=10", nil
		}
		return dsn + " connect_timeout=10", nil
	}
	return dsn, nil
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
func (Dialect) BeginSnapshot(ctx context.Context, db *sqlx.DB) (*sqlx.Tx, error) {
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
