// Package sourcetest is the conformance suite of sources, in two parts:
// RunGeneric, which every kind of source passes (files too), and Run, the
// SQL part, which every SQL adapter passes against a real database of its
// kind, and which runs the generic part on it as well. An adapter's test calls
// Run with a Harness describing how to get a fresh database and which column
// types to create:
//
//	func TestConformance(t *testing.T) {
//		sourcetest.Run(t, sourcetest.Harness{Driver: "postgres", Dialect: postgres.Dialect{}, ...})
//	}
//
// The suite reads only through the public API the engine uses (sources.Open,
// DB.Relation, Relation.Columns, Relation.Scan) and checks the promises of
// the sources package documentation: values as exact text, NULL distinct from
// the empty string, bytes preserved, zone-less timestamps kept zone-less and
// zoned ones carrying their offset, quoted identifiers, column resolution,
// filters and query files, read-only consistent snapshots that end on Close,
// streaming with cancellation, and errors that name the system and never show
// a password.
package sourcetest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/sources"
)

// Secret is the password the suite's DSNs carry where a Harness builds a DSN
// with one: no error may contain it.
const Secret = "s3cr3t-Wrong!"

// SystemName is the system name the suite opens every database under; every
// error must name it.
const SystemName = "conformance-system"

// Type is the DDL of a column type in one dialect and the family that
// sources.FamilyOf must find for the type the database reports for it.
type Type struct {
	DDL    string
	Family sources.Family
}

// Types are the column types the suite creates.
type Types struct {
	Integer     Type // holds 42, -7
	BigInt      Type // holds every int64
	Decimal     Type // exact, scale 2: holds 9999999999.99 (SQLite: TEXT)
	Float       Type // an IEEE double
	Bool        Type
	VarChar     Type // variable length, at least 100 characters, keeps trailing spaces
	Text        Type // unbounded text
	Date        Type
	Timestamp   Type // zone-less: a wall clock
	TimestampTZ Type // an instant
}

// Harness describes one adapter under test.
type Harness struct {
	// Driver is the adapter's registered driver name: "postgres", "mysql", "sqlite".
	Driver string
	// Dialect is the adapter's dialect, used directly where the suite needs
	// more than the sources API (snapshots) and to quote setup DDL.
	Dialect sources.Dialect
	// NewDatabase returns a fresh empty database: the DSN recon is given, and
	// a read-write *sql.DB to set it up. Both live until the test ends.
	NewDatabase func(t *testing.T) (dsn string, setup *sql.DB)
	// Types are the dialect's DDL per kind of column.
	Types Types
	// ZonedSession, if set, is the statement that puts a session in a time
	// zone five hours east of UTC (UTC+05:00 on 2024-03-01). The suite writes
	// the zoned timestamp through such a session as the wall clock
	// '2024-03-01 17:00:00', which is the instant 12:00Z. If empty (SQLite)
	// the suite stores the text '2024-03-01T12:00:00Z'.
	ZonedSession string
	// LockTimeout, if set, is the statement that limits how long a session
	// waits for a lock, so that a snapshot left open fails a test instead of
	// hanging it.
	LockTimeout string
	// CaseSensitiveColumns says the dialect can have two columns whose names
	// differ only in case.
	CaseSensitiveColumns bool
	// Unreachable returns a DSN, holding Secret as its password where the
	// dialect has passwords, of a database that cannot be reached (a closed
	// port, a missing file). Open must fail within UnreachableWithin.
	Unreachable       func(t *testing.T) string
	UnreachableWithin time.Duration
	// HostileSession, if set, is a statement after which a session reads
	// string literals differently (PostgreSQL standard_conforming_strings
	// off, MySQL NO_BACKSLASH_ESCAPES): repair SQL must mean the same.
	HostileSession string
	// Client runs the database's own command-line client (psql, mariadb,
	// sqlite3) with script as its input against the database of dsn, and
	// fails the test if it fails. Nil skips those checks.
	Client func(t *testing.T, dsn, script string)
}

// Run runs every conformance subtest against h.
func Run(t *testing.T, h Harness) {
	if h.Driver == "" || h.Dialect == nil || h.NewDatabase == nil {
		t.Fatal("sourcetest: Harness needs Driver, Dialect and NewDatabase")
	}
	tests := []struct {
		name string
		run  func(*testing.T, Harness)
	}{
		{"Registered", testRegistered},
		{"Values", testValues},
		{"NullAndEmpty", testNullAndEmpty},
		{"TextBytes", testTextBytes},
		{"Time", testTime},
		{"Identifiers", testIdentifiers},
		{"ColumnResolution", testColumnResolution},
		{"Selections", testSelections},
		{"BadSelections", testBadSelections},
		{"Snapshot", testSnapshot},
		{"SnapshotEndsOnClose", testSnapshotEnds},
		{"Streaming", testStreaming},
		{"Cancel", testCancel},
		{"Unreachable", testUnreachable},
		{"RepairText", testRepairText},
		{"Partition", testPartition},
		{"UniqueColumn", testUniqueColumn},
		{"ChecksumSegments", testChecksumSegments},
		{"TextPartition", testTextPartition},
		{"Generic", testGeneric},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, h)
		})
	}
}

// testGeneric runs the suite every source passes, on tables of h's text
// type.
func testGeneric(t *testing.T, h Harness) {
	RunGeneric(t, Fixture{Driver: h.Driver, Table: func(t *testing.T, name string, cols []string, rows [][]*string) (sources.Config, string) {
		e := newEnv(t, h)
		defs := make([]string, 0, 2*len(cols))
		for _, c := range cols {
			defs = append(defs, c, h.Types.Text.DDL)
		}
		e.create(name, defs...)
		quoted := make([]string, len(cols))
		for i, c := range cols {
			quoted[i] = e.q(c)
		}
		marks := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
		for len(rows) > 0 {
			batch := rows[:min(len(rows), 500)]
			rows = rows[len(batch):]
			var args []any
			for _, r := range batch {
				for _, v := range r {
					if v == nil {
						args = append(args, nil)
					} else {
						args = append(args, *v)
					}
				}
			}
			e.exec(fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", e.q(name), strings.Join(quoted, ", "),
				strings.TrimSuffix(strings.Repeat(marks+", ", len(batch)), ", ")), args...)
		}
		return sources.Config{Name: SystemName, Driver: h.Driver, DSN: e.dsn}, name
	}})
}

