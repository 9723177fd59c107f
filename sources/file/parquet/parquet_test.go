package parquet_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/sources"
	_ "github.com/recon-dev/recon/sources/file/parquet"
	"github.com/recon-dev/recon/sources/sourcetest"
)

// writeParquet writes a record as a Parquet file in small row groups, so
// that reads cross row groups and batches.
func writeParquet(t *testing.T, path string, rec arrow.RecordBatch) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tbl := array.NewTableFromRecords(rec.Schema(), []arrow.RecordBatch{rec})
	defer tbl.Release()
	if err := pqarrow.WriteTable(tbl, f, 3000, parquet.NewWriterProperties(), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())); err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	sourcetest.RunGeneric(t, sourcetest.Fixture{Driver: "parquet", Table: func(t *testing.T, name string, cols []string, rows [][]*string) (sources.Config, string) {
		var fields []arrow.Field
		for _, c := range cols {
			fields = append(fields, arrow.Field{Name: c, Type: arrow.BinaryTypes.String, Nullable: true})
		}
		b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
		defer b.Release()
		for _, r := range rows {
			for i, v := range r {
				if v == nil {
					b.Field(i).AppendNull()
				} else {
					b.Field(i).(*array.StringBuilder).Append(*v)
				}
			}
		}
		rec := b.NewRecordBatch()
		defer rec.Release()
		dir := t.TempDir()
		writeParquet(t, filepath.Join(dir, name+".parquet"), rec)
		return sources.Config{Name: sourcetest.SystemName, Driver: "parquet", DSN: dir}, name + ".parquet"
	}})
}

// Typed columns become text exactly, as a database's would.
func TestTypedColumnsAsText(t *testing.T) {
	dec := &arrow.Decimal128Type{Precision: 18, Scale: 2}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "amount", Type: dec, Nullable: true},
		{Name: "ratio", Type: arrow.PrimitiveTypes.Float32},
		{Name: "paid", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "due", Type: arrow.FixedWidthTypes.Date32},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "local", Type: &arrow.TimestampType{Unit: arrow.Millisecond}},
		{Name: "big", Type: arrow.PrimitiveTypes.Uint64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	at := time.Date(2026, 3, 8, 7, 30, 0, 123456000, time.UTC)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, -2}, nil)
	b.Field(1).(*array.Decimal128Builder).Append(decimal128.FromI64(-1250))
	b.Field(1).AppendNull()
	b.Field(2).(*array.Float32Builder).AppendValues([]float32{0.1, 3}, nil)
	b.Field(3).(*array.BooleanBuilder).AppendValues([]bool{true, false}, nil)
	b.Field(4).(*array.Date32Builder).AppendValues([]arrow.Date32{arrow.Date32FromTime(at), 0}, nil)
	b.Field(5).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(at.UnixMicro()), 0}, nil)
	b.Field(6).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(at.UnixMilli()), 0}, nil)
	b.Field(7).(*array.Uint64Builder).AppendValues([]uint64{18446744073709551615, 0}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	dir := t.TempDir()
	writeParquet(t, filepath.Join(dir, "invoices.parquet"), rec)

	sys, err := sources.Open(context.Background(), sources.Config{Name: "lake", Driver: "parquet", DSN: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	tbl := sys.Table(queries.Selection{Table: "invoices.parquet"})
	cols, err := tbl.Columns(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var fams []string
	for _, c := range cols {
		fams = append(fams, sources.FamilyOf(c.DatabaseType).String())
	}
	if got := strings.Join(fams, ","); got != "integer,decimal,float,boolean,date,timestamp,timestamp,integer" {
		t.Errorf("families %s", got)
	}
	// Columns asked for twice and out of file order (a field and a match
	// tier on one column) come back as asked.
	rows, err := tbl.Scan(context.Background(), []string{"id", "amount", "ratio", "paid", "due", "at", "local", "big", "amount", "id"})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var r []string
		for _, v := range rows.Row() {
			if v == nil {
				r = append(r, "NULL")
			} else {
				r = append(r, string(v))
			}
		}
		got = append(got, strings.Join(r, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"1|-12.50|0.10000000149011612|true|2026-03-08|2026-03-08T07:30:00.123456Z|2026-03-08 07:30:00.123|18446744073709551615|-12.50|1",
		"-2|NULL|3|false|1970-01-01|1970-01-01T00:00:00Z|1970-01-01 00:00:00|0|NULL|-2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("read\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNotParquet(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.parquet"), []byte("id,email\n1,a\n"), 0o644)
	sys, err := sources.Open(context.Background(), sources.Config{Name: "lake", Driver: "parquet", DSN: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sys.Table(queries.Selection{Table: "x.parquet"}).Columns(context.Background())
	if err == nil || !strings.Contains(err.Error(), `system "lake", x.parquet: x.parquet: not a Parquet file`) {
		t.Errorf("got %v", err)
	}
}
