package repairs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/reconcile"
)

// Kind is what a change does to a record.
type Kind string

// The kinds of change. Their text is part of summary.json and the SQL plans.
const (
	Insert      Kind = "insert"
	Update      Kind = "update"
	SoftDeleted Kind = "soft_delete"
)

// Header says where a plan comes from; its files repeat it.
type Header struct {
	RunID          string
	Reconciliation string
	ConfigHash     string
}

// Planner plans the repairs of one reconciliation: it is a reconcile.Sink,
// and Close returns what it planned.
type Planner struct {
	dir    string // the run's repairs directory
	header Header
	spec   *reconcile.Spec
	rules  *Spec
	tables [2]*Table // the writable sides; nil where Direction forbids
	review *Review
	plans  [2]*plan
	// toward lists, per side, the fields a plan may write there: those the
	// other side or the newest record owns, that no person must review.
	toward [2][]int
	errs   []reconcile.Exception // reused

	// FirstSeen tells when an exception of the reconciliation was first
	// seen, for soft_delete's grace; Now is the run's time. Without it, no
	// soft delete with a grace is planned.
	FirstSeen func(kind reconcile.Kind, recordKey string) (time.Time, error)
	Now       time.Time
}

var _ reconcile.Sink = (*Planner)(nil)

// NewPlanner starts the plans of a reconciliation in dir, the run's repairs
// directory. tables holds the writable sides, in source, target order (nil
// for a side recon may not write); review collects what a person decides.
func NewPlanner(dir string, h Header, spec *reconcile.Spec, rules *Spec, tables [2]*Table, review *Review) (*Planner, error) {
	if len(rules.Fields) != len(spec.Fields) {
		return nil, fmt.Errorf("repairs of %s: %d field rules for %d fields", spec.Name, len(rules.Fields), len(spec.Fields))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	p := &Planner{dir: dir, header: h, spec: spec, rules: rules, tables: tables, review: review}
	for i, s := range []reconcile.Side{reconcile.SourceSide, reconcile.TargetSide} {
		otherOwns := TargetOwns
		if s == reconcile.TargetSide {
			otherOwns = SourceOwns
		}
		for f, r := range rules.Fields {
			if !r.Review && (r.Owner == otherOwns || r.Owner == NewestOwns) {
				p.toward[i] = append(p.toward[i], f)
			}
		}
	}
	for i, t := range tables {
		if t != nil {
			pl, err := p.newPlan(t, p.toward[i])
			if err != nil {
				p.Abort()
				return nil, err
			}
			p.plans[i] = pl
		}
	}
	return p, nil
}

// Write plans the repair of one difference.
func (p *Planner) Write(d *reconcile.Difference) error {
	p.errs = d.AppendExceptions(p.errs[:0])
	if reviewed, err := p.reviewRecord(d); reviewed || err != nil {
		return err
	}
	if m := d.Missing(); m != "" {
		return p.missing(d, m)
	}
	return p.mismatches(d)
}

// reviewRecord sends a record that must never be repaired to review: a key
// that cannot be used, a duplicate key, a value that does not parse.
func (p *Planner) reviewRecord(d *reconcile.Difference) (bool, error) {
	reviewed := false
	for _, e := range p.errs {
		var reason string
		switch {
		case e.Kind == reconcile.InvalidRecord && d.Unkeyed && d.BadKey < 0:
			reason = "the key is NULL: the record cannot be matched"
		case e.Kind == reconcile.InvalidRecord && d.Unkeyed:
			reason = "the key does not parse as its type: the record cannot be matched"
		case e.Kind == reconcile.InvalidRecord:
			reason = fmt.Sprintf("invalid value in %s: a person must correct it", *e.Field)
		case e.Kind == reconcile.DuplicateKey:
			reason = fmt.Sprintf("duplicate key: %s %s records share it, so no repair can tell them apart", value(e), e.Side)
		default:
			continue
		}
		reviewed = true
		if err := p.review.add(p.header.RunID, e, reason); err != nil {
			return true, err
		}
	}
	return reviewed, nil
}

func value(e reconcile.Exception) string {
	if e.Side == reconcile.SourceSide {
		return *e.SourceValue
	}
	return *e.TargetValue
}

// reviewField sends field f of d to review (f < 0: the record), with the
// exception row that reports it.
func (p *Planner) reviewField(d *reconcile.Difference, f int, reason string) error {
	for _, e := range p.errs {
		if (f < 0 && (e.Kind == reconcile.MissingInTarget || e.Kind == reconcile.MissingInSource)) ||
			(f >= 0 && e.Kind == reconcile.FieldMismatch && *e.Field == p.spec.Fields[f].Name) {
			return p.review.add(p.header.RunID, e, reason)
		}
	}
	return fmt.Errorf("repairs of %s: no exception for the reviewed field %d of %s", p.spec.Name, f, *d.Key)
}

// missing plans a record that side m lacks: an insert where m may be
// written, else a soft delete of the other side's record where configured.
// Never a DELETE.
func (p *Planner) missing(d *reconcile.Difference, m reconcile.Side) error {
	present := other(m)
	if t := p.tables[sideIndex(m)]; t != nil {
		c, err := p.insert(t, d.Side(present), p.toward[sideIndex(m)])
		if err != nil {
			return p.reviewField(d, -1, "cannot be inserted: "+err.Error())
		}
		return p.plans[sideIndex(m)].add(c)
	}
	t := p.tables[sideIndex(present)]
	if t == nil || p.rules.SoftDelete == nil {
		return nil // reported as an exception only
	}
	if grace := p.rules.SoftDelete.Grace; grace > 0 {
		kind := reconcile.MissingInTarget
		if m == reconcile.SourceSide {
			kind = reconcile.MissingInSource
		}
		if p.FirstSeen == nil {
			return nil
		}
		first, err := p.FirstSeen(kind, *d.Key)
		if err != nil {
			return err
		}
		if p.Now.Sub(first) < grace {
			return nil // missing for less than the grace: reported only, for now
		}
	}
	c, err := p.softDelete(t, d.Side(present))
	if err != nil {
		return p.reviewField(d, -1, "cannot be soft-deleted: "+err.Error())
	}
	return p.plans[sideIndex(present)].add(c)
}

// mismatches plans the fields that differ on a record both sides have:
// each toward the side that does not own it.
func (p *Planner) mismatches(d *reconcile.Difference) error {
	var sets [2][]set
	for _, f := range d.Mismatched {
		rule := p.rules.Fields[f]
		if rule.Review {
			if err := p.reviewField(d, f, "review field: a person decides"); err != nil {
				return err
			}
			continue
		}
		if rule.Owner == NoOwner {
			continue
		}
		to, reason := p.writeSide(d, rule.Owner)
		if reason != "" {
			if err := p.reviewField(d, f, reason); err != nil {
				return err
			}
			continue
		}
		t := p.tables[sideIndex(to)]
		if t == nil {
			continue // recon may not write that side
		}
		owner := d.Side(other(to))
		field := p.spec.Fields[f]
		v, err := render(field, owner.Fields[f], owner.Location, t, t.column(pick(to, field.Source, field.Target)))
		if err != nil {
			if err := p.reviewField(d, f, "cannot be written: "+err.Error()); err != nil {
				return err
			}
			continue
		}
		sets[sideIndex(to)] = append(sets[sideIndex(to)], set{field: f, val: v})
	}
	for i, s := range sets {
		if len(s) == 0 {
			continue
		}
		c, err := p.update(p.tables[i], d.Side(p.tables[i].Side), s)
		if err != nil {
			for _, f := range s {
				if rerr := p.reviewField(d, f.field, "cannot be written: "+err.Error()); rerr != nil {
					return rerr
				}
			}
			continue
		}
		if err := p.plans[i].add(c); err != nil {
			return err
		}
	}
	return nil
}

// writeSide returns the side a mismatch of a field with owner o is written
// to, or why a person must decide instead.
func (p *Planner) writeSide(d *reconcile.Difference, o Owner) (reconcile.Side, string) {
	switch o {
	case SourceOwns:
		return reconcile.TargetSide, ""
	case TargetOwns:
		return reconcile.SourceSide, ""
	}
	src, tgt := d.Source.UpdatedAt, d.Target.UpdatedAt
	switch {
	case src == nil && tgt == nil:
		return "", "owner newest: neither record has a last-modified time"
	case src == nil:
		return "", "owner newest: the source record has no last-modified time"
	case tgt == nil:
		return "", "owner newest: the target record has no last-modified time"
	case src.Equal(*tgt):
		return "", "owner newest: both records were last modified at the same instant"
	case src.Sub(*tgt).Abs() <= p.spec.Timestamp.Tolerance:
		return "", "owner newest: the records were last modified within the timestamps' tolerance of each other, which cannot tell which is newer"
	case src.After(*tgt):
		return reconcile.TargetSide, ""
	}
	return reconcile.SourceSide, ""
}

// change is one record's repair on one side.
type change struct {
	kind Kind
	// key is the record's key as the written side stores it (for an
	// insert, as the other side does), one value per key column.
	key []val
	// sets are the fields written; for an insert every field a plan may
	// write toward the side.
	sets []set
	// current is the written side's record as read; nil for an insert.
	current *reconcile.Record
	// softDelete is the soft-delete column's value, for a soft delete.
	softDelete val
	sql        string
}

type set struct {
	field int
	val   val
}

func (p *Planner) keyValues(t *Table, r *reconcile.Record) ([]val, error) {
	key := make([]val, len(p.spec.Key))
	for i, k := range p.spec.Key {
		col := t.column(pick(t.Side, k.Source, k.Target))
		v, err := render(reconcile.Field{Name: col.Name, Type: k.Type}, r.Key[i], r.Location, t, col)
		if err != nil {
			return nil, fmt.Errorf("key column %s: %w", col.Name, err)
		}
		key[i] = v
	}
	return key, nil
}

// insert is the insert into t of the record r of the other side.
func (p *Planner) insert(t *Table, r *reconcile.Record, fields []int) (*change, error) {
	key, err := p.keyValues(t, r)
	if err != nil {
		return nil, err
	}
	c := &change{kind: Insert, key: key}
	var cells []queries.Cell
	var match []queries.Reads
	for i, k := range p.spec.Key {
		col := t.column(pick(t.Side, k.Source, k.Target))
		cells = append(cells, queries.Cell{Column: col.Name, Value: key[i].sql})
		text := key[i].text
		match = append(match, queries.Reads{Column: col.Name, DatabaseType: col.DatabaseType, Text: &text})
	}
	for _, f := range fields {
		field := p.spec.Fields[f]
		col := t.column(pick(t.Side, field.Source, field.Target))
		v, err := render(field, r.Fields[f], r.Location, t, col)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", field.Name, err)
		}
		c.sets = append(c.sets, set{field: f, val: v})
		cells = append(cells, queries.Cell{Column: col.Name, Value: v.sql})
	}
	c.sql, err = queries.InsertIfAbsent(t.Dialect, t.Name, cells, match)
	return c, err
}