// env is one fresh database of a test.
type env struct {
	t     *testing.T
	h     Harness
	dsn   string
	setup *sql.DB
	db    *sources.DB
}

func newEnv(t *testing.T, h Harness) *env {
	t.Helper()
	dsn, setup := h.NewDatabase(t)
	return &env{t: t, h: h, dsn: dsn, setup: setup}
}

// ctx returns a context for one step of a test, cancelled at its end.
func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	e.t.Cleanup(cancel)
	return ctx
}

// q quotes an identifier for setup SQL.
func (e *env) q(name string) string { return e.h.Dialect.QuoteIdent(name) }

// exec runs setup SQL written with ? placeholders.
func (e *env) exec(query string, args ...any) {
	e.t.Helper()
	query = sqlx.Rebind(sqlx.BindType(e.h.Dialect.DriverName()), query)
	if _, err := e.setup.ExecContext(e.ctx(), query, args...); err != nil {
		e.t.Fatalf("setup %q: %v", query, err)
	}
}

// create creates table name with the columns given as name, DDL pairs.
func (e *env) create(name string, cols ...string) {
	e.t.Helper()
	defs := make([]string, 0, len(cols)/2)
	for i := 0; i < len(cols); i += 2 {
		defs = append(defs, e.q(cols[i])+" "+cols[i+1])
	}
	e.exec(fmt.Sprintf("CREATE TABLE %s (%s)", e.q(name), strings.Join(defs, ", ")))
}

// open opens the database through recon, once.
func (e *env) open() *sources.DB {
	e.t.Helper()
	if e.db == nil {
		db, err := sources.OpenDB(e.ctx(), sources.Config{Name: SystemName, Driver: e.h.Driver, DSN: e.dsn})
		if err != nil {
			e.t.Fatalf("sources.Open: %v", err)
		}
		e.t.Cleanup(func() { db.Close() })
		e.db = db
	}
	return e.db
}

// with returns e for a subtest t, sharing the database and connection.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

func (e *env) rel(sel queries.Selection) *sources.Relation { return e.open().Relation(sel) }

// scan reads every record of sel's columns, copied, and fails the test on
// any error.
func (e *env) scan(sel queries.Selection, cols ...string) [][][]byte {
	e.t.Helper()
	rows, err := e.rel(sel).Scan(e.ctx(), cols)
	if err != nil {
		e.t.Fatalf("Scan %v of %s: %v", cols, sel, err)
	}
	defer rows.Close()
	var out [][][]byte
	for rows.Next() {
		row := rows.Row()
		if len(row) != len(cols) {
			e.t.Fatalf("Scan %v of %s: a row has %d columns, want %d", cols, sel, len(row), len(cols))
		}
		cp := make([][]byte, len(row))
		for i, v := range row {
			cp[i] = bytes.Clone(v) // keeps nil nil and empty non-nil
		}
		out = append(out, cp)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatalf("Scan %v of %s: Err: %v", cols, sel, err)
	}
	if err := rows.Close(); err != nil {
		e.t.Fatalf("Scan %v of %s: Close: %v", cols, sel, err)
	}
	return out
}

// scanByID is scan with the relation's first requested column an id: the
// records keyed by it, the id left out.
func (e *env) scanByID(sel queries.Selection, cols ...string) map[string][][]byte {
	e.t.Helper()
	out := map[string][][]byte{}
	for _, row := range e.scan(sel, cols...) {
		if row[0] == nil {
			e.t.Fatalf("Scan %v of %s: NULL id", cols, sel)
		}
		id := string(row[0])
		if _, dup := out[id]; dup {
			e.t.Fatalf("Scan %v of %s: id %s read twice", cols, sel, id)
		}
		out[id] = row[1:]
	}
	return out
}

func ids(m map[string][][]byte) []string {
	out := make([]string, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.SortFunc(out, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	return out
}

// show renders a value for messages: NULL, or the text quoted with its bytes.
func show(v []byte) string {
	if v == nil {
		return "NULL"
	}
	return fmt.Sprintf("%q (% x)", v, v)
}

// checkErr checks that err is a clean error from the system: non-nil,
// naming the system, and without Secret.
func checkErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one", what)
		return
	}
	if msg := err.Error(); !strings.Contains(msg, SystemName) {
		t.Errorf("%s: error %q does not name the system %q", what, msg, SystemName)
	} else if strings.Contains(msg, Secret) {
		t.Errorf("%s: error %q shows the password", what, msg)
	}
}

func testRegistered(t *testing.T, h Harness) {
	if !slices.Contains(sources.Drivers(), h.Driver) {
		t.Errorf("sources.Drivers() = %v, want it to list %q", sources.Drivers(), h.Driver)
	}
	if got := h.Dialect.DriverName(); got == "" {
		t.Error("Dialect.DriverName() is empty")
	}
}

