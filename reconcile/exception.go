package reconcile

import "time"

// Kind classifies one exception row of a drift report.
type Kind string

// The exception kinds. Their text is part of the report schema: never rename one.
const (
	MissingInTarget     Kind = "missing_in_target"
	MissingInSource     Kind = "missing_in_source"
	FieldMismatch       Kind = "field_mismatch"
	TimestampMisaligned Kind = "timestamp_misaligned"
	DuplicateKey        Kind = "duplicate_key"
	InvalidRecord       Kind = "invalid_record"
	CountMismatch       Kind = "count_mismatch" // a period whose row counts differ (counts_by)
	// AmbiguousMatch is a record a match tier could not pair: its tier
	// value is shared by several records of a side. Never guessed.
	AmbiguousMatch Kind = "ambiguous_match"
	// KeyMismatch is a pair matched by a later tier whose tier-1 keys
	// differ or are missing: the link between the systems is broken.
	KeyMismatch Kind = "key_mismatch"
)

// Side names the system an exception concerns when only one does.
type Side string

// The two sides of a reconciliation.
const (
	SourceSide Side = "source"
	TargetSide Side = "target"
)

// Exception is one row of the drift report. Pointer fields are nil where the
// value is absent (they become nulls in Parquet).
type Exception struct {
	Reconciliation string
	Kind           Kind
	// RecordKey is the key's text as compared (normalised); a composite key
	// is a JSON array of texts. Nil for a record whose key is NULL.
	RecordKey *string
	// SourceKey and TargetKey are each side's key as stored, in the same
	// form; nil where the side has no record (or its key is NULL).
	SourceKey *string
	TargetKey *string
	// Field names the diverging field (field_mismatch) or the bad column
	// (invalid_record); nil otherwise.
	Field *string
	// Side is set for exceptions about one side only: duplicate_key and
	// invalid_record.
	Side Side
	// SourceValue and TargetValue are the values as read, as text. For
	// duplicate_key the repeating side's value is the number of rows sharing the key.
	SourceValue *string
	TargetValue *string
	// SourceUpdatedAt and TargetUpdatedAt are the records' last-modified
	// instants in UTC, where known.
	SourceUpdatedAt *time.Time
	TargetUpdatedAt *time.Time
	// MatchTier is the tier (1 the key, 2 the first of Spec.Match…) that
	// paired the records, or found the record ambiguous; nil where no
	// tier applies (no further tiers, or an unmatched record).
	MatchTier *int
}

// Result holds the figures of one reconciliation. The JSON names are part of
// the report schema (summary.json).
type Result struct {
	Name          string   `json:"name"`
	SourceCount   int64    `json:"source_count"`
	TargetCount   int64    `json:"target_count"`
	CountDelta    int64    `json:"count_delta"`
	CountVariance *float64 `json:"count_variance"`
	Matched       int64    `json:"matched"`
	// InAgreement counts matched records whose compared fields all agree
	// and parse on both sides.
	InAgreement int64 `json:"in_agreement"`
	// SyncSuccessRate is InAgreement / the source records not settling (1
	// when there are none).
	SyncSuccessRate float64 `json:"sync_success_rate"`
	// Settling counts keys left out because a side's record was modified
	// within the settle window: still in flight.
	Settling       int64 `json:"settling"`
	settlingSource int64
	// lag is the histogram the SyncLag figures come from, which a
	// partitioned run's partial file keeps for merging.
	lag                      *lagHistogram
	MissingInTarget          int64            `json:"missing_in_target"`
	MissingInSource          int64            `json:"missing_in_source"`
	FieldMismatches          map[string]int64 `json:"field_mismatches"`
	RecordsWithFieldMismatch int64            `json:"records_with_field_mismatch"`
	TimestampMisaligned      int64            `json:"timestamp_misaligned"`
	TargetStale              int64            `json:"target_stale"`
	TargetAhead              int64            `json:"target_ahead"`
	DuplicateKeys            int64            `json:"duplicate_keys"`
	InvalidRecords           int64            `json:"invalid_records"`
	DriftRate                float64          `json:"drift_rate"`
	// SyncLagP50, SyncLagP95 and SyncLagMax estimate sync latency, in
	// seconds, from matched records' last-modified times: how long after
	// the source's the target's came (0 where the target is ahead). Nil
	// without timestamps.
	SyncLagP50 *float64 `json:"sync_lag_p50_seconds"`
	SyncLagP95 *float64 `json:"sync_lag_p95_seconds"`
	SyncLagMax *float64 `json:"sync_lag_max_seconds"`
	// Periods and PeriodsBreached count a counts_by reconciliation's
	// periods and those whose counts differ beyond count_variance; nil for
	// others. PeriodCounts has each period's counts, oldest first.
	Periods         *int64        `json:"periods"`
	PeriodsBreached *int64        `json:"periods_breached"`
	PeriodCounts    []PeriodCount `json:"period_counts,omitempty"`
	// MatchedByTier counts the pairs each match tier made, tier 1 first;
	// nil without further tiers. AmbiguousMatches counts the records a
	// tier found ambiguous, KeyMismatches the later-tier pairs whose tier-1
	// keys differ or are missing.
	MatchedByTier    []int64 `json:"matched_by_tier"`
	AmbiguousMatches int64   `json:"ambiguous_matches"`
	KeyMismatches    int64   `json:"key_mismatches"`
	// DurationSeconds is how long the reconciliation took, reads included;
	// SourceRowsRead and TargetRowsRead how many rows each side sent (a
	// side grouped in the database sends one a group).
	DurationSeconds float64 `json:"duration_seconds"`
	// Mode is how the records were compared: "rows" (every row read) or
	// "checksum" (segments checksummed in the databases, Checksum saying
	// how many, and only the differing ones read).
	Mode           string           `json:"mode"`
	Checksum       *ChecksumFigures `json:"checksum"`
	SourceRowsRead int64            `json:"source_rows_read"`
	TargetRowsRead int64            `json:"target_rows_read"`
	// ValueAtStake is, for a reconciliation with money fields, what their
	// differences put at stake per field and currency; nil without one.
	ValueAtStake []Stake  `json:"value_at_stake"`
	Breaches     []string `json:"breaches"`
	Error        *string  `json:"error"`
}
