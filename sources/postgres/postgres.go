// Package postgres registers the "postgres" source driver: PostgreSQL through
// lib/pq. Snapshots run in REPEATABLE READ READ ONLY transactions with the
// session zone set to UTC, and every column is read as its ::text form, so
// timestamptz values carry their offset and timestamp values stay zone-less.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

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
// DSNs as they are. A DSN that does not parse is reported without its text,
// which may hold a password.
func (Dialect) Configure(dsn, _ string) (string, error) {
	if _, err := pq.NewConfig(dsn); err != nil {
		if strings.Contains(dsn, "://") {
			return "", errors.New("not a valid postgres:// URL; percent-encode special characters (@ : / # ? %) in the user and password")
		}
		return "", errors.New("not a valid key=value connection string; quote values with spaces as password='...'")
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

// BeginSnapshot implements sources.Dialect.
func (Dialect) BeginSnapshot(ctx context.Context, db *sqlx.DB) (*sqlx.Tx, error) {
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	for _, stmt := range []string{
		"SET LOCAL TIME ZONE 'UTC'",
		"SET LOCAL DateStyle = 'ISO, YMD'",
		"SET LOCAL IntervalStyle = 'postgres'",
		"SET LOCAL extra_float_digits = 3",
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return tx, nil
}

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
