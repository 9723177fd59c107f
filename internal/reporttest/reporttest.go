// Package reporttest reads a run's report back for tests, through readers
// independent of the ones that wrote it: exceptions.parquet with Apache
// Arrow's Parquet implementation, summary.json with encoding/json.
package reporttest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Row is one exceptions.parquet row; nil pointers are nulls.
type Row struct {
	RunID, Reconciliation, Kind      string
	RecordKey, Field, Side           *string
	SourceKey, TargetKey             *string
	FirstSeenRun                     string
	FirstSeenAt                      time.Time
	SourceValue, TargetValue         *string
	SourceUpdatedAt, TargetUpdatedAt *time.Time
	MatchTier                        *int
}

// String renders the row as drift.Exception.String does: reconciliation,
// kind, key, field, side, with "" for null.
func (r Row) String() string {
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return fmt.Sprintf("%s|%s|%s|%s|%s", r.Reconciliation, r.Kind, s(r.RecordKey), s(r.Field), s(r.Side))
}

// ReadExceptions reads every row of an exceptions.parquet file.
func ReadExceptions(path string) ([]Row, error) {
	tbl, err := readTable(path)
	if err != nil {
		return nil, err
	}
	defer tbl.Release()
	rows := make([]Row, tbl.NumRows())
	err = eachValue(tbl, func(i int, name string, chunk arrow.Array, j int) error { return set(&rows[i], name, chunk, j) })
	return rows, err
}

// readTable reads a whole Parquet file with Apache Arrow.
func readTable(path string) (arrow.Table, error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return tbl, nil
}

// eachValue calls f for every value of tbl: row i, column name, value j of chunk.
func eachValue(tbl arrow.Table, f func(i int, name string, chunk arrow.Array, j int) error) error {
	for c := 0; c < int(tbl.NumCols()); c++ {
		col := tbl.Column(c)
		i := 0
		for _, chunk := range col.Data().Chunks() {
			for j := 0; j < chunk.Len(); j, i = j+1, i+1 {
				if err := f(i, col.Name(), chunk, j); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func set(r *Row, name string, chunk arrow.Array, j int) error {
	if n, ok := chunk.(*array.Int32); ok && name == "match_tier" {
		if !n.IsNull(j) {
			v := int(n.Value(j))
			r.MatchTier = &v
		}
		return nil
	}
	if ts, ok := chunk.(*array.Timestamp); ok {
		var t *time.Time
		if !ts.IsNull(j) {
			unit := ts.DataType().(*arrow.TimestampType).Unit
			v := ts.Value(j).ToTime(unit).UTC()
			t = &v
		}
		switch name {
		case "source_updated_at":
			r.SourceUpdatedAt = t
		case "target_updated_at":
			r.TargetUpdatedAt = t
		case "first_seen_at":
			if t == nil {
				return fmt.Errorf("first_seen_at is null")
			}
			r.FirstSeenAt = *t
		default:
			return fmt.Errorf("unexpected timestamp column %s", name)
		}
		return nil
	}
	str, ok := chunk.(*array.String)
	if !ok {
		return fmt.Errorf("column %s is %s, want string or timestamp", name, chunk.DataType())
	}
	var v *string
	if !str.IsNull(j) {
		s := str.Value(j)
		v = &s
	}
	req := func() string {
		if v == nil {
			return "<NULL>"
		}
		return *v
	}
	switch name {
	case "run_id":
		r.RunID = req()
	case "reconciliation":
		r.Reconciliation = req()
	case "kind":
		r.Kind = req()
	case "record_key":
		r.RecordKey = v
	case "field":
		r.Field = v
	case "side":
		r.Side = v
	case "source_value":
		r.SourceValue = v
	case "target_value":
		r.TargetValue = v
	case "source_key":
		r.SourceKey = v
	case "target_key":
		r.TargetKey = v
	case "first_seen_run":
		r.FirstSeenRun = req()
	default:
		return fmt.Errorf("unexpected column %s", name)
	}
	return nil
}

// Summary is summary.json as a test reads it.
type Summary struct {
	RunID           string           `json:"run_id"`
	Status          string           `json:"status"`
	Reconciliations []map[string]any `json:"reconciliations"`
}

// ReadSummary reads dir/summary.json.
func ReadSummary(dir string) (Summary, error) {
	var s Summary
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

// ReadRows reads every row of a Parquet file of string, timestamp and
// int32 columns, such as review.parquet: column name → string, time.Time
// (UTC) or int, nil for a null.
func ReadRows(path string) ([]map[string]any, error) {
	tbl, err := readTable(path)
	if err != nil {
		return nil, err
	}
	defer tbl.Release()
	rows := make([]map[string]any, tbl.NumRows())
	for i := range rows {
		rows[i] = map[string]any{}
	}
	err = eachValue(tbl, func(i int, name string, chunk arrow.Array, j int) error {
		var v any
		switch a := chunk.(type) {
		case *array.String:
			if !a.IsNull(j) {
				v = a.Value(j)
			}
		case *array.Timestamp:
			if !a.IsNull(j) {
				v = a.Value(j).ToTime(a.DataType().(*arrow.TimestampType).Unit).UTC()
			}
		case *array.Int32:
			if !a.IsNull(j) {
				v = int(a.Value(j))
			}
		default:
			return fmt.Errorf("%s: column %s is %s, want string or timestamp", path, name, chunk.DataType())
		}
		rows[i][name] = v
		return nil
	})
	return rows, err
}
