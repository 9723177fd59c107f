// Package parquet reads Parquet files (a billing system's dump, a lake
// export) as a source: driver "parquet", the dsn a directory, a table a
// file or a glob in it. It reads with Apache Arrow's Parquet reader, in
// batches, so memory is bounded by a batch, not the file.
//
// Typed columns become text exactly: integers in decimal, decimals at
// their scale ("12.50"), floats in their shortest form, booleans as
// true/false, dates as YYYY-MM-DD, timestamps adjusted to UTC as RFC 3339
// instants and local (zone-less) timestamps as wall clocks read in the
// system's timezone, like a database's. Nested columns (lists, structs,
// maps) are refused.
package parquet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	pqfile "github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/sources"
	"github.com/recon-dev/recon/sources/file"
)

func init() {
	sources.RegisterDriver("parquet", file.Driver{Name: "parquet", NewFormat: newFormat})
}

// batchRows is how many rows are decoded at a time.
const batchRows = 4096

type format struct{}

func newFormat(options map[string]string) (file.Format, error) {
	for k := range options {
		return nil, fmt.Errorf("parquet: unknown option %q (a parquet system takes none)", k)
	}
	return format{}, nil
}

// open opens a Parquet file for Arrow and checks its schema is flat.
func open(path string) (*os.File, *pqarrow.FileReader, *arrow.Schema, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	// A buffered stream reads a column chunk a buffer at a time, so
	// memory is bounded by the batch, not by the file's row groups.
	props := parquet.NewReaderProperties(memory.DefaultAllocator)
	props.BufferedStreamEnabled = true
	pr, err := pqfile.NewParquetReader(f, pqfile.WithReadProps(props))
	if err != nil {
		f.Close()
		return nil, nil, nil, fmt.Errorf("not a Parquet file: %w", err)
	}
	fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{BatchSize: batchRows}, memory.DefaultAllocator)
	if err == nil {
		var schema *arrow.Schema
		if schema, err = fr.Schema(); err == nil {
			if schema.NumFields() != pr.MetaData().Schema.NumColumns() {
				err = errors.New("it has nested columns (lists, structs or maps), which recon cannot compare")
			} else {
				return f, fr, schema, nil
			}
		}
	}
	pr.Close()
	return nil, nil, nil, err
}

// Columns reads the schema.
func (format) Columns(path string) ([]sources.Column, error) {
	f, fr, schema, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	defer fr.ParquetReader().Close()
	cols := make([]sources.Column, schema.NumFields())
	for i, fl := range schema.Fields() {
		cols[i] = sources.Column{Name: fl.Name, DatabaseType: databaseType(fl.Type)}
	}
	return cols, nil
}

// databaseType names an Arrow type as sources.FamilyOf knows types.
func databaseType(t arrow.DataType) string {
	switch t := t.(type) {
	case *arrow.Decimal128Type:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale)
	case *arrow.Decimal256Type:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale)
	case *arrow.TimestampType:
		if t.TimeZone != "" {
			return "TIMESTAMPTZ"
		}
		return "TIMESTAMP"
	}
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return "BIGINT"
	case arrow.FLOAT32:
		return "FLOAT"
	case arrow.FLOAT64:
		return "DOUBLE"
	case arrow.BOOL:
		return "BOOLEAN"
	case arrow.STRING, arrow.LARGE_STRING:
		return "TEXT"
	case arrow.DATE32, arrow.DATE64:
		return "DATE"
	case arrow.BINARY, arrow.LARGE_BINARY, arrow.FIXED_SIZE_BINARY:
		return "BLOB"
	}
	return "OTHER " + t.String()
}

// Rows streams the columns at idx.
func (format) Rows(ctx context.Context, path string, idx []int) (reconcile.Rows, error) {
	f, fr, schema, err := open(path)
	if err != nil {
		return nil, err
	}
	for _, i := range idx {
		if strings.HasPrefix(databaseType(schema.Field(i).Type), "OTHER ") {
			f.Close()
			return nil, fmt.Errorf("column %q is %s, which recon cannot compare", schema.Field(i).Name, schema.Field(i).Type)
		}
	}
	// Arrow reads each column once, in file order, however often and in
	// whatever order it is asked for: read the distinct ones, and map
	// each requested column to its place in the batch.
	distinct := slices.Sorted(slices.Values(idx))
	distinct = slices.Compact(distinct)
	at := make([]int, len(idx))
	for i, c := range idx {
		at[i], _ = slices.BinarySearch(distinct, c)
	}
	rr, err := fr.GetRecordReader(ctx, distinct, nil)
	if err != nil {
		f.Close()
		return nil, err
	}
	r := &rows{ctx: ctx, f: f, fr: fr, rr: rr, at: at, out: make([][]byte, len(idx)), bufs: make([][]byte, len(idx))}
	for i := range r.bufs {
		r.bufs[i] = make([]byte, 0, 32) // never nil: nil is NULL
	}
	return r, nil
}

