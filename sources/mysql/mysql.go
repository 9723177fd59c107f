// Package mysql registers the "mysql" source driver: MySQL and MariaDB through
// go-sql-driver/mysql. Snapshots run in REPEATABLE READ READ ONLY
// transactions; the session zone is UTC, so TIMESTAMP columns (instants) are
// read with a "+00:00" suffix, while DATETIME columns stay zone-less. Values
// arrive through the text protocol as MySQL writes them.
package mysql

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"

	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/sources"
)

func init() { sources.Register("mysql", Dialect{}) }

// Dialect is MySQL's and MariaDB's sources.Dialect.
type Dialect struct{}

var (
	_ sources.ChecksumDialect = Dialect{}
	_ sources.Killer          = Dialect{}
)

// SessionID implements sources.Killer.
func (Dialect) SessionID() string { return "SELECT CONNECTION_ID()" }

// KillStatement implements sources.Killer: a user may end its own
// sessions' statements without any privilege.
func (Dialect) KillStatement(id int64) string { return fmt.Sprintf("KILL QUERY %d", id) }

// DriverName implements sources.Dialect.
func (Dialect) DriverName() string { return "mysql" }

// QuoteIdent implements queries.Quoter.
func (Dialect) QuoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// Configure implements sources.Dialect: values as text (no parseTime), the
// session in UTC, and a connect timeout so an unreachable host fails fast.
func (Dialect) Configure(dsn, _ string) (string, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", err
	}
	cfg.ParseTime = false
	cfg.Loc = time.UTC
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	return cfg.FormatDSN(), nil
}

// Secrets implements sources.Dialect.
func (Dialect) Secrets(dsn string) []string {
	if cfg, err := mysql.ParseDSN(dsn); err == nil && cfg.Passwd != "" {
		return []string{cfg.Passwd}
	}
	// An unparsable DSN may still hold a password: user:password@...
	if at := strings.LastIndex(dsn, "@"); at > 0 {
		if _, pw, ok := strings.Cut(dsn[:at], ":"); ok {
			return []string{pw}
		}
	}
	return nil
}

// BeginSnapshot implements sources.Dialect.
func (Dialect) BeginSnapshot(ctx context.Context, db sources.TxBeginner) (*sqlx.Tx, error) {
	return db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
}

// Session implements queries.Writer: the connection's text is UTF-8 and
// its zone UTC, as in a snapshot, so TIMESTAMP columns read and take UTC.
func (Dialect) Session() []string {
	return []string{"SET NAMES utf8mb4", "SET time_zone = '+00:00'"}
}

// Begin implements queries.Writer.
func (Dialect) Begin() string { return "START TRANSACTION" }

// NoTable implements queries.Writer.
func (Dialect) NoTable() string { return " FROM DUAL" }

// OnConflictDoNothing implements queries.Writer: setting a column to
// itself changes nothing and counts no row.
func (d Dialect) OnConflictDoNothing(column string) string {
	return " ON DUPLICATE KEY UPDATE " + column + " = " + column
}

