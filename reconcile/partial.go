package reconcile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// A partial file holds one partition's run of one reconciliation: every
// Difference the engine wrote, in the order it wrote them, each keyed one
// with its encoded key, then the figures (the Result with what merging
// needs beyond it: the lag histogram, the settling source records, the
// money at stake's scales). Replay merges the partial files of all
// partitions into the one stream and Result a single run would have made:
// keyed Differences in key order, then the others (records whose key
// cannot be used, periods), which only partition 0 has.
//
// The format is recon's own and private to one version: a magic line, a
// JSON header, then records of a tag byte and uvarint-framed fields, and
// an end line, written last, with the CRC-32C of all before it: a file cut
// short anywhere lacks it, and a file changed anywhere fails its check
// (CheckPartial).
const (
	partialMagic = "recon partial v3\n" // v2: text keys partitioned by SHA-256; v3: the end line
	partialEnd   = "recon partial end " // then 8 hex digits and a newline
	endLength    = len(partialEnd) + 8 + 1
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// Tags of a partial file's records.
const (
	partialKeyed   = 'k' // a Difference of a key, with its encoded key
	partialOther   = 'o' // a Difference without a key (unkeyed record, period)
	partialFigures = 'f' // the figures; the last record
)

// partialHeader names what a partial file holds, for Replay to check.
type partialHeader struct {
	Reconciliation string    `json:"reconciliation"`
	Partition      Partition `json:"partition"`
}

// partialResult is the figures' record.
type partialResult struct {
	Result         Result         `json:"result"`
	SettlingSource int64          `json:"settling_source"`
	Lag            *lagFigures    `json:"lag"`
	Stakes         []partialStake `json:"stakes"`
}

type lagFigures struct {
	Zero    int64         `json:"zero"`
	N       int64         `json:"n"`
	Max     time.Duration `json:"max"`
	Buckets map[int]int64 `json:"buckets"` // the non-empty ones
}

type partialStake struct {
	Field           string          `json:"field"`
	Currency        *string         `json:"currency"`
	Mismatched      decimal.Decimal `json:"mismatched"`
	MissingInTarget decimal.Decimal `json:"missing_in_target"`
	Scale           int32           `json:"scale"`
}

// PartialWriter records a partition's Differences for Replay: it is the
// Sink of a partitioned run. Close writes the figures and makes the file
// whole; a file without them is refused by Replay.
type PartialWriter struct {
	f   *os.File
	w   *bufio.Writer
	crc hash.Hash32 // of all w has written
	buf []byte
}

// CreatePartial creates the partial file of spec's run in partition p.
func CreatePartial(path string, spec *Spec, p Partition) (*PartialWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create partial: %w", err)
	}
	crc := crc32.New(crc32c)
	w := &PartialWriter{f: f, w: bufio.NewWriterSize(io.MultiWriter(f, crc), 1<<16), crc: crc}
	head, _ := json.Marshal(partialHeader{Reconciliation: spec.Name, Partition: p}) // plain fields always marshal
	w.w.WriteString(partialMagic)
	w.w.Write(binary.AppendUvarint(nil, uint64(len(head))))
	w.w.Write(head)
	return w, nil
}

// Write records d.
func (w *PartialWriter) Write(d *Difference) error {
	b := w.buf[:0]
	if d.order != nil {
		b = appendBytes(append(b, partialKeyed), d.order)
	} else {
		b = append(b, partialOther)
	}
	b = appendText(b, d.Key)
	for _, r := range []*Record{d.Source, d.Target} {
		b = appendPartialRecord(b, r)
	}
	b = appendInts(b, d.Mismatched)
	b = appendFlags(b, d.Misaligned, d.Unkeyed, d.KeyMismatch, d.Ambiguous, d.Period != nil)
	b = binary.AppendVarint(b, int64(d.BadKey))
	b = binary.AppendVarint(b, int64(d.Tier))
	b = appendParts(b, d.TierValue)
	if p := d.Period; p != nil {
		b = appendBytes(b, []byte(p.Period))
		b = binary.AppendVarint(b, p.Source)
		b = binary.AppendVarint(b, p.Target)
		b = appendFlags(b, p.Breached)
	}
	w.buf = b
	_, err := w.w.Write(b)
	return err
}

