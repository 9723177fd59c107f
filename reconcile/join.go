package reconcile

import (
	"bytes"
	"context"
	"errors"
	"math/bits"
	"strconv"
	"sync/atomic"
	"time"
)

// join walks both sides' sorted records in step (a merge join), so it holds
// one record group per side at a time, however large the tables.
type join struct {
	spec   Spec
	sides  [2]*sideState
	sink   Sink
	res    Result
	fields []comparator
	// parsers are the fields' comparators per side: a grouped side's
	// records hold folded text, parsed without normalising again.
	parsers [2][]comparator
	stamp   *comparator // nil without a timestamp spec
	groups  [2]*groupIter
	// records counts each side's records: a grouped side's are its keys.
	records [2]int64
	// Per side, the parsed payload of the current record and which of its
	// columns did not parse.
	vals    [2][]value
	invalid [2][]bool
	// recs, stamps and diff are reused for every Difference the join emits.
	recs   [2]Record
	stamps [2]time.Time
	diff   Difference
	// compared counts keys passed, for progress.
	compared *atomic.Int64
	lag      lagHistogram
	// settleAfter leaves out records modified after it (zero: none).
	settleAfter time.Time
	stakes      *stakes // nil without money fields
	// stage is the match tier being joined: 1 the key, 2… the further
	// tiers, 0 the records no tier paired.
	stage int
	// keyMismatch is set while comparing a later tier's pair whose tier-1
	// keys differ or are missing.
	keyMismatch bool
	// shared marks the payload columns whose text, when the same on both
	// sides, parses to the same value on both (not a grouped side's, nor a
	// date or time read in two zones): the target's is then not parsed
	// again. Only the first 64 columns can be, so that a pair's columns
	// are sets of bits: a further one is parsed on both sides.
	shared uint64
	// unparsed marks the shared columns whose equal text needs no parse
	// at all: text that no normalisation can refuse (see
	// comparator.textDecides). checkable marks the other shared columns
	// whose equal text is equal values once it is known to parse (see
	// checker and comparator.parsesQuickly). unread marks the columns of
	// the source record being compared that were left unparsed so.
	unparsed, checkable, unread uint64
	// same marks, for the pair being compared, the shared columns whose
	// text is the same on both sides, and not NULL.
	same uint64
}

func newJoin(spec Spec, sides [2]*sideState, sink Sink, compared *atomic.Int64) *join {
	j := &join{spec: spec, sides: sides, sink: sink, compared: compared}
	j.res.Name = spec.Name
	j.res.SourceCount, j.res.TargetCount = sides[0].count-sides[0].others, sides[1].count-sides[1].others
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
	for i, s := range sides {
		j.parsers[i] = j.fields
		if spec.Grouped(s.name) {
			j.parsers[i] = make([]comparator, len(j.fields))
			for f, c := range j.fields {
				j.parsers[i][f] = c.foldedComparator()
			}
		}
	}
	j.vals = [2][]value{make([]value, n), make([]value, n)}
	j.shared, j.unparsed, j.checkable = planTexts(spec, j.fields, sides)
	j.invalid = [2][]bool{make([]bool, n), make([]bool, n)}
	j.diff.Spec = &j.spec
	j.stakes = newStakes(spec)
	j.stage = 1
	if len(spec.Match) > 0 {
		j.res.MatchedByTier = make([]int64, len(spec.Match)+1)
	}
	for i, s := range sides {
		j.recs[i].Location = s.input.Location
	}
	return j
}

