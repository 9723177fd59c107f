package sourcetest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/recon-dev/recon/queries"
)

// hostileRunes are what breaks naive SQL literals and client input.
var hostileRunes = []string{
	"'", "''", `"`, `\`, `\\`, `\'`, "\r", "\n", "\r\n", "\t", "\x01", "\x1a", "\x1b", "\x7f", "\b", "\f",
	"%", "_", ";", "--", "/*", "*/", "$$", "$1", "?", ":x", "`", "\\N", " ", "  ", "é", "e\u0301", "ß", "ǅ",
	"😀", "👍🏽", "家族", "\u2028", "\u00a0", "\u200b", "\ufeff", "\U0010FFFF", "a", "Z", "0", "NULL",
}

// RepairTexts returns n texts built from hostileRunes, reproducibly.
func RepairTexts(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 0))
	out := []string{"", " ", "plain", "O'Brien", `C:\temp\new`, "line1\r\nline2\rline3\n", "tab\tand\x0bvt"}
	for len(out) < n {
		var b strings.Builder
		for range r.IntN(12) + 1 {
			b.WriteString(hostileRunes[r.IntN(len(hostileRunes))])
		}
		out = append(out, b.String())
	}
	return out
}

// testRepairText checks that text written by repair statements reads back
// byte for byte through the snapshot path, written by the driver and by the
// database's own client, with literal-hostile session settings too, and
// that the statements' guards make a second run change nothing.
func testRepairText(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ty := h.Types
	e.create("rt", "id", ty.Integer.DDL+" PRIMARY KEY", "v", ty.VarChar.DDL, "t", ty.Text.DDL)
	e.create("nokey", "id", ty.Integer.DDL, "v", ty.VarChar.DDL) // no unique key: NOT EXISTS alone must hold
	texts := RepairTexts(300, 1)
	w := h.Dialect
	lit := func(s string) string {
		l, err := w.StringLiteral(s)
		if err != nil {
			t.Fatalf("StringLiteral(%q): %v", s, err)
		}
		if strings.ContainsAny(l, "\r\n") {
			t.Fatalf("StringLiteral(%q) = %q spans lines", s, l)
		}
		return l
	}
	// insert, update the text column, then the statements once more.
	statements := func(base int) (inserts, updates []string) {
		for i, s := range texts {
			id := strconv.Itoa(base + i)
			key := []queries.Reads{{Column: "id", Text: &id}}
			for _, table := range []string{"rt", "nokey"} {
				values := []queries.Cell{{Column: "id", Value: lit(id)}, {Column: "v", Value: lit(s)}}
				if table == "rt" {
					values = append(values, queries.Cell{Column: "t", Value: lit(s)})
				}
				ins, err := queries.InsertIfAbsent(w, table, values, key)
				if err != nil {
					t.Fatal(err)
				}
				inserts = append(inserts, ins)
			}
			old := s
			upd, err := queries.Update(w, queries.Change{Table: "rt", Set: []queries.Cell{{Column: "t", Value: lit(s + "|" + s)}},
				Key:   []queries.Reads{{Column: "id", DatabaseType: dbType(t, e, "id"), Text: &id}},
				Guard: []queries.Reads{{Column: "t", DatabaseType: dbType(t, e, "t"), Text: &old}}})
			if err != nil {
				t.Fatal(err)
			}
			updates = append(updates, upd)
		}
		return inserts, updates
	}

	check := func(t *testing.T, base int) {
		t.Helper()
		got := e.scanByID(queries.Selection{Table: "rt"}, "id", "v", "t")
		nokey := e.scanByID(queries.Selection{Table: "nokey"}, "id", "v")
		bad := 0
		for i, s := range texts {
			id := strconv.Itoa(base + i)
			row, other := got[id], nokey[id]
			if row == nil || other == nil || !bytes.Equal(row[0], []byte(s)) || !bytes.Equal(row[1], []byte(s+"|"+s)) ||
				!bytes.Equal(other[0], []byte(s)) || row[0] == nil {
				t.Errorf("id %s: wrote %q and %q, read %v (without key: %v)", id, s, s+"|"+s, row, other)
				if bad++; bad > 5 {
					t.FailNow()
				}
			}
		}
	}

	t.Run("driver", func(t *testing.T) {
		for pass, hostile := range []string{"", h.HostileSession} {
			if pass == 1 && hostile == "" {
				continue
			}
			base := 1000 * (pass + 1)
			ctx := e.ctx()
			conn, err := e.setup.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			run := func(stmt string) int64 {
				res, err := conn.ExecContext(ctx, stmt)
				if err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
				n, _ := res.RowsAffected()
				return n
			}
			for _, s := range w.Session() {
				run(s)
			}
			if hostile != "" {
				run(hostile)
			}
			inserts, updates := statements(base)
			all := append(inserts, updates...)
			for _, stmt := range all {
				if n := run(stmt); n != 1 {
					t.Fatalf("%s changed %d rows, want 1", stmt, n)
				}
			}
			for _, stmt := range all {
				if n := run(stmt); n != 0 {
					t.Fatalf("run a second time, %s changed %d rows, want 0", stmt, n)
				}
			}
			conn.Close()
			check(t, base)
		}
	})

	// Guards and keys compare exact text: MySQL's default collations call
	// 'Abc', 'abc' and 'Abc ' equal, and a repair must not take one for another.
	t.Run("exact", func(t *testing.T) {
		e.create("ex", "k", ty.VarChar.DDL, "v", ty.VarChar.DDL)
		for _, k := range []string{"k", "K", "k "} {
			e.exec("INSERT INTO ex (k, v) VALUES (?, ?)", k, "Abc")
		}
		kt, vt := "", ""
		cols, err := e.rel(queries.Selection{Table: "ex"}).Columns(e.ctx())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cols {
			if c.Name == "k" {
				kt = c.DatabaseType
			} else {
				vt = c.DatabaseType
			}
		}
		ctx := e.ctx()
		for _, c := range []struct {
			key, old string
			want     int64
		}{{"k", "abc", 0}, {"k", "Abc ", 0}, {"k", "ABC", 0}, {"k", "Abc", 1}, {"K", "Abc", 1}, {"k ", "Abc", 1}, {"k", "Abc", 0}} {
			stmt, err := queries.Update(w, queries.Change{Table: "ex", Set: []queries.Cell{{Column: "v", Value: lit("changed")}},
				Key:   []queries.Reads{{Column: "k", DatabaseType: kt, Text: &c.key}},
				Guard: []queries.Reads{{Column: "v", DatabaseType: vt, Text: &c.old}}})
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.setup.ExecContext(ctx, stmt)
			if err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
			if n, _ := res.RowsAffected(); n != c.want {
				t.Errorf("key %q, guard %q: changed %d rows, want %d\n%s", c.key, c.old, n, c.want, stmt)
			}
		}
	})

	t.Run("client", func(t *testing.T) {
		if h.Client == nil {
			t.Skip("no command-line client in the harness")
		}
		const base = 5000
		inserts, updates := statements(base)
		var script strings.Builder
		for _, s := range append(w.Session(), h.HostileSession) {
			if s != "" {
				fmt.Fprintf(&script, "%s;\n", s)
			}
		}
		fmt.Fprintf(&script, "%s;\n", w.Begin())
		for _, stmt := range append(inserts, updates...) {
			fmt.Fprintf(&script, "%s;\n", stmt)
		}
		script.WriteString("COMMIT;\n")
		h.Client(t, e.dsn, script.String())
		check(t, base)
		h.Client(t, e.dsn, script.String()) // applied twice: the guards hold
		check(t, base)
		var n int
		if err := e.setup.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM nokey WHERE id >= 5000").Scan(&n); err != nil || n != len(texts) {
			t.Errorf("after two runs, %d rows without a unique key (%v), want %d", n, err, len(texts))
		}
	})
}

// dbType returns the database's type name of a column of table rt, as
// Relation.Columns reports it.
func dbType(t *testing.T, e *env, column string) string {
	t.Helper()
	cols, err := e.rel(queries.Selection{Table: "rt"}).Columns(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cols {
		if c.Name == column {
			return c.DatabaseType
		}
	}
	t.Fatalf("rt has no column %s", column)
	return ""
}
