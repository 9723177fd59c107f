package repairs

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/recon-dev/recon/internal/parquetfile"
	"github.com/recon-dev/recon/reconcile"
)

// ReviewFile is the name of the review queue in a run's repairs directory.
const ReviewFile = "review.parquet"

// reviewRow is one row of review.parquet: the exception a person must
// decide, as exceptions.parquet has it, and why no plan holds it.
type reviewRow struct {
	RunID           string  `parquet:"name=run_id, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=REQUIRED, encoding=PLAIN_DICTIONARY"`
	Reconciliation  string  `parquet:"name=reconciliation, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=REQUIRED, encoding=PLAIN_DICTIONARY"`
	RecordKey       *string `parquet:"name=record_key, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
	Field           *string `parquet:"name=field, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
	SourceValue     *string `parquet:"name=source_value, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
	TargetValue     *string `parquet:"name=target_value, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
	SourceUpdatedAt *int64  `parquet:"name=source_updated_at, type=INT64, convertedtype=TIMESTAMP_MICROS, logicaltype=TIMESTAMP, logicaltype.isadjustedtoutc=true, logicaltype.unit=MICROS, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
	TargetUpdatedAt *int64  `parquet:"name=target_updated_at, type=INT64, convertedtype=TIMESTAMP_MICROS, logicaltype=TIMESTAMP, logicaltype.isadjustedtoutc=true, logicaltype.unit=MICROS, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
	Reason          string  `parquet:"name=reason, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=REQUIRED, encoding=PLAIN_DICTIONARY"`
	Kind            string  `parquet:"name=kind, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=REQUIRED, encoding=PLAIN_DICTIONARY"`
	Side            *string `parquet:"name=side, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
	SourceKey       *string `parquet:"name=source_key, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
	TargetKey       *string `parquet:"name=target_key, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
}

// Review is a run's review queue: review.parquet, shared by the planners of
// every reconciliation of the run.
type Review struct {
	w     *parquetfile.Writer[reviewRow]
	count map[string]int64 // rows per reconciliation
}

// CreateReview creates dir/review.parquet.
func CreateReview(dir string) (*Review, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	w, err := parquetfile.Create[reviewRow](filepath.Join(dir, ReviewFile))
	if err != nil {
		return nil, err
	}
	return &Review{w: w, count: map[string]int64{}}, nil
}

func (r *Review) add(runID string, e reconcile.Exception, reason string) error {
	row := reviewRow{
		RunID: runID, Reconciliation: utf8(e.Reconciliation), RecordKey: utf8p(e.RecordKey), Field: utf8p(e.Field),
		SourceValue: utf8p(e.SourceValue), TargetValue: utf8p(e.TargetValue),
		SourceUpdatedAt: parquetfile.Micros(e.SourceUpdatedAt), TargetUpdatedAt: parquetfile.Micros(e.TargetUpdatedAt),
		Reason: utf8(reason), Kind: string(e.Kind), SourceKey: utf8p(e.SourceKey), TargetKey: utf8p(e.TargetKey),
	}
	if e.Side != "" {
		side := string(e.Side)
		row.Side = &side
	}
	r.count[e.Reconciliation]++
	return r.w.Write(row)
}

// Count returns the rows a reconciliation sent to review.
func (r *Review) Count(reconciliation string) int64 { return r.count[reconciliation] }

// Close completes review.parquet.
func (r *Review) Close() error { return r.w.Close() }

// Abort closes review.parquet unfinished and removes it.
func (r *Review) Abort() {
	r.w.Discard()
	os.Remove(r.w.Path())
}

func utf8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func utf8p(s *string) *string {
	if s == nil {
		return nil
	}
	c := utf8(*s)
	return &c
}
