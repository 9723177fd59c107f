package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
)

// Checksum mode: instead of reading every row, each database sums a
// strong hash of every row's canonical text over segments of keys; only
// the segments whose sums differ are narrowed down and read, and their
// rows are compared as in rows mode. The rest agree row for row, so they
// count as matched records in agreement without being read.
//
// What keeps it exact:
//   - A row's canonical text is one text for every value the engine reads
//     as equal (decimals without trailing zeros, instants in UTC at
//     microseconds, NULL apart from ''), computed by the database the
//     same way in every dialect; two rows with one canonical text compare
//     equal in rows mode. Where a database cannot compute a column's
//     canonical text exactly (a normalised field, a float, a zone-less
//     timestamp outside UTC), the reconciliation is compared in rows mode.
//   - A value rows mode would find invalid (an infinite timestamp, a
//     MySQL zero date) gets a canonical text of its side, so that its
//     segment never agrees and the record is read and reported.
//   - Segments never rely on a collation, so that both sides agree on a
//     key's segment: where both keys are integer columns, a segment is a
//     range of the key (read through its index, so that a differing
//     segment costs its rows, not a pass over the table), split into f
//     ranges f times narrower; otherwise it is the hash of the key's
//     canonical text modulo a count C, split into f of count C·f.
//   - A segment agrees only when both sides have the same rows, the same
//     sum of row hashes (a sum, not an XOR, so duplicates do not cancel)
//     and no key twice; records with a NULL key are always read.
//   - Every query of one side reads one snapshot, the segments' sums and
//     the rows read after them alike.

// Checksummer is a Snapshot whose database can checksum segments.
type Checksummer interface {
	// OpenChecksums starts a snapshot in which to checksum plan's columns.
	// It returns a reason, and no session, where the database cannot
	// compute their canonical text exactly.
	OpenChecksums(ctx context.Context, plan ChecksumPlan) (ChecksumSession, string, error)
}

// ChecksumSession is one side's snapshot being checksummed.
type ChecksumSession interface {
	// Sums checksums the segments of level.
	Sums(ctx context.Context, level SegmentLevel) ([]SegmentSum, error)
	// Scan reads the rows of columns whose key is in one of the segments
	// of leaves, and those whose key is NULL; closing the Rows ends the
	// session.
	Scan(ctx context.Context, columns []string, leaves []SegmentLevel) (Rows, error)
	// Close ends the session without a Scan.
	Close() error
	// Count counts the side's rows, which sizes the first level when no
	// earlier run says how many to expect.
	Count(ctx context.Context) (int64, error)
	// IntegerKey reports whether the side's key is an integer column, so
	// that segments may be ranges of the key itself, which the database
	// reads through its index and need not hash (SegmentLevel.Width).
	IntegerKey() bool
	// KeyRange returns the least and the greatest key of an integer key,
	// and whether there is any.
	KeyRange(ctx context.Context) (least, greatest int64, any bool, err error)
}

// ChecksumPlan is what one side checksums: the key and every compared
// column, in the order the engine reads them.
type ChecksumPlan struct {
	Side    Side
	Key     ChecksumColumn
	Columns []ChecksumColumn // the fields, then the timestamp
	// Stamp is the timestamp's column ("" without one): a segment counts
	// its non-NULL values, the lags of zero its agreement stands for.
	Stamp string
	// Location is the zone of the side's timestamps written without one.
	Location *time.Location
	// Partition, for a partitioned run, narrows every checksum and read
	// to the partition's keys where the key is an integer column (k mod
	// Count, exactly as Partition assigns them).
	Partition *Partition
}

// ChecksumColumn is a column and the type the engine reads it as.
type ChecksumColumn struct {
	Name string
	Type FieldType
	// NullEqualsEmpty makes NULL's canonical text that of ''.
	NullEqualsEmpty bool
}

// SegmentLevel selects segments of keys. With a Width, a segment is a
// range of integer keys: key k is in segment (k − Origin) / Width, and
// segment s at ParentWidth P (a multiple of Width) splits into the
// segments s·P/Width + i. Otherwise key k is in segment h mod Count,
// where h is the hash of its canonical text, and segment s at Parent P (a
// divisor of Count) splits into the segments s + i·P at Count.
//
// For Sums, only keys whose segment at the parent (none: every key) is in
// Within are summed; for Scan, the keys of the segments Within.
type SegmentLevel struct {
	Count, Parent int64
	Within        []int64
	// Origin and Last are the least and the greatest key of either side;
	// Width and ParentWidth are powers of two.
	Origin, Last, Width, ParentWidth int64
}

