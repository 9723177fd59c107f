package queries

import (
	"fmt"
	"strings"
	"time"
)

// Writer is what a dialect tells the repair statements. A repair is only
// safe if it changes a row that still reads as the snapshot read it, so a
// Writer's literals must round-trip byte for byte, through the database and
// through its command-line client, and its comparisons must be exact.
type Writer interface {
	Quoter
	// SelectExpr returns the expression reading column ref, whose type the
	// database calls databaseType, as the database's text for its values:
	// the text a snapshot reads, and the text a repair's guard compares.
	SelectExpr(ref, databaseType string) string
	// StringLiteral returns s as a string literal on one line (control
	// characters escaped, never raw, so that no client rewrites them), or
	// an error when the database cannot store s.
	StringLiteral(s string) (string, error)
	// SameText returns a condition that holds when expr (a SelectExpr)
	// reads exactly as literal, byte for byte, whatever the column's
	// collation; NULL is the same as NULL.
	SameText(expr, literal string) string
	// Instant returns the text a column of databaseType stores the instant
	// t as, in a session set up by Session; loc is the system's zone of
	// timestamps kept without one.
	Instant(t time.Time, databaseType string, loc *time.Location) string
	// Session returns the statements a repair session runs first, so that
	// SelectExpr reads as it did in the snapshot.
	Session() []string
	// Begin returns the statement that starts a transaction.
	Begin() string
	// NoTable is what a SELECT without a table needs after its select
	// list, before WHERE ("" or " FROM DUAL").
	NoTable() string
	// OnConflictDoNothing returns the clause that makes an INSERT leave a
	// row alone when a unique key says it exists; column is one of the
	// table's quoted columns.
	OnConflictDoNothing(column string) string
}

// Cell is a column and the SQL of its value: a literal, or NULL.
type Cell struct {
	Column string
	Value  string
}

// Reads says that a column still reads as Text (nil for NULL), the text a
// snapshot read; DatabaseType is the column's type, as for SelectExpr.
type Reads struct {
	Column       string
	DatabaseType string
	Text         *string
}

// Null is the SQL of a NULL value.
const Null = "NULL"

// Change is one guarded UPDATE: it sets Set on the row whose key columns
// read as Key, only while every column in Guard still reads as the snapshot
// read it, so that a row changed since (by anyone, or by this very
// statement) is left alone and a second run changes nothing. A row whose
// Unless columns already hold their values is left alone too.
type Change struct {
	Table  string
	Set    []Cell
	Key    []Reads
	Guard  []Reads
	Unless []Cell
}

// Update returns c as SQL.
func Update(w Writer, c Change) (string, error) {
	if len(c.Set) == 0 || len(c.Key) == 0 {
		return "", fmt.Errorf("update %s: nothing to set or no key", c.Table)
	}
	assign := make([]string, len(c.Set))
	for i, s := range c.Set {
		assign[i] = w.QuoteIdent(s.Column) + " = " + s.Value
	}
	where, err := keyMatch(w, c.Key, true)
	if err != nil {
		return "", err
	}
	for _, g := range c.Guard {
		cond, err := sameText(w, g)
		if err != nil {
			return "", err
		}
		where = append(where, cond)
	}
	for _, u := range c.Unless {
		col := w.QuoteIdent(u.Column)
		where = append(where, "("+col+" IS NULL OR "+col+" <> "+u.Value+")")
	}
	return "UPDATE " + QuoteTable(w, c.Table) + " SET " + strings.Join(assign, ", ") +
		" WHERE " + strings.Join(where, " AND "), nil
}

// InsertIfAbsent returns an INSERT of values into table that does nothing
// when a row with the key already exists: NOT EXISTS for tables without a
// unique key on it, and the dialect's conflict clause for those with one.
func InsertIfAbsent(w Writer, table string, values []Cell, key []Reads) (string, error) {
	if len(values) == 0 || len(key) == 0 {
		return "", fmt.Errorf("insert into %s: no values or no key", table)
	}
	cols := make([]string, len(values))
	vals := make([]string, len(values))
	for i, c := range values {
		cols[i], vals[i] = w.QuoteIdent(c.Column), c.Value
	}
	where, err := keyMatch(w, key, false)
	if err != nil {
		return "", err
	}
	qt := QuoteTable(w, table)
	return "INSERT INTO " + qt + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(vals, ", ") + w.NoTable() +
		" WHERE NOT EXISTS (SELECT 1 FROM " + qt + " WHERE " + strings.Join(where, " AND ") + ")" +
		w.OnConflictDoNothing(cols[0]), nil
}

// keyMatch returns the conditions that find a row by its key: plain
// equality, which an index serves, and with exact, the key's exact text
// too, since equality follows the column's collation ('abc' = 'ABC' in
// MySQL's default ones).
func keyMatch(w Writer, key []Reads, exact bool) ([]string, error) {
	var conds []string
	for _, k := range key {
		if k.Text == nil {
			return nil, fmt.Errorf("key column %s is NULL", k.Column)
		}
		lit, err := w.StringLiteral(*k.Text)
		if err != nil {
			return nil, fmt.Errorf("key column %s: %w", k.Column, err)
		}
		conds = append(conds, w.QuoteIdent(k.Column)+" = "+lit)
		if exact {
			conds = append(conds, w.SameText(w.SelectExpr(w.QuoteIdent(k.Column), k.DatabaseType), lit))
		}
	}
	return conds, nil
}

// ValueGuard is a Writer whose snapshot reads some column types as the
// driver's values, not as the database's text (go-sql-driver/mysql hands
// out a DOUBLE as a float64): a guard of such a column compares values.
type ValueGuard interface {
	// SameValue returns a condition that holds when expr (a SelectExpr)
	// is the value literal reads as, for a column of databaseType; "" where
	// SameText serves.
	SameValue(expr, literal, databaseType string) string
}

func sameText(w Writer, r Reads) (string, error) {
	lit := Null
	if r.Text != nil {
		var err error
		if lit, err = w.StringLiteral(*r.Text); err != nil {
			return "", fmt.Errorf("column %s: %w", r.Column, err)
		}
	}
	expr := w.SelectExpr(w.QuoteIdent(r.Column), r.DatabaseType)
	if v, ok := w.(ValueGuard); ok {
		if cond := v.SameValue(expr, lit, r.DatabaseType); cond != "" {
			return cond, nil
		}
	}
	return w.SameText(expr, lit), nil
}

// HasControl reports whether s holds a character that a one-line literal
// must not hold raw: C0 controls and DEL. Clients rewrite some of them (a
// CR before an LF, in psql and the mariadb client on some platforms).
func HasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}
