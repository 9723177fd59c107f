package sourcetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/sources"
)

// Fixture is any kind of source as the generic suite sees it: something
// that can hold a table of text columns. Every source passes RunGeneric;
// SQL sources pass Run, which runs it too.
type Fixture struct {
	// Driver is the registered driver name.
	Driver string
	// Table makes a table called name with columns cols (text) holding
	// rows (nil for NULL), and returns the Config of a system it is in,
	// named SystemName, and the table name to select it by.
	Table func(t *testing.T, name string, cols []string, rows [][]*string) (sources.Config, string)
}

// RunGeneric runs the checks every source must pass: it is registered,
// values come back as the exact text stored with NULL distinct from the
// empty string, columns resolve ignoring case and a missing one is
// ErrNoColumn, rows stream in full, a cancelled read stops, and a missing
// table is an error that names the system.
func RunGeneric(t *testing.T, f Fixture) {
	tests := []struct {
		name string
		run  func(*testing.T, Fixture)
	}{
		{"Registered", genericRegistered},
		{"ExactText", genericExactText},
		{"Columns", genericColumns},
		{"Streaming", genericStreaming},
		{"Cancel", genericCancel},
		{"MissingTable", genericMissingTable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, f)
		})
	}
}

func str(s string) *string { return &s }

func openTable(t *testing.T, cfg sources.Config, table string) sources.Table {
	t.Helper()
	sys, err := sources.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("sources.Open: %v", err)
	}
	t.Cleanup(func() { sys.Close() })
	return sys.Table(queries.Selection{Table: table})
}

// readAll reads every row of cols, copied.
func readAll(t *testing.T, tbl sources.Table, cols ...string) [][][]byte {
	t.Helper()
	rows, err := tbl.Scan(context.Background(), cols)
	if err != nil {
		t.Fatalf("Scan %v: %v", cols, err)
	}
	defer rows.Close()
	var out [][][]byte
	for rows.Next() {
		row := make([][]byte, len(rows.Row()))
		for i, v := range rows.Row() {
			row[i] = bytes.Clone(v)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("Scan %v: %v", cols, err)
	}
	if err := rows.Close(); err != nil {
		t.Fatalf("Scan %v: Close: %v", cols, err)
	}
	return out
}

func genericRegistered(t *testing.T, f Fixture) {
	if !slices.Contains(sources.Drivers(), f.Driver) {
		t.Errorf("sources.Drivers() = %v, want it to list %q", sources.Drivers(), f.Driver)
	}
}

// hardTexts are values a source must give back byte for byte.
var hardTexts = []*string{
	nil, str(""), str(" "), str("trailing  "), str("  leading"), str("007"), str("1e5"), str("12.50"),
	str("Zoë Müller"), str("e\u0301"), str("日本語"), str("🙂"), str(`a "quoted" word`), str("comma, semicolon; tab\tpipe|"),
	str("two\nlines"), str("crlf\r\nline"), str(`back\slash`), str("NULL"), str("null"), str(strings.Repeat("long ", 2000)),
}

func genericExactText(t *testing.T, f Fixture) {
	var rows [][]*string
	for i, v := range hardTexts {
		rows = append(rows, []*string{str(fmt.Sprint(i)), v})
	}
	cfg, name := f.Table(t, "texts", []string{"id", "val"}, rows)
	got := readAll(t, openTable(t, cfg, name), "id", "val")
	if len(got) != len(hardTexts) {
		t.Fatalf("read %d rows, want %d", len(got), len(hardTexts))
	}
	for _, row := range got {
		var i int
		fmt.Sscan(string(row[0]), &i)
		want := hardTexts[i]
		switch {
		case want == nil && row[1] != nil:
			t.Errorf("row %d: NULL reads as %s", i, show(row[1]))
		case want != nil && row[1] == nil:
			t.Errorf("row %d: %q reads as NULL", i, *want)
		case want != nil && string(row[1]) != *want:
			t.Errorf("row %d: %q reads as %s", i, *want, show(row[1]))
		}
	}
}

func genericColumns(t *testing.T, f Fixture) {
	cfg, name := f.Table(t, "cols", []string{"Id", "Email_Address", "amount"}, [][]*string{{str("1"), str("a@b.io"), str("5")}})
	tbl := openTable(t, cfg, name)
	cols, err := tbl.Columns(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cols {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"Id", "Email_Address", "amount"}) {
		t.Errorf("Columns = %v", names)
	}
	// Asked for in another order and case, they resolve.
	got := readAll(t, tbl, "AMOUNT", "email_address", "id")
	if len(got) != 1 || string(got[0][0]) != "5" || string(got[0][1]) != "a@b.io" || string(got[0][2]) != "1" {
		t.Errorf("read %q", got)
	}
	rows, err := tbl.Scan(context.Background(), []string{"id", "phone"})
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
	}
	if !errors.Is(err, sources.ErrNoColumn) || !strings.Contains(fmt.Sprint(err), SystemName) || !strings.Contains(fmt.Sprint(err), "phone") {
		t.Errorf("a missing column: %v; want ErrNoColumn naming the system and the column", err)
	}
}

func genericStreaming(t *testing.T, f Fixture) {
	const n = 20000
	rows := make([][]*string, n)
	for i := range rows {
		rows[i] = []*string{str(fmt.Sprint(i)), str(fmt.Sprintf("v%d", i))}
	}
	cfg, name := f.Table(t, "many", []string{"id", "v"}, rows)
	got := readAll(t, openTable(t, cfg, name), "v", "id")
	if len(got) != n {
		t.Fatalf("read %d rows, want %d", len(got), n)
	}
	seen := make([]bool, n)
	for _, r := range got {
		var i int
		if _, err := fmt.Sscan(string(r[1]), &i); err != nil || i < 0 || i >= n || seen[i] || string(r[0]) != fmt.Sprintf("v%d", i) {
			t.Fatalf("row %q read wrong or twice", r)
		}
		seen[i] = true
	}
}

func genericCancel(t *testing.T, f Fixture) {
	rows := make([][]*string, 50000)
	for i := range rows {
		rows[i] = []*string{str(fmt.Sprint(i))}
	}
	cfg, name := f.Table(t, "cancel", []string{"id"}, rows)
	tbl := openTable(t, cfg, name)
	ctx, cancel := context.WithCancel(context.Background())
	r, err := tbl.Scan(ctx, []string{"id"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	read := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for r.Next() {
			if read++; read == 10 {
				cancel()
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("a cancelled read did not stop")
	}
	if r.Err() == nil && read == len(rows) {
		t.Errorf("a read cancelled after 10 rows read all %d without an error", read)
	}
}

func genericMissingTable(t *testing.T, f Fixture) {
	cfg, _ := f.Table(t, "present", []string{"id"}, [][]*string{{str("1")}})
	sys, err := sources.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	_, err = sys.Table(queries.Selection{Table: "absent_table"}).Columns(context.Background())
	checkErr(t, "Columns of a missing table", err)
	if err != nil && !strings.Contains(err.Error(), "absent_table") {
		t.Errorf("the error %q does not name the table", err)
	}
}