// Close writes res, the partition's figures, and closes the file.
func (w *PartialWriter) Close(res Result) error {
	pr := partialResult{Result: res, SettlingSource: res.settlingSource}
	if h := res.lag; h != nil && h.n > 0 {
		lf := &lagFigures{Zero: h.zero, N: h.n, Max: h.max, Buckets: map[int]int64{}}
		for b, c := range h.buckets {
			if c > 0 {
				lf.Buckets[b] = c
			}
		}
		pr.Lag = lf
	}
	for _, s := range res.ValueAtStake {
		pr.Stakes = append(pr.Stakes, partialStake{Field: s.Field, Currency: s.Currency, Mismatched: s.Mismatched,
			MissingInTarget: s.MissingInTarget, Scale: s.scale})
	}
	pr.Result.ValueAtStake = nil
	figures, err := json.Marshal(pr)
	if err != nil {
		w.Abort()
		return fmt.Errorf("partial figures: %w", err)
	}
	w.w.WriteByte(partialFigures)
	w.w.Write(appendBytes(nil, figures))
	flushed := w.w.Flush()
	fmt.Fprintf(w.f, "%s%08x\n", partialEnd, w.crc.Sum32())
	err = errors.Join(flushed, w.f.Sync(), w.f.Close())
	if err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("write partial: %w", err)
	}
	return nil
}

// Abort closes and removes the unfinished file.
func (w *PartialWriter) Abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

