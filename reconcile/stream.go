package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/cpu"
)

// streamJoin joins two sides the databases send in key order while they
// are read: a producer per side hands its records to the join in batches,
// so reading, comparing and reporting overlap and nothing is sorted or
// spilled. Each producer checks that its keys do come in order; a database
// that breaks the order fails the reconciliation rather than mismatch it.
// failed is called with any error, to end the reads at once.
func streamJoin(ctx context.Context, spec Spec, sides [2]*sideState, rows [2]Rows, sink Sink, opts Options, progress *Progress, failed func(error) error) (*join, error) {
	g, gctx := errgroup.WithContext(ctx)
	streams := [2]*stream{newStream(gctx, len(sides[0].payload)), newStream(gctx, len(sides[1].payload))}
	for i, s := range sides {
		s.sorted = streams[i]
	}
	j := newJoin(spec, sides, sink, &progress.Compared)
	j.settleAfter = opts.SettleAfter
	for i, s := range sides {
		g.Go(func() error {
			// Fail first: the reads and the join stop at once, even when
			// the join is waiting on the other side.
			err := failed(s.ingest(gctx, rows[i], streams[i]))
			streams[i].end(err)
			return err
		})
	}
	g.Go(func() error { return failed(j.run(gctx)) })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// The counts are known once read; the join began before.
	j.res.SourceCount, j.res.TargetCount = sides[0].count-sides[0].others, sides[1].count-sides[1].others
	return j, nil
}

// mergeJoin joins two sides the engine sorted (merged, as their sorters
// give them): a goroutine per side merges its sorted runs and hands the
// records to the join in batches, whole as they were encoded, as
// streamJoin's producers do, so that merging both sides and comparing
// them use every core rather than one.
func mergeJoin(ctx context.Context, spec Spec, sides [2]*sideState, merged [2]encodedIter, sink Sink, opts Options, progress *Progress) (*join, error) {
	g, gctx := errgroup.WithContext(ctx)
	j := newJoin(spec, sides, sink, &progress.Compared)
	j.settleAfter = opts.SettleAfter
	var streams [2]*stream
	for i, s := range sides {
		streams[i] = newStream(gctx, len(s.payload))
		s.sorted = streams[i]
		g.Go(func() error {
			err := forward(merged[i], streams[i])
			streams[i].end(err)
			return err
		})
	}
	g.Go(func() error { return j.run(gctx) })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return j, nil
}

// forward sends its records down st, and closes it.
func forward(it encodedIter, st *stream) error {
	defer it.close()
	for {
		enc, err := it.nextEncoded()
		if err != nil || enc == nil {
			return err
		}
		if err := st.addEncoded(enc); err != nil {
			return err
		}
	}
}

// errOutOfOrder is a side's key coming before a smaller one.
var errOutOfOrder = errors.New("keys came out of order")

// Batches bound what a stream holds: streamBatches batches of up to
// batchRecords records or batchBytes bytes (more for one larger record).
const (
	streamBatches = 6
	batchBytes    = 1 << 20
)

// batchRecords is a variable for the tests, which cross batches often.
var batchRecords = 2048

// batch is records and the bytes they point into; err ends a stream that
// failed.
type batch struct {
	buf  []byte
	recs []record
	cols [][]byte // every record's cols, ncols each
	err  error
}

// stream carries one side's records from its producer to the join. It is
// the producer's keyedSink and the join's recordIter.
type stream struct {
	ctx   context.Context
	ncols int
	out   chan *batch // filled batches, in order
	free  chan *batch // batches the join is done with
	made  int
	// The producer's: the batch being filled and the last key added (in
	// the batch, or in prevBuf once the batch is sent).
	cur           *batch
	prev, prevBuf []byte
	// The producer and the join run on two cores: sharing a cache line,
	// each would take it from the other at every record.
	_ cpu.CacheLinePad
	// The join's: the batch being read, its next record, and the batch
	// before it, whose last records may still be in use.
	read, kept *batch
	i          int
}

func newStream(ctx context.Context, ncols int) *stream {
	return &stream{ctx: ctx, ncols: ncols, out: make(chan *batch, streamBatches), free: make(chan *batch, streamBatches)}
}