// testValues checks that numbers and booleans arrive as text the engine
// parses exactly, that NULL in every type reads as nil, and that each type
// is reported as its family.
func testValues(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ty := h.Types
	e.create("vals", "id", ty.Integer.DDL, "i", ty.Integer.DDL, "big", ty.BigInt.DDL,
		"d", ty.Decimal.DDL, "f", ty.Float.DDL, "b", ty.Bool.DDL)
	exact := func(want string) func([]byte) error {
		return func(got []byte) error {
			if string(got) != want {
				return fmt.Errorf("want %q", want)
			}
			return nil
		}
	}
	float := func(want float64) func([]byte) error {
		return func(got []byte) error {
			f, err := strconv.ParseFloat(string(got), 64)
			if err != nil || f != want {
				return fmt.Errorf("want text parsing to the float64 %v (err %v, parsed %v)", want, err, f)
			}
			return nil
		}
	}
	boolean := func(want bool) func([]byte) error {
		return func(got []byte) error {
			ok := slices.Contains([]string{"t", "true", "1"}, string(got))
			if !want {
				ok = slices.Contains([]string{"f", "false", "0"}, string(got))
			}
			if !ok {
				return fmt.Errorf("want %v as one of t/f, true/false, 1/0", want)
			}
			return nil
		}
	}
	cases := []struct {
		col   string
		value any
		check func([]byte) error
	}{
		{"i", 42, exact("42")},
		{"i", -7, exact("-7")},
		{"i", 0, exact("0")},
		{"big", int64(9007199254740993), exact("9007199254740993")}, // 2^53+1: not a float64
		{"big", int64(-9223372036854775808), exact("-9223372036854775808")},
		{"big", int64(9223372036854775807), exact("9223372036854775807")},
		{"d", "10.50", exact("10.50")}, // the scale is kept
		{"d", "-0.01", exact("-0.01")},
		{"d", "0.00", exact("0.00")},
		{"d", "9999999999.99", exact("9999999999.99")},
		{"f", 0.1, float(0.1)},
		{"f", 1e-7, float(1e-7)},
		{"f", 1.0 / 3, float(1.0 / 3)},
		{"f", 123456.789, float(123456.789)},
		{"f", -2.5e300, float(-2.5e300)},
		{"f", 9007199254740993.0, float(9007199254740993.0)},
		{"b", true, boolean(true)},
		{"b", false, boolean(false)},
	}
	cols := []string{"id", "i", "big", "d", "f", "b"}
	for n, c := range cases {
		e.exec(fmt.Sprintf("INSERT INTO vals (id, %s) VALUES (?, ?)", c.col), n+1, c.value)
	}
	nullID := strconv.Itoa(len(cases) + 1)
	e.exec("INSERT INTO vals (id) VALUES (?)", len(cases)+1)

	got := e.scanByID(queries.Selection{Table: "vals"}, cols...)
	if len(got) != len(cases)+1 {
		t.Fatalf("read ids %v, want 1..%d", ids(got), len(cases)+1)
	}
	for n, c := range cases {
		row := got[strconv.Itoa(n+1)]
		if row == nil {
			t.Errorf("row %d (%s = %v) not read", n+1, c.col, c.value)
			continue
		}
		for i, col := range cols[1:] {
			v := row[i]
			if col != c.col {
				if v != nil {
					t.Errorf("row %d: %s = %s, want NULL", n+1, col, show(v))
				}
				continue
			}
			if v == nil {
				t.Errorf("%s = %v reads as NULL", col, c.value)
			} else if err := c.check(v); err != nil {
				t.Errorf("%s = %v reads as %s: %v", col, c.value, show(v), err)
			}
		}
	}
	for i, v := range got[nullID] {
		if v != nil {
			t.Errorf("NULL in %s reads as %s, want nil", cols[i+1], show(v))
		}
	}

	columns, err := e.rel(queries.Selection{Table: "vals"}).Columns(e.ctx())
	if err != nil {
		t.Fatalf("Columns: %v", err)
	}
	want := map[string]Type{"id": ty.Integer, "i": ty.Integer, "big": ty.BigInt, "d": ty.Decimal, "f": ty.Float, "b": ty.Bool}
	checkColumns(t, columns, want)
}

// checkColumns checks the names of columns and the family of each type.
func checkColumns(t *testing.T, columns []sources.Column, want map[string]Type) {
	t.Helper()
	if len(columns) != len(want) {
		t.Errorf("Columns = %v, want %d columns", columns, len(want))
	}
	for _, c := range columns {
		w, ok := want[c.Name]
		if !ok {
			t.Errorf("Columns has %q, not one of the table's", c.Name)
			continue
		}
		if got := sources.FamilyOf(c.DatabaseType); got != w.Family {
			t.Errorf("column %s declared %s: database type %q is family %s, want %s", c.Name, w.DDL, c.DatabaseType, got, w.Family)
		}
		if c.DatabaseType != strings.ToUpper(c.DatabaseType) {
			t.Errorf("column %s: database type %q is not upper case", c.Name, c.DatabaseType)
		}
	}
}

// testNullAndEmpty checks that NULL reads as nil and the empty string as a
// non-nil empty slice, in tables and queries.
func testNullAndEmpty(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.create("ne", "id", h.Types.Integer.DDL, "v", h.Types.VarChar.DDL, "t", h.Types.Text.DDL)
	e.exec("INSERT INTO ne (id, v, t) VALUES (1, NULL, NULL), (2, '', ''), (3, ' ', ' ')")
	want := map[string][]byte{"1": nil, "2": {}, "3": []byte(" ")}
	for _, sel := range []queries.Selection{
		{Table: "ne"},
		{Query: "SELECT id, v, t FROM ne"},
		{Query: "SELECT id, v, t FROM ne WHERE id IN (1, 2, 3)"},
	} {
		got := e.scanByID(sel, "id", "v", "t")
		if len(got) != len(want) {
			t.Errorf("%s: read ids %v, want 1, 2, 3", sel, ids(got))
		}
		for id, w := range want {
			for i, col := range []string{"v", "t"} {
				v := got[id][i]
				if (v == nil) != (w == nil) || !bytes.Equal(v, w) {
					t.Errorf("%s: row %s: %s reads as %s, want %s", sel, id, col, show(v), show(w))
				}
			}
		}
	}
}

