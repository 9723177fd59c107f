package repairs

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/sources"
)

// Owner is the system of record of a field.
type Owner int

// The owners. A field without one is compared and reported, never repaired.
const (
	NoOwner Owner = iota
	SourceOwns
	TargetOwns
	NewestOwns // last write wins, by the records' timestamps
)

// ParseOwner maps a config name ("source", "target", "newest") to an Owner.
func ParseOwner(s string) (Owner, bool) {
	switch s {
	case "source":
		return SourceOwns, true
	case "target":
		return TargetOwns, true
	case "newest":
		return NewestOwns, true
	}
	return NoOwner, false
}

// Direction says which sides recon may write.
type Direction int

// The directions.
const (
	SourceToTarget Direction = iota
	TargetToSource
	Both
)

var directionNames = []string{"source_to_target", "target_to_source", "both"}

func (d Direction) String() string { return directionNames[d] }

// ParseDirection maps a config name to a Direction.
func ParseDirection(s string) (Direction, bool) {
	for i, n := range directionNames {
		if n == s {
			return Direction(i), true
		}
	}
	return 0, false
}

// DirectionNames lists the accepted names, for messages.
func DirectionNames() []string { return directionNames }

// Writes reports whether d lets recon write side s.
func (d Direction) Writes(s reconcile.Side) bool {
	return d == Both || (d == SourceToTarget) == (s == reconcile.TargetSide)
}

// Format is a kind of plan file.
type Format string

// The formats.
const (
	SQL        Format = "sql"        // guarded statements in the written side's dialect
	CSV        Format = "csv"        // generic bulk upsert (and soft-delete) files
	Salesforce Format = "salesforce" // a Bulk API 2.0 upsert job
	HubSpot    Format = "hubspot"    // CRM v3 batch/upsert bodies
)

// Formats lists every format, for messages.
func Formats() []string {
	return []string{string(SQL), string(CSV), string(Salesforce), string(HubSpot)}
}

// Valid reports whether f is a known format.
func (f Format) Valid() bool {
	switch f {
	case SQL, CSV, Salesforce, HubSpot:
		return true
	}
	return false
}

// FieldRule is how one field (by index in reconcile.Spec.Fields) is repaired.
type FieldRule struct {
	Owner  Owner
	Review bool // a person decides; never written
}

// SoftDelete is the column that marks a record deleted, and its value.
type SoftDelete struct {
	Column string
	Value  string // as written in the config: true, 1, 'deleted'
	// Grace, if set, is how long a record must have been missing (since the
	// exception was first seen, by the state store) before it is
	// soft-deleted: never on first sight.
	Grace time.Duration
}

// Spec is the repair config of one reconciliation.
type Spec struct {
	Direction Direction
	Fields    []FieldRule // one per reconcile.Spec.Fields
	// SourceTable and TargetTable are the tables written on each side.
	SourceTable, TargetTable string
	SoftDelete               *SoftDelete
	// MaxChanges is the most changed records recon apply accepts without
	// --force; 0 means no limit.
	MaxChanges int64
	Formats    []Format
	// ExternalID is the key column (its name on either side) that the
	// CRM formats identify records by.
	ExternalID string
	// BatchSize is the statements per transaction of a SQL plan.
	BatchSize int
}

// DefaultBatchSize is the statements per transaction when BatchSize is 0.
const DefaultBatchSize = 500

// Table returns the table written on side s.
func (rs *Spec) Table(s reconcile.Side) string {
	if s == reconcile.SourceSide {
		return rs.SourceTable
	}
	return rs.TargetTable
}

// externalKey returns the index of the key column the CRM formats use.
func (rs *Spec) externalKey(spec *reconcile.Spec) (int, error) {
	if rs.ExternalID == "" {
		if len(spec.Key) != 1 {
			return 0, fmt.Errorf("a composite key needs repair.external_id to name the key column the CRM identifies records by")
		}
		return 0, nil
	}
	for i, k := range spec.Key {
		if k.Source == rs.ExternalID || k.Target == rs.ExternalID {
			return i, nil
		}
	}
	return 0, fmt.Errorf("external_id %q is not a key column", rs.ExternalID)
}

// Check checks rs against spec, the reconciliation it repairs.
func (rs *Spec) Check(spec *reconcile.Spec) []string {
	var problems []string
	for i, f := range rs.Fields {
		if f.Owner == NewestOwns && spec.Timestamp == nil {
			problems = append(problems, fmt.Sprintf("field %q: owner newest needs the records' timestamp: columns (timestamp: {source: …, target: …})", spec.Fields[i].Name))
		}
	}
	for _, f := range rs.Formats {
		if f != Salesforce && f != HubSpot {
			continue
		}
		if _, err := rs.externalKey(spec); err != nil {
			problems = append(problems, fmt.Sprintf("repair.formats %s: %v", f, err))
		}
	}
	return problems
}

// Table is a table recon may write on one side of a reconciliation, with
// what a plan needs to know of it.
type Table struct {
	Side     reconcile.Side
	System   string // the system's name in the config
	Driver   string
	Dialect  queries.Writer
	Name     string
	Location *time.Location // the system's zone of timestamps without one
	columns  map[string]sources.Column
	// salesforce is set where a Salesforce Bulk API file is written, in
	// which the text #N/A cannot be written.
	salesforce bool
}

// NewTable checks that the table has every column a plan on side s writes
// or guards (the side's key columns, fields and timestamp, and the
// soft-delete column) among have, the table's columns as the database
// describes them, and returns it.
func NewTable(s reconcile.Side, system, driver string, w queries.Writer, loc *time.Location,
	have []sources.Column, spec *reconcile.Spec, rs *Spec) (*Table, error) {
	t := &Table{Side: s, System: system, Driver: driver, Dialect: w, Name: rs.Table(s), Location: loc, columns: map[string]sources.Column{},
		salesforce: slices.Contains(rs.Formats, Salesforce)}
	if strings.ContainsFunc(t.Name, isControl) {
		return nil, fmt.Errorf("repair table %q: a name with control characters cannot be written on one line", t.Name)
	}
	var names []string
	for _, c := range spec.Columns(s) {
		names = append(names, c.Name)
	}
	if rs.SoftDelete != nil {
		names = append(names, rs.SoftDelete.Column)
	}
	var missing []string
	for _, n := range names {
		found, err := sources.Resolve(have, []string{n})
		if err != nil {
			missing = append(missing, err.Error())
			continue
		}
		if strings.ContainsFunc(found[0].Name, isControl) {
			return nil, fmt.Errorf("repair table %s: column %q has control characters in its name", t.Name, found[0].Name)
		}
		if found[0].DatabaseType == "" {
			// SQLite: a column without a declared type compares its numbers
			// with no text, so no guard could tell the row is unchanged.
			return nil, fmt.Errorf("repair table %s: column %q has no declared type; declare one (INTEGER, TEXT, …) so that repairs can compare its values", t.Name, found[0].Name)
		}
		t.columns[n] = found[0]
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("repair table %s on %s system %q: %s", t.Name, s, system, strings.Join(missing, "; "))
	}
	return t, nil
}

// column returns the table's column for a config column name.
func (t *Table) column(name string) sources.Column { return t.columns[name] }

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
