package sources

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/reconcile"
)

// ChecksumDialect is a Dialect that can checksum segments of rows in the
// database (reconcile.Checksummer): it computes a column's canonical text,
// frames it, and hashes text, the same way as every other ChecksumDialect.
type ChecksumDialect interface {
	Dialect
	TypedDialect
	GroupingDialect
	// Canonical is the SQL of the canonical text of column col (reference
	// ref) read as typ: one text for all the values the engine reads as
	// equal, and invalid (an SQL literal) for a value it would find
	// invalid. It is "" where the dialect cannot compute it exactly.
	Canonical(ref string, col Column, typ reconcile.FieldType, utc bool, invalid string) string
	// Frame is the SQL of a canonical text framed so that concatenated
	// frames are unambiguous, in parts for Concat: for text, 'N' for
	// NULL, else 'V', its length in characters, ':' and the text; for
	// the other types, whose canonical text never holds '|' nor is 'N',
	// the text or 'N', then '|', which evaluates the canonical text once.
	// Canonical texts are cheap rather than readable (dates are days
	// since 1970, instants microseconds since 1970 UTC): a checksum costs
	// the database every column of every row.
	Frame(canonical string, text bool) []string
	// Concat is the SQL concatenation of non-NULL texts.
	Concat(texts []string) string
	// Hash is a non-negative integer: the first digits hex digits of the
	// SHA-256 of text's UTF-8 bytes.
	Hash(text string, digits int) string
	// RangeSegment is the SQL of an integer key's segment, (key −
	// origin) / width, in 64-bit integers, for a key no less than origin
	// and less than 2^62 beyond it.
	RangeSegment(key string, origin, width int64) string
	// UniqueColumn reports whether a unique index (not partial, of that
	// column alone) keeps column of table free of duplicates, so that a
	// segment need not count its distinct keys (which costs PostgreSQL a
	// sort of the table). An error or a doubt is false.
	UniqueColumn(ctx context.Context, tx *sqlx.Tx, table, column string) bool
}

// SegmentPlanner is a ChecksumDialect whose planner must be told how to
// sum every row of a relation into segments, which it may misjudge: a
// segment is an expression of the key, so a planner may expect a group
// per row where there are a few thousand, and sort the whole table to
// aggregate it.
type SegmentPlanner interface {
	// PlanSegments returns SQL to run before the statement that sums every
	// row into segments, and SQL that undoes it after.
	PlanSegments() (before, after string)
}

// The hash of a row takes 15 hex digits (60 bits, so that a sum of a
// billion fits any database's decimal), a key's segment 8 (32 bits).
const (
	rowHashDigits = 15
	keyHashDigits = 8
)

var _ reconcile.Checksummer = (*Relation)(nil)