func appendBytes(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

// appendNullable writes v with NULL told apart: length+1, 0 for nil.
func appendNullable(b, v []byte) []byte {
	if v == nil {
		return append(b, 0)
	}
	return append(binary.AppendUvarint(b, uint64(len(v))+1), v...)
}

func appendText(b []byte, s *string) []byte {
	if s == nil {
		return appendNullable(b, nil)
	}
	return appendNullable(b, append([]byte{}, *s...))
}

func appendParts(b []byte, parts [][]byte) []byte {
	b = appendNullable(b, boolBytes(parts != nil))
	b = binary.AppendUvarint(b, uint64(len(parts)))
	for _, p := range parts {
		b = appendNullable(b, p)
	}
	return b
}

func boolBytes(ok bool) []byte {
	if ok {
		return []byte{}
	}
	return nil
}

func appendInts(b []byte, ns []int) []byte {
	b = binary.AppendUvarint(b, uint64(len(ns)))
	for _, n := range ns {
		b = binary.AppendVarint(b, int64(n))
	}
	return b
}

func appendFlags(b []byte, flags ...bool) []byte {
	var f byte
	for i, ok := range flags {
		if ok {
			f |= 1 << i
		}
	}
	return append(b, f)
}

func appendPartialRecord(b []byte, r *Record) []byte {
	if r == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = appendParts(b, r.Key)
	b = appendParts(b, r.Fields)
	b = appendNullable(b, r.Timestamp)
	if r.UpdatedAt != nil {
		// Seconds and nanoseconds: UnixNano covers only 1678 to 2262,
		// and a 9999-12-31 sentinel must come back as it went.
		b = append(b, 1)
		b = binary.AppendVarint(b, r.UpdatedAt.Unix())
		b = binary.AppendVarint(b, int64(r.UpdatedAt.Nanosecond()))
	} else {
		b = append(b, 0)
	}
	b = binary.AppendVarint(b, int64(r.Rows))
	b = appendFlags(b, r.Grouped)
	return appendInts(b, r.Invalid)
}

// maxPartialValue bounds a value read back, beyond any a source sends
// (the CSV reader's record bound), so that a corrupt length cannot make
// Replay allocate without limit.
const maxPartialValue = 64 << 20

// partialReader reads one partial file back, one Difference at a time
// into memory it reuses.
type partialReader struct {
	path    string
	r       *bufio.Reader
	header  partialHeader
	diff    Difference
	recs    [2]Record
	stamps  [2]time.Time
	period  PeriodCount
	buf     []byte
	last    []byte // the last key read, which the next must follow
	figures *partialResult
	// keyed is whether the current Difference has a key; done once the
	// figures are read.
	keyed, done bool
}

// CheckPartial refuses a partial file that is missing, of another
// version, cut short (its end line missing) or changed since it was
// written (its CRC-32C), before a merge reads it.
func CheckPartial(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	magic := make([]byte, len(partialMagic))
	if _, err := io.ReadFull(f, magic); err != nil || string(magic) != partialMagic {
		return fmt.Errorf("%s is not a recon partial file of this version", path)
	}
	info, err := f.Stat()
	if err != nil {
		return err
	}
	body := info.Size() - int64(endLength)
	end := make([]byte, endLength)
	if body < int64(len(magic)) {
		return fmt.Errorf("%s: unfinished partial file (run the partition again): it lacks its end", path)
	}
	if _, err := f.ReadAt(end, body); err != nil || !bytes.HasPrefix(end, []byte(partialEnd)) || end[endLength-1] != '\n' {
		return fmt.Errorf("%s: unfinished partial file (run the partition again): it lacks its end", path)
	}
	var want uint32
	if _, err := fmt.Sscanf(string(end[len(partialEnd):endLength-1]), "%08x", &want); err != nil {
		return fmt.Errorf("%s: corrupt partial file (run the partition again): its end line is %q", path, end)
	}
	h := crc32.New(crc32c)
	h.Write(magic)
	if _, err := io.Copy(h, io.NewSectionReader(f, int64(len(magic)), body-int64(len(magic)))); err != nil {
		return err
	}
	if h.Sum32() != want {
		return fmt.Errorf("%s: corrupt partial file (run the partition again): it changed since it was written", path)
	}
	return nil
}

func openPartial(path string, spec *Spec, locs [2]*time.Location) (*partialReader, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	p := &partialReader{path: path, r: bufio.NewReaderSize(f, 1<<16)}
	p.diff.Spec = spec
	p.recs[0].Location, p.recs[1].Location = locs[0], locs[1]
	magic := make([]byte, len(partialMagic))
	if _, err := io.ReadFull(p.r, magic); err != nil || string(magic) != partialMagic {
		f.Close()
		return nil, nil, fmt.Errorf("%s is not a recon partial file of this version", path)
	}
	head, err := p.bytes()
	if err == nil {
		err = json.Unmarshal(head, &p.header)
	}
	if err != nil {
		f.Close()
		return nil, nil, p.corrupt(err)
	}
	return p, f, nil
}

func (p *partialReader) corrupt(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%s: corrupt or unfinished partial file (run the partition again): %w", p.path, err)
}

// next reads the next Difference into p.diff, or the figures (done).
func (p *partialReader) next() error {
	tag, err := p.r.ReadByte()
	if err != nil {
		return p.corrupt(err)
	}
	switch tag {
	case partialFigures:
		b, err := p.bytes()
		if err != nil {
			return p.corrupt(err)
		}
		var pr partialResult
		if err := json.Unmarshal(b, &pr); err != nil {
			return p.corrupt(err)
		}
		end := make([]byte, endLength)
		if _, err := io.ReadFull(p.r, end); err != nil || !bytes.HasPrefix(end, []byte(partialEnd)) {
			return p.corrupt(errors.New("no end after the figures"))
		}
		if _, err := p.r.ReadByte(); err != io.EOF {
			return p.corrupt(errors.New("data after the end"))
		}
		p.figures, p.done = &pr, true
		return nil
	case partialKeyed, partialOther:
	default:
		return p.corrupt(fmt.Errorf("bad record tag %#x", tag))
	}
	// Everything of one Difference is read into buf first, then sliced,
	// so that no slice moves while the next is read.
	p.buf = p.buf[:0]
	p.keyed = tag == partialKeyed
	d := &p.diff
	d.reset()
	d.order = nil
	if p.keyed {
		if d.order, err = p.bytes(); err != nil {
			return p.corrupt(err)
		}
	}
	key, err := p.nullable()
	if err != nil {
		return p.corrupt(err)
	}
	if key != nil {
		s := string(key)
		d.Key = &s
	}
	for i := range p.recs {
		r, err := p.record(i)
		if err != nil {
			return p.corrupt(err)
		}
		if i == 0 {
			d.Source = r
		} else {
			d.Target = r
		}
	}
	if d.Mismatched, err = p.ints(d.Mismatched[:0]); err != nil {
		return p.corrupt(err)
	}
	flags, err := p.r.ReadByte()
	if err != nil {
		return p.corrupt(err)
	}
	d.Misaligned, d.Unkeyed, d.KeyMismatch, d.Ambiguous = flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0
	bad, err1 := binary.ReadVarint(p.r)
	tier, err2 := binary.ReadVarint(p.r)
	tierValue, err3 := p.parts(nil)
	if err := errors.Join(err1, err2, err3); err != nil {
		return p.corrupt(err)
	}
	d.BadKey, d.Tier, d.TierValue = int(bad), int(tier), tierValue
	if err := p.check(d); err != nil {
		return p.corrupt(err)
	}
	if flags&16 != 0 {
		period, err := p.bytes()
		if err != nil {
			return p.corrupt(err)
		}
		p.period.Period = string(period)
		src, err1 := binary.ReadVarint(p.r)
		tgt, err2 := binary.ReadVarint(p.r)
		breached, err3 := p.r.ReadByte()
		if err := errors.Join(err1, err2, err3); err != nil {
			return p.corrupt(err)
		}
		p.period.Source, p.period.Target, p.period.Breached = src, tgt, breached&1 != 0
		d.Period = &p.period
	}
	return nil
}

// check refuses a Difference that does not fit the spec, as a corrupt
// file's could: indexes out of range would fail far from here.
func (p *partialReader) check(d *Difference) error {
	spec := d.Spec
	nf := len(spec.Fields)
	for _, f := range d.Mismatched {
		if f < 0 || f >= nf || d.Source == nil || d.Target == nil {
			return errors.New("a mismatched field out of range")
		}
	}
	for _, r := range []*Record{d.Source, d.Target} {
		if r == nil {
			continue
		}
		if len(r.Fields) != nf || (r.Key != nil && len(r.Key) != len(spec.Key)) {
			return errors.New("a record of another shape than the reconciliation's")
		}
		for _, c := range r.Invalid {
			if c < 0 || c > nf || (c == nf && spec.Timestamp == nil) {
				return errors.New("an invalid column out of range")
			}
		}
	}
	if d.Unkeyed && (d.BadKey < -1 || d.BadKey >= len(spec.Key)) || d.Tier < 0 || d.Tier > len(spec.Match)+1 {
		return errors.New("a key column or tier out of range")
	}
	if p.keyed && p.last != nil && bytes.Compare(p.last, d.order) >= 0 {
		return errors.New("keys out of order")
	}
	if p.keyed {
		p.last = append(p.last[:0], d.order...)
	}
	return nil
}

func (p *partialReader) record(i int) (*Record, error) {
	present, err := p.r.ReadByte()
	if err != nil || present == 0 {
		return nil, err
	}
	r := &p.recs[i]
	if r.Key, err = p.parts(r.Key[:0]); err != nil {
		return nil, err
	}
	if r.Fields, err = p.parts(r.Fields[:0]); err != nil {
		return nil, err
	}
	if r.Timestamp, err = p.nullable(); err != nil {
		return nil, err
	}
	r.UpdatedAt = nil
	hasStamp, err := p.r.ReadByte()
	if err != nil {
		return nil, err
	}
	if hasStamp == 1 {
		sec, err1 := binary.ReadVarint(p.r)
		ns, err2 := binary.ReadVarint(p.r)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		p.stamps[i] = time.Unix(sec, ns).UTC()
		r.UpdatedAt = &p.stamps[i]
	}
	rows, err := binary.ReadVarint(p.r)
	if err != nil {
		return nil, err
	}
	flags, err := p.r.ReadByte()
	if err != nil {
		return nil, err
	}
	r.Rows, r.Grouped = int(rows), flags&1 != 0
	r.Invalid, err = p.ints(r.Invalid[:0])
	return r, err
}

// bytes reads a length-framed value into the record's buffer.
func (p *partialReader) bytes() ([]byte, error) {
	n, err := binary.ReadUvarint(p.r)
	if err != nil {
		return nil, err
	}
	return p.read(int(n))
}

func (p *partialReader) read(n int) ([]byte, error) {
	if n < 0 || n > maxPartialValue {
		return nil, errors.New("value too long")
	}
	start := len(p.buf)
	// A buffer that grows moves; slices taken earlier from this record
	// keep the old array alive, so they stay valid.
	p.buf = slices.Grow(p.buf, n)[:start+n]
	if _, err := io.ReadFull(p.r, p.buf[start:]); err != nil {
		return nil, err
	}
	return p.buf[start : start+n : start+n], nil
}

func (p *partialReader) nullable() ([]byte, error) {
	n, err := binary.ReadUvarint(p.r)
	if err != nil || n == 0 {
		return nil, err
	}
	return p.read(int(n - 1))
}

func (p *partialReader) parts(dst [][]byte) ([][]byte, error) {
	present, err := p.nullable()
	if err != nil {
		return nil, err
	}
	n, err := binary.ReadUvarint(p.r)
	if err != nil {
		return nil, err
	}
	if present == nil {
		return nil, nil
	}
	if n > 1<<20 {
		return nil, errors.New("too many values")
	}
	dst = dst[:0]
	if dst == nil {
		dst = [][]byte{}
	}
	for range n {
		v, err := p.nullable()
		if err != nil {
			return nil, err
		}
		dst = append(dst, v)
	}
	return dst, nil
}

func (p *partialReader) ints(dst []int) ([]int, error) {
	n, err := binary.ReadUvarint(p.r)
	if err != nil {
		return nil, err
	}
	if n > 1<<20 {
		return nil, errors.New("too many values")
	}
	for range n {
		v, err := binary.ReadVarint(p.r)
		if err != nil {
			return nil, err
		}
		dst = append(dst, int(v))
	}
	return dst, nil
}

// Replay merges the partial files of spec's partitioned run, one per
// partition, into sink as one run would have written them, and returns
// the run's figures. locs are the zones of the source's and the target's
// timestamps written without one. It refuses files of another
// reconciliation, of a partitioning other than the first file's, a
// partition twice or missing, and unfinished files.
func Replay(ctx context.Context, spec Spec, paths []string, locs [2]*time.Location, sink Sink) (Result, error) {
	readers := make([]*partialReader, len(paths))
	for i, path := range paths {
		p, f, err := openPartial(path, &spec, locs)
		if err != nil {
			return Result{}, err
		}
		defer f.Close()
		readers[i] = p
	}
	if err := checkPartials(spec.Name, readers); err != nil {
		return Result{}, err
	}
	slices.SortFunc(readers, func(a, b *partialReader) int { return a.header.Partition.Index - b.header.Partition.Index })
	for _, p := range readers {
		if err := p.next(); err != nil {
			return Result{}, err
		}
	}
	// Keyed Differences, smallest key first: each file's are in key
	// order, and no key is in two files.
	for steps := 0; ; steps++ {
		if steps%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return Result{}, err
			}
		}
		var least *partialReader
		for _, p := range readers {
			if !p.done && p.keyed && (least == nil || bytes.Compare(p.diff.order, least.diff.order) < 0) {
				least = p
			}
		}
		if least == nil {
			break
		}
		for _, p := range readers {
			if p != least && !p.done && p.keyed && bytes.Equal(p.diff.order, least.diff.order) {
				return Result{}, fmt.Errorf("%s and %s hold one key: they are not partitions of one run", least.path, p.path)
			}
		}
		if err := sink.Write(&least.diff); err != nil {
			return Result{}, err
		}
		if err := least.next(); err != nil {
			return Result{}, err
		}
	}
	// Then the others, partition by partition, in the order written.
	for _, p := range readers {
		for !p.done {
			if p.keyed {
				return Result{}, p.corrupt(errors.New("a keyed difference after the unkeyed ones"))
			}
			if err := sink.Write(&p.diff); err != nil {
				return Result{}, err
			}
			if err := p.next(); err != nil {
				return Result{}, err
			}
		}
	}
	figures := make([]*partialResult, len(readers))
	for i, p := range readers {
		figures[i] = p.figures
	}
	return mergeFigures(spec, figures), nil
}

