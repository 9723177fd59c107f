// Package queries assembles the SQL that recon sends to a source: the
// relation a side reads (a table with an optional filter, or a query kept in
// a .sql file) and the snapshot SELECT over it.
//
// Invariants: identifiers that come from config (tables, columns) are always
// quoted by the dialect's Quoter, never pasted raw. A `where:` filter and a
// query file are SQL written by the config's author, trusted like the rest
// of the config, and embedded as written: the filter in parentheses, so
// that its precedence holds, and the query as a derived table. recon reads
// inside read-only transactions; a read-only database user adds a second
// guard.
package queries

import (
	"fmt"
	"strings"
)

// Quoter quotes an identifier for one SQL dialect.
type Quoter interface {
	QuoteIdent(name string) string
}

// Alias is the name the relation gets in every statement.
const Alias = "q"

// Selection is the relation one side of a reconciliation reads: either Table
// (optionally "schema.table") with an optional Where filter, or Query.
type Selection struct {
	Table string
	Where string
	// Query is SQL text, typically read from a file under queries/.
	Query string
	// QueryFile is where Query came from, for messages.
	QueryFile string
}

// String describes the selection for messages: the table or the query file.
func (s Selection) String() string {
	if s.Query != "" {
		if s.QueryFile != "" {
			return "query " + s.QueryFile
		}
		return "query"
	}
	if s.Where != "" {
		return fmt.Sprintf("table %s where %s", s.Table, s.Where)
	}
	return "table " + s.Table
}

// QuoteTable quotes a possibly schema-qualified table name part by part.
func QuoteTable(q Quoter, table string) string {
	parts := strings.Split(table, ".")
	for i, p := range parts {
		parts[i] = q.QuoteIdent(p)
	}
	return strings.Join(parts, ".")
}

// From returns the FROM clause body, filter included, for s.
func From(q Quoter, s Selection) string {
	if s.Query != "" {
		// Newlines keep a trailing "-- comment" in the file from swallowing the parenthesis.
		return "(\n" + TrimQuery(s.Query) + "\n) AS " + Alias
	}
	from := QuoteTable(q, s.Table) + " AS " + Alias
	if w := strings.TrimSpace(s.Where); w != "" {
		from += " WHERE (" + w + ")"
	}
	return from
}

// Probe returns a statement that reads no rows but reveals the relation's
// columns and their types, and fails where the filter or query is wrong.
func Probe(q Quoter, s Selection) string {
	from := From(q, s)
	if s.Query == "" && strings.TrimSpace(s.Where) != "" {
		return "SELECT * FROM " + from + " AND 1=0"
	}
	return "SELECT * FROM " + from + " WHERE 1=0"
}

// Select returns the snapshot statement: exprs (already built from quoted
// column references) over the selection.
func Select(q Quoter, s Selection, exprs []string) string {
	return "SELECT " + strings.Join(exprs, ", ") + " FROM " + From(q, s)
}

// SelectWhere returns the snapshot statement of the selection's rows for
// which cond holds too.
func SelectWhere(q Quoter, s Selection, exprs []string, cond string) string {
	return SelectBy(q, s, exprs, cond, "")
}

// SelectBy returns the snapshot statement of the selection's rows for
// which cond holds too (all, for ""), ordered by the expression order
// (unordered, for "").
func SelectBy(q Quoter, s Selection, exprs []string, cond, order string) string {
	stmt := "SELECT " + strings.Join(exprs, ", ") + " FROM " + From(q, s)
	switch {
	case cond == "":
	case s.Query == "" && strings.TrimSpace(s.Where) != "":
		stmt += " AND " + cond
	default:
		stmt += " WHERE " + cond
	}
	if order != "" {
		stmt += " ORDER BY " + order
	}
	return stmt
}

// IntegerPartition is the condition that the integer expr is in
// partition index of count: expr mod count is index, negative numbers
// included (SQL's % keeps the dividend's sign).
func IntegerPartition(expr string, index, count int) string {
	return fmt.Sprintf("((%s %% %d) + %d) %% %d = %d", expr, count, count, count, index)
}

// SelectGrouped returns a grouped snapshot statement: exprs (the grouping
// keys first, then aggregates) over the selection, grouped by keys.
func SelectGrouped(q Quoter, s Selection, exprs, keys []string) string {
	return Select(q, s, exprs) + " GROUP BY " + strings.Join(keys, ", ")
}

// Column returns the quoted reference to a column of the relation.
func Column(q Quoter, name string) string {
	return Alias + "." + q.QuoteIdent(name)
}

// TrimQuery strips what follows a query file's last SQL token (white
// space, comments, semicolons), so that it can be wrapped as a derived
// table: "SELECT 1; -- done" becomes "SELECT 1".
func TrimQuery(sql string) string {
	sql = strings.TrimLeft(sql, " \t\r\n")
	for {
		sql = sql[:codeEnd(sql)]
		trimmed, ok := strings.CutSuffix(sql, ";")
		if !ok {
			return sql
		}
		sql = trimmed
	}
}

// codeEnd returns the offset just past the last character of s that is
// neither white space nor inside a comment. Quoted text ('…', "…", `…`,
// with doubled quotes inside) counts as code, so "--" in a string is not a
// comment.
func codeEnd(s string) int {
	end := 0
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < len(s) {
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			i = min(j+1, len(s))
			end = i
		case strings.HasPrefix(s[i:], "--"):
			if nl := strings.IndexByte(s[i:], '\n'); nl >= 0 {
				i += nl + 1
			} else {
				i = len(s)
			}
		case strings.HasPrefix(s[i:], "/*"):
			if close := strings.Index(s[i+2:], "*/"); close >= 0 {
				i += close + 4
			} else {
				i = len(s)
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		default:
			i++
			end = i
		}
	}
	return end
}