// StringLiteral implements queries.Writer: a plain literal for text without
// backslashes or control characters, else a hex literal, which means the
// same bytes whatever sql_mode says about backslashes (NO_BACKSLASH_ESCAPES)
// and whatever the client does with line ends.
func (Dialect) StringLiteral(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("not valid UTF-8")
	}
	if !strings.Contains(s, `\`) && !queries.HasControl(s) {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'", nil
	}
	return "_utf8mb4 X'" + strings.ToUpper(hex.EncodeToString([]byte(s))) + "'", nil
}

// SameText implements queries.Writer: compared as UTF-8 bytes, since
// MySQL's collations ignore case, accents and trailing spaces.
func (Dialect) SameText(expr, literal string) string {
	return "CAST(CONVERT(" + expr + " USING utf8mb4) AS BINARY) <=> CAST(" + literal + " AS BINARY)"
}

var _ queries.ValueGuard = Dialect{}

// SameValue implements queries.ValueGuard: a snapshot reads a FLOAT or a
// DOUBLE as go-sql-driver's float64 (a FLOAT widened, see SelectExpr),
// which recon writes as Go's shortest text for it ("1e-07"), where MySQL
// writes its own ("1e-7"): both read back as one double.
func (Dialect) SameValue(expr, literal, databaseType string) string {
	switch databaseType {
	case "DOUBLE", "FLOAT":
		return expr + " <=> CAST(" + literal + " AS DOUBLE)"
	}
	return ""
}

// Instant implements queries.Writer: TIMESTAMP columns take UTC (the
// session's zone), DATETIME columns the system's wall-clock time.
func (Dialect) Instant(t time.Time, databaseType string, loc *time.Location) string {
	switch databaseType {
	case "TIMESTAMP":
		return t.UTC().Format("2006-01-02 15:04:05.999999")
	case "DATETIME":
		return t.In(loc).Format("2006-01-02 15:04:05.999999")
	}
	return t.In(loc).Format("2006-01-02 15:04:05.999999-07:00")
}

// TypedColumns implements sources.TypedDialect.
func (Dialect) TypedColumns() {}

// ExactGroupKey implements sources.GroupingDialect: the key's bytes, as
// collations fold case and pad spaces.
func (Dialect) ExactGroupKey(expr string) string { return "CAST((" + expr + ") AS BINARY)" }

// SelectExpr implements sources.Dialect.
func (Dialect) SelectExpr(ref, databaseType string) string {
	switch databaseType {
	case "TIMESTAMP":
		// An instant, shown in the session zone, which Configure made UTC.
		return fmt.Sprintf("CONCAT(%s, '+00:00')", ref)
	case "BIT":
		return fmt.Sprintf("CAST(%s AS UNSIGNED)", ref)
	case "FLOAT":
		// The text protocol prints FLOAT with 6 significant digits; the
		// exact float64 widening is what every dialect delivers.
		return fmt.Sprintf("CAST(%s AS DOUBLE)", ref)
	}
	return ref
}

// Canonical implements sources.ChecksumDialect.
func (Dialect) Canonical(ref string, col sources.Column, typ reconcile.FieldType, utc bool, invalid string) string {
	fam, t := sources.FamilyOf(col.DatabaseType), col.DatabaseType
	// A zero date or one ALLOW_INVALID_DATES let in (February 30) is no
	// date the engine can read, and MySQL's own arithmetic refuses them
	// (NULL). A date of year 0 the engine reads, but MySQL's day numbers
	// there are not the proleptic calendar's: it gets the marker too, so
	// that its segment is always read and compared.
	valid := fmt.Sprintf("(%s + INTERVAL 0 DAY) >= '0001-01-01'", ref)
	switch {
	case fam == sources.Integer && (typ == reconcile.Int || typ == reconcile.Decimal || typ == reconcile.String):
		// + 0: the digits as sent, without a ZEROFILL or YEAR padding
		// that CAST would add.
		return "CAST(" + ref + " + 0 AS CHAR)"
	case fam == sources.Text && typ == reconcile.String:
		return "CONVERT(" + ref + " USING utf8mb4)"
	case fam == sources.Decimal && typ == reconcile.Decimal:
		// MySQL writes a DECIMAL with exactly its scale's digits after the
		// point. Where the scale is known, the text is cast once, not
		// three times (0.2 µs a row in MariaDB 10.11).
		text := "CAST(" + ref + " AS CHAR)"
		switch {
		case col.ScaleKnown && col.Scale == 0:
			return text
		case col.ScaleKnown:
			return "TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM " + text + "))"
		}
		return fmt.Sprintf("CASE WHEN INSTR(%s, '.') > 0 THEN TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM %s)) ELSE %s END", text, text, text)
	case t == "DATE" && typ == reconcile.Date:
		// TO_DAYS counts from year 0: 719528 is 1970-01-01.
		return fmt.Sprintf("CASE WHEN %s THEN TO_DAYS(%s) - 719528 WHEN %s IS NOT NULL THEN %s END", valid, ref, ref, invalid)
	case t == "TIMESTAMP" && typ == reconcile.Timestamp:
		// UNIX_TIMESTAMP reads a TIMESTAMP's stored instant, whatever the
		// session's zone; 0 is the zero date, which no instant stores. It
		// is computed once a row (a CASE that tested it first called it
		// twice).
		return fmt.Sprintf("COALESCE(CAST(NULLIF(UNIX_TIMESTAMP(%s), 0) * 1000000 AS SIGNED), CASE WHEN %s IS NOT NULL THEN %s END)", ref, ref, invalid)
	case t == "DATETIME" && typ == reconcile.Timestamp && utc:
		return fmt.Sprintf("CASE WHEN %s THEN TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', %s) WHEN %s IS NOT NULL THEN %s END", valid, ref, ref, invalid)
	}
	return ""
}

// Frame implements sources.ChecksumDialect.
func (Dialect) Frame(canonical string, text bool) []string {
	if text {
		return []string{fmt.Sprintf("COALESCE(CONCAT('V', CHAR_LENGTH(%s), ':', %s), 'N')", canonical, canonical)}
	}
	return []string{fmt.Sprintf("COALESCE(%s, 'N')", canonical), "'|'"}
}

// Concat implements sources.ChecksumDialect.
func (Dialect) Concat(texts []string) string { return "CONCAT(" + strings.Join(texts, ", ") + ")" }

// Hash implements sources.ChecksumDialect. MariaDB computes SHA2 in a
// fifth of the time of MD5. text is hashed as it is, not converted: every
// text this dialect hashes is utf8mb4 (Canonical converts text columns to
// it) or ASCII (every other canonical text), so its bytes are UTF-8 in any
// connection character set that keeps ASCII (all but ucs2, utf16 and
// utf32, where the hashes never agree and every segment is read: slower,
// never wrong). Not converting the whole row again, and reading a
// TIMESTAMP once, saved MariaDB 10.11 3–5% of a row's hash. The hex
// digits are cut as bytes: LEFT of the text SHA2
// returns walks it as utf8mb4 (0.14 µs a row more, a sixth of the hash's
// cost).
func (Dialect) Hash(text string, digits int) string {
	return fmt.Sprintf("CAST(CONV(LEFT(CAST(SHA2(%s, 256) AS BINARY), %d), 16, 10) AS UNSIGNED)", text, digits)
}

// UniqueColumn implements sources.ChecksumDialect: a unique index whose
// only column is the column, in the table's schema (the connection's, or
// the one the name gives).
func (Dialect) UniqueColumn(ctx context.Context, tx *sqlx.Tx, table, column string) bool {
	schema, name, qualified := strings.Cut(table, ".")
	if !qualified {
		schema, name = "", table
	}
	var ok bool
	err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = IF(? = '', DATABASE(), ?) AND TABLE_NAME = ? AND NON_UNIQUE = 0
		GROUP BY INDEX_NAME HAVING COUNT(*) = 1 AND MAX(COLUMN_NAME) = ? AND MAX(SUB_PART) IS NULL)`,
		schema, schema, name, column).Scan(&ok)
	return err == nil && ok
}