// OpenChecksums implements reconcile.Checksummer.
func (r *Relation) OpenChecksums(ctx context.Context, plan reconcile.ChecksumPlan) (reconcile.ChecksumSession, string, error) {
	d, ok := r.db.dialect.(ChecksumDialect)
	if !ok {
		return nil, fmt.Sprintf("the %s system %q cannot checksum", plan.Side, r.db.name), nil
	}
	tx, err := r.db.beginSnapshot(ctx)
	if err != nil {
		return nil, "", r.wrap("begin snapshot", err)
	}
	cols, err := r.probe(ctx, tx)
	if err != nil {
		tx.Rollback()
		return nil, "", err
	}
	names := []string{plan.Key.Name}
	for _, c := range plan.Columns {
		names = append(names, c.Name)
	}
	found, err := Resolve(cols, names)
	if err != nil {
		tx.Rollback()
		return nil, "", r.wrap("check columns", err)
	}
	utc := plan.Location == nil || plan.Location.String() == "UTC"
	invalid := "'!" + string(plan.Side) + "'" // never the other side's
	s := &checksumSession{rel: r, tx: tx, d: d, cols: found}
	key := found[0]
	s.key = queries.Column(d, key.Name)
	s.keyText = d.Canonical(s.key, key, plan.Key.Type, utc, invalid)
	if s.keyText == "" || (plan.Key.Type == reconcile.Int && FamilyOf(key.DatabaseType) != Integer) {
		tx.Rollback()
		return nil, fmt.Sprintf("the %s key column %s is of type %s", plan.Side, key.Name, key.DatabaseType), nil
	}
	frames := d.Frame(s.keyText, plan.Key.Type == reconcile.String) // by type: both sides frame alike
	for i, c := range plan.Columns {
		col := found[i+1]
		canon := d.Canonical(queries.Column(d, col.Name), col, c.Type, utc, invalid)
		if canon == "" {
			tx.Rollback()
			return nil, fmt.Sprintf("the %s column %s (%s) has no exact canonical text for a %s", plan.Side, col.Name, col.DatabaseType, c.Type), nil
		}
		if c.NullEqualsEmpty {
			canon = "COALESCE(" + canon + ", '')"
		}
		frames = append(frames, d.Frame(canon, c.Type == reconcile.String)...)
	}
	// A row whose text the database cannot build (MySQL returns NULL past
	// max_allowed_packet) hashes to its side's number, beyond any hash,
	// so that its segment never agrees rather than the sum skip it.
	s.rowHash = fmt.Sprintf("COALESCE(%s, %d)", d.Hash(d.Concat(frames), rowHashDigits), int64(1)<<(4*rowHashDigits)+sideNumber(plan.Side))
	s.keyHash = d.Hash(s.keyText, keyHashDigits)
	s.integerKey = FamilyOf(key.DatabaseType) == Integer && !(strings.Contains(key.DatabaseType, "UNSIGNED") && strings.Contains(key.DatabaseType, "BIGINT"))
	if plan.Stamp != "" {
		s.stamp = queries.Column(d, found[len(found)-1].Name)
	}
	// A table's rows, filtered or not, keep the uniqueness of its index;
	// a query's need not.
	s.unique = r.sel.Query == "" && d.UniqueColumn(ctx, tx.Tx, r.sel.Table, key.Name)
	if s.integerKey {
		s.partition = plan.Partition // the engine refuses the others
	}
	return s, "", nil
}

func sideNumber(s reconcile.Side) int64 {
	if s == reconcile.SourceSide {
		return 1
	}
	return 2
}

// checksumSession checksums one relation in one snapshot.
type checksumSession struct {
	rel                     *Relation
	tx                      *snapshot
	d                       ChecksumDialect
	cols                    []Column
	key, keyText            string
	rowHash, keyHash, stamp string
	integerKey              bool
	// unique is set when an index keeps the key unique.
	unique bool
	// partition narrows every query to a partition's integer keys.
	partition *reconcile.Partition
}

// Count implements reconcile.ChecksumSession.
func (s *checksumSession) Count(ctx context.Context) (int64, error) {
	var n int64
	defer s.tx.endOnCancel(ctx)()
	if err := s.tx.QueryRowContext(ctx, queries.Select(s.d, s.rel.sel, []string{"COUNT(*)"})).Scan(&n); err != nil {
		return 0, s.rel.wrap("count", err)
	}
	return n, nil
}

// IntegerKey implements reconcile.ChecksumSession.
func (s *checksumSession) IntegerKey() bool { return s.integerKey }

// KeyRange implements reconcile.ChecksumSession.
func (s *checksumSession) KeyRange(ctx context.Context) (least, greatest int64, any bool, err error) {
	var lo, hi sql.NullInt64
	if err := s.tx.QueryRowContext(ctx, queries.Select(s.d, s.rel.sel, []string{"MIN(" + s.key + ")", "MAX(" + s.key + ")"})).Scan(&lo, &hi); err != nil {
		return 0, 0, false, s.rel.wrap("key range", err)
	}
	return lo.Int64, hi.Int64, lo.Valid, nil
}

// segment is the SQL of a key's segment at level: of its range at width
// where the level has one, else of its hash at count.
func (s *checksumSession) segment(level reconcile.SegmentLevel, count, width int64) string {
	if level.Width > 0 {
		return s.d.RangeSegment(s.key, level.Origin, width)
	}
	return fmt.Sprintf("(%s) %% %d", s.keyHash, count)
}