// KeyRanges returns the key ranges [least, greatest] of the segments (in
// order) at width, adjacent ones joined, and none beyond Last, so that
// no bound overflows.
func (l SegmentLevel) KeyRanges(width int64, segments []int64) [][2]int64 {
	var out [][2]int64
	origin := l.Origin
	last := uint64(l.Last - origin)
	for _, s := range segments {
		lo := uint64(s) * uint64(width)
		hi := lo + uint64(width) - 1
		if lo > last {
			continue
		}
		hi = min(hi, last)
		r := [2]int64{origin + int64(lo), origin + int64(hi)}
		if n := len(out); n > 0 && out[n-1][1]+1 == r[0] {
			out[n-1][1] = r[1]
			continue
		}
		out = append(out, r)
	}
	return out
}

// SegmentSum is one segment's checksum: its rows, its distinct keys (no
// more than its rows: fewer means a key repeats), its non-NULL
// timestamps, and the sum of its rows' hashes as decimal text.
type SegmentSum struct {
	Segment            int64
	Rows, Keys, Stamps int64
	Sum                string
}

// ChecksumFigures say what checksum mode did: the segments compared over
// all levels, the levels, the segments read, and the rows their segments
// agree on (matched without being read).
type ChecksumFigures struct {
	SegmentsChecksummed int64 `json:"segments_checksummed"`
	Levels              int   `json:"levels"`
	SegmentsRead        int64 `json:"segments_read"`
	RowsInAgreement     int64 `json:"rows_in_agreement"`
}

// Checksum configures a reconciliation's checksum mode.
type Checksum struct {
	// Segments is the first level's count; 0 chooses from ExpectRows.
	Segments int64
	// LeafRows is the most rows a differing segment may have to be read
	// rather than split again.
	LeafRows int64
}

// Checksum mode's defaults: a first level of segments of about
// defaultLeafRows rows each, at least minSegments and at most
// maxSegments, split at most maxLevels times.
const (
	defaultLeafRows = 1000
	minSegments     = 64
	maxSegments     = 1 << 20
	maxLevels       = 3
)

// maxSparseness is how many keys' span, at most, a row may have for
// ranges of keys to be segments: 8, as when most ids were deleted.
const maxSparseness = 8

// checksumPlan returns side's plan, or why spec cannot be checksummed.
func (s Spec) checksumPlan(side Side, loc *time.Location) (ChecksumPlan, string) {
	switch {
	case len(s.Key) != 1:
		return ChecksumPlan{}, "a composite key"
	case s.SourceGroupBy || s.TargetGroupBy:
		return ChecksumPlan{}, "group_by"
	case len(s.Match) > 0:
		return ChecksumPlan{}, "match tiers"
	case s.CountsBy != nil:
		return ChecksumPlan{}, "counts_by"
	case len(s.Key[0].Normalize) > 0:
		return ChecksumPlan{}, "a normalised key"
	}
	k := s.Key[0]
	p := ChecksumPlan{Side: side, Location: loc, Key: ChecksumColumn{Name: pick(side, k.Source, k.Target), Type: k.Type}}
	for _, f := range s.Fields {
		if len(f.Normalize) > 0 || len(f.Map) > 0 || len(f.Allowed) > 0 {
			return ChecksumPlan{}, fmt.Sprintf("field %s is normalised", f.Name)
		}
		if f.DateLocation != nil {
			return ChecksumPlan{}, fmt.Sprintf("field %s has a date_timezone", f.Name)
		}
		p.Columns = append(p.Columns, ChecksumColumn{Name: pick(side, f.Source, f.Target), Type: f.Type, NullEqualsEmpty: f.NullEqualsEmpty})
	}
	if ts := s.Timestamp; ts != nil {
		p.Stamp = pick(side, ts.Source, ts.Target)
		p.Columns = append(p.Columns, ChecksumColumn{Name: p.Stamp, Type: Timestamp})
	}
	return p, ""
}