// checkPartials refuses partial files that do not make one whole run.
func checkPartials(name string, readers []*partialReader) error {
	if len(readers) == 0 {
		return errors.New("no partial files to merge")
	}
	count := readers[0].header.Partition.Count
	seen := make(map[int]string, count)
	for _, p := range readers {
		h := p.header
		switch {
		case h.Reconciliation != name:
			return fmt.Errorf("%s holds reconciliation %q, not %q", p.path, h.Reconciliation, name)
		case h.Partition.Count != count:
			return fmt.Errorf("%s is partition %s, but %s is one of %d partitions: merge the partials of one partitioned run",
				p.path, h.Partition, readers[0].path, count)
		case h.Partition.Check() != nil:
			return fmt.Errorf("%s: %w", p.path, h.Partition.Check())
		case seen[h.Partition.Index] != "":
			return fmt.Errorf("partition %s of %s is given twice: %s and %s", h.Partition, name, seen[h.Partition.Index], p.path)
		}
		seen[h.Partition.Index] = p.path
	}
	for i := range count {
		if seen[i] == "" {
			return fmt.Errorf("partition %d/%d of %s is missing: run it, then merge all %d", i, count, name, count)
		}
	}
	return nil
}

// mergeFigures adds up the partitions' figures into the run's.
func mergeFigures(spec Spec, parts []*partialResult) Result {
	var res Result
	res.Name = spec.Name
	res.FieldMismatches = make(map[string]int64, len(spec.Fields))
	var lag lagHistogram
	byKey := map[string]*Stake{}
	for _, p := range parts {
		r := p.Result
		res.SourceCount += r.SourceCount
		res.TargetCount += r.TargetCount
		res.Matched += r.Matched
		res.InAgreement += r.InAgreement
		res.Settling += r.Settling
		res.settlingSource += p.SettlingSource
		res.MissingInTarget += r.MissingInTarget
		res.MissingInSource += r.MissingInSource
		for f, n := range r.FieldMismatches {
			res.FieldMismatches[f] += n
		}
		res.RecordsWithFieldMismatch += r.RecordsWithFieldMismatch
		res.TimestampMisaligned += r.TimestampMisaligned
		res.TargetStale += r.TargetStale
		res.TargetAhead += r.TargetAhead
		res.DuplicateKeys += r.DuplicateKeys
		res.InvalidRecords += r.InvalidRecords
		res.AmbiguousMatches += r.AmbiguousMatches
		res.KeyMismatches += r.KeyMismatches
		res.SourceRowsRead += r.SourceRowsRead
		res.TargetRowsRead += r.TargetRowsRead
		res.DurationSeconds = max(res.DurationSeconds, r.DurationSeconds)
		if r.Mode != "" {
			res.Mode = r.Mode
		}
		if c := r.Checksum; c != nil {
			if res.Checksum == nil {
				res.Checksum = &ChecksumFigures{}
			}
			res.Checksum.SegmentsChecksummed += c.SegmentsChecksummed
			res.Checksum.SegmentsRead += c.SegmentsRead
			res.Checksum.RowsInAgreement += c.RowsInAgreement
			res.Checksum.Levels = max(res.Checksum.Levels, c.Levels)
		}
		if r.Periods != nil { // counts_by: counted whole in partition 0
			res.Periods, res.PeriodsBreached, res.PeriodCounts = r.Periods, r.PeriodsBreached, r.PeriodCounts
		}
		if l := p.Lag; l != nil {
			lag.zero += l.Zero
			lag.n += l.N
			lag.max = max(lag.max, l.Max)
			for b, c := range l.Buckets {
				if b >= 0 && b < len(lag.buckets) {
					lag.buckets[b] += c
				}
			}
		}
		for _, s := range p.Stakes {
			k := s.Field + "\x00"
			if s.Currency != nil {
				k += "\x01" + *s.Currency
			}
			st := byKey[k]
			if st == nil {
				st = &Stake{Field: s.Field, Currency: s.Currency}
				byKey[k] = st
			}
			st.Mismatched = st.Mismatched.Add(s.Mismatched)
			st.MissingInTarget = st.MissingInTarget.Add(s.MissingInTarget)
			st.scale = max(st.scale, s.Scale)
		}
	}
	if acc := newStakes(spec); acc != nil {
		for i, k := range slices.Sorted(maps.Keys(byKey)) {
			acc.sums[stakeKey{field: i}] = byKey[k]
		}
		res.ValueAtStake = acc.result()
	}
	lag.setResult(&res)
	res.evaluate(spec.Thresholds)
	return res
}
