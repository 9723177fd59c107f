package reconcile

import (
	"bytes"
	"context"
	"strconv"
	"sync/atomic"
)

// join walks both sides' sorted records in step (a merge join), so it holds
// one record group per side at a time, however large the tables.
type join struct {
	spec   Spec
	sides  [2]*sideState
	sink   Sink
	res    Result
	fields []comparator
	stamp  *comparator // nil without a timestamp spec
	// Per side, the parsed payload of the current record, which of its
	// columns did not parse, and the first of those (-1 if none).
	vals    [2][]value
	invalid [2][]bool
	bad     [2]int
	// compared counts keys passed, for progress.
	compared *atomic.Int64
}

func newJoin(spec Spec, sides [2]*sideState, sink Sink, compared *atomic.Int64) *join {
	j := &join{spec: spec, sides: sides, sink: sink, compared: compared}
	j.res.Name = spec.Name
	j.res.SourceCount, j.res.TargetCount = sides[0].count, sides[1].count
	j.res.FieldMismatches = make(map[string]int64, len(spec.Fields))
	for _, f := range spec.Fields {
		j.fields = append(j.fields, newComparator(f))
		j.res.FieldMismatches[f.Name] = 0
	}
	n := len(spec.Fields)
	if spec.Timestamp != nil {
		j.stamp = &comparator{typ: Timestamp, tol: Tolerance{Duration: spec.Timestamp.Tolerance}}
		n++
	}
	j.vals = [2][]value{make([]value, n), make([]value, n)}
	j.invalid = [2][]bool{make([]bool, n), make([]bool, n)}
	return j
}

