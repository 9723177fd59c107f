package reports

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/xitongsys/parquet-go/parquet"
	"github.com/xitongsys/parquet-go/writer"

	"github.com/recon-dev/recon/reconcile"
)

// exceptionFile encodes exceptions.parquet. It hides the Parquet library so
// that it can be swapped; the schema is the contract described in the
// package doc.
type exceptionFile interface {
	// write appends one row.
	write(e reconcile.Exception) error
	// finish completes the file and closes it.
	finish() error
	// discard closes the file unfinished; the caller removes it.
	discard() error
}

// Row-group bounds: a row group is cut at rowGroupRows rows or when its
// compressed pages reach rowGroupBytes, whichever comes first. Only the
// pending row group is held in memory.
const (
	rowGroupRows  = 64 * 1024
	rowGroupBytes = 8 << 20
	pageBytes     = 64 << 10
)

// parquetRow is one row of exceptions.parquet as github.com/xitongsys/parquet-go
// v1.6.2 encodes it. That version counts nulls wrongly in its statistics
// (it skips the first value of each page), so every nullable column omits
// statistics and uses PLAIN encoding (its dictionary writer has the same
// bug). The required columns have no nulls, so their statistics are right
// and they keep them, with dictionary encoding.
type parquetRow struct {
	RunID           string  `parquet:"name=run_id, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=REQUIRED, encoding=PLAIN_DICTIONARY"`
	Reconciliation  string  `parquet:"name=reconciliation, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=REQUIRED, encoding=PLAIN_DICTIONARY"`
	Kind            string  `parquet:"name=kind, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=REQUIRED, encoding=PLAIN_DICTIONARY"`
	RecordKey       *string `parquet:"name=record_key, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
	Field           *string `parquet:"name=field, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
	Side            *string `parquet:"name=side, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
	SourceValue     *string `parquet:"name=source_value, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
	TargetValue     *string `parquet:"name=target_value, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
	SourceUpdatedAt *int64  `parquet:"name=source_updated_at, type=INT64, convertedtype=TIMESTAMP_MICROS, logicaltype=TIMESTAMP, logicaltype.isadjustedtoutc=true, logicaltype.unit=MICROS, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
	TargetUpdatedAt *int64  `parquet:"name=target_updated_at, type=INT64, convertedtype=TIMESTAMP_MICROS, logicaltype=TIMESTAMP, logicaltype.isadjustedtoutc=true, logicaltype.unit=MICROS, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
}

// xsFile writes exceptions.parquet with github.com/xitongsys/parquet-go.
type xsFile struct {
	path  string
	runID string
	f     *os.File
	buf   *bufio.Writer
	pw    *writer.ParquetWriter
	rows  int // rows in the pending row group
}

var _ exceptionFile = (*xsFile)(nil)

// newParquetFile creates the file at path; its run_id column holds runID.
func newParquetFile(path, runID string) (exceptionFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	buf := bufio.NewWriterSize(f, 1<<20)
	pw, err := writer.NewParquetWriterFromWriter(buf, new(parquetRow), 1)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	pw.RowGroupSize = rowGroupBytes
	pw.PageSize = pageBytes
	return &xsFile{path: path, runID: runID, f: f, buf: buf, pw: pw}, nil
}

func (x *xsFile) write(e reconcile.Exception) error {
	row := parquetRow{
		RunID:           x.runID,
		Reconciliation:  e.Reconciliation,
		Kind:            string(e.Kind),
		RecordKey:       e.RecordKey,
		Field:           e.Field,
		SourceValue:     e.SourceValue,
		TargetValue:     e.TargetValue,
		SourceUpdatedAt: micros(e.SourceUpdatedAt),
		TargetUpdatedAt: micros(e.TargetUpdatedAt),
	}
	if e.Side != "" {
		side := string(e.Side)
		row.Side = &side
	}
	if err := x.pw.Write(row); err != nil {
		return fmt.Errorf("write %s: %w", x.path, err)
	}
	x.rows++
	if x.rows == rowGroupRows {
		x.rows = 0
		if err := x.pw.Flush(true); err != nil {
			return fmt.Errorf("write %s: %w", x.path, err)
		}
	}
	return nil
}

func (x *xsFile) finish() error {
	if err := x.writeEnd(); err != nil {
		x.f.Close()
		return fmt.Errorf("write %s: %w", x.path, err)
	}
	return syncClose(x.f)
}

// writeEnd writes the last row group and the footer. It does not use
// ParquetWriter.WriteStop, which also writes a wrong page index: empty
// min/max for the columns without statistics and for dictionary pages
// (which readers that use page indexes, such as Spark and Trino, would take
// as real bounds and so skip pages), undecodable for the timestamp columns.
// The page index is optional; the file has none.
func (x *xsFile) writeEnd() error {
	if err := x.pw.Flush(true); err != nil {
		return err
	}
	x.pw.RenameSchema()
	dropEmptyStatistics(x.pw.Footer)
	ts := thrift.NewTSerializer()
	ts.Protocol = thrift.NewTCompactProtocolFactory().GetProtocol(ts.Transport)
	footer, err := ts.Write(context.Background(), x.pw.Footer)
	if err != nil {
		return fmt.Errorf("encode footer: %w", err)
	}
	footer = binary.LittleEndian.AppendUint32(footer, uint32(len(footer)))
	footer = append(footer, "PAR1"...)
	if _, err := x.buf.Write(footer); err != nil {
		return err
	}
	return x.buf.Flush()
}

func (x *xsFile) discard() error {
	if err := x.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", x.path, err)
	}
	return nil
}

// dropEmptyStatistics removes the empty statistics that parquet-go writes
// for omitstats columns: some readers (arrow-go) take a statistics record
// without null_count for one that counts no nulls.
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

// micros converts an instant to microseconds since the Unix epoch.
func micros(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	us := t.UnixMicro()
	return &us
}
