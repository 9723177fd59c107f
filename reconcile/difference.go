package reconcile

import (
	"strconv"
	"time"
)

// Sink receives what a reconciliation found, one Difference per key that
// differs, in key order, then the records whose key could not be used. A
// Difference and everything it points to is valid only during the call:
// the engine reuses the memory, so a sink copies what it keeps.
type Sink interface {
	Write(*Difference) error
}

// Record is one side's record as read: the stored text of its columns, nil
// for SQL NULL. Nothing in it is normalised.
type Record struct {
	// Key holds the key columns in Spec.Key order, as stored ("042",
	// " abc "), which is what a person or a repair looks the record up by.
	Key [][]byte
	// Fields holds the compared fields in Spec.Fields order.
	Fields [][]byte
	// Timestamp is the last-modified column; nil without a timestamp spec.
	Timestamp []byte
	// UpdatedAt is Timestamp as an instant in UTC; nil when NULL, invalid
	// or not configured.
	UpdatedAt *time.Time
	// Location is the zone of the side's timestamps written without one.
	Location *time.Location
	// Rows is how many records of the side share the key; more than 1 is a
	// duplicate key, and this record is the one compared, unless Grouped.
	Rows int
	// Grouped is set for a grouped side's record (group_by): its fields are
	// the aggregates of its Rows rows, as canonical text.
	Grouped bool
	// Invalid lists the columns whose text is not of their type: field
	// indexes, or len(Fields) for the timestamp. They were not compared.
	Invalid []int
}

// Duplicate reports whether the record's key repeats on its side.
func (r *Record) Duplicate() bool { return r.Rows > 1 && !r.Grouped }

// Difference is everything the engine found about one key: a record
// missing on one side, fields that differ, misaligned timestamps,
// duplicates or invalid values on either side. A record whose key is NULL
// or unparsable cannot be matched and comes alone, with Unkeyed set.
type Difference struct {
	Spec *Spec
	// Key is the key as compared (normalised, integers canonical), rendered
	// as the report's record_key; nil for a NULL key.
	Key *string
	// Source and Target are the records; nil where the side has none.
	Source, Target *Record
	// Mismatched lists the indexes of the fields that differ.
	Mismatched []int
	// Misaligned is set when both records' timestamps differ beyond the
	// tolerance (or one is NULL).
	Misaligned bool
	// Unkeyed is set for a record whose key cannot be used: BadKey is the
	// index of the bad key column, or -1 when a key column is NULL.
	Unkeyed bool
	BadKey  int
	// Period, in a counts_by reconciliation, is a period whose counts
	// differ; the Difference has nothing else.
	Period *PeriodCount
	// Tier is the match tier that paired the records (or found the one
	// record ambiguous); 0 where none applies.
	Tier int
	// KeyMismatch is set on a pair a later tier matched whose tier-1 keys
	// differ or are missing; Ambiguous on a record (one side only) that a
	// tier could not pair because its tier value is not unique.
	KeyMismatch, Ambiguous bool
	// TierValue is the ambiguous record's tier value, as stored.
	TierValue [][]byte
	// order is the encoded key a keyed Difference was found at, which
	// orders Differences (nil for the others).
	order []byte
}

// reset clears d for the next key, keeping its memory.
func (d *Difference) reset() {
	*d = Difference{Spec: d.Spec, Mismatched: d.Mismatched[:0]}
}

// Side returns the record of side s.
func (d *Difference) Side(s Side) *Record {
	if s == SourceSide {
		return d.Source
	}
	return d.Target
}

// Missing returns the side a keyed record is missing from, or "".
func (d *Difference) Missing() Side {
	switch {
	case d.Unkeyed:
		return ""
	case d.Target == nil:
		return TargetSide
	case d.Source == nil:
		return SourceSide
	}
	return ""
}

// KeyText renders key components as record_key does: a single column's
// text, a composite key as a JSON array of texts.
func KeyText(parts [][]byte) string {
	strs := make([]string, len(parts))
	for i, p := range parts {
		strs[i] = string(p)
	}
	return keyText(strs)
}

