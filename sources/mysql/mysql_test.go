package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/recon-dev/recon/internal/dbtest"
	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/sources"
	"github.com/recon-dev/recon/sources/mysql"
	"github.com/recon-dev/recon/sources/sourcetest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// hostileZone is the global time zone of a throwaway server: sessions that
// do not choose their zone are in it, and the adapter must choose UTC.
const hostileZone = "+07:00"

func newDatabase(t *testing.T) (string, *sql.DB) {
	t.Helper()
	dsn := dbtest.MySQL(t)
	setup, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { setup.Close() })
	// Only on a throwaway server, which no one else uses.
	if os.Getenv("RECON_TEST_MYSQL_DSN") == "" {
		if _, err := setup.Exec("SET GLOBAL time_zone = '" + hostileZone + "'"); err != nil {
			t.Fatalf("set the server's zone: %v", err)
		}
		fresh, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer fresh.Close()
		var zone string
		if err := fresh.QueryRow("SELECT @@session.time_zone").Scan(&zone); err != nil || zone != hostileZone {
			t.Fatalf("a new session's time_zone is %q (%v), want the server's %s", zone, err, hostileZone)
		}
	}
	return dsn, setup
}

func harness() sourcetest.Harness {
	return sourcetest.Harness{
		Driver:      "mysql",
		Dialect:     mysql.Dialect{},
		NewDatabase: newDatabase,
		Types: sourcetest.Types{
			Integer:     sourcetest.Type{DDL: "INT", Family: sources.Integer},
			BigInt:      sourcetest.Type{DDL: "BIGINT", Family: sources.Integer},
			Decimal:     sourcetest.Type{DDL: "DECIMAL(12,2)", Family: sources.Decimal},
			Float:       sourcetest.Type{DDL: "DOUBLE", Family: sources.Float},
			Bool:        sourcetest.Type{DDL: "BOOLEAN", Family: sources.Integer}, // TINYINT(1)
			VarChar:     sourcetest.Type{DDL: "VARCHAR(100)", Family: sources.Text},
			Text:        sourcetest.Type{DDL: "TEXT", Family: sources.Text},
			Date:        sourcetest.Type{DDL: "DATE", Family: sources.Date},
			Timestamp:   sourcetest.Type{DDL: "DATETIME(6)", Family: sources.Timestamp},
			TimestampTZ: sourcetest.Type{DDL: "TIMESTAMP(6) NULL", Family: sources.Timestamp},
		},
		ZonedSession: "SET time_zone = '+05:00'",
		LockTimeout:  "SET SESSION lock_wait_timeout = 10",
		Unreachable: func(t *testing.T) string {
			return fmt.Sprintf("recon:%s@tcp(127.0.0.1:%d)/recon", sourcetest.Secret, sourcetest.ClosedPort(t))
		},
		UnreachableWithin: 12 * time.Second, // Configure's connect timeout is 10s
		HostileSession:    "SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_BACKSLASH_ESCAPES')",
		Client:            func(t *testing.T, dsn, script string) { dbtest.RunClient(t, "mysql", dsn, script) },
	}
}

func TestConformance(t *testing.T) { sourcetest.Run(t, harness()) }

// withUser returns dsn changed to log in as user with password pw.
func withUser(t *testing.T, dsn, user, pw string, params map[string]string) string {
	t.Helper()
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Passwd = user, pw
	for k, v := range params {
		if cfg.Params == nil {
			cfg.Params = map[string]string{}
		}
		cfg.Params[k] = v
	}
	return cfg.FormatDSN()
}

// createUser creates a user with password pw allowed to read the database
// of dsn, dropped at the end of the test.
func createUser(t *testing.T, dsn string, setup *sql.DB, pw string) string {
	t.Helper()
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	user := fmt.Sprintf("recon_%08x", rand.Uint32())
	for _, stmt := range []string{
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", user, pw),
		fmt.Sprintf("GRANT SELECT ON `%s`.* TO '%s'@'%%'", cfg.DBName, user),
	} {
		if _, err := setup.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() { setup.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user)) })
	return user
}