// checksummed is what checksum mode found before reading rows: the
// segments to read on each side and the figures of those that agree.
type checksummed struct {
	sessions [2]ChecksumSession
	leaves   []SegmentLevel
	figures  ChecksumFigures
	stamps   int64 // non-NULL timestamps of the rows in agreement
}

// checksum narrows spec's differences down to segments, or returns a
// reason to compare rows instead (and nil).
func checksum(ctx context.Context, spec Spec, source, target Input, opts Options, progress *Progress, logger *slog.Logger) (*checksummed, string, error) {
	if opts.SettleAfter != (time.Time{}) {
		return nil, "settle", nil
	}
	c, why, err := openChecksums(ctx, spec, source, target, opts.Partition)
	if c == nil {
		return nil, why, err
	}
	leaf := spec.Checksum.LeafRows
	if leaf <= 0 {
		leaf = defaultLeafRows
	}
	count := spec.Checksum.Segments
	if count <= 0 {
		// Segments of about a leaf each find sparse drift in one pass.
		expect := opts.ExpectRows
		if expect <= 0 {
			n, err := c.sessions[0].Count(ctx)
			if err != nil {
				c.close()
				return nil, "", err
			}
			expect = n
		}
		if p := opts.Partition; p != nil {
			expect /= int64(p.Count)
		}
		count = minSegments
		for count < maxSegments && count*leaf < expect {
			count *= 2
		}
	}
	partitions := int64(1)
	if p := opts.Partition; p != nil {
		// Only integer keys have a partition SQL computes exactly, which
		// both sides' sums must cover alike.
		if !c.sessions[0].IntegerKey() || !c.sessions[1].IntegerKey() {
			c.close()
			return nil, "a partitioned run of keys that are not integer columns on both sides", nil
		}
		partitions = int64(p.Count)
	}
	level, err := firstLevel(ctx, c.sessions, count, leaf, partitions)
	if err != nil {
		c.close()
		return nil, "", err
	}
	defer progress.ChecksumLevel.Store(0)
	for depth := 0; ; depth++ {
		progress.ChecksumLevel.Store(int32(depth + 1))
		var sums [2]map[int64]SegmentSum
		g, gctx := errgroup.WithContext(ctx)
		for i, sess := range c.sessions {
			g.Go(func() error { // both databases at once
				got, err := sess.Sums(gctx, level)
				sums[i] = make(map[int64]SegmentSum, len(got))
				for _, s := range got {
					sums[i][s.Segment] = s
				}
				return err
			})
		}
		if err := g.Wait(); err != nil {
			c.close()
			return nil, "", err
		}
		c.figures.Levels = depth + 1
		var split, read []int64
		var largest int64 // the most rows of a segment to split
		segments := slices.Sorted(maps.Keys(sums[0]))
		for s := range sums[1] {
			if _, ok := sums[0][s]; !ok {
				segments = append(segments, s)
			}
		}
		// Where most rows are in differing segments, splitting them costs
		// a pass and spares little: they are read at once. Unless the
		// segments are far larger than a leaf (segments: set, or a table
		// that grew), when a split may still spare most.
		var all, differing, largestDiffering int64
		for _, s := range segments {
			a, b := sums[0][s], sums[1][s]
			all += max(a.Rows, b.Rows)
			if a != b || a.Keys != a.Rows {
				differing += max(a.Rows, b.Rows)
				largestDiffering = max(largestDiffering, a.Rows, b.Rows)
			}
		}
		splittable := level.Count*2 <= maxSegments
		if level.Width > 0 {
			splittable = level.Width >= 2
		}
		splitting := depth+1 < maxLevels && splittable && (differing*2 <= all || depth == 0 && largestDiffering > 2*leaf)
		for _, s := range segments {
			a, b := sums[0][s], sums[1][s]
			c.figures.SegmentsChecksummed++
			if a == b && a.Keys == a.Rows {
				c.figures.RowsInAgreement += a.Rows
				c.stamps += a.Stamps
				continue
			}
			if rows := max(a.Rows, b.Rows); rows > leaf && splitting {
				split = append(split, s)
				largest = max(largest, rows)
			} else {
				read = append(read, s)
			}
		}
		if len(read) > 0 {
			slices.Sort(read)
			leaves := level
			leaves.Parent, leaves.ParentWidth, leaves.Within = 0, 0, read
			c.leaves = append(c.leaves, leaves)
			c.figures.SegmentsRead += int64(len(read))
		}
		progress.SegmentsCompared.Add(int64(len(segments)))
		logger.Info("checksummed segments", "count", level.Count, "width", level.Width, "compared", len(segments), "split", len(split), "read", len(read))
		if len(split) == 0 {
			return c, "", nil
		}
		slices.Sort(split)
		// Split into as many as make the largest's parts about half a
		// leaf each: a level costs a pass over the table, so it had
		// better leave little to split again.
		factor := int64(2)
		for factor < 1024 && factor*leaf < 2*largest && (level.Width > 0 && factor < level.Width || level.Width == 0 && level.Count*factor < maxSegments) {
			factor *= 2
		}
		if level.Width > 0 {
			level.Width, level.ParentWidth = level.Width/factor, level.Width
		} else {
			level.Count, level.Parent = level.Count*factor, level.Count
		}
		level.Within = split
	}
}