// RangeSegment implements sources.ChecksumDialect: MySQL computes integers
// in BIGINT (signed, or unsigned for an unsigned key, which is never below
// origin).
func (Dialect) RangeSegment(key string, origin, width int64) string {
	return fmt.Sprintf("(%s - (%d)) DIV %d", key, origin, width)
}

// TextPartition implements sources.TextPartitioner, where the session
// sends text as utf8mb4 (utf8mb3 sends a character beyond it as '?'). The
// condition reads the key's text (an ENUM's label, not its index; a UUID
// as text, which MariaDB will not cast to a number), and takes text that
// may be a canonical integer as one (CASE, so that no other text is cast).
func (d Dialect) TextPartition(ctx context.Context, tx *sqlx.Tx, expr string, p reconcile.Partition) (string, error) {
	var results, connection sql.NullString
	if err := tx.QueryRowContext(ctx, "SELECT @@character_set_results, @@character_set_connection").Scan(&results, &connection); err != nil {
		return "", err
	}
	// SHA2's hex digits come in the connection's character set: in ucs2,
	// utf16 or utf32 their bytes are not the digits.
	if results.String != "utf8mb4" || connection.String != "utf8mb4" {
		return "", nil
	}
	text := "CONVERT(" + expr + " USING utf8mb4)"
	return fmt.Sprintf("(%s %% %d = %d OR CASE WHEN %s REGEXP '^-?[0-9]{1,19}$' THEN MOD(MOD(CAST(%s AS DECIMAL(20,0)), %d) + %d, %d) = %d ELSE FALSE END)",
		d.Hash(text, 8), p.Count, p.Index, text, text, p.Count, p.Count, p.Count, p.Index), nil
}

var _ sources.TextPartitioner = Dialect{}