// maxKeyRanges is the most key ranges a condition lists: a database finds
// each through the key's index, but then tests every row it reads against
// all of them (a thousand ranges cost PostgreSQL 12 µs a row). More
// ranges, where each 16 of them hold a small part of the key span, are
// read by a statement per 16 (chunked): 334 ranges of 1,024 keys in 10M
// rows, 0.5 s where one statement bounding the key and looking its
// segment up in a list reads the whole table (3 s in PostgreSQL and in
// MariaDB). Joining the ranges as a table instead left the plan to the
// planners, which chose to scan the table once per range.
const maxKeyRanges = 16

// chunkSpan is the part of the key span beyond which 16 ranges are read
// with the rest of the table, once, rather than by a statement of their
// own (which a database may answer by reading the table).
const chunkSpan = 64

// in is the condition that the key's segment at count or width is one
// of segs (in order).
func (s *checksumSession) in(level reconcile.SegmentLevel, count, width int64, segs []int64) string {
	var ranges [][2]int64
	if level.Width > 0 {
		ranges = level.KeyRanges(width, segs)
		if len(ranges) == 0 {
			return "(1 = 0)"
		}
	}
	if len(ranges) > 0 && len(ranges) <= maxKeyRanges {
		return s.listRanges(ranges)
	}
	var b strings.Builder
	b.WriteString("(")
	if len(ranges) > 0 {
		fmt.Fprintf(&b, "%s BETWEEN %d AND %d AND ", s.key, ranges[0][0], ranges[len(ranges)-1][1])
	}
	fmt.Fprintf(&b, "%s IN (", s.segment(level, count, width))
	for i, seg := range segs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(seg, 10))
	}
	b.WriteString("))")
	return b.String()
}

// chunked is the conditions, one per statement, that together read the
// key segments segs at width of a level of key ranges, where they are more
// than a condition lists and each condition's ranges hold at most
// 1/chunkSpan of the key span; ok is false otherwise.
func (s *checksumSession) chunked(level reconcile.SegmentLevel, width int64, segs []int64) (conds []string, ok bool) {
	if level.Width == 0 {
		return nil, false
	}
	ranges := level.KeyRanges(width, segs)
	if len(ranges) <= maxKeyRanges {
		return nil, false
	}
	span := float64(level.Last) - float64(level.Origin) + 1
	for len(ranges) > 0 {
		chunk := ranges[:min(maxKeyRanges, len(ranges))]
		var keys float64
		for _, r := range chunk {
			keys += float64(r[1]) - float64(r[0]) + 1
		}
		if keys*chunkSpan > span {
			return nil, false
		}
		conds, ranges = append(conds, s.listRanges(chunk)), ranges[len(chunk):]
	}
	return conds, true
}

// listRanges is the condition that the key is in one of ranges.
func (s *checksumSession) listRanges(ranges [][2]int64) string {
	var b strings.Builder
	b.WriteString("(")
	for i, r := range ranges {
		if i > 0 {
			b.WriteString(" OR ")
		}
		if r[0] == r[1] {
			fmt.Fprintf(&b, "%s = %d", s.key, r[0])
		} else {
			fmt.Fprintf(&b, "%s BETWEEN %d AND %d", s.key, r[0], r[1])
		}
	}
	b.WriteString(")")
	return b.String()
}

