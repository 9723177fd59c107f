package repairs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recon-dev/recon/reports/repairs"
	_ "github.com/recon-dev/recon/sources/all"
)

// ScanSQL accepts only what a planner writes, never panics, and never
// hands apply a statement that is not a one-line INSERT or UPDATE, or that
// holds a second statement.
func FuzzScanSQL(f *testing.F) {
	f.Add("SET NAMES utf8mb4;\nSTART TRANSACTION;\nUPDATE `t` SET `a` = 1 WHERE `k` = '1'; -- update\nCOMMIT;\n")
	f.Add("BEGIN;\nINSERT INTO \"t\" (\"k\") SELECT '1' WHERE NOT EXISTS (SELECT 1 FROM \"t\" WHERE \"k\" = '1'); -- insert\nCOMMIT;\n")
	f.Add("BEGIN;\nDELETE FROM t; -- update\nCOMMIT;\n")
	f.Add("BEGIN;\nUPDATE t SET a = 'x; -- insert' WHERE k = 1; -- soft_delete\n")
	f.Add("-- comment\nSET x;\nCOMMIT;\nBEGIN;\nBEGIN;\n")
	f.Add("BEGIN;\nUPDATE t SET v='x'; DROP TABLE t2; -- update\nCOMMIT;\n")
	f.Add("BEGIN;\nUPDATE t SET v=E'\\';DROP' WHERE k = 1; -- update\nCOMMIT;\n")
	f.Fuzz(func(t *testing.T, text string) {
		path := filepath.Join(t.TempDir(), "plan.sql")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, driver := range []string{"postgres", "pgx", "mysql", "sqlite"} {
			plan, err := repairs.ScanSQL(path, driver, func(_ int, b repairs.Batch) error {
				for _, s := range b.Statements {
					verb := map[repairs.Kind]string{repairs.Insert: "INSERT INTO ", repairs.Update: "UPDATE ", repairs.SoftDeleted: "UPDATE "}[s.Kind]
					if verb == "" || !strings.HasPrefix(s.SQL, verb) || strings.ContainsAny(s.SQL, "\n") || plainSemicolon(s.SQL, driver) {
						t.Errorf("%s: accepted %q as a %q statement", driver, s.SQL, s.Kind)
					}
				}
				return nil
			})
			if err != nil {
				continue
			}
			for _, s := range plan.Session {
				if !strings.HasPrefix(strings.ToUpper(s), "SET ") || plainSemicolon(s, driver) {
					t.Errorf("%s: accepted session statement %q", driver, s)
				}
			}
		}
	})
}

// plainSemicolon reports whether s holds a ';' outside quotes ('…', "…"
// or `…`, a doubled quote read as one) read plainly: exact for text whose
// only backslashes are in identifiers quoted as the dialect quotes them,
// where every dialect reads a backslash as itself, which is all recon
// writes outside PostgreSQL's E'…' strings. Any other backslash but in a
// PostgreSQL plan counts as a second statement: ScanSQL must refuse it.
func plainSemicolon(s, driver string) bool {
	ident := byte('"')
	switch driver {
	case "mysql":
		ident = '`'
	case "postgres", "pgx":
		if strings.Contains(s, "\\") {
			return false
		}
	}
	var in byte // the quote s is in at i, 0 outside
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case in == 0 && (c == '\'' || c == '"' || c == '`'):
			in = c
		case in != 0 && c == in:
			in = 0 // a doubled quote closes and opens again
		case c == '\\' && in != ident:
			return true
		case c == ';' && in == 0:
			return true
		}
	}
	return false
}

// The attacks a review found: a second statement after a real one, an
// escape that hides a quote, a session statement that runs anything.
func TestScanSQLRefusesSmuggledStatements(t *testing.T) {
	for _, c := range []struct{ driver, plan string }{
		{"postgres", "BEGIN;\nUPDATE t SET v='x'; DROP TABLE t2; -- update\nCOMMIT;\n"},
		{"sqlite", "BEGIN;\nUPDATE t SET v='x';DROP TABLE t2 WHERE 'a'='a'; -- update\nCOMMIT;\n"},
		{"mysql", "START TRANSACTION;\nUPDATE t SET v='x\\'; DROP TABLE t2; -- ' WHERE k=1; -- update\nCOMMIT;\n"},
		{"mysql", "SET NAMES utf8mb4; DROP TABLE t;\nSTART TRANSACTION;\nCOMMIT;\n"},
		{"postgres", "BEGIN;\nUPDATE t SET v=E'\\'' ; DROP TABLE t2; -- update\nCOMMIT;\n"},
		{"pgx", "BEGIN;\nUPDATE t SET v=E'\\'' ; DROP TABLE t2; -- update\nCOMMIT;\n"},
		// A backslash is itself only in the dialect's own identifier quotes.
		{"mysql", "START TRANSACTION;\nUPDATE `t` SET v=\"x\\\"; DROP TABLE t2; -- \" WHERE k=1; -- update\nCOMMIT;\n"},
		{"sqlite", "BEGIN;\nUPDATE \"t\" SET \"v\" = 'a\\b' WHERE \"k\" = 1; -- update\nCOMMIT;\n"},
		{"sqlite", "BEGIN;\nUPDATE `t\\` SET \"v\" = 'a' WHERE \"k\" = 1; -- update\nCOMMIT;\n"},
	} {
		path := filepath.Join(t.TempDir(), "plan.sql")
		if err := os.WriteFile(path, []byte(c.plan), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := repairs.ScanSQL(path, c.driver, nil); err == nil {
			t.Errorf("%s: accepted\n%s", c.driver, c.plan)
		}
	}
	ok := "BEGIN;\nUPDATE \"t\" SET \"v\" = E'a\\\\b;\\x0D' WHERE \"k\" = 'x;y'; -- update\nCOMMIT;\n"
	path := filepath.Join(t.TempDir(), "ok.sql")
	if err := os.WriteFile(path, []byte(ok), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, driver := range []string{"postgres", "pgx"} {
		if plan, err := repairs.ScanSQL(path, driver, nil); err != nil || plan.Counts[repairs.Update] != 1 {
			t.Errorf("%s: refused recon's own statement: %v\n%s", driver, err, ok)
		}
	}
	// Identifiers holding a backslash, as each dialect quotes them.
	for driver, stmt := range map[string]string{
		"postgres": "UPDATE \"a\\b\" SET \"c\\\" = 'x' WHERE \"k\" = 'y'",
		"sqlite":   "UPDATE \"a\\b\" SET \"c\\\" = CAST(X'615C62' AS TEXT) WHERE \"k\" = 'y'",
		"mysql":    "UPDATE `a\\b` SET `c\\` = 'x' WHERE `k` = 'y'",
	} {
		path := filepath.Join(t.TempDir(), "ident.sql")
		if err := os.WriteFile(path, []byte("BEGIN;\n"+stmt+"; -- update\nCOMMIT;\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if plan, err := repairs.ScanSQL(path, driver, nil); err != nil || plan.Counts[repairs.Update] != 1 {
			t.Errorf("%s: refused recon's own statement: %v\n%s", driver, err, stmt)
		}
	}
}