// AppendExceptions appends d's report rows to dst: per side its duplicate
// and each invalid column, then the missing record, the fields that differ
// and the misaligned timestamps.
func (d *Difference) AppendExceptions(dst []Exception) []Exception {
	spec := d.Spec
	if p := d.Period; p != nil {
		return append(dst, Exception{Reconciliation: spec.Name, Kind: CountMismatch, RecordKey: &p.Period,
			SourceValue: countText(p.Source), TargetValue: countText(p.Target)})
	}
	base := Exception{Reconciliation: spec.Name, RecordKey: d.Key}
	for _, s := range []Side{SourceSide, TargetSide} {
		if r := d.Side(s); r != nil {
			key := KeyText(r.Key)
			if r.Key != nil && !(d.Unkeyed && d.BadKey < 0) {
				setKey(&base, s, &key)
			}
			setUpdatedAt(&base, s, r.UpdatedAt)
		}
	}
	if d.Tier > 0 {
		tier := d.Tier
		base.MatchTier = &tier
	}
	if d.Unkeyed {
		return append(dst, d.unkeyed(base))
	}
	if d.Ambiguous {
		return append(dst, d.ambiguous(base))
	}
	if d.KeyMismatch {
		e := base
		e.Kind = KeyMismatch
		e.Field = &spec.Key[0].Source
		for _, s := range []Side{SourceSide, TargetSide} {
			if k := d.Side(s).Key; k != nil {
				setValue(&e, s, text([]byte(KeyText(k))))
			}
		}
		dst = append(dst, e)
	}
	for _, s := range []Side{SourceSide, TargetSide} {
		r := d.Side(s)
		if r == nil {
			continue
		}
		if r.Duplicate() {
			e := base
			e.Kind, e.Side = DuplicateKey, s
			n := strconv.Itoa(r.Rows)
			setValue(&e, s, &n)
			dst = append(dst, e)
		}
		for _, c := range r.Invalid {
			e := base
			e.Kind, e.Side = InvalidRecord, s
			name, raw := spec.payloadColumn(s, c, r)
			e.Field = &name
			setValue(&e, s, text(raw))
			dst = append(dst, e)
		}
	}
	if m := d.Missing(); m != "" {
		e := base
		e.Kind = MissingInTarget
		if m == SourceSide {
			e.Kind = MissingInSource
		}
		return append(dst, e)
	}
	for _, f := range d.Mismatched {
		e := base
		e.Kind = FieldMismatch
		e.Field = &spec.Fields[f].Name
		typ := spec.Fields[f].Type
		e.SourceValue = formatValueText(typ, d.Source.Fields[f], d.Source.Location)
		e.TargetValue = formatValueText(typ, d.Target.Fields[f], d.Target.Location)
		dst = append(dst, e)
	}
	if d.Misaligned {
		e := base
		e.Kind = TimestampMisaligned
		dst = append(dst, e)
	}
	return dst
}

// ambiguous is the ambiguous_match row of a record a tier could not pair.
func (d *Difference) ambiguous(base Exception) Exception {
	e := base
	e.Kind = AmbiguousMatch
	s := SourceSide
	if d.Source == nil {
		s = TargetSide
	}
	e.Side = s
	col := d.Spec.Match[d.Tier-2][0]
	name := pick(s, col.Source, col.Target)
	e.Field = &name
	v := KeyText(d.TierValue)
	setValue(&e, s, &v)
	return e
}

// unkeyed is the invalid_record row of a record whose key cannot be used.
func (d *Difference) unkeyed(base Exception) Exception {
	e := base
	e.Kind = InvalidRecord
	s := SourceSide
	if d.Source == nil {
		s = TargetSide
	}
	e.Side = s
	if d.BadKey >= 0 {
		r := d.Side(s)
		name := pick(s, d.Spec.Key[d.BadKey].Source, d.Spec.Key[d.BadKey].Target)
		e.Field = &name
		setValue(&e, s, text(r.Key[d.BadKey]))
	}
	return e
}

// payloadColumn names payload column c of side s (a field, or the
// timestamp) and returns its raw text in r.
func (s *Spec) payloadColumn(side Side, c int, r *Record) (string, []byte) {
	if c < len(s.Fields) {
		return s.Fields[c].Name, r.Fields[c]
	}
	return pick(side, s.Timestamp.Source, s.Timestamp.Target), r.Timestamp
}

func text(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

func setKey(e *Exception, s Side, k *string) {
	if s == SourceSide {
		e.SourceKey = k
	} else {
		e.TargetKey = k
	}
}

// setValue sets the side's value column of e.
func setValue(e *Exception, s Side, v *string) {
	if s == SourceSide {
		e.SourceValue = v
	} else {
		e.TargetValue = v
	}
}

func setUpdatedAt(e *Exception, s Side, t *time.Time) {
	if s == SourceSide {
		e.SourceUpdatedAt = t
	} else {
		e.TargetUpdatedAt = t
	}
}

// Tee returns a Sink that writes each Difference to every sink in turn.
func Tee(sinks ...Sink) Sink { return tee(sinks) }

type tee []Sink

func (t tee) Write(d *Difference) error {
	for _, s := range t {
		if err := s.Write(d); err != nil {
			return err
		}
	}
	return nil
}
