// Package sqlite registers the "sqlite" source driver: SQLite files through
// modernc.org/sqlite (pure Go, no cgo). The DSN is a file path (or a file:
// URI); the file is opened read-only and must exist. Columns declared as
// dates or timestamps are read as their stored text, since the driver would
// otherwise turn zone-less text into UTC instants.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // registers database/sql driver "sqlite"

	"github.com/recon-dev/recon/queries"
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
	return configure(dsn, baseDir, "ro")
}

// ConfigureWrites implements sources.WritableDialect: recon apply writes
// repairs to an existing file, never creates one.
func (Dialect) ConfigureWrites(dsn, baseDir string) (string, error) {
	return configure(dsn, baseDir, "rw")
}

var _ sources.WritableDialect = Dialect{}

func configure(dsn, baseDir, mode string) (string, error) {
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
	params.Set("mode", mode)
	params.Add("_pragma", "busy_timeout(10000)")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + params.Encode(), nil
}

// Secrets implements sources.Dialect: a file path holds none.
func (Dialect) Secrets(string) []string { return nil }

// BeginSnapshot implements sources.Dialect. A read transaction in SQLite
// sees one consistent state of the file.
func (Dialect) BeginSnapshot(ctx context.Context, db sources.TxBeginner) (*sqlx.Tx, error) {
	return db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
}

// Session implements queries.Writer: SQLite needs none.
func (Dialect) Session() []string { return nil }

// Begin implements queries.Writer.
func (Dialect) Begin() string { return "BEGIN" }

// NoTable implements queries.Writer.
func (Dialect) NoTable() string { return "" }

// OnConflictDoNothing implements queries.Writer.
func (Dialect) OnConflictDoNothing(string) string { return " ON CONFLICT DO NOTHING" }

// StringLiteral implements queries.Writer: a plain literal for text without
// control characters or backslashes, else the text's bytes as a blob cast
// to text. (SQLite has no escapes, but a plan holds a backslash nowhere a
// dialect may read it as one: see repairs' oneStatement.)
func (Dialect) StringLiteral(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("not valid UTF-8")
	}
	if !strings.Contains(s, `\`) && !queries.HasControl(s) {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'", nil
	}
	return "CAST(X'" + strings.ToUpper(hex.EncodeToString([]byte(s))) + "' AS TEXT)", nil
}

// SameText implements queries.Writer: IS is NULL-safe, and the column's own
// affinity applies to the literal, so an INTEGER 42 reads as '42'; BINARY
// overrides a NOCASE column.
func (Dialect) SameText(expr, literal string) string {
	return expr + " IS " + literal + " COLLATE BINARY"
}

// Instant implements queries.Writer: SQLite keeps timestamps as text, so an
// instant is written as the system's wall-clock time with its offset, which
// reads back as the same instant whatever the system's timezone says.
func (Dialect) Instant(t time.Time, _ string, loc *time.Location) string {
	return t.In(loc).Format("2006-01-02 15:04:05.999999-07:00")
}

// SelectExpr implements sources.Dialect.
func (Dialect) SelectExpr(ref, databaseType string) string {
	if strings.Contains(databaseType, "DATE") || strings.Contains(databaseType, "TIME") {
		return "CAST(" + ref + " AS TEXT)"
	}
	return ref
}
