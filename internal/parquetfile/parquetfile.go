// Package parquetfile writes Parquet files whose schema is a Go struct's
// tags, with github.com/xitongsys/parquet-go, working around the defects of
// its v1.6.2 that readers trip over (DuckDB, Arrow, Spark, Trino):
//
//   - It counts nulls wrongly in statistics (it skips the first value of
//     each page), and its dictionary writer has the same bug: nullable
//     columns must be declared with omitstats=true and encoding=PLAIN.
//     Required columns have no nulls, so their statistics are right.
//   - It writes empty statistics records for omitstats columns, which
//     some readers (arrow-go) take as "no nulls": Close drops them.
//   - Its WriteStop writes a wrong page index (empty min/max that readers
//     using page indexes would take as real bounds, undecodable for
//     timestamps): Close writes the footer itself, without a page index,
//     which is optional.
//
// Memory is bounded: a row group is flushed every RowGroupRows rows or when
// its compressed pages reach 8 MiB, whichever comes first.
//
// T must be flat: its fields are strings, int32s and int64s, or pointers
// to them for nullable columns. Rows are laid out in columns by fields
// indexed once, not by the library's general marshaller, which walks every
// row's reflection tree (half the cost of writing an exception).
package parquetfile

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/xitongsys/parquet-go/common"
	"github.com/xitongsys/parquet-go/layout"
	"github.com/xitongsys/parquet-go/parquet"
	"github.com/xitongsys/parquet-go/schema"
	"github.com/xitongsys/parquet-go/writer"
)

// Row-group bounds. Only the pending row group is held in memory.
const (
	RowGroupRows  = 64 * 1024
	rowGroupBytes = 8 << 20
	pageBytes     = 64 << 10
)

// Writer writes rows of type T to one new file.
type Writer[T any] struct {
	path string
	f    *os.File
	buf  *bufio.Writer
	pw   *writer.ParquetWriter
	rows int // rows in the pending row group
}

// Create creates the file at path, which must not exist; T's parquet tags
// are its schema.
func Create[T any](path string) (*Writer[T], error) {
	marshal, err := flatMarshal[T]()
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	buf := bufio.NewWriterSize(f, 1<<20)
	pw, err := writer.NewParquetWriterFromWriter(buf, new(T), 1)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	for i := range reflect.TypeFor[T]().NumField() {
		// The writer's schema follows the fields' order, one column each.
		if name := reflect.TypeFor[T]().Field(i).Name; i+1 >= len(pw.SchemaHandler.Infos) || pw.SchemaHandler.Infos[i+1].InName != name {
			f.Close()
			os.Remove(path)
			return nil, fmt.Errorf("create %s: the schema's column %d is not the field %s", path, i+1, name)
		}
	}
	pw.MarshalFunc = marshal
	pw.RowGroupSize = rowGroupBytes
	pw.PageSize = pageBytes
	return &Writer[T]{path: path, f: f, buf: buf, pw: pw}, nil
}

