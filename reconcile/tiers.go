package reconcile

import (
	"bytes"
	"context"
	"strconv"
)

// Match tiers pair the records the key (tier 1) leaves unmatched by
// further keys: an e-mail, an external id, a composite of names. Each tier
// is another external sort and merge over the leftovers, so memory stays
// bounded however many there are. A tier pairs two records only when the
// tier value is unique on both sides; a value shared by several records of
// a side makes them all ambiguous_match, never a guess. Records a tier
// leaves unmatched, or whose tier value is NULL or empty, go on to the
// next tier, and those no tier pairs are missing on the other side.
//
// With tiers, a record's payload is: fields, timestamp, the tiers'
// columns, its tier-1 key (encoded; nil when it has none), how many
// records shared its tier-1 key (nil for one), and its stored key.

// sideTiers is one side's leftovers, per further tier.
type sideTiers struct {
	encoders []keyEncoder
	offsets  []int     // payload index of each tier's first column
	sorters  []*sorter // records left for each tier, by its key
	final    *sorter   // records no tier paired, in arrival order
	seq      int64
	t1, rows int // payload indexes
}

func newSideTiers(spec Spec, side Side, dir string, budget, payload int) *sideTiers {
	t := &sideTiers{t1: payload - 3, rows: payload - 2}
	offset := len(spec.Fields)
	if spec.Timestamp != nil {
		offset++
	}
	for i, cols := range spec.Match {
		e := newKeyEncoder(cols)
		e.skipEmpty = true
		t.encoders = append(t.encoders, e)
		t.offsets = append(t.offsets, offset)
		offset += len(cols)
		t.sorters = append(t.sorters, newSorter(dir, string(side)+"-tier"+strconv.Itoa(i+2), budget, payload))
	}
	t.final = newSorter(dir, string(side)+"-unmatched", budget, payload)
	return t
}

// forward passes a record that tier from did not pair to the next tier it
// has a value for, or to the unmatched.
func (t *sideTiers) forward(payload [][]byte, from int) error {
	for i := from - 1; i < len(t.encoders); i++ {
		key, _, kerr := t.encoders[i].encode(t.value(payload, i+2))
		if kerr == nil {
			return t.sorters[i].add(key, payload, known{})
		}
	}
	t.seq++
	return t.final.add(appendIntKey(nil, t.seq), payload, known{})
}

// value is a payload's columns of tier (2 for the first further tier).
func (t *sideTiers) value(payload [][]byte, tier int) [][]byte {
	i := tier - 2
	return payload[t.offsets[i] : t.offsets[i]+len(t.encoders[i].cols)]
}

// rowsOf is how many records shared the tier-1 key of a forwarded record.
func (t *sideTiers) rowsOf(r *record) int {
	if n, err := strconv.Atoi(string(r.cols[t.rows])); err == nil {
		return n
	}
	return 1
}

// forwardUnmatched sends a tier-1 record without a partner on to the
// tiers, with its key and duplicate count kept in the payload.
func (j *join) forwardUnmatched(i int, r *record, rows int) error {
	t := j.sides[i].tiers
	r.cols[t.t1] = r.key
	r.cols[t.rows] = nil
	if rows > 1 {
		r.cols[t.rows] = strconv.AppendInt(nil, int64(rows), 10)
	}
	return t.forward(r.cols, 1)
}

// runTiers runs each further tier over the leftovers, then reports what
// no tier paired as missing.
func (j *join) runTiers(ctx context.Context) error {
	for i := range j.spec.Match {
		j.stage = i + 2
		if err := j.runTier(ctx, i); err != nil {
			return err
		}
	}
	j.stage = 0
	for s := range j.sides {
		if err := j.reportUnmatched(s); err != nil {
			return err
		}
	}
	return nil
}

// runTier joins tier i's leftovers, its runs open only while it does.
func (j *join) runTier(ctx context.Context, i int) error {
	var its [2]recordIter
	for s, side := range j.sides {
		it, err := side.tiers.sorters[i].finish()
		if err != nil {
			return err
		}
		defer it.close()
		its[s] = it
	}
	return j.tierJoin(ctx, its)
}

// reportUnmatched reports side s's records no tier paired as missing on
// the other side.
func (j *join) reportUnmatched(s int) error {
	t := j.sides[s].tiers
	it, err := t.final.finish()
	if err != nil {
		return err
	}
	defer it.close()
	for {
		r, err := it.next()
		if err != nil || r == nil {
			return err
		}
		if s == 0 {
			err = j.compare(r, t.rowsOf(r), nil, 0)
		} else {
			err = j.compare(nil, 0, r, t.rowsOf(r))
		}
		if err != nil {
			return err
		}
	}
}

// peeker reads a sorted tier with one record of lookahead.
type peeker struct {
	it   recordIter
	head *record
	done bool
}

func (p *peeker) peek() (*record, error) {
	if p.head == nil && !p.done {
		r, err := p.it.next()
		if err != nil {
			return nil, err
		}
		p.head, p.done = r, r == nil
	}
	return p.head, nil
}