// testTextBytes checks that text arrives byte for byte.
func testTextBytes(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.create("txt", "id", h.Types.Integer.DDL, "v", h.Types.VarChar.DDL, "t", h.Types.Text.DDL)
	values := []string{
		"abc  ",                      // trailing spaces
		"  abc",                      // leading spaces
		"caf\u00e9",                  // NFC
		"cafe\u0301",                 // NFD: other bytes, same text to a human
		"😀 👍🏽 家族",                    // four-byte UTF-8, a modifier, CJK
		`it's a \ backslash \n "q"`,  // quote, backslash, double quote
		"tab\there\nnew line\r\nend", // control characters
		"%_ LIKE wildcards",
	}
	for i, v := range values {
		e.exec("INSERT INTO txt (id, v, t) VALUES (?, ?, ?)", i+1, v, v)
	}
	got := e.scanByID(queries.Selection{Table: "txt"}, "id", "v", "t")
	for i, want := range values {
		row := got[strconv.Itoa(i+1)]
		if row == nil {
			t.Errorf("row %d (%q) not read", i+1, want)
			continue
		}
		for j, col := range []string{"v", "t"} {
			if !bytes.Equal(row[j], []byte(want)) || row[j] == nil {
				t.Errorf("%s = %q reads as %s, want the same bytes (% x)", col, want, show(row[j]), want)
			}
		}
	}
	if a, b := got["3"], got["4"]; a != nil && b != nil && bytes.Equal(a[0], b[0]) {
		t.Errorf("NFC and NFD forms read as the same bytes %s: one was normalised", show(a[0]))
	}
}

var (
	zoneless = []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"}
	zoned    = func() []string {
		var out []string
		for _, base := range zoneless {
			for _, zone := range []string{"Z07:00", "Z07", "Z0700", " Z07:00", " Z07"} {
				out = append(out, base+zone)
			}
		}
		return out
	}()
)

// parseTime parses s with the first of layouts that accepts it.
func parseTime(s string, layouts []string) (time.Time, bool) {
	for _, l := range layouts {
		if v, err := time.Parse(l, s); err == nil {
			return v, true
		}
	}
	return time.Time{}, false
}

// testTime checks that a zone-less timestamp reads as the same wall clock
// without an offset, a zoned one as the same instant with an offset, and a
// date as YYYY-MM-DD, whatever zone the writing session was in.
func testTime(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ty := h.Types
	e.create("times", "id", ty.Integer.DDL, "ts", ty.Timestamp.DDL, "tz", ty.TimestampTZ.DDL, "d", ty.Date.DDL)
	// 02:30 on 2024-03-10 does not exist in US zones (a DST gap): a layer
	// converting through a local zone would move it.
	const wall = "2024-03-10 02:30:00.123456"
	wantWall := time.Date(2024, 3, 10, 2, 30, 0, 123456000, time.UTC)
	wantInstant := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	e.exec("INSERT INTO times (id, ts, d) VALUES (1, ?, ?)", wall, "2024-03-10")
	e.exec("INSERT INTO times (id) VALUES (2)")
	if h.ZonedSession == "" {
		e.exec("UPDATE times SET tz = ? WHERE id = 1", "2024-03-01T12:00:00Z")
	} else {
		ctx := e.ctx()
		conn, err := e.setup.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, h.ZonedSession); err != nil {
			t.Fatalf("%s: %v", h.ZonedSession, err)
		}
		upd := sqlx.Rebind(sqlx.BindType(h.Dialect.DriverName()), "UPDATE times SET tz = ? WHERE id = 1")
		if _, err := conn.ExecContext(ctx, upd, "2024-03-01 17:00:00"); err != nil {
			t.Fatalf("write the zoned timestamp: %v", err)
		}
	}

	columns, err := e.rel(queries.Selection{Table: "times"}).Columns(e.ctx())
	if err != nil {
		t.Fatalf("Columns: %v", err)
	}
	checkColumns(t, columns, map[string]Type{"id": ty.Integer, "ts": ty.Timestamp, "tz": ty.TimestampTZ, "d": ty.Date})

	for _, sel := range []queries.Selection{
		{Table: "times"},
		{Query: "SELECT id, ts, tz, d FROM times"},
	} {
		got := e.scanByID(sel, "id", "ts", "tz", "d")
		row := got["1"]
		if row == nil {
			t.Errorf("%s: row 1 not read (read %v)", sel, ids(got))
			continue
		}
		if v, ok := parseTime(string(row[0]), zoneless); !ok {
			t.Errorf("%s: zone-less %s %q reads as %s, want a timestamp without offset", sel, ty.Timestamp.DDL, wall, show(row[0]))
		} else if !v.Equal(wantWall) {
			t.Errorf("%s: zone-less %s %q reads as %s, a wall clock of %v", sel, ty.Timestamp.DDL, wall, show(row[0]), v)
		}
		if _, ok := parseTime(string(row[1]), zoneless); ok {
			t.Errorf("%s: zoned %s reads as %s, without an offset", sel, ty.TimestampTZ.DDL, show(row[1]))
		} else if v, ok := parseTime(string(row[1]), zoned); !ok {
			t.Errorf("%s: zoned %s reads as %s, want a timestamp with an offset", sel, ty.TimestampTZ.DDL, show(row[1]))
		} else if !v.Equal(wantInstant) {
			t.Errorf("%s: zoned %s written as %v reads as %s, the instant %v", sel, ty.TimestampTZ.DDL, wantInstant, show(row[1]), v.UTC())
		}
		if string(row[2]) != "2024-03-10" {
			t.Errorf("%s: %s 2024-03-10 reads as %s, want \"2024-03-10\"", sel, ty.Date.DDL, show(row[2]))
		}
		for i, v := range got["2"] {
			if v != nil {
				t.Errorf("%s: NULL %s reads as %s", sel, []string{"ts", "tz", "d"}[i], show(v))
			}
		}
	}
}