func (j *join) run(ctx context.Context) error {
	var groups [2]*groupIter
	for i, s := range j.sides {
		groups[i] = &groupIter{it: s.sorted}
	}
	a, na, err := groups[0].next()
	if err != nil {
		return err
	}
	b, nb, err := groups[1].next()
	if err != nil {
		return err
	}
	steps := int64(0)
	for ; a != nil || b != nil; steps++ {
		if steps%4096 == 0 {
			j.compared.Store(steps)
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		c := 0
		switch {
		case a == nil:
			c = 1
		case b == nil:
			c = -1
		default:
			c = bytes.Compare(a.key, b.key)
		}
		switch {
		case c < 0:
			err = j.unmatched(SourceSide, a, na)
		case c > 0:
			err = j.unmatched(TargetSide, b, nb)
		default:
			err = j.matched(a, na, b, nb)
		}
		if err != nil {
			return err
		}
		if c <= 0 {
			if a, na, err = groups[0].next(); err != nil {
				return err
			}
		}
		if c >= 0 {
			if b, nb, err = groups[1].next(); err != nil {
				return err
			}
		}
	}
	j.compared.Store(steps)
	for _, s := range j.sides {
		if err := j.quarantined(s); err != nil {
			return err
		}
	}
	return nil
}

// exception starts an exception about the record with key k.
func (j *join) exception(kind Kind, k []byte) (Exception, error) {
	e := Exception{Reconciliation: j.spec.Name, Kind: kind}
	parts, err := decodeKey(k)
	if err != nil {
		return e, err
	}
	text := keyText(parts)
	e.RecordKey = &text
	return e, nil
}

func sideIndex(s Side) int {
	if s == SourceSide {
		return 0
	}
	return 1
}

// setValue sets the side's value column of e.
func setValue(e *Exception, s Side, v *string) {
	if s == SourceSide {
		e.SourceValue = v
	} else {
		e.TargetValue = v
	}
}

// setUpdated sets the side's last-modified column of e from parsed values.
func (j *join) setUpdated(e *Exception, s Side) {
	if j.stamp == nil {
		return
	}
	i := sideIndex(s)
	v := j.vals[i][len(j.fields)]
	if v.null || j.invalid[i][len(j.fields)] {
		return
	}
	t := v.instant()
	if s == SourceSide {
		e.SourceUpdatedAt = &t
	} else {
		e.TargetUpdatedAt = &t
	}
}

// parse reads a record's payload into vals, noting its invalid columns.
func (j *join) parse(s Side, r *record) {
	i := sideIndex(s)
	loc := j.sides[i].input.Location
	j.bad[i] = -1
	for c := range j.vals[i] {
		cmp := j.stamp
		if c < len(j.fields) {
			cmp = &j.fields[c]
		}
		v, err := cmp.parse(r.cols[c], loc)
		j.vals[i][c], j.invalid[i][c] = v, err != nil
		if err != nil && j.bad[i] < 0 {
			j.bad[i] = c
		}
	}
}

// columnName names payload column n of a side for an invalid_record row:
// the field's name, or the side's timestamp column.
func (j *join) columnName(s Side, n int) string {
	if n < len(j.spec.Fields) {
		return j.spec.Fields[n].Name
	}
	return pick(s, j.spec.Timestamp.Source, j.spec.Timestamp.Target)
}

// checkRecord reports a record's duplicates and its first invalid column.
func (j *join) checkRecord(s Side, r *record, count int) error {
	i := sideIndex(s)
	if count > 1 {
		j.res.DuplicateKeys++
		e, err := j.exception(DuplicateKey, r.key)
		if err != nil {
			return err
		}
		e.Side = s
		n := strconv.Itoa(count)
		setValue(&e, s, &n)
		j.setUpdated(&e, s)
		if err := j.sink.Write(e); err != nil {
			return err
		}
	}
	if bad := j.bad[i]; bad >= 0 {
		j.res.InvalidRecords++
		e, err := j.exception(InvalidRecord, r.key)
		if err != nil {
			return err
		}
		e.Side = s
		name := j.columnName(s, bad)
		e.Field = &name
		raw := string(r.cols[bad])
		setValue(&e, s, &raw)
		j.setUpdated(&e, s)
		if err := j.sink.Write(e); err != nil {
			return err
		}
	}
	return nil
}

func (j *join) unmatched(s Side, r *record, count int) error {
	j.parse(s, r)
	if err := j.checkRecord(s, r, count); err != nil {
		return err
	}
	kind := MissingInTarget
	if s == TargetSide {
		kind = MissingInSource
		j.res.MissingInSource++
	} else {
		j.res.MissingInTarget++
	}
	e, err := j.exception(kind, r.key)
	if err != nil {
		return err
	}
	j.setUpdated(&e, s)
	return j.sink.Write(e)
}

func (j *join) matched(a *record, na int, b *record, nb int) error {
	j.res.Matched++
	j.parse(SourceSide, a)
	j.parse(TargetSide, b)
	if err := j.checkRecord(SourceSide, a, na); err != nil {
		return err
	}
	if err := j.checkRecord(TargetSide, b, nb); err != nil {
		return err
	}
	src, tgt := j.vals[0], j.vals[1]
	mismatched := false
	for f := range j.fields {
		if j.invalid[0][f] || j.invalid[1][f] || j.fields[f].equal(src[f], tgt[f]) {
			continue
		}
		mismatched = true
		j.res.FieldMismatches[j.spec.Fields[f].Name]++
		e, err := j.exception(FieldMismatch, a.key)
		if err != nil {
			return err
		}
		e.Field = &j.spec.Fields[f].Name
		typ := j.spec.Fields[f].Type
		e.SourceValue = formatValueText(typ, a.cols[f], j.sides[0].input.Location)
		e.TargetValue = formatValueText(typ, b.cols[f], j.sides[1].input.Location)
		j.setUpdated(&e, SourceSide)
		j.setUpdated(&e, TargetSide)
		if err := j.sink.Write(e); err != nil {
			return err
		}
	}
	if mismatched {
		j.res.RecordsWithFieldMismatch++
	}
	return j.compareStamps(a.key)
}

func (j *join) compareStamps(k []byte) error {
	if j.stamp == nil {
		return nil
	}
	n := len(j.fields)
	if j.invalid[0][n] || j.invalid[1][n] {
		return nil
	}
	src, tgt := j.vals[0][n], j.vals[1][n]
	if j.stamp.equal(src, tgt) {
		return nil
	}
	j.res.TimestampMisaligned++
	if !src.null && !tgt.null {
		if tgt.instant().Before(src.instant()) {
			j.res.TargetStale++
		} else {
			j.res.TargetAhead++
		}
	}
	e, err := j.exception(TimestampMisaligned, k)
	if err != nil {
		return err
	}
	j.setUpdated(&e, SourceSide)
	j.setUpdated(&e, TargetSide)
	return j.sink.Write(e)
}

// quarantined reports the records of a side whose key could not be used.
func (j *join) quarantined(s *sideState) error {
	it, err := s.quarantine.finish()
	if err != nil {
		return err
	}
	defer it.close()
	for {
		r, err := it.next()
		if err != nil || r == nil {
			return err
		}
		j.res.InvalidRecords++
		e := Exception{Reconciliation: j.spec.Name, Kind: InvalidRecord, Side: s.name}
		row := r.cols[1:]
		if r.cols[0] != nil {
			col, _ := strconv.Atoi(string(r.cols[0]))
			parts := make([]string, s.keyCols)
			for k := range parts {
				parts[k] = string(row[k])
			}
			text := keyText(parts)
			e.RecordKey = &text
			name := s.columns[col]
			e.Field = &name
			raw := string(row[col])
			setValue(&e, s.name, &raw)
		}
		payload := &record{cols: row[s.keyCols:]}
		j.parse(s.name, payload)
		j.setUpdated(&e, s.name)
		if err := j.sink.Write(e); err != nil {
			return err
		}
	}
}

// groupIter yields each key's first record and how many records share the
// key: duplicates are adjacent once sorted.
type groupIter struct {
	it      recordIter
	pending *record
	started bool
	cur     record
	buf     []byte
}

func (g *groupIter) next() (*record, int, error) {
	if !g.started {
		g.started = true
		p, err := g.it.next()
		if err != nil {
			return nil, 0, err
		}
		g.pending = p
	}
	if g.pending == nil {
		return nil, 0, nil
	}
	g.copyPending()
	n := 1
	for {
		p, err := g.it.next()
		if err != nil {
			return nil, 0, err
		}
		if p == nil || !bytes.Equal(p.key, g.cur.key) {
			g.pending = p
			return &g.cur, n, nil
		}
		n++
	}
}

// copyPending copies the pending record, which the iterator will reuse.
func (g *groupIter) copyPending() {
	p := g.pending
	g.buf = append(g.buf[:0], p.key...)
	for _, c := range p.cols {
		g.buf = append(g.buf, c...)
	}
	if len(g.cur.cols) != len(p.cols) {
		g.cur.cols = make([][]byte, len(p.cols))
	}
	g.cur.key = g.buf[:len(p.key)]
	pos := len(p.key)
	for i, c := range p.cols {
		if c == nil {
			g.cur.cols[i] = nil
			continue
		}
		g.cur.cols[i] = g.buf[pos : pos+len(c) : pos+len(c)]
		pos += len(c)
	}
}
