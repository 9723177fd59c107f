package reconcile

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// record is one side's record after ingest: its encoded key and the raw text
// of its other columns (fields, then the timestamp), nil for NULL.
type record struct {
	key  []byte
	cols [][]byte
	known
}

// known is what ingest found out about a record's columns (see checker),
// kept with the record through the sort; its zero value says nothing.
type known struct {
	// parses has bit c set for a column c found to parse.
	parses uint64
	// secs and nanos are the timestamp's instant where stamp is
	// stampTime. Not a value: a record is copied and loaded across cores
	// once a side, and a value is twice the size with a pointer the
	// garbage collector would follow.
	secs  int64
	nanos int32
	stamp stampState
}

// stampState is what ingest found of a record's timestamp.
type stampState uint8

const (
	unstamped stampState = iota // left to the join
	stampTime
	stampNull
	stampBad // it does not parse
)

// stampOf is the known of a timestamp that parsed to v, or failed with err.
func stampOf(v value, err error) known {
	switch {
	case err != nil:
		return known{stamp: stampBad}
	case v.null:
		return known{stamp: stampNull}
	}
	return known{secs: v.num, nanos: v.exp, stamp: stampTime}
}

// stampValue is the timestamp's value, as the comparator parsed it (the
// zero value where it does not parse): secs and nanos are zero unless
// stampTime, so no branch is needed.
func (k *known) stampValue() value {
	return value{num: k.secs, exp: k.nanos, null: k.stamp == stampNull}
}

// The flags that begin a known's encoding (see appendKnown).
const (
	knownParses = 1 << iota
	knownStamped
	knownStampBad
	knownStampNull
)

// appendKnown encodes k: a byte of flags, then the parses if any, then a
// stamp that is a time, as varint(seconds) uvarint(nanoseconds).
func appendKnown(b []byte, k known) []byte {
	var flags byte
	if k.parses != 0 {
		flags |= knownParses
	}
	switch k.stamp {
	case stampTime:
		flags |= knownStamped
	case stampBad:
		flags |= knownStamped | knownStampBad
	case stampNull:
		flags |= knownStamped | knownStampNull
	}
	b = append(b, flags)
	if k.parses != 0 {
		b = binary.AppendUvarint(b, k.parses)
	}
	if k.stamp == stampTime {
		b = binary.AppendVarint(b, k.secs)
		b = binary.AppendUvarint(b, uint64(k.nanos))
	}
	return b
}

// knownSize is the length of appendKnown's encoding of k.
func knownSize(k known) int {
	n := 1
	if k.parses != 0 {
		n += uvarintLen(k.parses)
	}
	if k.stamp == stampTime {
		n += uvarintLen(uint64(k.secs<<1)^uint64(k.secs>>63)) + uvarintLen(uint64(k.nanos)) // varint is zig-zag
	}
	return n
}

// decodeKnown reads appendKnown's encoding of k from b at pos, and returns
// the position after it.
func decodeKnown(b []byte, pos int, k *known) (int, error) {
	*k = known{}
	if pos >= len(b) {
		return 0, errCorruptSpill
	}
	flags := b[pos]
	pos++
	// No flag but these, and a bad or NULL timestamp only where stamped:
	// anything else is a garbled spill, not a record.
	if flags&^(knownParses|knownStamped|knownStampBad|knownStampNull) != 0 ||
		flags&(knownStampBad|knownStampNull) != 0 && flags&knownStamped == 0 || flags&knownStampBad != 0 && flags&knownStampNull != 0 {
		return 0, errCorruptSpill
	}
	if flags&knownParses != 0 {
		n, w := binary.Uvarint(b[pos:])
		if w <= 0 {
			return 0, errCorruptSpill
		}
		k.parses, pos = n, pos+w
	}
	switch {
	case flags&knownStampBad != 0:
		k.stamp = stampBad
	case flags&knownStampNull != 0:
		k.stamp = stampNull
	case flags&knownStamped != 0:
		k.stamp = stampTime
		secs, w := binary.Varint(b[pos:])
		if w <= 0 {
			return 0, errCorruptSpill
		}
		pos += w
		ns, w := binary.Uvarint(b[pos:])
		if w <= 0 || ns >= 1e9 {
			return 0, errCorruptSpill
		}
		k.secs, k.nanos, pos = secs, int32(ns), pos+w
	}
	return pos, nil
}

