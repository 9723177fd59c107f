package dbtest

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// kinds lists the backends with their entry point, constructor and queries
// for the current database and whether a database exists.
var kinds = []struct {
	b       *backend
	get     func(testing.TB) string
	fresh   func() *backend
	current string
	exists  string
}{
	{pg, Postgres, newPostgres, "SELECT current_database()", "SELECT count(*) FROM pg_database WHERE datname = $1"},
	{my, MySQL, newMySQL, "SELECT database()", "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?"},
}

func TestDatabase(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.b.name, func(t *testing.T) {
			t.Parallel()
			first, second := k.get(t), k.get(t)
			if first == second {
				t.Fatalf("two calls gave the same DSN %s", first)
			}
			// The same table in both proves they are different databases.
			roundTrip(t, k.b.driver, first)
			roundTrip(t, k.b.driver, second)
		})
	}
}

func TestDropAtCleanup(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.b.name, func(t *testing.T) {
			t.Parallel()
			k.get(t) // skips the test if there is no server
			var name string
			if !t.Run("sub", func(t *testing.T) { name = queryString(t, k.b.driver, k.get(t), k.current) }) {
				t.FailNow()
			}
			var n int
			if err := k.b.admin.QueryRow(k.exists, name).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("database %s still exists after its test", name)
			}
		})
	}
}

func TestEnvDSN(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.b.name, func(t *testing.T) {
			k.get(t) // connects k.b (or skips), so the env var can name its admin DSN
			b := k.fresh()
			b.start = func() (string, error) { return "", errors.New("started a server despite " + b.env) }
			t.Setenv(b.env, k.b.adminDSN)
			dsn := b.database(t)
			roundTrip(t, b.driver, dsn)
			if got := queryString(t, b.driver, dsn, k.current); !strings.Contains(dsn, got) {
				t.Errorf("connected to database %s, want the one in %s", got, dsn)
			}
		})
	}
}

func TestNotInstalled(t *testing.T) {
	b := newPostgres()
	b.start = func() (string, error) { return "", fmt.Errorf("%w: test", errNotInstalled) }
	for _, tc := range []struct {
		require   string
		wantSkip  bool
		wantFatal bool
	}{{"", true, false}, {"1", false, true}} {
		t.Setenv(requireEnv, tc.require)
		got := outcome(b, t)
		if got.skipped != tc.wantSkip || got.fatal != tc.wantFatal {
			t.Errorf("%s=%q: skipped=%v fatal=%v, want %v %v", requireEnv, tc.require, got.skipped, got.fatal, tc.wantSkip, tc.wantFatal)
		}
		if !strings.Contains(got.msg, b.env) || !strings.Contains(got.msg, requireEnv) {
			t.Errorf("message %q does not name %s and %s", got.msg, b.env, requireEnv)
		}
	}
}

// recorder is a testing.TB that records Skipf and Fatalf instead of acting.
type recorder struct {
	testing.TB
	skipped, fatal bool
	msg            string
}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// outcome runs b.database on its own goroutine, as Skipf and Fatalf end it.
func outcome(b *backend, t testing.TB) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.database(r)
	}()
	<-done
	return r
}

// roundTrip creates a table, inserts a row and reads it back.
func roundTrip(t *testing.T, driver, dsn string) {
	t.Helper()
	db := open(t, driver, dsn)
	for _, q := range []string{
		"CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20))",
		"INSERT INTO items VALUES (1, 'héllo')",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var name string
	if err := db.QueryRow("SELECT name FROM items WHERE id = 1").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "héllo" {
		t.Errorf("read back %q, want %q", name, "héllo")
	}
}

// queryString returns the single string query gives on the database at dsn.
func queryString(t *testing.T, driver, dsn, query string) string {
	t.Helper()
	var s string
	if err := open(t, driver, dsn).QueryRow(query).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s
}

func open(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