// guard is what must still read as the snapshot read it for an update of
// r, the written side's record, to apply: its key, every compared field
// and its timestamp.
func (p *Planner) guard(t *Table, r *reconcile.Record) (key, guard []queries.Reads) {
	for i, k := range p.spec.Key {
		col := t.column(pick(t.Side, k.Source, k.Target))
		key = append(key, queries.Reads{Column: col.Name, DatabaseType: col.DatabaseType, Text: text(r.Key[i])})
	}
	for i, f := range p.spec.Fields {
		col := t.column(pick(t.Side, f.Source, f.Target))
		guard = append(guard, queries.Reads{Column: col.Name, DatabaseType: col.DatabaseType, Text: text(r.Fields[i])})
	}
	if ts := p.spec.Timestamp; ts != nil {
		col := t.column(pick(t.Side, ts.Source, ts.Target))
		guard = append(guard, queries.Reads{Column: col.Name, DatabaseType: col.DatabaseType, Text: text(r.Timestamp)})
	}
	return key, guard
}

func (p *Planner) update(t *Table, r *reconcile.Record, sets []set) (*change, error) {
	key, err := p.storedKey(t, r)
	if err != nil {
		return nil, err
	}
	c := &change{kind: Update, key: key, sets: sets, current: r}
	cells := make([]queries.Cell, len(sets))
	for i, s := range sets {
		f := p.spec.Fields[s.field]
		cells[i] = queries.Cell{Column: t.column(pick(t.Side, f.Source, f.Target)).Name, Value: s.val.sql}
	}
	keyReads, guard := p.guard(t, r)
	c.sql, err = queries.Update(t.Dialect, queries.Change{Table: t.Name, Set: cells, Key: keyReads, Guard: guard})
	return c, err
}