// TestPasswordsHidden checks that neither a wrong password nor the right
// one shows in errors: at login, and in errors of a read whose SQL
// happens to contain the password.
func TestPasswordsHidden(t *testing.T) {
	t.Parallel()
	const right = "s3cr3t-Right!"
	dsn, setup := newDatabase(t)
	if _, err := setup.Exec("CREATE TABLE opps (id INT, stage VARCHAR(50))"); err != nil {
		t.Fatal(err)
	}
	user := createUser(t, dsn, setup, right)
	ctx := context.Background()

	wrong := withUser(t, dsn, user, sourcetest.Secret, nil)
	if !strings.Contains(wrong, sourcetest.Secret) {
		t.Fatalf("DSN %q does not hold the password", wrong)
	}
	db, err := sources.OpenDB(ctx, sources.Config{Name: sourcetest.SystemName, Driver: "mysql", DSN: wrong})
	if err == nil {
		db.Close()
		t.Fatal("Open with a wrong password succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, sourcetest.Secret) || !strings.Contains(msg, sourcetest.SystemName) || !strings.Contains(msg, "Access denied") {
		t.Errorf("Open with a wrong password: error %q, want it to name %q, say access was denied, and not show the password", msg, sourcetest.SystemName)
	}

	db, err = sources.OpenDB(ctx, sources.Config{Name: sourcetest.SystemName, Driver: "mysql", DSN: withUser(t, dsn, user, right, nil)})
	if err != nil {
		t.Fatalf("Open with the right password: %v", err)
	}
	defer db.Close()
	// MySQL quotes an unknown column's name in its error.
	sel := queries.Selection{Table: "opps", Where: "`" + right + "` = 1"}
	_, err = db.Relation(sel).Columns(ctx)
	if err == nil {
		t.Fatal("Columns with a filter naming a missing column: no error")
	}
	if msg := err.Error(); strings.Contains(msg, right) || !strings.Contains(msg, "Unknown column") {
		t.Errorf("Columns: error %q, want MySQL's unknown column error with the password hidden", msg)
	}
	// The DSN's password hidden in a malformed DSN too.
	_, err = sources.OpenDB(ctx, sources.Config{Name: sourcetest.SystemName, Driver: "mysql", DSN: user + ":" + right + "@tcp(127.0.0.1:1/db"})
	if err == nil || strings.Contains(err.Error(), right) {
		t.Errorf("Open of a malformed DSN: error %v, want one without the password", err)
	}
}

// TestSessionForced checks that the DSN options recon relies on win over
// the user's: a session zone and parseTime in the DSN change nothing.
func TestSessionForced(t *testing.T) {
	t.Parallel()
	dsn, setup := newDatabase(t)
	ctx := context.Background()
	conn, err := setup.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, stmt := range []string{
		"CREATE TABLE times (id INT, ts DATETIME(6), tz TIMESTAMP(6) NULL, d DATE)",
		"SET time_zone = '+00:00'",
		"INSERT INTO times VALUES (1, '2024-03-10 02:30:00.123456', '2024-03-01 12:00:00', '2024-03-10')",
	} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ParseTime = true
	cfg.Params = map[string]string{"time_zone": "'+09:00'"}
	db, err := sources.OpenDB(context.Background(), sources.Config{Name: "my", Driver: "mysql", DSN: cfg.FormatDSN()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Relation(queries.Selection{Table: "times"}).Scan(context.Background(), []string{"ts", "tz", "d"})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("no row: %v", rows.Err())
	}
	want := []string{"2024-03-10 02:30:00.123456", "2024-03-01 12:00:00.000000+00:00", "2024-03-10"}
	var got []string
	for _, v := range rows.Row() {
		got = append(got, string(v))
	}
	if !slices.Equal(got, want) {
		t.Errorf("with time_zone +09:00 and parseTime in the DSN, read %q, want %q", got, want)
	}
}

// TestUnusualTypes checks the text of MySQL types beyond the suite's.
func TestUnusualTypes(t *testing.T) {
	t.Parallel()
	cases := []sourcetest.TypeCase{
		{Col: "bit1", DDL: "BIT(1)", Value: "b'1'", Want: "1"},
		{Col: "bit8", DDL: "BIT(8)", Value: "b'10000001'", Want: "129"},
		{Col: "y", DDL: "YEAR", Value: "2024", Want: "2024"},
		{Col: "e", DDL: "ENUM('a','b')", Value: "'b'", Want: "b"},
		{Col: "st", DDL: "SET('a','b')", Value: "'a,b'", Want: "a,b"},
		{Col: "c", DDL: "CHAR(5)", Value: "'ab'", Want: "ab"},
		{Col: "j", DDL: "JSON", Value: `'{"a": 1}'`, Want: `{"a": 1}`},
		{Col: "tm", DDL: "TIME(3)", Value: "'-01:02:03.500'", Want: "-01:02:03.500"},
		{Col: "dc", DDL: "DECIMAL(30,10)", Value: "'12345678901234567890.0123456789'", Want: "12345678901234567890.0123456789"},
		{Col: "ti", DDL: "TINYINT", Value: "-128", Want: "-128"},
		{Col: "iu", DDL: "INT UNSIGNED", Value: "4294967295", Want: "4294967295"},
		{
			Col: "bu", DDL: "BIGINT UNSIGNED", Value: "42", Want: "42",
		},
		{
			Col: "bumax", DDL: "BIGINT UNSIGNED", Value: "18446744073709551615", Want: "18446744073709551615",
		},
		{
			// FLOAT reads as its exact float64 widening, like PostgreSQL's
			// real: the text protocol alone would give 6 digits ("3.14159").
			Col: "fl", DDL: "FLOAT", Value: "0.1", Want: "0.10000000149011612",
		},
		{
			Col: "fl2", DDL: "FLOAT", Value: "3.14159265", Want: "3.1415927410125732",
		},
		{
			Col: "fl3", DDL: "FLOAT", Value: "123456.789", Want: "123456.7890625",
		},
	}
	dsn, setup := newDatabase(t)
	sourcetest.CheckTypes(t, "mysql", dsn, setup, cases)
}

func TestSecrets(t *testing.T) {
	for _, c := range []struct {
		dsn  string
		want []string
	}{
		{"recon:hunter2@tcp(db:3306)/crm", []string{"hunter2"}},
		{"recon:p@ss:w0rd@tcp(db:3306)/crm", []string{"p@ss:w0rd"}},
		{"recon@tcp(db:3306)/crm", nil},
		{"recon:hunter2@tcp(db:3306/crm", []string{"hunter2"}}, // unparsable
	} {
		got := mysql.Dialect{}.Secrets(c.dsn)
		if !slices.Equal(got, c.want) {
			t.Errorf("Secrets(%q) = %q, want %q", c.dsn, got, c.want)
		}
	}
}

func TestConfigure(t *testing.T) {
	got, err := mysql.Dialect{}.Configure("recon:pw@tcp(db:3306)/crm?parseTime=true&time_zone=%27%2B09%3A00%27", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := gomysql.ParseDSN(got)
	if err != nil {
		t.Fatalf("Configure returned %q, which does not parse: %v", got, err)
	}
	if cfg.ParseTime || cfg.Params["time_zone"] != "'+00:00'" || cfg.Timeout != 10*time.Second || cfg.Loc != time.UTC {
		t.Errorf("Configure = %q: parseTime %v, time_zone %q, timeout %v, loc %v; want false, '+00:00', 10s, UTC",
			got, cfg.ParseTime, cfg.Params["time_zone"], cfg.Timeout, cfg.Loc)
	}
	if cfg.User != "recon" || cfg.Passwd != "pw" || cfg.Addr != "db:3306" || cfg.DBName != "crm" {
		t.Errorf("Configure = %q lost the user's settings", got)
	}
	got, err = mysql.Dialect{}.Configure("recon@tcp(db)/crm?timeout=3s", "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg, _ := gomysql.ParseDSN(got); cfg == nil || cfg.Timeout != 3*time.Second {
		t.Errorf("Configure = %q, want the user's timeout 3s kept", got)
	}
	if _, err := (mysql.Dialect{}).Configure("not a dsn", ""); err == nil {
		t.Error("Configure of a malformed DSN: no error")
	}
}

func TestQuoteIdent(t *testing.T) {
	for in, want := range map[string]string{
		"order":      "`order`",
		"Mixed Case": "`Mixed Case`",
		"a`b":        "`a``b`",
		`a"b`:        "`a\"b`",
	} {
		if got := (mysql.Dialect{}).QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
}

func FuzzStringLiteral(f *testing.F) { sourcetest.FuzzLiteral(f, mysql.Dialect{}, false) }

// A decimal's canonical text (checksum mode's) is its digits without
// trailing zeros or a bare point, whatever the column's scale, and the
// same where the scale is unknown and the text is tested for a point.
func TestCanonicalDecimals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn, setup := newDatabase(t)
	for _, stmt := range []string{
		"CREATE TABLE dec_canon (id INT, s0 DECIMAL(12,0), s2 DECIMAL(12,2), s10 DECIMAL(30,10))",
		`INSERT INTO dec_canon VALUES (1, 10, 10.00, 10), (2, -3, -3.25, -3.25), (3, 0, 0.00, 0), (4, 1234567, 100.50, 0.0000000001),
			(5, -0, -0.50, 12345678901234567890.0123456789)`,
	} {
		if _, err := setup.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	want := map[string][]string{
		"s0":  {"10", "-3", "0", "1234567", "0"},
		"s2":  {"10", "-3.25", "0", "100.5", "-0.5"},
		"s10": {"10", "-3.25", "0", "0.0000000001", "12345678901234567890.0123456789"},
	}
	db, err := sources.OpenDB(ctx, sources.Config{Name: "mysql", Driver: "mysql", DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cols, err := db.Relation(queries.Selection{Table: "dec_canon"}).Columns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range cols[1:] {
		if !col.ScaleKnown {
			t.Errorf("%s (%s): scale unknown", col.Name, col.DatabaseType)
		}
		unknown := col
		unknown.ScaleKnown = false
		for _, c := range []sources.Column{col, unknown} {
			expr := mysql.Dialect{}.Canonical("`"+c.Name+"`", c, reconcile.Decimal, true, "'!'")
			rows, err := setup.Query("SELECT " + expr + " FROM dec_canon ORDER BY id")
			if err != nil {
				t.Fatalf("%s: %v", expr, err)
			}
			var got []string
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				got = append(got, s)
			}
			rows.Close()
			if !slices.Equal(got, want[c.Name]) {
				t.Errorf("%s (scale %d, known %v): canonical texts %q, want %q", c.Name, c.Scale, c.ScaleKnown, got, want[c.Name])
			}
		}
	}
}

// TestCancelledChecksumEndsOnTheServer checks that a checksum statement,
// which sends nothing until it has summed the whole table, stops on the
// server when its context is cancelled or its pool aborted (a run's
// timeout), for a user with no privilege but SELECT: the driver only
// closes its connection, which the server would notice at the statement's
// end.
func TestCancelledChecksumEndsOnTheServer(t *testing.T) {
	dsn, setup := newDatabase(t)
	if _, err := setup.Exec("CREATE TABLE slow (id BIGINT PRIMARY KEY, v INT)"); err != nil {
		t.Fatal(err)
	}
	var values []string
	for i := range 1000 {
		values = append(values, fmt.Sprintf("(%d, %d)", i, i%7))
	}
	if _, err := setup.Exec("INSERT INTO slow VALUES " + strings.Join(values, ", ")); err != nil {
		t.Fatal(err)
	}
	reader := withUser(t, dsn, createUser(t, dsn, setup, "pw"), "pw", nil)
	for _, how := range []string{"context cancelled", "pool aborted"} {
		t.Run(how, func(t *testing.T) {
			db, err := sources.OpenDB(context.Background(), sources.Config{Name: "billing", Driver: "mysql", DSN: reader})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			// A billion rows stand for a large table. (A SLEEP would not
			// do: it looks every few seconds for its client, which a pass
			// over a table never does.)
			rel := db.Relation(queries.Selection{Query: "SELECT a.id, a.v + b.v + c.v AS v FROM slow a, slow b, slow c"})
			sess, why, err := rel.OpenChecksums(context.Background(), reconcile.ChecksumPlan{Side: reconcile.TargetSide,
				Key: reconcile.ChecksumColumn{Name: "id", Type: reconcile.Int}, Columns: []reconcile.ChecksumColumn{{Name: "v", Type: reconcile.Int}}})
			if err != nil || why != "" {
				t.Fatalf("OpenChecksums: %q, %v", why, err)
			}
			defer sess.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := sess.Sums(ctx, reconcile.SegmentLevel{Count: 64})
				done <- err
			}()
			time.Sleep(500 * time.Millisecond)
			start := time.Now()
			if how == "context cancelled" {
				cancel()
			} else {
				db.Abort()
			}
			const running = "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '%slow a, slow b%' AND ID <> CONNECTION_ID()"
			for {
				var id int64
				err := setup.QueryRow(running).Scan(&id)
				if errors.Is(err, sql.ErrNoRows) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if time.Since(start) > 10*time.Second {
					setup.Exec(fmt.Sprintf("KILL QUERY %d", id)) // else the test waits for it
					t.Fatalf("the checksum statement still runs on the server %s after the %s", time.Since(start).Round(time.Second), how)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err := <-done; err == nil {
				t.Error("Sums ended without an error")
			}
		})
	}
}

// TestGuardsOfFloats checks that a repair's guard holds on a FLOAT or
// DOUBLE row unchanged since the snapshot read it: the snapshot reads
// them as the driver's float64 ("1e-07"), which MySQL writes otherwise
// ("1e-7"), so a text guard never held and the repair did nothing.
func TestGuardsOfFloats(t *testing.T) {
	dsn, setup := newDatabase(t)
	for _, stmt := range []string{
		"CREATE TABLE fl (id INT PRIMARY KEY, d DOUBLE, f FLOAT)",
		"INSERT INTO fl VALUES (1, 1e-7, 3.4e38), (2, 123456789012345680000, 16777217), (3, NULL, 0.1), (4, -2.5, -1e-30)",
	} {
		if _, err := setup.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sources.OpenDB(context.Background(), sources.Config{Name: "billing", Driver: "mysql", DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rel := db.Relation(queries.Selection{Table: "fl"})
	cols, err := rel.Columns(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rows, err := rel.Scan(context.Background(), []string{"id", "d", "f"})
	if err != nil {
		t.Fatal(err)
	}
	var changes []queries.Change
	for rows.Next() {
		reads := make([]queries.Reads, 3)
		for i, v := range rows.Row() {
			reads[i] = queries.Reads{Column: cols[i].Name, DatabaseType: cols[i].DatabaseType}
			if v != nil {
				text := string(v)
				reads[i].Text = &text
			}
		}
		changes = append(changes, queries.Change{Table: "fl", Set: []queries.Cell{{Column: "id", Value: "id"}}, Key: reads[:1], Guard: reads[1:]})
	}
	if err := rows.Err(); err != nil || len(changes) != 4 {
		t.Fatalf("%d rows read, %v", len(changes), err)
	}
	rows.Close()
	for _, c := range changes {
		stmt, err := queries.Update(mysql.Dialect{}, c)
		if err != nil {
			t.Fatal(err)
		}
		// CLIENT_FOUND_ROWS is off: a row matched and set to itself counts
		// as none changed, so the guard is checked with a SELECT.
		_, where, _ := strings.Cut(stmt, " WHERE ")
		var n int
		if err := setup.QueryRow("SELECT COUNT(*) FROM fl WHERE " + where).Scan(&n); err != nil || n != 1 {
			t.Errorf("the guard of the unchanged row %s holds on %d rows (%v): %s", *c.Key[0].Text, n, err, where)
		}
	}
	// ... and not once the row has changed, by the least a double can.
	if _, err := setup.Exec("UPDATE fl SET d = 1.0000000000000002e-7 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	stmt, err := queries.Update(mysql.Dialect{}, changes[0])
	if err != nil {
		t.Fatal(err)
	}
	_, where, _ := strings.Cut(stmt, " WHERE ")
	var n int
	if err := setup.QueryRow("SELECT COUNT(*) FROM fl WHERE " + where).Scan(&n); err != nil || n != 0 {
		t.Errorf("the guard of the changed row holds on %d rows (%v): %s", n, err, where)
	}
}