// firstLevel returns the first level of about count segments of leaf rows
// (of one of partitions): ranges of the key where both sides' keys are
// integers whose span is dense enough, else hashes. (Keys clustered in a
// vast span, or one outlier, would leave most rows in a few ranges, which
// splitting may not spread; a span of 2^62 or more may overflow.)
func firstLevel(ctx context.Context, sessions [2]ChecksumSession, count, leaf, partitions int64) (SegmentLevel, error) {
	hashed := SegmentLevel{Count: count}
	if !sessions[0].IntegerKey() || !sessions[1].IntegerKey() {
		return hashed, nil
	}
	var least, greatest int64
	found := false
	for _, sess := range sessions {
		lo, hi, any, err := sess.KeyRange(ctx)
		if err != nil {
			return SegmentLevel{}, err
		}
		if !any {
			continue
		}
		if !found {
			least, greatest, found = lo, hi, true
		}
		least, greatest = min(least, lo), max(greatest, hi)
	}
	span := uint64(greatest - least) // two's complement: exact for least ≤ greatest
	if span >= 1<<62 || span/uint64(maxSparseness) > uint64(count)*uint64(leaf)*uint64(partitions) {
		return hashed, nil
	}
	width := int64(1)
	for uint64(width)*uint64(count) <= span {
		width *= 2
	}
	return SegmentLevel{Origin: least, Last: greatest, Width: width}, nil
}

// openChecksums starts both sides' checksum sessions, or says why spec
// cannot be checksummed between them (and returns nil).
func openChecksums(ctx context.Context, spec Spec, source, target Input, partition *Partition) (*checksummed, string, error) {
	c := &checksummed{}
	for i, in := range []Input{source, target} {
		side := [2]Side{SourceSide, TargetSide}[i]
		cs, ok := in.Snapshot.(Checksummer)
		why := ""
		var plan ChecksumPlan
		if !ok {
			why = fmt.Sprintf("the %s cannot checksum", side)
		} else {
			plan, why = spec.checksumPlan(side, in.Location)
			plan.Partition = partition
		}
		if why != "" {
			c.close()
			return nil, why, nil
		}
		sess, why, err := cs.OpenChecksums(ctx, plan)
		if err != nil || why != "" {
			c.close()
			return nil, why, err
		}
		c.sessions[i] = sess
	}
	return c, "", nil
}

// ChecksumPossible says why spec cannot be compared in checksum mode
// between source and target, or "" when it can: it opens and closes both
// sides' checksum sessions and reads no row (for recon validate). A run
// with settle: compares rows whatever it says, and a partitioned run does
// unless both keys are integer columns.
func ChecksumPossible(ctx context.Context, spec Spec, source, target Input) (string, error) {
	c, why, err := openChecksums(ctx, spec, source, target, nil)
	if c != nil {
		c.close()
	}
	return why, err
}

func (c *checksummed) close() {
	for _, s := range c.sessions {
		if s != nil {
			s.Close()
		}
	}
}

// segmentSnapshot reads one side's rows of the differing segments.
type segmentSnapshot struct {
	session ChecksumSession
	leaves  []SegmentLevel
}

func (s segmentSnapshot) Scan(ctx context.Context, columns []string) (Rows, error) {
	return s.session.Scan(ctx, columns, s.leaves)
}