// testIdentifiers checks that tables and columns named like keywords, in
// mixed case, or with quote characters can be read.
func testIdentifiers(t *testing.T, h Harness) {
	e := newEnv(t, h)
	names := []string{"select", "Mixed Case", `dq"col`, "bt`col"}
	e.create("order", names[0], h.Types.Integer.DDL, names[1], h.Types.VarChar.DDL, names[2], h.Types.VarChar.DDL, names[3], h.Types.VarChar.DDL)
	e.exec(fmt.Sprintf("INSERT INTO %s (%s, %s, %s, %s) VALUES (1, 'mixed', 'double', 'back')",
		e.q("order"), e.q(names[0]), e.q(names[1]), e.q(names[2]), e.q(names[3])))
	sel := queries.Selection{Table: "order"}
	columns, err := e.rel(sel).Columns(e.ctx())
	if err != nil {
		t.Fatalf("Columns of table order: %v", err)
	}
	var got []string
	for _, c := range columns {
		got = append(got, c.Name)
	}
	if !slices.Equal(got, names) {
		t.Errorf("Columns of table order = %q, want %q", got, names)
	}
	rows := e.scan(sel, names...)
	want := []string{"1", "mixed", "double", "back"}
	if len(rows) != 1 {
		t.Fatalf("read %d rows of table order, want 1", len(rows))
	}
	for i, v := range rows[0] {
		if string(v) != want[i] {
			t.Errorf("column %q reads as %s, want %q", names[i], show(v), want[i])
		}
	}
}

// testColumnResolution checks case-insensitive resolution, the error for a
// missing column and, where the dialect allows it, for an ambiguous one.
func testColumnResolution(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.create("amounts", "id", h.Types.Integer.DDL, "amount", h.Types.Decimal.DDL)
	e.exec("INSERT INTO amounts (id, amount) VALUES (1, '10.50')")
	sel := queries.Selection{Table: "amounts"}
	rows := e.scan(sel, "ID", "AMOUNT")
	if len(rows) != 1 || string(rows[0][0]) != "1" || string(rows[0][1]) != "10.50" {
		t.Errorf("Scan ID, AMOUNT of columns id, amount = %q, want [[1 10.50]]", rows)
	}
	rows = e.scan(sel, "amount", "id") // any order
	if len(rows) != 1 || string(rows[0][0]) != "10.50" || string(rows[0][1]) != "1" {
		t.Errorf("Scan amount, id = %q, want [[10.50 1]]", rows)
	}

	r, err := e.rel(sel).Scan(e.ctx(), []string{"id", "nope"})
	if err == nil {
		r.Close()
		t.Fatal("Scan of a missing column: no error")
	}
	checkErr(t, "Scan of a missing column", err)
	if !errors.Is(err, sources.ErrNoColumn) {
		t.Errorf("Scan of a missing column: error %q does not wrap sources.ErrNoColumn", err)
	}
	for _, s := range []string{`"nope"`, "id", "amount"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Scan of a missing column: error %q does not mention %s", err, s)
		}
	}

	if !h.CaseSensitiveColumns {
		return
	}
	e.create("twins", "id", h.Types.Integer.DDL, "Amount", h.Types.Integer.DDL, "amount", h.Types.Integer.DDL)
	e.exec(fmt.Sprintf("INSERT INTO twins (id, %s, %s) VALUES (1, 100, 200)", e.q("Amount"), e.q("amount")))
	twins := queries.Selection{Table: "twins"}
	r, err = e.rel(twins).Scan(e.ctx(), []string{"AMOUNT"})
	if err == nil {
		r.Close()
		t.Fatal("Scan AMOUNT of columns Amount and amount: no error, want ambiguous")
	}
	checkErr(t, "Scan of an ambiguous column", err)
	if !strings.Contains(err.Error(), "ambiguous") || errors.Is(err, sources.ErrNoColumn) {
		t.Errorf("Scan AMOUNT of columns Amount and amount: error %q, want an ambiguous column (not ErrNoColumn)", err)
	}
	rows = e.scan(twins, "Amount", "amount") // exact names win
	if len(rows) != 1 || string(rows[0][0]) != "100" || string(rows[0][1]) != "200" {
		t.Errorf("Scan Amount, amount = %q, want [[100 200]]", rows)
	}
}

// testPartition checks ScanKeys: a dialect whose columns are typed reads
// each partition of an integer key in the database, in numeric order,
// every row in exactly the partition k mod K (negative keys and the int64
// extremes included), NULL keys in partition 0; a dialect whose are not
// (SQLite) reads every row and says it honoured neither.
func testPartition(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.create("parts", "id", h.Types.BigInt.DDL, "v", h.Types.VarChar.DDL)
	want := map[string]bool{}
	for _, id := range []string{"-9223372036854775808", "9223372036854775807", "-9223372036854775807", "1000003", "-1000003"} {
		e.exec("INSERT INTO parts (id, v) VALUES (" + id + ", 'x')")
		want[id] = true
	}
	for id := -9; id <= 9; id++ {
		e.exec(fmt.Sprintf("INSERT INTO parts (id, v) VALUES (%d, 'y')", id))
		want[fmt.Sprint(id)] = true
	}
	e.exec("INSERT INTO parts (id, v) VALUES (NULL, 'n'), (NULL, 'n')")
	_, typed := h.Dialect.(sources.TypedDialect)
	// Asked to agree on order, it says whether it can, once, and orders
	// only if the answer agrees.
	for _, answer := range []bool{true, false} {
		var asked []bool
		rows, done, err := e.rel(queries.Selection{Table: "parts"}).ScanKeys(e.ctx(), reconcile.KeyScan{Columns: []string{"id", "v"}, Ordered: true,
			Agree: func(can bool) bool { asked = append(asked, can); return answer }})
		if err != nil {
			t.Fatalf("ScanKeys with Agree: %v", err)
		}
		rows.Close()
		if !slices.Equal(asked, []bool{typed}) || done.Ordered != (typed && answer) {
			t.Errorf("ScanKeys with Agree answering %t: asked %v, ordered %t; want asked [%t], ordered %t", answer, asked, done.Ordered, typed, typed && answer)
		}
	}
	for _, sel := range []queries.Selection{{Table: "parts"}, {Table: "parts", Where: "v <> 'x'"}, {Query: "SELECT id, v FROM parts"}} {
		for _, count := range []int{1, 2, 3, 5} {
			seen, nulls := map[string]int{}, 0
			for index := range count {
				rows, done, err := e.rel(sel).ScanKeys(e.ctx(), reconcile.KeyScan{Columns: []string{"id", "v"},
					Partition: &reconcile.Partition{Index: index, Count: count}, Ordered: true})
				if err != nil {
					t.Fatalf("ScanKeys %d/%d of %s: %v", index, count, sel, err)
				}
				if done.Partitioned != typed || done.Ordered != typed {
					t.Fatalf("ScanKeys of %s: %+v, want both %t (typed columns)", sel, done, typed)
				}
				if !typed {
					rows.Close()
					return
				}
				last := int64(math.MinInt64)
				for rows.Next() {
					row := rows.Row()
					if row[0] == nil {
						if index != 0 {
							t.Errorf("partition %d/%d read a NULL key", index, count)
						}
						nulls++
						continue
					}
					id := string(row[0])
					n, err := strconv.ParseInt(id, 10, 64)
					if err != nil {
						t.Fatalf("key %q: %v", id, err)
					}
					if owner := int((n%int64(count) + int64(count)) % int64(count)); owner != index {
						t.Errorf("key %s read in partition %d/%d, belongs to %d", id, index, count, owner)
					}
					if n < last {
						t.Errorf("key %d read after %d", n, last)
					}
					last = n
					seen[id]++
				}
				if err := errors.Join(rows.Err(), rows.Close()); err != nil {
					t.Fatal(err)
				}
			}
			for id := range want {
				if inSel := sel.Where == "" || !strings.HasPrefix(id, "-9223") && id != "9223372036854775807" && !strings.HasSuffix(id, "1000003"); seen[id] != map[bool]int{true: 1}[inSel] {
					t.Errorf("%s in %d partitions: key %s read %d times", sel, count, id, seen[id])
				}
			}
			if nulls != 2 {
				t.Errorf("%s in %d partitions: %d NULL keys read, want 2", sel, count, nulls)
			}
		}
	}
}

