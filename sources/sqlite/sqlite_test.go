package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recon-dev/recon/internal/dbtest"
	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/sources"
	"github.com/recon-dev/recon/sources/sourcetest"
	"github.com/recon-dev/recon/sources/sqlite"
)

// create creates an SQLite database file at path, in WAL mode so that a
// writer can commit while a snapshot reads, and returns a read-write handle.
func create(t *testing.T, path string) *sql.DB {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	u := url.URL{Scheme: "file", Opaque: (&url.URL{Path: path}).EscapedPath(),
		RawQuery: "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)"}
	setup, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { setup.Close() })
	if err := setup.Ping(); err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	return setup
}

func newDatabase(t *testing.T) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "recon.db")
	return path, create(t, path)
}

func harness() sourcetest.Harness {
	return sourcetest.Harness{
		Driver:      "sqlite",
		Dialect:     sqlite.Dialect{},
		NewDatabase: newDatabase,
		Types: sourcetest.Types{
			Integer:     sourcetest.Type{DDL: "INTEGER", Family: sources.Integer},
			BigInt:      sourcetest.Type{DDL: "INTEGER", Family: sources.Integer},
			Decimal:     sourcetest.Type{DDL: "TEXT", Family: sources.Text}, // NUMERIC affinity would make 10.50 the REAL 10.5
			Float:       sourcetest.Type{DDL: "REAL", Family: sources.Float},
			Bool:        sourcetest.Type{DDL: "BOOLEAN", Family: sources.Bool},
			VarChar:     sourcetest.Type{DDL: "VARCHAR(100)", Family: sources.Text},
			Text:        sourcetest.Type{DDL: "TEXT", Family: sources.Text},
			Date:        sourcetest.Type{DDL: "DATE", Family: sources.Date},
			Timestamp:   sourcetest.Type{DDL: "DATETIME", Family: sources.Timestamp},
			TimestampTZ: sourcetest.Type{DDL: "TIMESTAMP", Family: sources.Timestamp},
		},
		Unreachable: func(t *testing.T) string {
			return filepath.Join(t.TempDir(), "missing.db")
		},
		UnreachableWithin: time.Second,
		Client:            func(t *testing.T, dsn, script string) { dbtest.RunClient(t, "sqlite", dsn, script) },
	}
}

func TestConformance(t *testing.T) { sourcetest.Run(t, harness()) }

// TestMissingFile checks that a DSN naming a file that does not exist fails
// Open and creates nothing.
func TestMissingFile(t *testing.T) {
	for _, c := range []struct {
		name    string
		dsn     func(dir string) string
		baseDir bool
	}{
		{"absolute path", func(dir string) string { return filepath.Join(dir, "missing.db") }, false},
		{"relative path", func(string) string { return "missing.db" }, true},
		{"relative path in a folder", func(string) string { return "sub/missing.db" }, true},
		{"file URI", func(dir string) string { return "file:" + filepath.Join(dir, "missing.db") }, false},
		{"file URI with options", func(string) string { return "file:missing.db?cache=shared&mode=rwc" }, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := sources.Config{Name: sourcetest.SystemName, Driver: "sqlite", DSN: c.dsn(dir)}
			if c.baseDir {
				cfg.BaseDir = dir
			}
			db, err := sources.OpenDB(context.Background(), cfg)
			if err == nil {
				db.Close()
				t.Errorf("Open(%q) of a missing file succeeded", cfg.DSN)
			} else {
				if !strings.Contains(err.Error(), sourcetest.SystemName) || !strings.Contains(err.Error(), "missing.db") {
					t.Errorf("Open(%q): error %q, want it to name the system and the file", cfg.DSN, err)
				}
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Open(%q): error %q does not wrap fs.ErrNotExist", cfg.DSN, err)
				}
			}
			var left []string
			filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if path != dir {
					left = append(left, path)
				}
				return nil
			})
			if wd, err := os.Getwd(); err == nil {
				for _, name := range []string{"missing.db", "sub"} {
					if _, err := os.Stat(filepath.Join(wd, name)); err == nil {
						left = append(left, filepath.Join(wd, name))
					}
				}
			}
			if len(left) > 0 {
				t.Errorf("Open(%q) of a missing file created %q", cfg.DSN, left)
			}
		})
	}
}

// TestRelativePath checks that a relative path in the DSN is relative to
// Config.BaseDir, not to the working directory.
func TestRelativePath(t *testing.T) {
	base := t.TempDir()
	setup := create(t, filepath.Join(base, "data dir", "crm #1.db"))
	if _, err := setup.Exec("CREATE TABLE accounts (id INTEGER, name TEXT); INSERT INTO accounts VALUES (1, 'Acme')"); err != nil {
		t.Fatal(err)
	}
	for _, dsn := range []string{
		"data dir/crm #1.db",
		"./data dir/../data dir/crm #1.db",
		"file:data dir/crm #1.db",
		filepath.Join(base, "data dir", "crm #1.db"),
	} {
		t.Run(dsn, func(t *testing.T) {
			db, err := sources.OpenDB(context.Background(), sources.Config{Name: "crm", Driver: "sqlite", DSN: dsn, BaseDir: base})
			if err != nil {
				t.Fatalf("Open(%q) with BaseDir %s: %v", dsn, base, err)
			}
			defer db.Close()
			rows, err := db.Relation(queries.Selection{Table: "accounts"}).Scan(context.Background(), []string{"name"})
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			if !rows.Next() || string(rows.Row()[0]) != "Acme" {
				t.Errorf("Open(%q): did not read Acme from the database under BaseDir (err %v)", dsn, rows.Err())
			}
		})
	}
}

// TestReadOnly checks that reading leaves the file as it was, and that the
// DSN's own mode cannot make recon's connection writable.
func TestReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ro.db")
	setup := create(t, path)
	if _, err := setup.Exec("CREATE TABLE t (id INTEGER); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	d := sqlite.Dialect{}
	dsn, err := d.Configure("file:"+path+"?mode=rw", "")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("Configure = %q: %v", dsn, err)
	}
	if modes := u.Query()["mode"]; len(modes) != 1 || modes[0] != "ro" {
		t.Errorf("Configure = %q: mode %q, want only ro", dsn, modes)
	}
	db, err := sql.Open(d.DriverName(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("INSERT INTO t VALUES (2)"); err == nil {
		t.Error("INSERT through the configured DSN succeeded, want a read-only database")
	}
}

func TestSelectExpr(t *testing.T) {
	for _, c := range []struct{ typ, want string }{
		{"DATETIME", `CAST(q."c" AS TEXT)`},
		{"TIMESTAMP", `CAST(q."c" AS TEXT)`},
		{"DATE", `CAST(q."c" AS TEXT)`},
		{"INTEGER", `q."c"`},
		{"TEXT", `q."c"`},
		{"", `q."c"`},
	} {
		if got := (sqlite.Dialect{}).SelectExpr(`q."c"`, c.typ); got != c.want {
			t.Errorf("SelectExpr(%s) = %s, want %s", c.typ, got, c.want)
		}
	}
}

func TestQuoteIdent(t *testing.T) {
	for in, want := range map[string]string{
		"order": `"order"`,
		`a"b`:   `"a""b"`,
		"a`b":   "\"a`b\"",
	} {
		if got := (sqlite.Dialect{}).QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
}

func FuzzStringLiteral(f *testing.F) { sourcetest.FuzzLiteral(f, sqlite.Dialect{}, false) }
