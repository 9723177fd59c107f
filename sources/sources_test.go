package sources_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/sources"
	_ "github.com/recon-dev/recon/sources/all"
)

const secret = "hunter2-Secret!"

// fakeDialect is a dialect whose Configure and database/sql driver echo
// the DSN in their errors, as careless drivers do.
type fakeDialect struct {
	queries.Writer // only what these tests call is implemented below
	sqlDriver      string
}

var errFake = errors.New("fake failure")

func (fakeDialect) QuoteIdent(s string) string { return "[" + s + "]" }
func (d fakeDialect) DriverName() string       { return d.sqlDriver }
func (fakeDialect) Configure(dsn, _ string) (string, error) {
	if strings.Contains(dsn, "reject") {
		return "", fmt.Errorf("%w: cannot use dsn %q", errFake, dsn)
	}
	return dsn, nil
}
func (fakeDialect) Secrets(dsn string) []string {
	var out []string
	for _, f := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(f, "password="); ok {
			out = append(out, v)
		}
	}
	return out
}
func (fakeDialect) BeginSnapshot(context.Context, sources.TxBeginner) (*sqlx.Tx, error) {
	return nil, errors.New("no snapshots")
}
func (fakeDialect) SelectExpr(ref, _ string) string { return ref }

// echoDriver is a database/sql driver that cannot connect and says so with
// the DSN.
type echoDriver struct{}

func (echoDriver) Open(dsn string) (driver.Conn, error) {
	return nil, fmt.Errorf("%w: cannot connect with %s", errFake, dsn)
}

func init() {
	sql.Register("recon-test-echo", echoDriver{})
	sources.Register("recon-test-fake", fakeDialect{sqlDriver: "recon-test-echo"})
	sources.Register("recon-test-nosql", fakeDialect{sqlDriver: "recon-test-no-such-sql-driver"})
}

func TestDrivers(t *testing.T) {
	got := sources.Drivers()
	for _, want := range []string{"mysql", "postgres", "sqlite"} {
		if !slices.Contains(got, want) {
			t.Errorf("Drivers() = %q, want it to list %q (sources/all is imported)", got, want)
		}
	}
	if !slices.IsSorted(got) {
		t.Errorf("Drivers() = %q, want them sorted", got)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "postgres") {
			t.Errorf("Register of postgres twice: recovered %v, want a panic naming the driver", r)
		}
	}()
	sources.Register("postgres", fakeDialect{})
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name     string
		cfg      sources.Config
		contains []string
		is       error
	}{
		{
			name:     "unknown driver",
			cfg:      sources.Config{Name: "crm", Driver: "oracle", DSN: "password=" + secret},
			contains: []string{`"crm"`, `"oracle"`, "forgotten import", "postgres", "mysql", "sqlite"},
		},
		{
			name:     "empty driver",
			cfg:      sources.Config{Name: "crm", Driver: ""},
			contains: []string{`"crm"`, "forgotten import"},
		},
		{
			name:     "bad dsn",
			cfg:      sources.Config{Name: "crm", Driver: "recon-test-fake", DSN: "reject password=" + secret},
			contains: []string{`"crm"`, "bad dsn", "*****"},
			is:       errFake,
		},
		{
			name:     "cannot connect",
			cfg:      sources.Config{Name: "billing", Driver: "recon-test-fake", DSN: "host=x password=" + secret},
			contains: []string{`"billing"`, "connect", "*****"},
			is:       errFake,
		},
		{
			// An empty password is not a secret: nothing is starred out.
			name:     "empty password",
			cfg:      sources.Config{Name: "crm", Driver: "recon-test-fake", DSN: "reject password="},
			contains: []string{`"crm"`, `cannot use dsn "reject password="`},
			is:       errFake,
		},
		{
			name:     "database/sql driver missing",
			cfg:      sources.Config{Name: "billing", Driver: "recon-test-nosql", DSN: "password=" + secret},
			contains: []string{`"billing"`, "recon-test-no-such-sql-driver"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, err := sources.OpenDB(ctx, c.cfg)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded, want an error")
			}
			msg := err.Error()
			if strings.Contains(msg, secret) {
				t.Errorf("error %q shows the password", msg)
			}
			for _, s := range c.contains {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not contain %q", msg, s)
				}
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %q does not wrap %v (scrubbing must keep the chain)", msg, c.is)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	cols := []sources.Column{
		{Name: "id", DatabaseType: "INT4"},
		{Name: "Amount", DatabaseType: "NUMERIC"},
		{Name: "stage", DatabaseType: "TEXT"},
		{Name: "Stage", DatabaseType: "VARCHAR"},
		{Name: "STAGE", DatabaseType: "BPCHAR"},
		{Name: "Close Date", DatabaseType: "DATE"},
	}
	cases := []struct {
		wanted    []string
		want      []string // resolved names; nil for an error
		errSubstr []string
		noColumn  bool
	}{
		{wanted: []string{"id"}, want: []string{"id"}},
		{wanted: []string{"ID"}, want: []string{"id"}},
		{wanted: []string{"amount", "ID"}, want: []string{"Amount", "id"}},
		{wanted: []string{"close date"}, want: []string{"Close Date"}},
		{wanted: []string{"Stage"}, want: []string{"Stage"}}, // exact beats folded
		{wanted: []string{"STAGE", "stage"}, want: []string{"STAGE", "stage"}},
		{wanted: []string{}, want: []string{}},
		{wanted: []string{"sTaGe"}, errSubstr: []string{`"sTaGe"`, "ambiguous", "stage, Stage, STAGE"}},
		{wanted: []string{"id", "nope"}, errSubstr: []string{`"nope"`, "id, Amount, stage, Stage, STAGE, Close Date"}, noColumn: true},
		{wanted: []string{"close_date"}, errSubstr: []string{`"close_date"`}, noColumn: true},
		{wanted: []string{""}, errSubstr: []string{`""`}, noColumn: true},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.wanted, ","), func(t *testing.T) {
			got, err := sources.Resolve(cols, c.wanted)
			if c.want != nil {
				if err != nil {
					t.Fatalf("Resolve(%q): %v", c.wanted, err)
				}
				names := []string{}
				for i, g := range got {
					names = append(names, g.Name)
					if j := slices.IndexFunc(cols, func(x sources.Column) bool { return x.Name == g.Name }); cols[j] != got[i] {
						t.Errorf("Resolve(%q) returned %v, not the relation's column %v", c.wanted, got[i], cols[j])
					}
				}
				if !slices.Equal(names, c.want) {
					t.Errorf("Resolve(%q) = %q, want %q", c.wanted, names, c.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Resolve(%q) = %v, want an error", c.wanted, got)
			}
			for _, s := range c.errSubstr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Resolve(%q): error %q does not contain %q", c.wanted, err, s)
				}
			}
			if errors.Is(err, sources.ErrNoColumn) != c.noColumn {
				t.Errorf("Resolve(%q): errors.Is(err, ErrNoColumn) = %v, want %v (error %q)", c.wanted, !c.noColumn, c.noColumn, err)
			}
		})
	}
	if got, err := sources.Resolve(nil, []string{"id"}); err == nil || !errors.Is(err, sources.ErrNoColumn) {
		t.Errorf("Resolve of a relation without columns = %v, %v; want ErrNoColumn", got, err)
	}
}

