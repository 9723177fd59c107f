package repairs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recon-dev/recon/reports/repairs"
)

// ReadSQL accepts only what a planner writes, never panics, and never
// hands apply a statement that is not a one-line INSERT or UPDATE.
func FuzzReadSQL(f *testing.F) {
	f.Add("SET NAMES utf8mb4;\nSTART TRANSACTION;\nUPDATE `t` SET `a` = 1 WHERE `k` = '1'; -- update\nCOMMIT;\n")
	f.Add("BEGIN;\nINSERT INTO \"t\" (\"k\") SELECT '1' WHERE NOT EXISTS (SELECT 1 FROM \"t\" WHERE \"k\" = '1'); -- insert\nCOMMIT;\n")
	f.Add("BEGIN;\nDELETE FROM t; -- update\nCOMMIT;\n")
	f.Add("BEGIN;\nUPDATE t SET a = 'x; -- insert' WHERE k = 1; -- soft_delete\n")
	f.Add("-- comment\nSET x;\nCOMMIT;\nBEGIN;\nBEGIN;\n")
	f.Fuzz(func(t *testing.T, text string) {
		path := filepath.Join(t.TempDir(), "plan.sql")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		plan, err := repairs.ReadSQL(path)
		if err != nil {
			return
		}
		for _, b := range plan.Batches {
			for _, s := range b.Statements {
				verb := map[repairs.Kind]string{repairs.Insert: "INSERT INTO ", repairs.Update: "UPDATE ", repairs.SoftDeleted: "UPDATE "}[s.Kind]
				if verb == "" || !strings.HasPrefix(s.SQL, verb) || strings.ContainsAny(s.SQL, "\n") {
					t.Errorf("accepted %q as a %q statement", s.SQL, s.Kind)
				}
			}
		}
		for _, s := range plan.Session {
			if !strings.HasPrefix(strings.ToUpper(s), "SET ") {
				t.Errorf("accepted session statement %q", s)
			}
		}
	})
}