// A record is encoded as uvarint(len(key)) key, then what is known of it
// (appendKnown), then per column uvarint(len+1) bytes, with 0 for NULL.
// The column count is fixed per side.
func appendRecord(b []byte, key []byte, k known, cols [][]byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = appendKnown(b, k)
	for _, c := range cols {
		switch {
		case c == nil:
			b = append(b, 0)
		case len(c) < 0x7f: // its length in one byte, as nearly every column's
			b = append(b, byte(len(c)+1))
			b = append(b, c...)
		default:
			b = binary.AppendUvarint(b, uint64(len(c))+1)
			b = append(b, c...)
		}
	}
	return b
}

// decodeRecordKey reads the key of the record encoded in b, aliasing b.
func decodeRecordKey(b []byte) ([]byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return nil, errCorruptSpill
	}
	return b[w : w+int(n)], nil
}

// decodeRecord reads a record from b into r, aliasing b, and returns the
// bytes it used.
func decodeRecord(b []byte, r *record) (int, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return 0, errCorruptSpill
	}
	pos := w + int(n)
	r.key = b[w:pos]
	pos, err := decodeKnown(b, pos, &r.known)
	if err != nil {
		return 0, err
	}
	for i := range r.cols {
		if pos >= len(b) {
			return 0, errCorruptSpill
		}
		// Nearly every column is shorter than 127 bytes: its length is
		// one byte, read without binary.Uvarint's loop.
		l, w := uint64(b[pos]), 1
		if l >= 0x80 {
			l, w = binary.Uvarint(b[pos:])
		}
		if w <= 0 || uint64(len(b)-pos-w)+1 < l {
			return 0, errCorruptSpill
		}
		pos += w
		if l == 0 {
			r.cols[i] = nil
			continue
		}
		r.cols[i] = b[pos : pos+int(l-1) : pos+int(l-1)]
		pos += int(l - 1)
	}
	return pos, nil
}

var errCorruptSpill = errors.New("corrupt spill file")

// sorter sorts one side's records by key within a memory budget: records
// collect in an arena of chunks; when it is full they are sorted and
// written to a run file; at the end the runs are merged. A side that fits
// in the budget is never written to disk.
type sorter struct {
	dir    string
	prefix string
	budget int
	ncols  int
	fanIn  int // the most runs merged at once
	passes int // merge passes done, for run file names
	// chunks are the arena: filled in turn and never grown or moved, and
	// kept from one run to the next. Growing one buffer by doubling
	// touched twice the memory it kept, and on a VM each page touched for
	// the first time costs a fault of about 12 µs: a third of a 100k-row
	// run's time beyond the read floor.
	chunks  [][]byte
	cur     int // the chunk being filled
	used    int // bytes of chunks taken: records, and the tails left behind
	entries []entry
	runs    []string
	spilled int64 // bytes written to runs
}

// arenaChunk is the size of an arena chunk; a larger record gets a chunk
// of its own size.
const arenaChunk = 1 << 20

// entry locates one record in the arena, in chunks[chunk][start:end]; the
// key is chunks[chunk][keyStart:keyEnd]. tag and prefix abbreviate the key
// (its first component's tag and next 8 bytes), so most comparisons while
// sorting never touch the arena; for a single integer key they decide
// every comparison.
type entry struct {
	prefix                              uint64
	chunk, start, keyStart, keyEnd, end uint32
	tag                                 byte
}

func (s *sorter) encoded(e entry) []byte { return s.chunks[e.chunk][e.start:e.end] }

func keyPrefix(key []byte) (byte, uint64) {
	if len(key) == 0 {
		return 0, 0
	}
	var b [8]byte
	copy(b[:], key[1:])
	return key[0], binary.BigEndian.Uint64(b[:])
}

// compareEntries orders entries by key, ties by arrival.
func compareEntries(chunks [][]byte, a, b entry) int {
	switch {
	case a.tag != b.tag:
		return int(a.tag) - int(b.tag)
	case a.prefix < b.prefix:
		return -1
	case a.prefix > b.prefix:
		return 1
	}
	if c := bytes.Compare(chunks[a.chunk][a.keyStart:a.keyEnd], chunks[b.chunk][b.keyStart:b.keyEnd]); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.chunk, b.chunk), cmp.Compare(a.start, b.start))
}

