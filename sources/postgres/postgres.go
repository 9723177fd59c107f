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
// DSNs as they are. A URL that does not parse is reported without its text,
// which may hold a password.
func (Dialect) Configure(dsn, _ string) (string, error) {
	if strings.Contains(dsn, "://") {
		if _, err := pq.ParseURL(dsn); err != nil {
			return "", errors.New("not a valid postgres:// URL; percent-encode special characters (@ : / # ? %) in the user and password")
		}
	}
	return dsn, nil
}

// Secrets implements sources.Dialect.
func (Dialect) Secrets(dsn string) []string {
	if scheme, rest, ok := strings.Cut(dsn, "://"); ok && scheme != "" {
		// Read the user info by hand: a URL that url.Parse rejects still has one.
		at := strings.LastIndex(rest, "@")
		if at < 0 {
			return nil
		}
		_, p, ok := strings.Cut(rest[:at], ":")
		if !ok || p == "" {
			return nil
		}
		out := []string{p}
		if plain, err := url.PathUnescape(p); err == nil && plain != p {
			out = append(out, plain)
		}
		return out
	}
	var out []string
	for _, kv := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(kv, "password="); ok {
			out = append(out, strings.Trim(v, "'"))
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
		"SET LOCAL extra_float_digits = 3",
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return tx, nil
}

// SelectExpr implements sources.Dialect: the text form of every type is exact.
func (Dialect) SelectExpr(ref, _ string) string { return ref + "::text" }