func (p *Planner) softDelete(t *Table, r *reconcile.Record) (*change, error) {
	key, err := p.storedKey(t, r)
	if err != nil {
		return nil, err
	}
	col := t.column(p.rules.SoftDelete.Column)
	v, err := renderConfigValue(p.rules.SoftDelete.Value, t, col)
	if err != nil {
		return nil, fmt.Errorf("soft_delete value: %w", err)
	}
	c := &change{kind: SoftDeleted, key: key, current: r, softDelete: v}
	cell := queries.Cell{Column: col.Name, Value: v.sql}
	keyReads, guard := p.guard(t, r)
	c.sql, err = queries.Update(t.Dialect, queries.Change{Table: t.Name, Set: []queries.Cell{cell}, Key: keyReads, Guard: guard, Unless: []queries.Cell{cell}})
	return c, err
}

// storedKey is the key of r, a record of t's side, as it stores it.
func (p *Planner) storedKey(t *Table, r *reconcile.Record) ([]val, error) {
	key := make([]val, len(r.Key))
	for i, k := range r.Key {
		sql, err := t.Dialect.StringLiteral(string(k))
		if err != nil {
			return nil, fmt.Errorf("key column %s: %w", t.column(pick(t.Side, p.spec.Key[i].Source, p.spec.Key[i].Target)).Name, err)
		}
		key[i] = val{text: string(k), sql: sql, crm: string(k)}
	}
	return key, nil
}