// maxFanIn bounds the runs merged at once. Each run being merged holds an
// open file and a 64 KiB buffer outside the memory budget, and a side
// spills a run per budget's worth of records (about 8 per million rows at
// the default budget), so more runs than this are first merged in passes,
// maxFanIn at a time, into longer runs: at most maxFanIn files and 4 MiB
// of buffers per side at any size.
const maxFanIn = 64

func newSorter(dir, prefix string, budget, ncols int) *sorter {
	return &sorter{dir: dir, prefix: prefix, budget: budget, ncols: ncols, fanIn: maxFanIn}
}

func (s *sorter) add(key []byte, cols [][]byte, k known) error {
	size := recordSize(key, k, cols)
	if s.used > 0 && s.used+size+(len(s.entries)+1)*entrySize > s.budget {
		if err := s.spill(); err != nil {
			return err
		}
	}
	c := s.chunkFor(size)
	start := len(s.chunks[c])
	s.chunks[c] = appendRecord(s.chunks[c], key, k, cols)
	s.used += size
	keyStart := start + uvarintLen(uint64(len(key)))
	tag, prefix := keyPrefix(key)
	s.entries = append(s.entries, entry{prefix, uint32(c), uint32(start), uint32(keyStart), uint32(keyStart + len(key)), uint32(len(s.chunks[c])), tag})
	return nil
}

// chunkFor is the chunk with room for size more bytes: the current one,
// else the next, kept from an earlier run or made as records come, so a
// small table stays small. A record larger than a chunk gets one of its
// own, dropped at the next spill.
func (s *sorter) chunkFor(size int) int {
	if s.cur < len(s.chunks) {
		c := s.chunks[s.cur]
		if len(c)+size <= cap(c) {
			return s.cur
		}
		if len(c) > 0 {
			s.used += cap(c) - len(c) // the tail passed over holds memory too
			s.cur++
		}
	}
	switch {
	case size > arenaChunk:
		// Before the chunks kept for later: no entry refers to them yet.
		s.chunks = slices.Insert(s.chunks, s.cur, make([]byte, 0, size))
	case s.cur == len(s.chunks):
		s.chunks = append(s.chunks, make([]byte, 0, arenaChunk))
	}
	return s.cur
}

// recordSize is the length of appendRecord's encoding of key, k and cols.
func recordSize(key []byte, k known, cols [][]byte) int {
	n := uvarintLen(uint64(len(key))) + len(key) + knownSize(k) + len(cols) // a byte of length each
	for _, c := range cols {
		n += len(c)
		if len(c) >= 0x7f {
			n += uvarintLen(uint64(len(c))+1) - 1
		}
	}
	return n
}

const entrySize = 32

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// sort orders entries by key, ties by arrival, so duplicates keep their order.
func (s *sorter) sort() {
	slices.SortFunc(s.entries, func(a, b entry) int { return compareEntries(s.chunks, a, b) })
}

func (s *sorter) spill() error {
	s.sort()
	w, err := createRun(filepath.Join(s.dir, fmt.Sprintf("%s-%04d.run", s.prefix, len(s.runs))))
	if err != nil {
		return err
	}
	for _, e := range s.entries {
		w.write(s.encoded(e))
		s.spilled += int64(e.end - e.start)
	}
	if err := w.close(); err != nil {
		return err
	}
	s.runs = append(s.runs, w.f.Name())
	s.chunks = slices.DeleteFunc(s.chunks, func(c []byte) bool { return cap(c) != arenaChunk })
	for c := range s.chunks {
		s.chunks[c] = s.chunks[c][:0]
	}
	s.cur, s.used, s.entries = 0, 0, s.entries[:0]
	return nil
}

// runWriter writes a run file, each record prefixed with its length, so
// that a reader takes it whole.
type runWriter struct {
	f   *os.File
	buf []byte
	err error
}

func createRun(path string) (*runWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	return &runWriter{f: f, buf: make([]byte, 0, 1<<18)}, nil
}

func (w *runWriter) write(enc []byte) {
	if len(w.buf)+binary.MaxVarintLen64+len(enc) > cap(w.buf) {
		w.flush()
	}
	w.buf = binary.AppendUvarint(w.buf, uint64(len(enc)))
	w.buf = append(w.buf, enc...)
}

func (w *runWriter) flush() {
	if w.err == nil && len(w.buf) > 0 {
		_, w.err = w.f.Write(w.buf)
	}
	w.buf = w.buf[:0]
}

