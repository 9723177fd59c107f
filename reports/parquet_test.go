package reports

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/recon-dev/recon/internal/parquetfile"
	"github.com/recon-dev/recon/reconcile"
)

// These tests read exceptions.parquet with Apache Arrow's Go implementation,
// a reader independent of the library that writes it.

func openParquet(t *testing.T, path string) *file.Reader {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

var columnNames = []string{
	"run_id", "reconciliation", "kind", "record_key", "field", "side",
	"source_value", "target_value", "source_updated_at", "target_updated_at", "source_key", "target_key",
	"first_seen_run", "first_seen_at", "match_tier",
}

// required reports whether column i of exceptions.parquet is required.
func required(i int) bool { return i < 3 || i == 12 || i == 13 }

// isInt reports whether column i of exceptions.parquet is an integer.
func isInt(i int) bool { return i == 14 }

// isTimestamp reports whether column i of exceptions.parquet is a timestamp.
func isTimestamp(i int) bool { return i == 8 || i == 9 || i == 13 }

func TestParquetSchema(t *testing.T) {
	for _, n := range []int{0, 10} {
		t.Run(fmt.Sprint(n, " rows"), func(t *testing.T) {
			r := openParquet(t, writeRun(t, n))
			if r.NumRows() != int64(n) {
				t.Errorf("rows = %d, want %d", r.NumRows(), n)
			}
			sc := r.MetaData().Schema
			if sc.NumColumns() != len(columnNames) {
				t.Fatalf("%d columns, want %d", sc.NumColumns(), len(columnNames))
			}
			for i, name := range columnNames {
				checkColumn(t, sc.Column(i), name, required(i))
			}

			fr, err := pqarrow.NewFileReader(r, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			as, err := fr.Schema()
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range as.Fields() {
				var want arrow.DataType = arrow.BinaryTypes.String
				if isTimestamp(i) {
					want = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
				}
				if isInt(i) {
					want = arrow.PrimitiveTypes.Int32
				}
				if f.Name != columnNames[i] || !arrow.TypeEqual(f.Type, want) || f.Nullable == required(i) {
					t.Errorf("arrow field %d = %s, want %s: %s nullable=%t", i, f, columnNames[i], want, !required(i))
				}
			}
		})
	}
}

func checkColumn(t *testing.T, c *schema.Column, name string, required bool) {
	t.Helper()
	rep := parquet.Repetitions.Optional
	if required {
		rep = parquet.Repetitions.Required
	}
	if c.Name() != name || c.SchemaNode().RepetitionType() != rep {
		t.Errorf("column %s %s, want %s %s", c.Name(), c.SchemaNode().RepetitionType(), name, rep)
	}
	if name == "match_tier" {
		if c.PhysicalType() != parquet.Types.Int32 {
			t.Errorf("column %s: %s, want INT32", name, c.PhysicalType())
		}
		return
	}
	if strings.HasSuffix(name, "_at") {
		ts, ok := c.LogicalType().(schema.TimestampLogicalType)
		if c.PhysicalType() != parquet.Types.Int64 || !ok || !ts.IsAdjustedToUTC() || ts.TimeUnit() != schema.TimeUnitMicros ||
			c.ConvertedType() != schema.ConvertedTypes.TimestampMicros {
			t.Errorf("column %s: %s %s (converted %s), want INT64 Timestamp(isAdjustedToUTC=true, timeUnit=microseconds) (converted TIMESTAMP_MICROS)",
				name, c.PhysicalType(), c.LogicalType(), c.ConvertedType())
		}
		return
	}
	if c.PhysicalType() != parquet.Types.ByteArray || !c.LogicalType().Equals(schema.StringLogicalType{}) ||
		c.ConvertedType() != schema.ConvertedTypes.UTF8 {
		t.Errorf("column %s: %s %s (converted %s), want BYTE_ARRAY String (converted UTF8)",
			name, c.PhysicalType(), c.LogicalType(), c.ConvertedType())
	}
}

func TestParquetRoundTrip(t *testing.T) {
	const n = 300_000
	r := openParquet(t, writeRun(t, n))
	if r.NumRows() != n {
		t.Fatalf("rows = %d, want %d", r.NumRows(), n)
	}
	if r.NumRowGroups() < 4 {
		t.Errorf("%d row groups, want at least 4 (every %d rows)", r.NumRowGroups(), parquetfile.RowGroupRows)
	}
	checkChunks(t, r)

	fr, err := pqarrow.NewFileReader(r, pqarrow.ArrowReadProperties{BatchSize: 10_000}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	i, bad := 0, 0
	for rr.Next() {
		rec := rr.RecordBatch()
		for j := range int(rec.NumRows()) {
			got, want := rowValues(rec, j), wantValues(genException(i))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("row %d:\n got %q\nwant %q", i, got, want)
				if bad++; bad == 5 {
					t.FailNow()
				}
			}
			i++
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Errorf("read %d rows, want %d", i, n)
	}
}

// checkChunks checks the column chunks of every row group: Snappy, no page
// index, statistics on the required columns, and no wrong null count on the
// others.
func checkChunks(t *testing.T, r *file.Reader) {
	t.Helper()
	var first int64 // the row group's first row
	for g := range r.NumRowGroups() {
		rg := r.MetaData().RowGroup(g)
		rows := rg.NumRows()
		for c := range rg.NumColumns() {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			name := columnNames[c]
			if cc.Compression() != compress.Codecs.Snappy {
				t.Errorf("row group %d %s: compression %s, want SNAPPY", g, name, cc.Compression())
			}
			if cc.GetColumnIndexLocation() != nil || cc.GetOffsetIndexLocation() != nil {
				t.Errorf("row group %d %s: has a page index", g, name)
			}
			stats, err := cc.Statistics()
			if err != nil {
				t.Fatal(err)
			}
			if required(c) && !isTimestamp(c) {
				checkRequiredStats(t, g, c, stats, first, rows)
			} else if stats != nil && stats.HasNullCount() {
				var nulls int64
				for i := first; i < first+rows; i++ {
					if wantValues(genException(int(i)))[c] == nil {
						nulls++
					}
				}
				if stats.NullCount() != nulls {
					t.Errorf("row group %d %s: null_count %d, want %d (or none)", g, name, stats.NullCount(), nulls)
				}
			}
		}
		first += rows
	}
}

// checkRequiredStats checks the statistics of required column c in the row
// group of rows [first, first+rows): they must be there, and right.
func checkRequiredStats(t *testing.T, g, c int, stats metadata.TypedStatistics, first, rows int64) {
	t.Helper()
	bs, ok := stats.(*metadata.ByteArrayStatistics)
	if !ok || !bs.HasNullCount() || !bs.HasMinMax() {
		t.Errorf("row group %d %s: statistics %v, want null count and min/max", g, columnNames[c], stats)
		return
	}
	var lo, hi string
	for i := first; i < first+rows; i++ {
		v := wantValues(genException(int(i)))[c].(string)
		if i == first || v < lo {
			lo = v
		}
		if i == first || v > hi {
			hi = v
		}
	}
	if bs.NullCount() != 0 || string(bs.Min()) != lo || string(bs.Max()) != hi {
		t.Errorf("row group %d %s: nulls %d, min %q, max %q; want 0, %q, %q",
			g, columnNames[c], bs.NullCount(), bs.Min(), bs.Max(), lo, hi)
	}
}

// rowValues returns row j of rec: nil for a null, a string for text and
// microseconds since the epoch for a timestamp.
func rowValues(rec arrow.RecordBatch, j int) []any {
	row := make([]any, rec.NumCols())
	for c, col := range rec.Columns() {
		switch {
		case col.IsNull(j):
		case col.DataType().ID() == arrow.STRING:
			row[c] = col.(*array.String).Value(j)
		case col.DataType().ID() == arrow.TIMESTAMP:
			row[c] = int64(col.(*array.Timestamp).Value(j))
		case col.DataType().ID() == arrow.INT32:
			row[c] = int(col.(*array.Int32).Value(j))
		default:
			row[c] = fmt.Sprintf("unexpected type %s", col.DataType())
		}
	}
	return row
}

// wantValues returns the row that e should become, as rowValues returns it.
func wantValues(e reconcile.Exception) []any {
	row := []any{"20261123T090633Z-000000", e.Reconciliation, string(e.Kind),
		text(e.RecordKey), text(e.Field), nil, text(e.SourceValue), text(e.TargetValue), nil, nil,
		text(e.SourceKey), text(e.TargetKey), "20261123T090633Z-000000", testStart.UnixMicro(), nil}
	if e.MatchTier != nil {
		row[14] = *e.MatchTier
	}
	if e.Side != "" {
		row[5] = string(e.Side)
	}
	if e.SourceUpdatedAt != nil {
		row[8] = e.SourceUpdatedAt.UnixMicro()
	}
	if e.TargetUpdatedAt != nil {
		row[9] = e.TargetUpdatedAt.UnixMicro()
	}
	return row
}

func text(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}