// Close finishes the plans and returns what they hold.
func (p *Planner) Close() (*Summary, error) {
	s := &Summary{Direction: p.rules.Direction.String(), Plans: []PlanSummary{}, Review: p.review.Count(p.spec.Name)}
	if p.rules.MaxChanges > 0 {
		s.MaxChanges = &p.rules.MaxChanges
	}
	var errs []error
	for _, pl := range p.plans {
		if pl == nil {
			continue
		}
		ps, err := pl.close()
		errs = append(errs, err)
		s.Plans = append(s.Plans, ps)
	}
	if err := errors.Join(errs...); err != nil {
		p.Abort()
		return nil, err
	}
	return s, nil
}

// Abort removes the plans' files: a reconciliation that failed has no plan.
func (p *Planner) Abort() {
	for _, pl := range p.plans {
		if pl != nil {
			pl.abort()
		}
	}
}

// fileName is the plan file of a reconciliation and side with a suffix.
func (p *Planner) fileName(s reconcile.Side, suffix string) string {
	return filepath.Join(p.dir, fileStem(p.spec.Name, p.rules.Direction, s)+"."+suffix)
}

// fileStem is how the plan files of a reconciliation's side begin: its
// name, with path separators and control characters replaced, and the
// side when both are written: <name>, or <name>.<side>.
func fileStem(name string, d Direction, s reconcile.Side) string {
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, name)
	if strings.HasPrefix(name, ".") {
		name = "_" + name[1:]
	}
	if d == Both {
		return name + "." + string(s)
	}
	return name
}

// FileStems returns how the plan files of a reconciliation with direction
// d begin, for checking that two reconciliations never share a file: the
// config refuses names whose stems collide (ignoring case, as some file
// systems do).
func FileStems(name string, d Direction) []string {
	var out []string
	for _, s := range []reconcile.Side{reconcile.SourceSide, reconcile.TargetSide} {
		if d.Writes(s) {
			out = append(out, fileStem(name, d, s))
		}
	}
	return out
}

func other(s reconcile.Side) reconcile.Side {
	if s == reconcile.SourceSide {
		return reconcile.TargetSide
	}
	return reconcile.SourceSide
}

func sideIndex(s reconcile.Side) int {
	if s == reconcile.SourceSide {
		return 0
	}
	return 1
}

func pick(s reconcile.Side, source, target string) string {
	if s == reconcile.SourceSide {
		return source
	}
	return target
}

func text(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}