// close writes what is buffered and closes the file, which is whole if
// it returns nil.
func (w *runWriter) close() error {
	w.flush()
	if err := errors.Join(w.err, w.f.Close()); err != nil {
		return fmt.Errorf("spill %s: %w", w.f.Name(), err)
	}
	return nil
}

// finish returns the records in key order.
func (s *sorter) finish() (encodedIter, error) {
	if len(s.runs) == 0 {
		s.sort()
		return &memIter{s: s, rec: record{cols: make([][]byte, s.ncols)}}, nil
	}
	if len(s.entries) > 0 {
		if err := s.spill(); err != nil {
			return nil, err
		}
	}
	s.chunks, s.entries = nil, nil // the merge needs none of it
	for len(s.runs) > s.fanIn {
		if err := s.mergePass(); err != nil {
			return nil, err
		}
	}
	return s.openMerge(s.runs)
}

// mergePass merges the runs fanIn at a time into longer ones, keeping
// their order, so that ties still come out in arrival order.
func (s *sorter) mergePass() error {
	s.passes++
	var next []string
	for i := 0; i < len(s.runs); i += s.fanIn {
		group := s.runs[i:min(i+s.fanIn, len(s.runs))]
		if len(group) == 1 {
			next = append(next, group[0])
			continue
		}
		path := filepath.Join(s.dir, fmt.Sprintf("%s-pass%d-%04d.run", s.prefix, s.passes, len(next)))
		if err := s.mergeInto(path, group); err != nil {
			return err
		}
		for _, p := range group {
			os.Remove(p)
		}
		next = append(next, path)
	}
	s.runs = next
	return nil
}

// mergeInto merges runs into one run file at path.
func (s *sorter) mergeInto(path string, runs []string) error {
	m, err := s.openMerge(runs)
	if err != nil {
		return err
	}
	defer m.close()
	w, err := createRun(path)
	if err != nil {
		return err
	}
	for {
		enc, err := m.nextEncoded()
		if err != nil {
			w.close()
			return err
		}
		if enc == nil {
			return w.close()
		}
		w.write(enc)
	}
}

// openMerge opens runs for a merge, earlier runs winning ties.
func (s *sorter) openMerge(runs []string) (*mergeIter, error) {
	m := &mergeIter{}
	for i, path := range runs {
		f, err := os.Open(path)
		if err != nil {
			m.close()
			return nil, fmt.Errorf("read spill: %w", err)
		}
		r := &runReader{f: f, r: bufio.NewReaderSize(f, 1<<16), order: i, rec: record{cols: make([][]byte, s.ncols)}}
		m.readers = append(m.readers, r)
		info, err := f.Stat()
		if err != nil {
			m.close()
			return nil, fmt.Errorf("read spill: %w", err)
		}
		r.size = info.Size()
		if err := r.advance(); err != nil {
			m.close()
			return nil, err
		}
	}
	m.tree = newLoserTree(m.readers)
	return m, nil
}

// recordIter yields records in key order. A record is valid until the next
// call to next; next returns nil at the end.
type recordIter interface {
	next() (*record, error)
	close() error
}

// encodedIter is a recordIter that can also yield its records encoded
// (appendRecord's encoding), undecoded: for a consumer that copies them
// whole.
type encodedIter interface {
	recordIter
	// nextEncoded returns the next record's encoding, valid until the
	// next call; nil at the end.
	nextEncoded() ([]byte, error)
}

type memIter struct {
	s   *sorter
	i   int
	rec record
}

func (m *memIter) nextEncoded() ([]byte, error) {
	if m.i >= len(m.s.entries) {
		return nil, nil
	}
	e := m.s.entries[m.i]
	m.i++
	return m.s.encoded(e), nil
}

func (m *memIter) next() (*record, error) {
	enc, err := m.nextEncoded()
	if enc == nil || err != nil {
		return nil, err
	}
	if _, err := decodeRecord(enc, &m.rec); err != nil {
		return nil, err
	}
	return &m.rec, nil
}

func (m *memIter) close() error { return nil }

// runReader reads one sorted run file record by record.
type runReader struct {
	f     *os.File
	r     *bufio.Reader
	order int
	size  int64 // the file's, which no record's length can exceed
	buf   []byte
	// enc and key are the current record's encoding and key, tag and
	// prefix the key's abbreviation (see keyPrefix), done that the run
	// has no more; rec is the record decoded, where asked for.
	enc, key []byte
	tag      byte
	prefix   uint64
	done     bool
	rec      record
}

