package runner_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/dbtest"
	"github.com/recon-dev/recon/internal/runner"
	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/sources"
)

// Each class of failure, forced against real servers, is classified so,
// with a first step to try.
func TestErrorClassesAgainstRealServers(t *testing.T) {
	ctx := context.Background()
	pg := dbtest.Postgres(t)
	my := dbtest.MySQL(t)
	pgdb, err := sql.Open("postgres", pg)
	if err != nil {
		t.Fatal(err)
	}
	defer pgdb.Close()
	mydb, err := sql.Open("mysql", my)
	if err != nil {
		t.Fatal(err)
	}
	defer mydb.Close()
	var dbname string
	if err := pgdb.QueryRow("SELECT current_database()").Scan(&dbname); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"CREATE TABLE deals (id integer, v text)",
		"INSERT INTO deals SELECT g, md5(g::text) FROM generate_series(1, 50000) g",
		// Sorting more than 64 kB spills to disk, past what the database allows.
		fmt.Sprintf("ALTER DATABASE %q SET temp_file_limit = '64kB'", dbname),
		fmt.Sprintf("ALTER DATABASE %q SET work_mem = '64kB'", dbname),
	} {
		if _, err := pgdb.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := mydb.Exec("CREATE TABLE invoices (id INT, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	wrong, err := gomysql.ParseDSN(my)
	if err != nil {
		t.Fatal(err)
	}
	wrong.Passwd = "not-the-password"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	for _, c := range []struct {
		class                  string
		source, target, fields string
	}{
		{runner.ClassAuth, "{system: pg, table: deals}", "{system: badpw, table: invoices}", "[{name: v}]"},
		{runner.ClassSchema, "{system: pg, table: no_such_table}", "{system: my, table: invoices}", "[{name: v}]"},
		{runner.ClassSchema, "{system: pgx, table: no_such_table}", "{system: my, table: invoices}", "[{name: v}]"},
		{runner.ClassSchema, "{system: pg, table: deals}", "{system: my, table: invoices}", "[{name: v}, {name: missing}]"},
		{runner.ClassConnectivity, "{system: pg, table: deals}", "{system: down, table: invoices}", "[{name: v}]"},
		{runner.ClassConfig, "{system: pg, table: deals, where: \"id = = 1\"}", "{system: my, table: invoices}", "[{name: v}]"},
		{runner.ClassResource, "{system: pg, query: sorted.sql}", "{system: my, table: invoices}", "[{name: v}]"},
	} {
		t.Run(c.class, func(t *testing.T) {
			text := fmt.Sprintf(`version: 1
state: recon-state.db
systems:
  pg: {driver: postgres, dsn: %q}
  pgx: {driver: pgx, dsn: %q}
  my: {driver: mysql, dsn: %q}
  badpw: {driver: mysql, dsn: %q}
  down: {driver: mysql, dsn: "root@tcp(%s)/x"}
reconciliations:
  - name: r
    source: %s
    target: %s
    key: [{source: id, type: int}]
    fields: %s
`, pg, pg, my, wrong.FormatDSN(), closed, c.source, c.target, c.fields)
			dir := t.TempDir()
			path := filepath.Join(dir, "recon.yaml")
			for name, text := range map[string]string{"recon.yaml": text, "sorted.sql": "SELECT id, v FROM deals ORDER BY v DESC"} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			r := &runner.Runner{Config: cfg, Out: filepath.Join(t.TempDir(), "out")}
			run, _, err := r.Run(ctx, cfg.Reconciliations)
			if err != nil {
				t.Fatal(err)
			}
			res := run.Results[0]
			if res.Error == nil || res.ErrorClass == nil || *res.ErrorClass != c.class || res.ErrorHint == nil || *res.ErrorHint == "" {
				t.Fatalf("error %v, class %v, want %s", deref(res.Error), deref(res.ErrorClass), c.class)
			}
			if strings.Contains(*res.Error, "not-the-password") {
				t.Errorf("the error shows the password: %s", *res.Error)
			}
		})
	}
}

// The classes no server can be made to show on demand.
func TestErrorClassesOfLocalFailures(t *testing.T) {
	_, missingFile := os.Open(filepath.Join(t.TempDir(), "crm.db"))
	_, missingSocket := net.Dial("unix", filepath.Join(t.TempDir(), "mysqld.sock"))
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, spillInFile := os.CreateTemp(notDir, "recon-spill-")
	// A ragged CSV file, read to its bad row.
	files := t.TempDir()
	if err := os.WriteFile(filepath.Join(files, "bad.csv"), []byte("id,v\n1,a\n2,b,extra\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var ragged error
	if sys, err := sources.Open(context.Background(), sources.Config{Name: "files", Driver: "csv", DSN: files}); err != nil {
		t.Fatal(err)
	} else if rows, err := sys.Table(queries.Selection{Table: "bad.csv"}).Scan(context.Background(), []string{"id", "v"}); err != nil {
		ragged = err
	} else {
		for rows.Next() {
		}
		ragged = rows.Err()
		rows.Close()
	}
	if ragged == nil {
		t.Fatal("a ragged CSV file read without an error")
	}
	for _, c := range []struct {
		err   error
		class string
	}{
		// A file's error is a net.Error too: it must not read as one.
		{fmt.Errorf("system %q: open: %w", "crm", missingFile), runner.ClassConfig},
		{fmt.Errorf("system %q: connect: %w", "billing", missingSocket), runner.ClassConnectivity},
		{fmt.Errorf("spill directory: %w", spillInFile), runner.ClassConfig}, // --tmp names a file
		{ragged, runner.ClassConfig},
		{fmt.Errorf("spill: write /tmp/x: %w", syscall.ENOSPC), runner.ClassResource},
		{errors.New("index out of range"), runner.ClassInternal},
		{&runner.BusyError{Reconciliation: "r"}, runner.ClassBusy},
	} {
		if class, step := runner.Classify(c.err); class != c.class || step == "" {
			t.Errorf("%v: class %s (%q), want %s", c.err, class, step, c.class)
		}
	}
}
