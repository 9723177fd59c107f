package dbtest

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// RunClient feeds script to the database's own command-line client, as a
// person applying a repair file would: psql for "postgres" and "pgx" (dsn
// a postgres:// URL), mariadb (or mysql) for "mysql" (dsn a go-sql-driver
// DSN), sqlite3 for "sqlite" (dsn a file path). The client stops at the
// first error, which fails the test with its output. A client that is not
// installed skips the test, or fails it under RECON_TEST_REQUIRE_DB=1.
func RunClient(t testing.TB, driver, dsn, script string) {
	t.Helper()
	var cmd *exec.Cmd
	switch driver {
	case "postgres", "pgx":
		cmd = client(t, []string{"psql"}, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-", dsn)
	case "mysql":
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		host, port, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			t.Fatalf("mysql dsn %q: %v", dsn, err)
		}
		cmd = client(t, []string{"mariadb", "mysql"}, "--protocol=tcp", "--host="+host, "--port="+port,
			"--user="+cfg.User, "--database="+cfg.DBName)
		cmd.Env = append(os.Environ(), "MYSQL_PWD="+cfg.Passwd)
	case "sqlite":
		cmd = client(t, []string{"sqlite3"}, "-bail", dsn)
	default:
		t.Fatalf("RunClient: unknown driver %q", driver)
	}
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out.String())
	}
}

// client finds the first installed of names and returns its command.
func client(t testing.TB, names []string, args ...string) *exec.Cmd {
	t.Helper()
	for _, n := range names {
		if path, err := exec.LookPath(n); err == nil {
			return exec.Command(path, args...)
		}
	}
	msg := "command-line client not installed: " + strings.Join(names, " or ")
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("%s (%s=1 requires it)", msg, requireEnv)
	}
	t.Skipf("%s (%s=1 turns this skip into a failure)", msg, requireEnv)
	return nil
}