// advance reads the next record's encoding and key, or marks the run
// done at its end. They are views of the reader's buffer where the record
// fits there, which stay valid until the next advance.
func (r *runReader) advance() error {
	n, err := binary.ReadUvarint(r.r)
	if err == io.EOF {
		r.done = true
		return nil
	}
	if err == nil && n > uint64(r.size) {
		err = errCorruptSpill // a length no record of this file has
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", r.f.Name(), err)
	}
	var b []byte
	if int(n) <= r.r.Size() {
		if b, err = r.r.Peek(int(n)); err == nil {
			_, err = r.r.Discard(int(n))
		}
	} else {
		r.buf = slices.Grow(r.buf[:0], int(n))[:n]
		_, err = io.ReadFull(r.r, r.buf)
		b = r.buf
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", r.f.Name(), errCorruptSpill)
	}
	if r.key, err = decodeRecordKey(b); err != nil {
		return fmt.Errorf("read %s: %w", r.f.Name(), err)
	}
	r.enc = b
	r.tag, r.prefix = keyPrefix(r.key)
	return nil
}

// before reports whether r's record comes before o's: by key, ties to
// the earlier run; a run that is done comes after every other.
func (r *runReader) before(o *runReader) bool {
	switch {
	case r.done || o.done:
		return !r.done
	case r.tag != o.tag:
		return r.tag < o.tag
	case r.prefix != o.prefix:
		return r.prefix < o.prefix
	}
	if c := bytes.Compare(r.key, o.key); c != 0 {
		return c < 0
	}
	return r.order < o.order
}

// mergeIter merges sorted runs with a tree of losers; ties go to the
// earlier run, so records with one key come out in arrival order.
type mergeIter struct {
	readers []*runReader
	tree    loserTree
	// last is the reader whose record was returned last; it advances on the
	// next call, which keeps that record valid until then.
	last *runReader
	err  error // the first failure, returned again by every later call
}

func (m *mergeIter) nextEncoded() ([]byte, error) {
	if m.err != nil {
		return nil, m.err
	}
	if m.last != nil {
		if m.err = m.last.advance(); m.err != nil {
			return nil, m.err
		}
		m.tree.replay(m.last.order)
		m.last = nil
	}
	w := m.tree.winner()
	if w == nil {
		return nil, nil
	}
	m.last = w
	return w.enc, nil
}

func (m *mergeIter) next() (*record, error) {
	enc, err := m.nextEncoded()
	if enc == nil || err != nil {
		return nil, err
	}
	r := m.last
	if _, err := decodeRecord(enc, &r.rec); err != nil {
		return nil, fmt.Errorf("read %s: %w", r.f.Name(), err)
	}
	return &r.rec, nil
}

func (m *mergeIter) close() error {
	var errs []error
	for _, r := range m.readers {
		errs = append(errs, r.f.Close())
	}
	return errors.Join(errs...)
}

// loserTree finds the run whose record comes first in about log2(runs)
// comparisons a record, where a heap takes twice as many: node n of
// 1…k-1 holds the run that lost the match there, node 0 the winner, and
// run i is leaf k+i (children of node n are 2n and 2n+1). A key's
// comparison mostly ends at its cached prefix.
type loserTree struct {
	runs []*runReader
	node []int
}

func newLoserTree(runs []*runReader) loserTree {
	k := len(runs)
	t := loserTree{runs: runs, node: make([]int, max(k, 1))}
	if k == 0 {
		return t
	}
	// winners[n] is the winner below node n, leaves included.
	winners := make([]int, 2*k)
	for i := range k {
		winners[k+i] = i
	}
	for n := k - 1; n >= 1; n-- {
		a, b := winners[2*n], winners[2*n+1]
		if runs[b].before(runs[a]) {
			a, b = b, a
		}
		winners[n], t.node[n] = a, b
	}
	t.node[0] = winners[1]
	return t
}

// replay finds the winner again after run i, the last winner, moved on.
func (t loserTree) replay(i int) {
	w := i
	for n := (len(t.runs) + i) / 2; n >= 1; n /= 2 {
		if t.runs[t.node[n]].before(t.runs[w]) {
			t.node[n], w = w, t.node[n]
		}
	}
	t.node[0] = w
}

// winner is the run whose record comes first, or nil when every run is
// done.
func (t loserTree) winner() *runReader {
	if len(t.runs) == 0 || t.runs[t.node[0]].done {
		return nil
	}
	return t.runs[t.node[0]]
}