func (j *join) run(ctx context.Context) error {
	groups := &j.groups
	for i, s := range j.sides {
		_, stable := s.sorted.(*stream)
		groups[i] = &groupIter{it: s.sorted, stamp: j.stamp, col: len(j.fields), loc: s.input.Location, stable: stable}
		if j.spec.Grouped(s.name) {
			groups[i].fold = newFolder(j.spec, j.fields, j.stamp, s.input.Location)
			groups[i].fold.pregrouped, groups[i].rowsSlot = s.pregrouped, s.rowsSlot
		}
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
			err = j.compare(a, na, nil, 0)
		case c > 0:
			err = j.compare(nil, 0, b, nb)
		default:
			err = j.compare(a, na, b, nb)
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
	if len(j.spec.Match) > 0 {
		if err := j.runTiers(ctx); err != nil {
			return err
		}
	}
	for _, s := range j.sides {
		if err := j.quarantined(s); err != nil {
			return err
		}
	}
	if j.stakes != nil {
		j.res.ValueAtStake = j.stakes.result()
	}
	// A grouped side has as many records as keys (and unkeyed rows).
	if j.spec.SourceGroupBy {
		j.res.SourceCount = j.records[0]
	}
	if j.spec.TargetGroupBy {
		j.res.TargetCount = j.records[1]
	}
	return nil
}

// planTexts says, for a spec's payload columns (the first 64), which are
// shared, unparsed and checkable (see join): fields are the spec's.
func planTexts(spec Spec, fields []comparator, sides [2]*sideState) (shared, unparsed, checkable uint64) {
	sameZone := sides[0].input.Location.String() == sides[1].input.Location.String()
	for c := range min(len(fields)+1, 64) {
		typ := Timestamp
		if c < len(fields) {
			typ = spec.Fields[c].Type
		}
		if spec.SourceGroupBy || spec.TargetGroupBy || !sameZone && (typ == Date || typ == Timestamp) || c == len(fields) && spec.Timestamp == nil {
			continue
		}
		shared |= 1 << c
		switch {
		case c == len(fields):
		case fields[c].textDecides():
			unparsed |= 1 << c
		case fields[c].textDecidesOnceParsed():
			checkable |= 1 << c
		}
	}
	return shared, unparsed, checkable
}

// errSharedInvalid marks a target value that is the source's, which did
// not parse.
var errSharedInvalid = errors.New("does not parse")

// parse reads side i's record payload into vals and fills the side's
// Record from it (all but the key, which only a Difference needs). A
// folded record is one a grouped side's groupIter made. same marks the
// columns whose text is the same on the other side of a pair (see
// sameTexts; none for a record alone). Of those, the source leaves
// unparsed the ones whose text decides the comparison (unparsed, or
// checkable and known to parse), their values not set (parseUnread parses
// them where they are needed after all); the target takes the source's
// validity, and for the timestamp its value.
func (j *join) parse(i int, r *record, rows int, folded bool, same uint64) *Record {
	loc := j.sides[i].input.Location
	rec := &j.recs[i]
	nf := len(j.fields)
	cols := r.cols
	vals, invalid := j.vals[i], j.invalid[i]
	// invalid still marks the columns of the side's last record that did
	// not parse: cleared here, not column by column below, which visits
	// only the columns it parses.
	for _, c := range rec.Invalid {
		invalid[c] = false
	}
	rec.Fields, rec.Timestamp, rec.UpdatedAt = cols[:nf], nil, nil
	rec.Rows, rec.Invalid, rec.Key, rec.Grouped = rows, rec.Invalid[:0], nil, folded
	j.records[i]++
	parsers := j.parsers[i]
	if !folded {
		parsers = j.fields
	}
	// skip marks the fields not parsed here: most values agree.
	skip := same
	if i == 0 {
		skip &= j.unparsed | r.parses
		if !folded {
			for quick := same & j.checkable &^ skip; quick != 0; quick &= quick - 1 {
				if c := bits.TrailingZeros64(quick); j.fields[c].parsesQuickly(cols[c]) {
					skip |= 1 << c
				}
			}
		}
		j.unread = skip
	}
	failed := false
	for c := nextUnset(skip, 0, nf); c < nf; c = nextUnset(skip, c+1, nf) {
		var err error
		if vals[c], err = parsers[c].parse(cols[c], loc); err != nil {
			invalid[c], failed = true, true
		}
	}
	if i == 1 && skip != 0 {
		for _, c := range j.recs[0].Invalid {
			if c < nf && skip&(1<<c) != 0 {
				invalid[c], failed = true, true // errSharedInvalid
			}
		}
	}
	if folded {
		for c, bad := range j.groups[i].fold.bad[:nf] {
			if bad {
				invalid[c], failed = true, true // errFoldedInvalid
			}
		}
	}
	if failed {
		for c, bad := range invalid[:nf] {
			if bad {
				rec.Invalid = append(rec.Invalid, c)
			}
		}
	}
	if j.stamp != nil {
		j.parseStamp(i, r, folded, same)
	}
	return rec
}

// parseStamp is parse's for the timestamp, read ahead of the join where
// the record is stamped (see checker).
func (j *join) parseStamp(i int, r *record, folded bool, same uint64) {
	rec, c := &j.recs[i], len(j.fields)
	// The value is made here and stored whole: read back from the slice
	// at once right after being stored field by field, it stalls the
	// load on the stores (a tenth of a pair's time).
	var v value
	var err error
	switch {
	case r.stamp != unstamped:
		v = r.stampValue()
		if r.stamp == stampBad {
			err = errNotTimestamp
		}
	case i == 1 && same&(1<<c) != 0:
		v = j.vals[0][c]
		if j.invalid[0][c] {
			err = errSharedInvalid
		}
	default:
		v, err = j.stamp.parse(r.cols[c], j.sides[i].input.Location)
	}
	if folded && j.groups[i].fold.bad[c] {
		err = errFoldedInvalid
	}
	j.vals[i][c], j.invalid[i][c] = v, err != nil
	if err != nil {
		rec.Invalid = append(rec.Invalid, c)
	}
	rec.Timestamp = r.cols[c]
	if !v.null && err == nil {
		j.stamps[i] = v.instant()
		rec.UpdatedAt = &j.stamps[i]
	}
}

// nextUnset is the first column from c on whose bit in set is clear, or
// n where there is none below n. Columns from 64 on have no bit: never set.
func nextUnset(set uint64, c, n int) int {
	if c < 64 {
		if rest := ^set >> c; rest != 0 {
			c += bits.TrailingZeros64(rest)
		} else {
			c = 64
		}
	}
	return min(c, n)
}

// sameTexts marks the shared columns whose text is the same on both
// sides of a pair, and not NULL (a NULL is parsed on each side, which
// costs nothing).
func (j *join) sameTexts(src, tgt [][]byte) uint64 {
	var same uint64
	for shared := j.shared; shared != 0; shared &= shared - 1 {
		c := bits.TrailingZeros64(shared)
		if x, y := src[c], tgt[c]; x != nil && y != nil && string(x) == string(y) {
			same |= 1 << c
		}
	}
	return same
}

// compare compares the records of one key (either may be nil: the key is
// on one side only), counts what it finds and emits it as one Difference.
func (j *join) compare(a *record, na int, b *record, nb int) error {
	if j.stage == 1 && len(j.spec.Match) > 0 && (a == nil || b == nil) {
		if a != nil {
			return j.forwardUnmatched(0, a, na)
		}
		return j.forwardUnmatched(1, b, nb)
	}
	d := &j.diff
	d.reset()
	if a != nil && b != nil && len(j.spec.Match) > 0 {
		d.Tier, d.KeyMismatch = j.stage, j.stage > 1 && j.keyMismatch
	}
	j.same = 0
	if a != nil && b != nil {
		j.same = j.sameTexts(a.cols, b.cols)
	}
	if a != nil {
		d.Source = j.parse(0, a, na, j.groups[0].fold != nil, j.same)
	}
	if b != nil {
		d.Target = j.parse(1, b, nb, j.groups[1].fold != nil, j.same)
	}
	if j.settling(d.Source) || j.settling(d.Target) {
		j.res.Settling++
		if d.Source != nil {
			j.res.settlingSource++
		}
		return nil
	}
	for _, r := range []*Record{d.Source, d.Target} {
		if r == nil {
			continue
		}
		if r.Duplicate() {
			j.res.DuplicateKeys++
		}
		if len(r.Invalid) > 0 {
			j.res.InvalidRecords++
		}
	}
	switch {
	case b == nil:
		j.res.MissingInTarget++
		if j.stakes != nil {
			j.stakes.add(&j.spec, j.vals[0], nil, j.invalid[0], nil)
		}
	case a == nil:
		j.res.MissingInSource++
	default:
		j.res.Matched++
		if d.Tier > 0 {
			j.res.MatchedByTier[d.Tier-1]++
		}
		if d.KeyMismatch {
			j.res.KeyMismatches++
		}
		j.compareFields()
		if j.stakes != nil && len(d.Mismatched) > 0 {
			j.parseUnread(a)
			j.stakes.add(&j.spec, j.vals[0], j.vals[1], j.invalid[0], d.Mismatched)
		}
		d.Misaligned = j.compareStamps()
		if len(d.Mismatched) == 0 && len(d.Source.Invalid) == 0 && len(d.Target.Invalid) == 0 {
			j.res.InAgreement++
		}
		if d.Source.UpdatedAt != nil && d.Target.UpdatedAt != nil {
			n := len(j.fields)
			j.lag.add(max(j.vals[1][n].sinceInstant(j.vals[0][n]), 0))
		}
	}
	if d.Source != nil && d.Target != nil && len(d.Mismatched) == 0 && !d.Misaligned && !d.KeyMismatch &&
		!d.Source.Duplicate() && !d.Target.Duplicate() && len(d.Source.Invalid) == 0 && len(d.Target.Invalid) == 0 {
		return nil
	}
	if j.stage != 1 {
		for s, r := range []*record{a, b} {
			if r != nil {
				if err := j.setTierKeys(r, s); err != nil {
					return err
				}
			}
		}
		return j.sink.Write(d)
	}
	key := a
	if key == nil {
		key = b
	}
	if err := j.setKeys(key.key, a, b); err != nil {
		return err
	}
	d.order = key.key
	return j.sink.Write(d)
}

// parseUnread parses the source's columns that parse left unparsed, for
// what needs their values (the currency a money field's stake is in).
// They cannot fail: they were left unparsed because no normalisation
// refuses them, or because they were found to parse.
func (j *join) parseUnread(a *record) {
	for unread := j.unread; unread != 0; unread &= unread - 1 {
		c := bits.TrailingZeros64(unread)
		j.vals[0][c], _ = j.fields[c].parse(a.cols[c], j.sides[0].input.Location)
	}
	j.unread = 0
}

// checker finds out, as a side is read, what the join would otherwise
// parse itself: the timestamp's value, and on the source which checkable
// columns parse (see join). What it finds is kept with the record (known)
// through the sort, so that the reads, which the databases pace, do the
// work rather than the join. Its comparators are its own: a comparator
// serves one goroutine.
type checker struct {
	cols  []int
	cmps  []comparator
	stamp *comparator // nil: the timestamp is left to the join
	col   int         // the timestamp's column
	loc   *time.Location
}

// newChecker is a checker of side i's records, or nil if there is
// nothing to check: a grouped side's records are folded after, and
// only the source's columns are checked.
func newChecker(spec Spec, sides [2]*sideState, i int) *checker {
	if spec.Grouped(sides[i].name) {
		return nil
	}
	var fields []comparator
	for _, f := range spec.Fields {
		fields = append(fields, newComparator(f))
	}
	c := &checker{loc: sides[i].input.Location, col: len(fields)}
	if spec.Timestamp != nil {
		c.stamp = &comparator{typ: Timestamp}
	}
	_, _, checkable := planTexts(spec, fields, sides)
	for ; checkable != 0 && i == 0; checkable &= checkable - 1 { // the target's equal text is the source's
		col := bits.TrailingZeros64(checkable)
		c.cols = append(c.cols, col)
		c.cmps = append(c.cmps, fields[col])
	}
	if len(c.cols) == 0 && c.stamp == nil {
		return nil
	}
	return c
}

// check finds out what it can about a record's cols.
func (c *checker) check(cols [][]byte) known {
	var found known
	if c == nil {
		return found
	}
	if c.stamp != nil {
		found = stampOf(c.stamp.parse(cols[c.col], c.loc))
	}
	for i, col := range c.cols {
		if _, err := c.cmps[i].parse(cols[col], c.loc); err == nil {
			found.parses |= 1 << col
		}
	}
	return found
}

// settling reports whether r was modified within the settle window.
func (j *join) settling(r *Record) bool {
	return r != nil && !j.settleAfter.IsZero() && r.UpdatedAt != nil && r.UpdatedAt.After(j.settleAfter)
}

func (j *join) compareFields() {
	src, tgt := j.vals[0], j.vals[1]
	// The same text is the same value (of a shared column).
	for f, n := nextUnset(j.same, 0, len(j.fields)), len(j.fields); f < n; f = nextUnset(j.same, f+1, n) {
		if j.invalid[0][f] || j.invalid[1][f] || j.fields[f].equal(src[f], tgt[f]) {
			continue
		}
		j.diff.Mismatched = append(j.diff.Mismatched, f)
		j.res.FieldMismatches[j.spec.Fields[f].Name]++
	}
	if len(j.diff.Mismatched) > 0 {
		j.res.RecordsWithFieldMismatch++
	}
}

// compareStamps reports whether the matched records' timestamps are
// misaligned, and counts them.
func (j *join) compareStamps() bool {
	if j.stamp == nil {
		return false
	}
	n := len(j.fields)
	if j.invalid[0][n] || j.invalid[1][n] {
		return false
	}
	src, tgt := j.vals[0][n], j.vals[1][n]
	if j.stamp.equal(src, tgt) {
		return false
	}
	j.res.TimestampMisaligned++
	if !src.null && !tgt.null {
		if tgt.sinceInstant(src) < 0 {
			j.res.TargetStale++
		} else {
			j.res.TargetAhead++
		}
	}
	return true
}

// setKeys sets the Difference's compared key from the encoded key k and
// each present record's stored key columns.
func (j *join) setKeys(k []byte, a, b *record) error {
	parts, err := decodeKey(k)
	if err != nil {
		return err
	}
	text := keyText(parts)
	j.diff.Key = &text
	for i, r := range []*record{a, b} {
		if r == nil {
			continue
		}
		stored, err := storedKey(r.cols[len(r.cols)-1], parts)
		if err != nil {
			return err
		}
		j.recs[i].Key = stored
	}
	return nil
}

// quarantined emits the records of a side whose key could not be used.
func (j *join) quarantined(s *sideState) error {
	it, err := s.quarantine.finish()
	if err != nil {
		return err
	}
	defer it.close()
	i := sideIndex(s.name)
	for {
		r, err := it.next()
		if err != nil || r == nil {
			return err
		}
		j.res.InvalidRecords++
		d := &j.diff
		d.reset()
		d.Unkeyed, d.BadKey = true, -1
		row := r.cols[1:]
		rec := j.parse(i, &record{cols: row[s.keyCols:]}, 1, false, 0)
		rec.Invalid = rec.Invalid[:0] // only the key is reported
		rec.Key = row[:s.keyCols]
		if r.cols[0] != nil {
			d.BadKey, _ = strconv.Atoi(string(r.cols[0]))
			text := KeyText(rec.Key)
			d.Key = &text
		}
		if i == 0 {
			d.Source = rec
		} else {
			d.Target = rec
		}
		if err := j.sink.Write(d); err != nil {
			return err
		}
	}
}

func sideIndex(s Side) int {
	if s == SourceSide {
		return 0
	}
	return 1
}

// groupIter yields, for each key, the record compared and how many
// records share the key: duplicates are adjacent once sorted. Of
// duplicates it picks the newest by timestamp, ties broken by the smallest
// values, so the pick does not depend on the order the database returned
// them in, and an exception found among them is the same run after run.
type groupIter struct {
	it      recordIter
	pending *record
	started bool
	cur     record
	buf     []byte
	// stamp is the timestamp's payload column (nil without one), read in loc.
	stamp *comparator
	col   int
	loc   *time.Location
	// fold, on a grouped side, folds a key's rows into one record instead
	// of picking one; rowsSlot is where a row says how many it stands for.
	fold     *folder
	rowsSlot int
	// stable is set when the iterator keeps a record valid until next()
	// is called twice (a stream), not once.
	stable bool
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
	n := 1
	var p *record
	var err error
	if g.stable && g.fold == nil {
		// A stream keeps a record valid one next() longer: a key without
		// duplicates, most keys, is compared where it lies, uncopied.
		cur := g.pending
		if p, err = g.it.next(); err != nil {
			return nil, 0, err
		}
		if p == nil || !bytes.Equal(p.key, cur.key) {
			g.pending = p
			return cur, 1, nil
		}
		g.copyRecord(cur)
	} else {
		g.copyRecord(g.pending)
		if g.fold != nil {
			g.fold.reset()
			g.fold.add(g.cur.cols)
			n = g.rowsOf(g.cur.cols)
		}
		if p, err = g.it.next(); err != nil {
			return nil, 0, err
		}
	}
	for {
		if p == nil || !bytes.Equal(p.key, g.cur.key) {
			g.pending = p
			if g.fold != nil {
				g.fold.record(g.cur.cols)
			}
			return &g.cur, n, nil
		}
		n++
		switch {
		case g.fold != nil:
			g.fold.add(p.cols)
			n += g.rowsOf(p.cols) - 1
		case g.prefer(p, &g.cur):
			g.copyRecord(p)
		}
		if p, err = g.it.next(); err != nil {
			return nil, 0, err
		}
	}
}

// rowsOf is how many rows a grouped side's row stands for: more than one
// where the database grouped them.
func (g *groupIter) rowsOf(cols [][]byte) int {
	if v := cols[g.rowsSlot]; v != nil {
		if n, err := strconv.Atoi(string(v)); err == nil {
			return n
		}
	}
	return 1
}

// prefer reports whether duplicate p is to be compared rather than cur.
func (g *groupIter) prefer(p, cur *record) bool {
	if g.stamp != nil {
		a, aerr := g.stamp.parse(p.cols[g.col], g.loc)
		b, berr := g.stamp.parse(cur.cols[g.col], g.loc)
		aok, bok := aerr == nil && !a.null, berr == nil && !b.null
		switch {
		case aok != bok:
			return aok
		case aok && a.instant() != b.instant():
			return a.instant().After(b.instant())
		}
	}
	for i := range p.cols {
		x, y := p.cols[i], cur.cols[i]
		if (x == nil) != (y == nil) {
			return x == nil
		}
		if c := bytes.Compare(x, y); c != 0 {
			return c < 0
		}
	}
	return false
}

// copyRecord makes p the current record, copied: the iterator reuses p.
func (g *groupIter) copyRecord(p *record) {
	g.cur.known = p.known
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