// testUniqueColumn checks what a ChecksumDialect takes for a key that
// cannot repeat: a primary key or a unique index of the column alone, and
// nothing else (a plain index, a composite unique index, a column of
// another table).
func testUniqueColumn(t *testing.T, h Harness) {
	d, ok := h.Dialect.(sources.ChecksumDialect)
	if !ok {
		return
	}
	e := newEnv(t, h)
	e.create("u1", "id", h.Types.Integer.DDL+" PRIMARY KEY", "code", h.Types.VarChar.DDL, "a", h.Types.Integer.DDL, "b", h.Types.Integer.DDL, "c", h.Types.Integer.DDL)
	e.exec("CREATE UNIQUE INDEX u1_code ON " + e.q("u1") + " (" + e.q("code") + ")")
	e.exec("CREATE INDEX u1_a ON " + e.q("u1") + " (" + e.q("a") + ")")
	e.exec("CREATE UNIQUE INDEX u1_bc ON " + e.q("u1") + " (" + e.q("b") + ", " + e.q("c") + ")")
	e.create("u2", "a", h.Types.Integer.DDL+" PRIMARY KEY")
	tx, err := h.Dialect.BeginSnapshot(e.ctx(), sqlx.NewDb(e.setup, h.Dialect.DriverName()))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, c := range []struct {
		table, column string
		want          bool
	}{
		{"u1", "id", true}, {"u1", "code", true}, {"u1", "a", false}, {"u1", "b", false}, {"u1", "c", false},
		{"u2", "a", true}, {"missing", "a", false},
	} {
		if got := d.UniqueColumn(e.ctx(), tx, c.table, c.column); got != c.want {
			t.Errorf("UniqueColumn(%s, %s) = %t, want %t", c.table, c.column, got, c.want)
		}
	}
}

func createOpps(e *env) {
	e.create("opps", "id", e.h.Types.Integer.DDL, "stage", e.h.Types.VarChar.DDL, "amount", e.h.Types.Decimal.DDL)
	e.exec("INSERT INTO opps (id, stage, amount) VALUES (1, 'Closed Won', '10.00'), (2, 'Prospecting', '20.00'), (3, 'Closed Won', '30.00'), (4, NULL, NULL)")
}

// testSelections checks where filters and query texts.
func testSelections(t *testing.T, h Harness) {
	e := newEnv(t, h)
	createOpps(e)
	const won = "SELECT id, stage, amount FROM opps WHERE stage = 'Closed Won'"
	amount := "o.amount"
	if h.Types.Decimal.Family == sources.Text { // amounts as text (SQLite): compare as numbers
		amount = "CAST(o.amount AS REAL)"
	}
	cases := []struct {
		name string
		sel  queries.Selection
		want string
	}{
		{name: "table", sel: queries.Selection{Table: "opps"}, want: "1 2 3 4"},
		{name: "where", sel: queries.Selection{Table: "opps", Where: "stage = 'Closed Won'"}, want: "1 3"},
		{name: "where with white space", sel: queries.Selection{Table: "opps", Where: "  stage = 'Closed Won'\n"}, want: "1 3"},
		{name: "where with OR", sel: queries.Selection{Table: "opps", Where: "stage = 'Closed Won' OR stage = 'Prospecting'"}, want: "1 2 3"},
		{name: "where IS NULL", sel: queries.Selection{Table: "opps", Where: "stage IS NULL"}, want: "4"},
		{name: "where false", sel: queries.Selection{Table: "opps", Where: "1 = 0"}, want: ""},
		{name: "query", sel: queries.Selection{Query: won}, want: "1 3"},
		{name: "query;", sel: queries.Selection{Query: won + ";"}, want: "1 3"},
		{name: "query ; and blank lines", sel: queries.Selection{Query: won + " ;\n\n"}, want: "1 3"},
		{name: "query and comment line", sel: queries.Selection{Query: won + "\n-- closed-won only\n"}, want: "1 3"},
		{name: "query and end-of-line comment", sel: queries.Selection{Query: won + " -- closed-won only"}, want: "1 3"},
		{name: "comment line and query", sel: queries.Selection{Query: "-- header comment\n" + won}, want: "1 3"},
		{name: "multi-line query with ORDER BY", sel: queries.Selection{Query: "SELECT o.id, o.stage\nFROM opps AS o\nWHERE " + amount + " > 15\nORDER BY o.id"}, want: "2 3"},
		{
			name: "query; and comment line", sel: queries.Selection{Query: won + ";\n-- closed-won only\n"}, want: "1 3",
		},
	}
	e.open()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			got := e.scanByID(c.sel, "id", "stage")
			if s := strings.Join(ids(got), " "); s != c.want {
				t.Errorf("%q (where %q): read ids [%s], want [%s]", c.sel.String(), c.sel.Where, s, c.want)
			}
			if _, err := e.rel(c.sel).Columns(e.ctx()); err != nil {
				t.Errorf("Columns of %q: %v", c.sel.String(), err)
			}
		})
	}
}