// add appends a record, which must not come before the previous one.
func (st *stream) add(key []byte, cols [][]byte, k known) error {
	if err := st.inOrder(key); err != nil {
		return err
	}
	size := len(key)
	for _, c := range cols {
		size += len(c)
	}
	b, err := st.room(size)
	if err != nil {
		return err
	}
	// The buffer never grows while filled, so the slices stay put.
	r := st.append(b)
	r.known = k
	start := len(b.buf)
	b.buf = append(b.buf, key...)
	r.key = b.buf[start:len(b.buf):len(b.buf)]
	for i, c := range cols {
		if c == nil {
			r.cols[i] = nil
			continue
		}
		start := len(b.buf)
		b.buf = append(b.buf, c...)
		r.cols[i] = b.buf[start:len(b.buf):len(b.buf)]
	}
	st.prev = r.key
	return nil
}

// addEncoded appends a record given as appendRecord encoded it, which
// must not come before the previous one: copied whole, then decoded.
func (st *stream) addEncoded(enc []byte) error {
	b, err := st.room(len(enc))
	if err != nil {
		return err
	}
	r := st.append(b)
	start := len(b.buf)
	b.buf = append(b.buf, enc...)
	if _, err := decodeRecord(b.buf[start:], r); err != nil {
		return err
	}
	if err := st.inOrder(r.key); err != nil {
		return err
	}
	st.prev = r.key
	return nil
}

// inOrder checks that key does not come before the previous record's.
func (st *stream) inOrder(key []byte) error {
	if st.prev != nil && bytes.Compare(key, st.prev) < 0 {
		parts, _ := decodeKey(key)
		prev, _ := decodeKey(st.prev)
		return fmt.Errorf("%w (%q after %q), which neither a database's order of integer keys nor the engine's sort should ever give: report it", errOutOfOrder, keyText(parts), keyText(prev))
	}
	return nil
}

// room returns the batch to add a record of size bytes to: the current
// one, or, once it is full, a new one after sending it.
func (st *stream) room(size int) (*batch, error) {
	if b := st.cur; b != nil && (len(b.recs) == batchRecords || len(b.buf)+size > cap(b.buf)) {
		// prev points into the batch, which the join may recycle once
		// sent: it is kept apart until the next record replaces it.
		st.prevBuf = append(st.prevBuf[:0], st.prev...)
		st.prev = st.prevBuf
		if err := st.send(b); err != nil {
			return nil, err
		}
		st.cur = nil
	}
	if st.cur == nil {
		b, err := st.batch(size)
		if err != nil {
			return nil, err
		}
		st.cur = b
	}
	return st.cur, nil
}

// append adds an empty record to b, its cols in b's.
func (st *stream) append(b *batch) *record {
	n := len(b.recs)
	b.recs = append(b.recs, record{})
	r := &b.recs[n]
	r.cols = b.cols[n*st.ncols : (n+1)*st.ncols : (n+1)*st.ncols]
	return r
}

// batch returns an empty batch with room for size bytes: one the join is
// done with, or a new one while fewer than streamBatches exist.
func (st *stream) batch(size int) (*batch, error) {
	var b *batch
	select {
	case b = <-st.free:
	default:
		if st.made < streamBatches {
			st.made++
			b = &batch{cols: make([][]byte, batchRecords*st.ncols)}
		} else {
			select {
			case b = <-st.free:
			case <-st.ctx.Done():
				return nil, context.Cause(st.ctx)
			}
		}
	}
	if cap(b.buf) < max(size, batchBytes) {
		b.buf = make([]byte, 0, max(size, batchBytes))
	}
	b.buf, b.recs = b.buf[:0], b.recs[:0]
	return b, nil
}

func (st *stream) send(b *batch) error {
	select {
	case st.out <- b:
		return nil
	case <-st.ctx.Done():
		return context.Cause(st.ctx)
	}
}

// end sends what is left and ends the stream, with err if the producer
// failed.
func (st *stream) end(err error) {
	if err == nil && st.cur != nil && len(st.cur.recs) > 0 {
		err = st.send(st.cur)
	}
	if err != nil {
		st.send(&batch{err: err}) // the join stops at it, or the context is done
		return
	}
	close(st.out)
}

// next implements recordIter: the record is valid until the call after
// the next one, as the batch before the one read is kept.
func (st *stream) next() (*record, error) {
	for st.read == nil || st.i >= len(st.read.recs) {
		if st.read != nil {
			if st.kept != nil {
				st.free <- st.kept // never blocks: it holds every batch made
			}
			st.kept, st.read = st.read, nil
		}
		var b *batch
		var ok bool
		select {
		case b, ok = <-st.out:
		case <-st.ctx.Done():
			return nil, context.Cause(st.ctx)
		}
		if !ok {
			return nil, nil
		}
		if b.err != nil {
			return nil, b.err
		}
		st.read, st.i = b, 0
	}
	st.i++
	return &st.read.recs[st.i-1], nil
}

func (st *stream) close() error { return nil }