func TestFamilyOf(t *testing.T) {
	cases := map[sources.Family][]string{
		sources.Unknown: {"", "SOMETHING_NEW", "NUM"},
		sources.Other:   {"INTERVAL", "BYTEA", "BLOB", "TIME", "TIMETZ", "GEOMETRY", "POINT", "MULTIPOINT", "XML", "INET", "VARBINARY(16)"},
		sources.Text:    {"TEXT", "VARCHAR", "BPCHAR", "CHAR", "NVARCHAR(20)", "VARCHAR(100)", "CHARACTER VARYING", "CLOB", "UUID", "ENUM", "SET", "NAME", "JSON", "JSONB", "TINYTEXT", "MEDIUMTEXT"},
		sources.Integer: {"INT", "INT2", "INT4", "INT8", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "MEDIUMINT", "UNSIGNED BIGINT", "YEAR", "int"},
		sources.Decimal: {"NUMERIC", "DECIMAL", "NUMERIC(12,2)", "DECIMAL(10,0)", "MONEY", "numeric"},
		sources.Float:   {"FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "DOUBLE PRECISION", "REAL"},
		sources.Bool:    {"BOOL", "BOOLEAN", "BIT", "boolean"},
		sources.Date:    {"DATE", "date"},
		sources.Timestamp: {"TIMESTAMP", "TIMESTAMPTZ", "DATETIME", "TIMESTAMP WITH TIME ZONE",
			"timestamp without time zone", "datetime"},
	}
	for want, types := range cases {
		for _, typ := range types {
			if got := sources.FamilyOf(typ); got != want {
				t.Errorf("FamilyOf(%q) = %s, want %s", typ, got, want)
			}
		}
	}
}

// TestFamilyOfComposite checks PostgreSQL array ("_INT4", as lib/pq names
// int[]) and range types, whose text no scalar family parses.
func TestFamilyOfComposite(t *testing.T) {
	for _, typ := range []string{"_INT4", "_DATE", "_TIMESTAMPTZ", "_NUMERIC", "INT4RANGE", "INT8RANGE", "NUMRANGE", "DATERANGE", "TSRANGE", "TSTZRANGE", "INT4MULTIRANGE"} {
		if got := sources.FamilyOf(typ); got != sources.Other {
			t.Errorf("FamilyOf(%q) = %s, want other", typ, got)
		}
	}
}

func TestFamilyString(t *testing.T) {
	for f, want := range map[sources.Family]string{
		sources.Unknown: "unknown", sources.Text: "text", sources.Integer: "integer", sources.Decimal: "decimal",
		sources.Float: "float", sources.Bool: "boolean", sources.Date: "date", sources.Timestamp: "timestamp",
		sources.Other: "other",
	} {
		if got := f.String(); got != want {
			t.Errorf("Family(%d).String() = %q, want %q", int(f), got, want)
		}
	}
}
