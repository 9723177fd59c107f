package reports

import (
	"github.com/recon-dev/recon/internal/parquetfile"
	"github.com/recon-dev/recon/reconcile"
)

// exceptionRow is one row of exceptions.parquet; its tags are the schema
// described in the package doc. Nullable columns are PLAIN and without
// statistics (see internal/parquetfile); new columns go at the end, so that
// readers that merge schemas across runs keep working.
type exceptionRow struct {
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
	SourceKey       *string `parquet:"name=source_key, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
	TargetKey       *string `parquet:"name=target_key, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
	FirstSeenRun    string  `parquet:"name=first_seen_run, type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING, repetitiontype=REQUIRED, encoding=PLAIN_DICTIONARY"`
	FirstSeenAt     int64   `parquet:"name=first_seen_at, type=INT64, convertedtype=TIMESTAMP_MICROS, logicaltype=TIMESTAMP, logicaltype.isadjustedtoutc=true, logicaltype.unit=MICROS, repetitiontype=REQUIRED, encoding=PLAIN"`
	MatchTier       *int32  `parquet:"name=match_tier, type=INT32, repetitiontype=OPTIONAL, encoding=PLAIN, omitstats=true"`
}

func newExceptionRow(runID string, e reconcile.Exception, fs FirstSeen) exceptionRow {
	row := exceptionRow{
		RunID:           runID,
		Reconciliation:  e.Reconciliation,
		Kind:            string(e.Kind),
		RecordKey:       e.RecordKey,
		Field:           e.Field,
		SourceValue:     e.SourceValue,
		TargetValue:     e.TargetValue,
		SourceUpdatedAt: parquetfile.Micros(e.SourceUpdatedAt),
		TargetUpdatedAt: parquetfile.Micros(e.TargetUpdatedAt),
		SourceKey:       e.SourceKey,
		TargetKey:       e.TargetKey,
		FirstSeenRun:    fs.Run,
		FirstSeenAt:     fs.At.UnixMicro(),
	}
	if e.Side != "" {
		side := string(e.Side)
		row.Side = &side
	}
	if e.MatchTier != nil {
		tier := int32(*e.MatchTier)
		row.MatchTier = &tier
	}
	return row
}