// testBadSelections checks that a wrong table, filter or query is an error
// naming the system, from Columns and from Scan, and no panic.
func testBadSelections(t *testing.T, h Harness) {
	e := newEnv(t, h)
	createOpps(e)
	for _, sel := range []queries.Selection{
		{Table: "no_such_table"},
		{Table: "opps", Where: "no_such_column = 1"},
		{Table: "opps", Where: "stage = "},
		{Query: "SELEC id FROM opps", QueryFile: "queries/bad.sql"},
		{Query: "SELECT id FROM no_such_table"},
		{Query: "SELECT id, stage FROM opps; SELECT 1"},
	} {
		_, err := e.rel(sel).Columns(e.ctx())
		checkErr(t, fmt.Sprintf("Columns of %s", sel), err)
		r, err := e.rel(sel).Scan(e.ctx(), []string{"id"})
		if err == nil {
			r.Close()
		}
		checkErr(t, fmt.Sprintf("Scan of %s", sel), err)
		if err != nil && sel.QueryFile != "" && !strings.Contains(err.Error(), sel.QueryFile) {
			t.Errorf("Scan of %s: error %q does not name the query file", sel, err)
		}
	}
}

// testSnapshot checks that the dialect's snapshot is read-only and does not
// see what others commit after it started.
func testSnapshot(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.create("snap", "id", h.Types.Integer.DDL)
	e.exec("INSERT INTO snap (id) VALUES (1)")
	dsn, err := h.Dialect.Configure(e.dsn, "")
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	db, err := sqlx.Open(h.Dialect.DriverName(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := e.ctx()
	tx, err := h.Dialect.BeginSnapshot(ctx, db)
	if err != nil {
		t.Fatalf("BeginSnapshot: %v", err)
	}
	defer tx.Rollback()
	count := func(q interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}) int {
		t.Helper()
		var n int
		if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM snap").Scan(&n); err != nil {
			t.Fatalf("count: %v", err)
		}
		return n
	}
	if n := count(tx); n != 1 {
		t.Fatalf("snapshot sees %d rows, want 1", n)
	}
	e.exec("INSERT INTO snap (id) VALUES (2)")
	if n := count(tx); n != 1 {
		t.Errorf("snapshot sees %d rows after another session committed a second one, want still 1 (not a consistent snapshot)", n)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO snap (id) VALUES (3)"); err == nil {
		t.Error("INSERT inside the snapshot transaction succeeded, want it refused (read-only)")
	}
	tx.Rollback()
	if n := count(e.setup); n != 2 {
		t.Errorf("table has %d rows after the snapshot, want 2", n)
	}
}