// flatMarshal lays rows of the flat struct T out in the column tables the
// writer pages, as the library's own marshaller would: a field's value,
// or nil with definition level 0 for a nil pointer.
func flatMarshal[T any]() (func([]any, *schema.SchemaHandler) (*map[string]*layout.Table, error), error) {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%s is not a struct of columns", t)
	}
	// The Go type each Parquet type is laid out from, exactly (a named
	// string is no string to the pages).
	physical := map[reflect.Type]string{
		reflect.TypeFor[string](): "BYTE_ARRAY", reflect.TypeFor[int64](): "INT64", reflect.TypeFor[int32](): "INT32",
	}
	for i := range t.NumField() {
		f := t.Field(i)
		typ := f.Type
		if typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		want, ok := physical[typ]
		if !ok || !f.IsExported() {
			return nil, fmt.Errorf("%s.%s is a %s, not an exported string, int32 or int64 column", t, f.Name, f.Type)
		}
		if tag := f.Tag.Get("parquet"); !slices.Contains(strings.Split(strings.ReplaceAll(tag, " ", ""), ","), "type="+want) {
			return nil, fmt.Errorf("%s.%s is a %s, whose parquet tag must say type=%s (it says %q)", t, f.Name, f.Type, want, tag)
		}
	}
	return func(rows []any, sh *schema.SchemaHandler) (*map[string]*layout.Table, error) {
		tables := make([]*layout.Table, t.NumField())
		out := make(map[string]*layout.Table, len(tables))
		for i := range tables {
			path := sh.GetRootInName() + common.PAR_GO_PATH_DELIMITER + sh.Infos[i+1].InName
			el := sh.SchemaElements[sh.MapIndex[path]]
			table := layout.NewEmptyTable()
			table.Path, table.Schema, table.Info = common.StrToPath(path), el, sh.Infos[i+1]
			table.RepetitionType = el.GetRepetitionType()
			if table.RepetitionType == parquet.FieldRepetitionType_OPTIONAL {
				table.MaxDefinitionLevel = 1
			}
			table.Values = make([]any, 0, len(rows))
			table.DefinitionLevels = make([]int32, 0, len(rows))
			table.RepetitionLevels = make([]int32, len(rows))
			tables[i], out[path] = table, table
		}
		for _, r := range rows {
			row, ok := r.(T)
			if !ok {
				return nil, fmt.Errorf("a %T among rows of %s", r, t)
			}
			v := reflect.ValueOf(&row).Elem()
			for i, table := range tables {
				f := v.Field(i)
				level := table.MaxDefinitionLevel
				if f.Kind() == reflect.Pointer {
					if f.IsNil() {
						table.Values, table.DefinitionLevels = append(table.Values, nil), append(table.DefinitionLevels, 0)
						continue
					}
					f = f.Elem()
				}
				table.Values, table.DefinitionLevels = append(table.Values, f.Interface()), append(table.DefinitionLevels, level)
			}
		}
		return &out, nil
	}, nil
}

// Path is the file's path.
func (w *Writer[T]) Path() string { return w.path }

// Write appends one row.
func (w *Writer[T]) Write(row T) error {
	if err := w.pw.Write(row); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	w.rows++
	if w.rows == RowGroupRows {
		w.rows = 0
		if err := w.pw.Flush(true); err != nil {
			return fmt.Errorf("write %s: %w", w.path, err)
		}
	}
	return nil
}

// Close writes the last row group and the footer, syncs and closes the file.
func (w *Writer[T]) Close() error {
	if err := w.writeEnd(); err != nil {
		w.f.Close()
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	return nil
}

// Discard closes the file unfinished; the caller removes it.
func (w *Writer[T]) Discard() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", w.path, err)
	}
	return nil
}

func (w *Writer[T]) writeEnd() error {
	if err := w.pw.Flush(true); err != nil {
		return err
	}
	w.pw.RenameSchema()
	dropEmptyStatistics(w.pw.Footer)
	ts := thrift.NewTSerializer()
	ts.Protocol = thrift.NewTCompactProtocolFactory().GetProtocol(ts.Transport)
	footer, err := ts.Write(context.Background(), w.pw.Footer)
	if err != nil {
		return fmt.Errorf("encode footer: %w", err)
	}
	footer = binary.LittleEndian.AppendUint32(footer, uint32(len(footer)))
	footer = append(footer, "PAR1"...)
	if _, err := w.buf.Write(footer); err != nil {
		return err
	}
	return w.buf.Flush()
}

// dropEmptyStatistics removes the empty statistics that parquet-go writes
// for omitstats columns.
func dropEmptyStatistics(footer *parquet.FileMetaData) {
	for _, rg := range footer.RowGroups {
		for _, cc := range rg.Columns {
			s := cc.MetaData.Statistics
			if s != nil && !s.IsSetNullCount() && !s.IsSetDistinctCount() &&
				!s.IsSetMin() && !s.IsSetMax() && !s.IsSetMinValue() && !s.IsSetMaxValue() {
				cc.MetaData.Statistics = nil
			}
		}
	}
}

// Micros converts an instant to microseconds since the Unix epoch, the
// value of a TIMESTAMP(MICROS) column; nil stays nil (a null).
func Micros(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	us := t.UnixMicro()
	return &us
}