// take returns the head, copied, and moves on.
func (p *peeker) take() *record {
	r := p.head
	p.head = nil
	c := &record{key: bytes.Clone(r.key), cols: make([][]byte, len(r.cols))}
	for i, v := range r.cols {
		if v != nil {
			c.cols[i] = bytes.Clone(v)
		}
	}
	return c
}

// tierJoin merges one tier's leftovers of both sides. Of a tier value's
// records, at most two per side are held: the third already decides.
func (j *join) tierJoin(ctx context.Context, its [2]recordIter) error {
	ps := [2]*peeker{{it: its[0]}, {it: its[1]}}
	for steps := 0; ; steps++ {
		if steps%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		a, err := ps[0].peek()
		if err != nil {
			return err
		}
		b, err := ps[1].peek()
		if err != nil {
			return err
		}
		if a == nil && b == nil {
			return nil
		}
		var key []byte
		switch {
		case a == nil:
			key = b.key
		case b == nil || bytes.Compare(a.key, b.key) <= 0:
			key = a.key
		default:
			key = b.key
		}
		key = bytes.Clone(key)
		has := [2]bool{a != nil && bytes.Equal(a.key, key), b != nil && bytes.Equal(b.key, key)}
		var held [2][]*record
		for s := range ps {
			if held[s], err = j.tierGroup(s, ps[s], key, has[1-s]); err != nil {
				return err
			}
		}
		switch {
		case len(held[0]) == 0 || len(held[1]) == 0:
			for s := range held {
				for _, r := range held[s] {
					if err := j.sides[s].tiers.forward(r.cols, j.stage); err != nil {
						return err
					}
				}
			}
		case len(held[0]) == 1 && len(held[1]) == 1:
			if err := j.tierPair(held[0][0], held[1][0]); err != nil {
				return err
			}
		default:
			for s := range held {
				for _, r := range held[s] {
					if err := j.emitAmbiguous(s, r); err != nil {
						return err
					}
				}
			}
		}
	}
}

// tierGroup reads side s's records of key, holding the first two. Past
// two the records are ambiguous if the other side has the key, and go on
// to the next tier if it has not.
func (j *join) tierGroup(s int, p *peeker, key []byte, otherHas bool) ([]*record, error) {
	var held []*record
	for {
		r, err := p.peek()
		if err != nil {
			return nil, err
		}
		if r == nil || !bytes.Equal(r.key, key) {
			return held, nil
		}
		if len(held) < 2 {
			held = append(held, p.take())
			continue
		}
		extra := p.take()
		if otherHas {
			err = j.emitAmbiguous(s, extra)
		} else {
			err = j.sides[s].tiers.forward(extra.cols, j.stage)
		}
		if err != nil {
			return nil, err
		}
	}
}

// tierPair compares two records a tier paired.
func (j *join) tierPair(a, b *record) error {
	t0, t1 := j.sides[0].tiers, j.sides[1].tiers
	ka, kb := a.cols[t0.t1], b.cols[t1.t1]
	j.keyMismatch = ka == nil || kb == nil || !bytes.Equal(ka, kb)
	return j.compare(a, t0.rowsOf(a), b, t1.rowsOf(b))
}

// emitAmbiguous reports a record a tier could not pair.
func (j *join) emitAmbiguous(s int, r *record) error {
	j.res.AmbiguousMatches++
	d := &j.diff
	d.reset()
	d.Ambiguous, d.Tier = true, j.stage
	t := j.sides[s].tiers
	d.TierValue = t.value(r.cols, j.stage)
	rec := j.parse(s, r, t.rowsOf(r), false, 0)
	rec.Invalid = rec.Invalid[:0]
	if s == 0 {
		d.Source = rec
	} else {
		d.Target = rec
	}
	if err := j.setTierKeys(r, s); err != nil {
		return err
	}
	return j.sink.Write(d)
}

// setTierKeys sets the Difference's key from a record's tier-1 key (the
// source's first): the key it has, or would have, in the report; and each
// record's stored key, nil where it has no tier-1 key.
func (j *join) setTierKeys(r *record, s int) error {
	t := j.sides[s].tiers
	t1 := r.cols[t.t1]
	if t1 == nil {
		j.recs[s].Key = nil
		if j.diff.Key == nil && j.stage == 0 {
			// Unmatched and without a tier-1 key: named by the first
			// tier value it has, so that a person can find it.
			for tier := 2; tier < 2+len(t.encoders); tier++ {
				if _, _, kerr := t.encoders[tier-2].encode(t.value(r.cols, tier)); kerr == nil {
					text := KeyText(t.value(r.cols, tier))
					j.diff.Key = &text
					break
				}
			}
		}
		return nil
	}
	parts, err := decodeKey(t1)
	if err != nil {
		return err
	}
	stored, err := storedKey(r.cols[len(r.cols)-1], parts)
	if err != nil {
		return err
	}
	j.recs[s].Key = stored
	if j.diff.Key == nil {
		text := keyText(parts)
		j.diff.Key = &text
	}
	return nil
}