// Sums implements reconcile.ChecksumSession.
func (s *checksumSession) Sums(ctx context.Context, level reconcile.SegmentLevel) ([]reconcile.SegmentSum, error) {
	distinct := "COUNT(DISTINCT " + s.d.ExactGroupKey(s.keyText) + ")"
	if s.unique {
		distinct = "COUNT(*)" // no key twice, by the index
	}
	stamps := "0"
	if s.stamp != "" {
		stamps = "COUNT(" + s.stamp + ")"
	}
	exprs := []string{
		s.segment(level, level.Count, level.Width),
		"COUNT(*)",
		distinct,
		stamps,
		"SUM(" + s.rowHash + ")",
	}
	cond := s.key + " IS NOT NULL"
	if p := s.partition; p != nil {
		cond += " AND " + queries.IntegerPartition(s.key, p.Index, p.Count)
	}
	within := []string{""}
	if level.Parent > 0 || level.ParentWidth > 0 {
		var ok bool
		if within, ok = s.chunked(level, level.ParentWidth, level.Within); !ok {
			within = []string{s.in(level, level.Parent, level.ParentWidth, level.Within)}
		}
	}
	// The statement that sums every row is planned as the dialect says.
	var after string
	if planner, ok := s.d.(SegmentPlanner); ok && within[0] == "" {
		var before string
		before, after = planner.PlanSegments()
		if _, err := s.tx.ExecContext(ctx, before); err != nil {
			return nil, s.rel.wrap("checksum", err)
		}
	}
	// A segment lies within one parent, so in one chunk.
	var out []reconcile.SegmentSum
	for _, w := range within {
		c := cond
		if w != "" {
			c += " AND " + w
		}
		var err error
		if out, err = s.sums(ctx, queries.SelectWhere(s.d, s.rel.sel, exprs, c)+" GROUP BY 1", out); err != nil {
			return nil, err
		}
	}
	if after != "" {
		if _, err := s.tx.ExecContext(ctx, after); err != nil {
			return nil, s.rel.wrap("checksum", err)
		}
	}
	return out, nil
}

// sums appends the segment sums stmt reads to out.
func (s *checksumSession) sums(ctx context.Context, stmt string, out []reconcile.SegmentSum) ([]reconcile.SegmentSum, error) {
	defer s.tx.endOnCancel(ctx)()
	rows, err := s.tx.QueryContext(ctx, stmt)
	if err != nil {
		return nil, s.rel.wrap("checksum", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sum reconcile.SegmentSum
		if err := rows.Scan(&sum.Segment, &sum.Rows, &sum.Keys, &sum.Stamps, &sum.Sum); err != nil {
			return nil, s.rel.wrap("checksum", err)
		}
		out = append(out, sum)
	}
	if err := rows.Err(); err != nil {
		return nil, s.rel.wrap("checksum", err)
	}
	return out, nil
}

// Scan implements reconcile.ChecksumSession.
func (s *checksumSession) Scan(ctx context.Context, columns []string, leaves []reconcile.SegmentLevel) (reconcile.Rows, error) {
	cols, err := Resolve(s.cols, columns)
	if err != nil {
		return nil, s.rel.wrap("check columns", err)
	}
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = s.d.SelectExpr(queries.Column(s.d, c.Name), c.DatabaseType)
	}
	// One statement reads NULL keys and the leaves a condition lists; the
	// leaves read in chunks, a statement each, follow it (keys are
	// disjoint: a segment is either split or read).
	var conds, chunks []string
	if p := s.partition; p == nil || p.Index == 0 {
		conds = append(conds, s.key+" IS NULL") // partition 0's
	}
	for _, l := range leaves {
		if c, ok := s.chunked(l, l.Width, l.Within); ok {
			chunks = append(chunks, c...)
			continue
		}
		conds = append(conds, s.in(l, l.Count, l.Width, l.Within))
	}
	cond := "(" + strings.Join(conds, " OR ") + ")"
	if len(conds) == 0 {
		cond = "1 = 0"
	}
	var stmts []string
	if p := s.partition; p != nil {
		mine := queries.IntegerPartition(s.key, p.Index, p.Count)
		for _, c := range chunks {
			stmts = append(stmts, queries.SelectWhere(s.d, s.rel.sel, exprs, "("+c+" AND "+mine+")"))
		}
		if p.Index == 0 {
			mine += " OR " + s.key + " IS NULL"
		}
		cond = "(" + cond + " AND (" + mine + "))"
	} else {
		for _, c := range chunks {
			stmts = append(stmts, queries.SelectWhere(s.d, s.rel.sel, exprs, c))
		}
	}
	rows, err := s.rel.read(ctx, s.tx, queries.SelectWhere(s.d, s.rel.sel, exprs, cond), len(cols), stmts...)
	if err != nil {
		return nil, s.rel.wrap("read segments", err)
	}
	return rows, nil
}

// Close implements reconcile.ChecksumSession.
func (s *checksumSession) Close() error {
	s.tx.Rollback() // done already once a Scan's rows are closed
	return nil
}
