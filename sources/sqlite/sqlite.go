// Package sqlite registers the "sqlite" source driver: SQLite files through
// modernc.org/sqlite (pure Go, no cgo). The DSN is a file path (or a file:
// URI); the file is opened read-only and must exist. Columns declared as
// dates or timestamps are read as their stored text, since the driver would
// otherwise turn zone-less text into UTC instants.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // registers database/sql driver "sqlite"

	"github.com/recon-dev/recon/sources"
)

func init() { sources.Register("sqlite", Dialect{}) }

// Dialect is SQLite's sources.Dialect.
type Dialect struct{}

var _ sources.Dialect = Dialect{}

// DriverName implements sources.Dialect.
func (Dialect) DriverName() string { return "sqlite" }

// QuoteIdent implements queries.Quoter.
func (Dialect) QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// Configure implements sources.Dialect: a read-only URI for an existing file.
func (Dialect) Configure(dsn, baseDir string) (string, error) {
	// A plain path is taken whole ('?' and '%' included); a file: URI has
	// a query and percent-encoding.
	path, query := dsn, ""
	if uri, ok := strings.CutPrefix(dsn, "file:"); ok {
		path, query, _ = strings.Cut(uri, "?")
		unescaped, err := url.PathUnescape(path)
		if err != nil {
			return "", fmt.Errorf("sqlite file: URI: %w", err)
		}
		path = unescaped
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(baseDir, path)
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("sqlite database file: %w", err)
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return "", err
	}
	params.Set("mode", "ro")
	params.Add("_pragma", "busy_timeout(10000)")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + params.Encode(), nil
}

// Secrets implements sources.Dialect: a file path holds none.
func (Dialect) Secrets(string) []string { return nil }

// BeginSnapshot implements sources.Dialect. A read transaction in SQLite
// sees one consistent state of the file.
func (Dialect) BeginSnapshot(ctx context.Context, db *sqlx.DB) (*sqlx.Tx, error) {
	return db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
}

// SelectExpr implements sources.Dialect.
func (Dialect) SelectExpr(ref, databaseType string) string {
	if strings.Contains(databaseType, "DATE") || strings.Contains(databaseType, "TIME") {
		return "CAST(" + ref + " AS TEXT)"
	}
	return ref
}
