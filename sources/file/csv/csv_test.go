package csv_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/sources"
	"github.com/recon-dev/recon/sources/file/csv"
	"github.com/recon-dev/recon/sources/sourcetest"
)

// writeCSV writes rows as a CSV file: every value quoted, NULL an empty
// unquoted field.
func writeCSV(t *testing.T, path string, cols []string, rows [][]*string) {
	t.Helper()
	var b strings.Builder
	b.WriteString(strings.Join(cols, ",") + "\r\n")
	for _, r := range rows {
		for i, v := range r {
			if i > 0 {
				b.WriteByte(',')
			}
			if v != nil {
				b.WriteString(`"` + strings.ReplaceAll(*v, `"`, `""`) + `"`)
			}
		}
		b.WriteString("\r\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	sourcetest.RunGeneric(t, sourcetest.Fixture{Driver: "csv", Table: func(t *testing.T, name string, cols []string, rows [][]*string) (sources.Config, string) {
		dir := t.TempDir()
		writeCSV(t, filepath.Join(dir, name+".csv"), cols, rows)
		return sources.Config{Name: sourcetest.SystemName, Driver: "csv", DSN: dir}, name + ".csv"
	}})
}

// read opens table in a csv system on dir and reads cols.
func read(t *testing.T, dir, table string, options map[string]string, cols ...string) ([][]string, error) {
	t.Helper()
	sys, err := sources.Open(context.Background(), sources.Config{Name: "exports", Driver: "csv", DSN: dir, Options: options})
	if err != nil {
		return nil, err
	}
	defer sys.Close()
	rows, err := sys.Table(queries.Selection{Table: table}).Scan(context.Background(), cols)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		var r []string
		for _, v := range rows.Row() {
			if v == nil {
				r = append(r, "<NULL>")
			} else {
				r = append(r, string(v))
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func TestExportsAsWritten(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		options    map[string]string
		want       string // rows joined by |, fields by ,
	}{
		{"Salesforce Data Loader", "\"Id\",\"Email\",\"Amount\",\"CloseDate\",\"LastModifiedDate\"\n\"0065e00000AbCdE\",\"jo@acme.com\",\"1234.50\",\"2026-01-05\",\"2026-01-05T10:00:00.000Z\"\n",
			nil, "0065e00000AbCdE,jo@acme.com,1234.50,2026-01-05,2026-01-05T10:00:00.000Z"},
		{"byte order mark and CRLF", "\xef\xbb\xbfId,Email\r\n1,a@b.io\r\n2,c@d.io\r\n", nil, "1,a@b.io|2,c@d.io"},
		{"NULL and empty", "Id,Email,Phone\n1,,\"\"\n", nil, "1,<NULL>,"},
		{"quoted newlines and quotes", "Id,Note\n1,\"line one\nline \"\"two\"\"\"\n2,plain\n", nil, "1,line one\nline \"two\"|2,plain"},
		{"semicolons", "Id;Email\n1;a@b.io\n", map[string]string{"delimiter": ";"}, "1,a@b.io"},
		{"tabs", "Id\tEmail\n1\ta@b.io\n", map[string]string{"delimiter": "\\t"}, "1,a@b.io"},
		{"blank lines and no final newline", "Id,Email\n\n1,a@b.io\n\n2,c@d.io", nil, "1,a@b.io|2,c@d.io"},
		{"trailing empty field", "Id,Email\n1,\n", nil, "1,<NULL>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "x.csv"), []byte(tc.text), 0o644)
			cols := []string{"id", "email"}
			if strings.Contains(tc.name, "Salesforce") {
				cols = []string{"id", "email", "amount", "closedate", "lastmodifieddate"}
			} else if strings.Contains(tc.name, "NULL") {
				cols = []string{"id", "email", "phone"}
			} else if strings.Contains(tc.name, "newlines") {
				cols = []string{"id", "note"}
			}
			rows, err := read(t, dir, "x.csv", tc.options, cols...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, strings.Join(r, ","))
			}
			if strings.Join(got, "|") != tc.want {
				t.Errorf("read %q, want %q", strings.Join(got, "|"), tc.want)
			}
		})
	}
}

func TestGlobIsOneTable(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "contacts-2.csv"), []byte("id,email\n3,c@x.io\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "contacts-1.csv"), []byte("ID,Email\n1,a@x.io\n2,b@x.io\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "other.csv"), []byte("id,email\n9,z@x.io\n"), 0o644)
	rows, err := read(t, dir, "contacts-*.csv", nil, "id", "email")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0][0] != "1" || rows[2][0] != "3" {
		t.Errorf("read %v", rows)
	}
}

