package reconcile

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// Spec says what one reconciliation compares. The CLI builds it from YAML and
// validates it; the engine trusts it.
type Spec struct {
	Name       string
	Key        []KeyColumn
	Fields     []Field
	Timestamp  *TimestampSpec // nil when no last-modified column is compared
	Thresholds Thresholds
	// SourceGroupBy and TargetGroupBy mark a side with many rows per key
	// (config group_by: one opportunity, many invoices): its rows are
	// folded into one record per key by each field's Aggregate.
	SourceGroupBy, TargetGroupBy bool
	// Match lists further match tiers, tried in order on the records the
	// Key (tier 1) left unmatched: e-mail, then an external id, then a
	// composite of names. A tier matches only records unique on both sides
	// by it; a record whose tier value is NULL or empty skips the tier.
	Match [][]KeyColumn
	// CountsBy, when set, makes the reconciliation count rows per period
	// instead of matching records: it then has no Key, Fields or Timestamp.
	CountsBy *CountsBy
	// Checksum, when set, compares in checksum mode where both databases
	// can (see checksum.go), and rows otherwise.
	Checksum *Checksum
}

// Grouped reports whether side has many rows per key.
func (s Spec) Grouped(side Side) bool {
	if side == SourceSide {
		return s.SourceGroupBy
	}
	return s.TargetGroupBy
}

// KeyColumn is one column of the match key. Keys are compared as exact text
// after Normalize, or as integers when Type is Int ("042" matches 42).
type KeyColumn struct {
	Source    string
	Target    string
	Type      FieldType // String or Int
	Normalize []Normalization
	// Region is where the phone normalisation reads numbers written
	// without a country code; default DefaultRegion.
	Region string
}

// Field is one compared field.
type Field struct {
	Name      string
	Source    string
	Target    string
	Type      FieldType
	Normalize []Normalization
	// Region is where the phone normalisation reads numbers written
	// without a country code; default DefaultRegion.
	Region string
	// Map rewrites a value after Normalize (picklist synonyms: "closed won"
	// and "closedwon" to "won"); values it does not list stay as they are.
	Map map[string]string
	// Allowed, when set, lists the only values (after Map) the field may
	// take; any other makes the record invalid. Empty text is not checked.
	Allowed []string
	// Tolerance applies to Int, Decimal, Float, Date (days) and Timestamp fields.
	Tolerance Tolerance
	// Money marks a Decimal field whose differences are money at stake
	// (Result.ValueAtStake).
	Money bool
	// Aggregate folds the field's values on a grouped side; it must be set
	// when either side is grouped.
	Aggregate Aggregate
	// DateLocation, for a Date field read from timestamps, is the zone
	// whose calendar gives the date (New York business dates from UTC
	// columns); nil is the system's zone.
	DateLocation *time.Location
	// NullEqualsEmpty makes NULL and the empty string (after normalisation) equal.
	NullEqualsEmpty bool
}

// Column is one column a side reads, with what it is for.
type Column struct {
	Name string
	Role string // "key #1", `field "amount"` or "timestamp", for messages
	Type FieldType
}

// Columns lists the columns side reads, in the order its rows hold them:
// the key columns, the fields, the timestamp, then the further match
// tiers' columns.
func (s Spec) Columns(side Side) []Column {
	if cb := s.CountsBy; cb != nil {
		return []Column{{pick(side, cb.Source, cb.Target), "counts_by", Timestamp}}
	}
	var cols []Column
	for i, k := range s.Key {
		cols = append(cols, Column{pick(side, k.Source, k.Target), fmt.Sprintf("key #%d", i+1), k.Type})
	}
	for _, f := range s.Fields {
		cols = append(cols, Column{pick(side, f.Source, f.Target), fmt.Sprintf("field %q", f.Name), f.Type})
	}
	if ts := s.Timestamp; ts != nil {
		cols = append(cols, Column{pick(side, ts.Source, ts.Target), "timestamp", Timestamp})
	}
	for t, tier := range s.Match {
		for i, k := range tier {
			cols = append(cols, Column{pick(side, k.Source, k.Target), fmt.Sprintf("match tier %d key #%d", t+2, i+1), k.Type})
		}
	}
	return cols
}

// TimestampSpec names the last-modified columns and how far apart they may be.
type TimestampSpec struct {
	Source    string
	Target    string
	Tolerance time.Duration
}

// Thresholds are the limits whose breach makes a run exit 1. A nil limit is
// not checked. Rates are fractions (0.02 for 2%).
type Thresholds struct {
	CountVariance *float64
	DriftRate     *float64
	// Max* are absolute counts of exceptions of one kind.
	MaxMissingInTarget     *int64
	MaxMissingInSource     *int64
	MaxTimestampMisaligned *int64
	MaxDuplicateKeys       *int64
	MaxInvalidRecords      *int64
	// MinSyncSuccessRate is breached by a lower sync success rate,
	// MaxSyncLagP95 by a higher estimated p95 sync lag.
	MinSyncSuccessRate *float64
	MaxSyncLagP95      *time.Duration
}

// FieldType is how a field's values are parsed and compared.
type FieldType int

// The field types. Every type accepts its values as text, so a number kept
// in a varchar on one side compares with a numeric column on the other.
const (
	String FieldType = iota + 1
	Int
	Decimal
	Float
	Bool
	Date
	Timestamp
)

var fieldTypeNames = map[FieldType]string{
	String: "string", Int: "int", Decimal: "decimal", Float: "float",
	Bool: "bool", Date: "date", Timestamp: "timestamp",
}

func (t FieldType) String() string {
	if s, ok := fieldTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("FieldType(%d)", int(t))
}

// ParseFieldType maps a config name to a FieldType.
func ParseFieldType(s string) (FieldType, bool) {
	for t, name := range fieldTypeNames {
		if name == s {
			return t, true
		}
	}
	return 0, false
}

// FieldTypeNames lists the accepted type names, for error messages.
func FieldTypeNames() []string {
	return []string{"string", "int", "decimal", "float", "bool", "date", "timestamp"}
}

// Tolerance is how far two numeric or temporal values may differ and still
// agree. The zero Tolerance demands equality.
type Tolerance struct {
	// Absolute is a difference in the field's unit (days for dates).
	Absolute decimal.Decimal
	// Relative is a fraction of the source value's magnitude (0.005 for 0.5%).
	Relative decimal.Decimal
	// Duration is the tolerance of timestamp fields.
	Duration time.Duration
}