// testSnapshotEnds checks that reading through recon leaves no transaction
// open: after Columns, a complete and an abandoned Scan, and a failed one,
// another session can alter the table.
func testSnapshotEnds(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.create("locked", "id", h.Types.Integer.DDL)
	e.exec("INSERT INTO locked (id) VALUES (1), (2), (3)")
	sel := queries.Selection{Table: "locked"}
	n := 0
	alter := func(after string) {
		t.Helper()
		n++
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		conn, err := e.setup.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if h.LockTimeout != "" {
			if _, err := conn.ExecContext(ctx, h.LockTimeout); err != nil {
				t.Fatalf("%s: %v", h.LockTimeout, err)
			}
		}
		stmt := fmt.Sprintf("ALTER TABLE locked ADD COLUMN c%d %s", n, h.Types.Integer.DDL)
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			t.Errorf("after %s, another session cannot alter the table (a snapshot left open?): %v", after, err)
		}
	}
	if _, err := e.rel(sel).Columns(e.ctx()); err != nil {
		t.Fatal(err)
	}
	alter("Columns")
	e.scan(sel, "id")
	alter("a complete Scan and Close")
	r, err := e.rel(sel).Scan(e.ctx(), []string{"id"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Next() {
		t.Fatalf("no first row: %v", r.Err())
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close after one row: %v", err)
	}
	alter("a Scan closed after one row")
	if r, err := e.rel(sel).Scan(e.ctx(), []string{"id", "nope"}); err == nil {
		r.Close()
		t.Error("Scan of a missing column: no error")
	}
	alter("a Scan that failed")
	if _, err := e.rel(queries.Selection{Table: "locked", Where: "nope = 1"}).Columns(e.ctx()); err == nil {
		t.Error("Columns with a bad filter: no error")
	}
	alter("Columns that failed")
}

const bigRows = 50000

// createBig creates table big with ids 0..bigRows-1.
func createBig(e *env) {
	e.create("digits", "n", e.h.Types.Integer.DDL)
	e.exec("INSERT INTO digits (n) VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)")
	e.create("big", "id", e.h.Types.Integer.DDL, "name", e.h.Types.VarChar.DDL)
	e.exec(fmt.Sprintf(`INSERT INTO big (id, name)
		SELECT a.n + 10*b.n + 100*c.n + 1000*d.n + 10000*e.n, 'a row of the big table'
		FROM digits a, digits b, digits c, digits d, digits e
		WHERE 10000*e.n < %d`, bigRows))
}

// testStreaming checks that a large table is read completely.
func testStreaming(t *testing.T, h Harness) {
	e := newEnv(t, h)
	createBig(e)
	start := time.Now()
	rows, err := e.rel(queries.Selection{Table: "big"}).Scan(e.ctx(), []string{"id", "name"})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	count, sum := 0, 0
	for rows.Next() {
		row := rows.Row()
		id, err := strconv.Atoi(string(row[0]))
		if err != nil || string(row[1]) != "a row of the big table" {
			t.Fatalf("row %d reads as %s, %s", count, show(row[0]), show(row[1]))
		}
		count++
		sum += id
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("Err after %d rows: %v", count, err)
	}
	if err := rows.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if want := bigRows * (bigRows - 1) / 2; count != bigRows || sum != want {
		t.Errorf("read %d rows with ids summing to %d, want %d rows summing to %d", count, sum, bigRows, want)
	}
	if rows.Next() {
		t.Error("Next after Close returned true")
	}
	t.Logf("%s: scanned %d rows in %v", h.Driver, count, time.Since(start))
	// A read closed long before its end (a run that failed on the other
	// side) closes cleanly, and the system reads on.
	cut, err := e.rel(queries.Selection{Table: "big"}).Scan(e.ctx(), []string{"id", "name"})
	if err != nil {
		t.Fatal(err)
	}
	if !cut.Next() {
		t.Fatalf("no first row: %v", cut.Err())
	}
	if err := cut.Close(); err != nil {
		t.Errorf("Close after one row of %d: %v", bigRows, err)
	}
	if got := len(e.scan(queries.Selection{Table: "big"}, "id")); got != bigRows {
		t.Errorf("after a read cut short, a read finds %d rows, want %d", got, bigRows)
	}
}

// testCancel checks that cancelling the context stops a scan promptly
// with an error.
func testCancel(t *testing.T, h Harness) {
	e := newEnv(t, h)
	createBig(e)
	e.open()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows, err := e.rel(queries.Selection{Table: "big"}).Scan(ctx, []string{"id", "name"})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	count := 0
	for count < 100 && rows.Next() {
		count++
	}
	if count != 100 {
		t.Fatalf("read %d rows before cancelling, want 100 (Err %v)", count, rows.Err())
	}
	cancel()
	start := time.Now()
	done := make(chan int)
	go func() {
		n := 0
		for rows.Next() {
			n++
		}
		done <- n
	}()
	select {
	case n := <-done:
		if count+n >= bigRows {
			t.Errorf("read all %d rows despite the cancel, want Next to return false soon after it", count+n)
		}
		t.Logf("%s: Next returned false %v after cancel, %d rows later", h.Driver, time.Since(start), n)
	case <-time.After(3 * time.Second):
		t.Fatal("Next still returning rows 3s after the context was cancelled")
	}
	if err := rows.Err(); err == nil {
		t.Error("Err after a cancelled scan is nil, want an error")
	} else {
		checkErr(t, "Err after a cancelled scan", err)
	}
	closed := make(chan error)
	go func() { closed <- rows.Close() }()
	select {
	case err := <-closed:
		// The cancel is the error to report, which Err did: the
		// transaction ends whatever the driver made of the connection.
		if err != nil {
			t.Errorf("Close after a cancelled scan: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs after a cancelled scan")
	}
	// The pool still works.
	if got := e.scan(queries.Selection{Table: "digits"}, "n"); len(got) != 10 {
		t.Errorf("after a cancelled scan, read %d digits, want 10", len(got))
	}
}

// testUnreachable checks that a database that cannot be reached fails Open
// quickly, naming the system and not showing the password.
func testUnreachable(t *testing.T, h Harness) {
	if h.Unreachable == nil {
		t.Skip("the harness has no unreachable DSN")
	}
	dsn := h.Unreachable(t)
	within := h.UnreachableWithin
	if within == 0 {
		within = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	db, err := sources.OpenDB(ctx, sources.Config{Name: SystemName, Driver: h.Driver, DSN: dsn, BaseDir: t.TempDir()})
	took := time.Since(start)
	if err == nil {
		db.Close()
		t.Fatalf("Open of an unreachable database succeeded")
	}
	checkErr(t, "Open of an unreachable database", err)
	if took > within {
		t.Errorf("Open of an unreachable database took %v, want at most %v", took, within)
	}
	t.Logf("%s: unreachable: %v after %v", h.Driver, err, took)
}

// FirstRow reads the first record of sel's columns on db, copied.
func FirstRow(ctx context.Context, db *sources.DB, sel queries.Selection, cols ...string) ([][]byte, error) {
	rows, err := db.Relation(sel).Scan(ctx, cols)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("no record")
	}
	out := make([][]byte, len(cols))
	for i, v := range rows.Row() {
		out[i] = bytes.Clone(v)
	}
	return out, rows.Close()
}

// ClosedPort returns a TCP port on 127.0.0.1 where nothing listens.
func ClosedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// TypeCase is a column type, a value as a SQL literal, and the text a
// source must read for it.
type TypeCase struct {
	Col, DDL, Value, Want string
}

// CheckTypes creates a one-row table with a column per case in the
// database behind setup, then checks through a source of driver on dsn
// that every column reads as its case wants.
func CheckTypes(t *testing.T, driver, dsn string, setup *sql.DB, cases []TypeCase) {
	t.Helper()
	defs, cols, values := []string{"id INT"}, []string{"id"}, []string{"1"}
	for _, c := range cases {
		defs = append(defs, c.Col+" "+c.DDL)
		cols = append(cols, c.Col)
		values = append(values, c.Value)
	}
	for _, stmt := range []string{
		"CREATE TABLE odd (" + strings.Join(defs, ", ") + ")",
		"INSERT INTO odd (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(values, ", ") + ")",
	} {
		if _, err := setup.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db, err := sources.OpenDB(context.Background(), sources.Config{Name: driver, Driver: driver, DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range cases {
		t.Run(c.DDL+" "+c.Value, func(t *testing.T) {
			row, err := FirstRow(context.Background(), db, queries.Selection{Table: "odd"}, c.Col)
			if err != nil {
				t.Fatalf("%s %s: %v", c.DDL, c.Value, err)
			}
			if string(row[0]) != c.Want {
				t.Errorf("%s %s reads as %q, want %q", c.DDL, c.Value, row[0], c.Want)
			}
		})
	}
}