func TestBadFilesNameFileAndLine(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		table string
		want  []string
	}{
		{"missing file", nil, "nope.csv", []string{`system "exports", nope.csv`, "no such file"}},
		{"empty glob", nil, "contacts-*.csv", []string{"no file in", "matches contacts-*.csv"}},
		{"bare quote", map[string]string{"x.csv": "id,email\n1,a\"b\n"}, "x.csv", []string{"x.csv: line 2: a quote inside an unquoted field"}},
		{"unclosed quote", map[string]string{"x.csv": "id,email\n1,\"ab\n2,c\n"}, "x.csv", []string{"line 2: a quoted field is not closed"}},
		{"short row", map[string]string{"x.csv": "id,email\n1,a\n2\n"}, "x.csv", []string{"x.csv: line 3: 1 fields, but the header has 2"}},
		{"empty file", map[string]string{"x.csv": ""}, "x.csv", []string{"x.csv: empty file"}},
		{"header twice", map[string]string{"x.csv": "id,id\n1,2\n"}, "x.csv", []string{`names a column "id" twice`}},
		{"files that differ", map[string]string{"a-1.csv": "id,email\n1,a\n", "a-2.csv": "id,mail\n2,b\n"}, "a-*.csv", []string{"a-2.csv: ", "no such column"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, text := range tc.files {
				os.WriteFile(filepath.Join(dir, n), []byte(text), 0o644)
			}
			_, err := read(t, dir, tc.table, nil, "id", "email")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// A quote never closed fails at the record bound, naming the line it
// opened on, instead of reading the whole export into memory.
func TestUnclosedQuoteStopsAtTheBound(t *testing.T) {
	defer func(n int) { csv.MaxRecordBytesForTest(n) }(csv.MaxRecordBytesForTest(1 << 10))
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.csv"), []byte("id,email\n1,a\n2,\"b\n"+strings.Repeat("3,c\n", 1000)), 0o644)
	_, err := read(t, dir, "x.csv", nil, "id", "email")
	if err == nil || !strings.Contains(err.Error(), "line 3: a record longer than") {
		t.Errorf("got %v", err)
	}
}

func TestOptionsAndSelections(t *testing.T) {
	dir := t.TempDir()
	for _, opts := range []map[string]string{{"delimiter": ";;"}, {"quote": "'"}, {"delimiter": "\""}} {
		if _, err := read(t, dir, "x.csv", opts, "id"); err == nil {
			t.Errorf("options %v accepted", opts)
		}
	}
	if err := sources.CheckSelection("csv", queries.Selection{Table: "x.csv", Where: "id > 1"}); err == nil || !strings.Contains(err.Error(), "no where: filter") {
		t.Errorf("where: %v", err)
	}
	if err := sources.CheckSelection("csv", queries.Selection{Query: "SELECT 1"}); err == nil {
		t.Error("a query was accepted")
	}
	if _, err := sources.Open(context.Background(), sources.Config{Name: "exports", Driver: "csv", DSN: filepath.Join(dir, "missing")}); err == nil ||
		!errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing directory: %v", err)
	}
}

// FuzzCSV: any bytes are read without a panic, and any fields written as
// RFC 4180 read back as written, NULL apart from the empty string.
func FuzzCSV(f *testing.F) {
	f.Add("a,\"b\"\"c\"\r\n,\"\"\n", "x\ny", "", true)
	f.Add("\xef\xbb\xbfid\n1", "\"", ",", false)
	f.Fuzz(func(t *testing.T, raw, v1, v2 string, null bool) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "raw.csv"), []byte(raw), 0o644)
		read(t, dir, "raw.csv", nil, "id") // only must not panic

		var rows [][]*string
		second := &v2
		if null {
			second = nil
		}
		rows = append(rows, []*string{&v1, second}, []*string{second, &v1})
		writeCSV(t, filepath.Join(dir, "rt.csv"), []string{"a", "b"}, rows)
		got, err := read(t, dir, "rt.csv", nil, "a", "b")
		if err != nil {
			t.Fatalf("%q, %q: %v", v1, v2, err)
		}
		show := func(p *string) string {
			if p == nil {
				return "<NULL>"
			}
			return *p
		}
		want := [][]string{{v1, show(second)}, {show(second), v1}}
		if len(got) != 2 || !slices.Equal(got[0], want[0]) || !slices.Equal(got[1], want[1]) {
			if v1 != "<NULL>" && v2 != "<NULL>" {
				t.Fatalf("wrote %q, read %q", want, got)
			}
		}
	})
}