type rows struct {
	ctx  context.Context
	at   []int // per requested column, its place in the batch
	f    *os.File
	fr   *pqarrow.FileReader
	rr   pqarrow.RecordReader
	rec  arrow.RecordBatch
	i    int
	out  [][]byte
	bufs [][]byte
	err  error
}

func (r *rows) Next() bool {
	for r.err == nil && (r.rec == nil || r.i >= int(r.rec.NumRows())) {
		if r.err = r.ctx.Err(); r.err != nil {
			return false
		}
		if !r.rr.Next() {
			r.err = r.rr.Err()
			return false
		}
		r.rec, r.i = r.rr.RecordBatch(), 0
	}
	if r.err != nil {
		return false
	}
	for c := range r.out {
		r.out[c], r.err = r.text(c, r.rec.Column(r.at[c]), r.i)
		if r.err != nil {
			return false
		}
	}
	r.i++
	return true
}

// text renders row i of column c, into the column's own buffer.
func (r *rows) text(c int, col arrow.Array, i int) ([]byte, error) {
	if col.IsNull(i) {
		return nil, nil
	}
	b := r.bufs[c][:0]
	switch a := col.(type) {
	case *array.String:
		b = append(b, a.Value(i)...)
	case *array.LargeString:
		b = append(b, a.Value(i)...)
	case *array.Int8:
		b = strconv.AppendInt(b, int64(a.Value(i)), 10)
	case *array.Int16:
		b = strconv.AppendInt(b, int64(a.Value(i)), 10)
	case *array.Int32:
		b = strconv.AppendInt(b, int64(a.Value(i)), 10)
	case *array.Int64:
		b = strconv.AppendInt(b, a.Value(i), 10)
	case *array.Uint8:
		b = strconv.AppendUint(b, uint64(a.Value(i)), 10)
	case *array.Uint16:
		b = strconv.AppendUint(b, uint64(a.Value(i)), 10)
	case *array.Uint32:
		b = strconv.AppendUint(b, uint64(a.Value(i)), 10)
	case *array.Uint64:
		b = strconv.AppendUint(b, a.Value(i), 10)
	case *array.Float32:
		// Widened exactly, as every SQL source delivers a 4-byte float, so
		// that one compares equal to the other.
		b = appendFloat(b, float64(a.Value(i)), 64)
	case *array.Float64:
		b = appendFloat(b, a.Value(i), 64)
	case *array.Boolean:
		b = strconv.AppendBool(b, a.Value(i))
	case *array.Decimal128:
		b = append(b, a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale)...)
	case *array.Decimal256:
		b = append(b, a.Value(i).ToString(a.DataType().(*arrow.Decimal256Type).Scale)...)
	case *array.Date32:
		b = a.Value(i).ToTime().UTC().AppendFormat(b, time.DateOnly)
	case *array.Date64:
		b = a.Value(i).ToTime().UTC().AppendFormat(b, time.DateOnly)
	case *array.Timestamp:
		t := a.DataType().(*arrow.TimestampType)
		v := a.Value(i).ToTime(t.Unit).UTC()
		if t.TimeZone != "" {
			b = v.AppendFormat(b, time.RFC3339Nano)
		} else {
			b = v.AppendFormat(b, "2006-01-02 15:04:05.999999999") // a wall clock, read in the system's zone
		}
	default:
		return nil, fmt.Errorf("column %d is %s, which recon cannot compare", c, col.DataType())
	}
	r.bufs[c] = b
	return b, nil
}

// appendFloat writes the shortest text that reads back as the float; NaN
// and infinities as the databases write them.
func appendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

func (r *rows) Row() [][]byte { return r.out }
func (r *rows) Err() error    { return r.err }

func (r *rows) Close() error {
	r.rr.Release()
	err := r.fr.ParquetReader().Close()
	if cerr := r.f.Close(); err == nil && !errors.Is(cerr, os.ErrClosed) {
		err = cerr
	}
	return err
}
