package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Input is one side of a reconciliation: where its records come from and the
// zone of its timestamps written without one.
type Input struct {
	Snapshot Snapshot
	Location *time.Location
}

// Options tune a run. The zero value is usable.
type Options struct {
	// MemoryBudget bounds the bytes of records held for sorting, both sides
	// together; beyond it records spill to TempDir. Default 64 MiB.
	MemoryBudget int
	// TempDir holds spill files; default os.TempDir().
	TempDir string
	Logger  *slog.Logger
	// Progress, when set, counts rows read and keys compared, for a caller
	// that reports progress.
	Progress *Progress
	// SettleAfter, when set, leaves out records modified after it on
	// either side: they are still in flight (a sync that has not caught up
	// yet), counted as settling, not compared or reported.
	SettleAfter time.Time
	// Now is the run's time, which ends a counts_by reconciliation's last
	// period; zero is time.Now().
	Now time.Time
	// Partition, when set, compares only the keys of one partition (see
	// Partition); the figures are then the partition's.
	Partition *Partition
	// ExpectRows, when known (the last run's), sizes checksum mode's
	// segments.
	ExpectRows int64
}

// Progress counts rows read, then keys compared; safe to read while a run
// goes on. In checksum mode the databases first sum segments of keys,
// reading no rows, for as long as a pass over both tables takes: the
// level being summed says that much, then the rows of the segments that
// differ are read and counted.
type Progress struct {
	SourceRows atomic.Int64
	TargetRows atomic.Int64
	Compared   atomic.Int64 // distinct keys the merge join has passed
	// ChecksumLevel is the level of segments both databases are summing
	// (1 for the pass over every row), 0 when none is; SegmentsCompared
	// counts the segments of the levels summed.
	ChecksumLevel    atomic.Int32
	SegmentsCompared atomic.Int64
	// ExpectSourceRows and ExpectTargetRows, when known (the last run's
	// rows read), let a caller estimate the time left; the engine does not
	// use them.
	ExpectSourceRows, ExpectTargetRows int64
}

// Remaining estimates the reading time left from the rows read in elapsed
// and the rows expected, side by side as they are read: false when no
// expectation is known or a side has read nothing yet.
func (p *Progress) Remaining(elapsed time.Duration) (time.Duration, bool) {
	var left time.Duration
	for _, s := range []struct {
		read   int64
		expect int64
	}{{p.SourceRows.Load(), p.ExpectSourceRows}, {p.TargetRows.Load(), p.ExpectTargetRows}} {
		if s.expect <= 0 || s.read <= 0 {
			return 0, false
		}
		if s.read < s.expect {
			left = max(left, time.Duration(float64(elapsed)*float64(s.expect-s.read)/float64(s.read)))
		}
	}
	return left, true
}

const defaultMemoryBudget = 64 << 20

// Run compares source and target as spec says, writes each exception to
// sink and returns the figures. An error means the reconciliation could
// not be completed (a source failed, the context was cancelled); the
// exceptions written so far are then incomplete.
func Run(ctx context.Context, spec Spec, source, target Input, sink Sink, opts Options) (Result, error) {
	budget := opts.MemoryBudget
	if budget <= 0 {
		budget = defaultMemoryBudget
	}
	budget = min(budget, 1<<31)
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("reconciliation", spec.Name)
	progress := opts.Progress
	if progress == nil {
		progress = &Progress{}
	}
	began := time.Now()
	if p := opts.Partition; p != nil {
		if err := errors.Join(p.Check(), spec.Partitionable()); err != nil {
			return Result{}, err
		}
		if spec.CountsBy != nil && p.Index != 0 {
			return Result{Name: spec.Name, FieldMismatches: map[string]int64{}, Breaches: []string{}, Mode: "rows"}, nil
		}
	}
	if spec.CountsBy != nil {
		res, err := countPeriods(ctx, spec, source, target, sink, opts, progress)
		res.DurationSeconds, res.Mode = time.Since(began).Seconds(), "rows"
		return res, err
	}
	var sums *checksummed
	if spec.Checksum != nil {
		c, why, err := checksum(ctx, spec, source, target, opts, progress, logger)
		if err != nil {
			return Result{}, fmt.Errorf("checksum: %w", err)
		}
		if why != "" {
			logger.Info("comparing every row: checksum mode is not possible", "reason", why)
		} else {
			sums = c
			defer c.close()
			source.Snapshot = segmentSnapshot{c.sessions[0], c.leaves}
			target.Snapshot = segmentSnapshot{c.sessions[1], c.leaves}
		}
	}
	dir, err := os.MkdirTemp(opts.TempDir, "recon-spill-")
	if err != nil {
		return Result{}, fmt.Errorf("spill directory: %w", err)
	}
	defer os.RemoveAll(dir)

	sides := [2]*sideState{
		newSideState(SourceSide, spec, source, dir, budget/2, &progress.SourceRows),
		newSideState(TargetSide, spec, target, dir, budget/2, &progress.TargetRows),
	}
	for i, s := range sides {
		s.partition = opts.Partition
		s.checker = newChecker(spec, sides, i)
	}
	start := time.Now()
	// Sides read in key order (integer keys the databases can order) are
	// joined as they are read; others are sorted first.
	streamable := len(spec.Match) == 0 && !spec.SourceGroupBy && !spec.TargetGroupBy
	// Both reads start at once, and a failure on either side ends both:
	// their queries run in readCtx, which any failure cancels.
	readCtx, cancelRead := context.WithCancelCause(ctx)
	defer cancelRead(nil)
	failed := func(err error) error {
		if err != nil {
			cancelRead(err)
		}
		return err
	}
	// firstFailure is what ended the reads: the first failure, which
	// cancelled the other side's read, whose own error then only says so
	// (PostgreSQL's "canceling statement due to user request"), however
	// the two errors race to be returned. A run stopped from outside keeps
	// the errors it got.
	firstFailure := func(err error) error {
		if cause := context.Cause(readCtx); cause != nil && ctx.Err() == nil {
			return cause
		}
		return err
	}
	var rows [2]Rows
	var scanErrs [2]error
	var opening sync.WaitGroup
	var order *orderVote
	if streamable {
		order = newOrderVote()
	}
	for i, s := range sides {
		defer s.close()
		opening.Go(func() {
			if rows[i], scanErrs[i] = s.scan(readCtx, order); scanErrs[i] != nil {
				scanErrs[i] = failed(fmt.Errorf("%s: %w", s.name, scanErrs[i]))
			}
		})
	}
	opening.Wait()
	if err := errors.Join(scanErrs[:]...); err != nil {
		for _, r := range rows {
			if r != nil {
				r.Close()
			}
		}
		return Result{}, firstFailure(err)
	}
	if sides[0].ordered && sides[1].ordered {
		j, err := streamJoin(readCtx, spec, sides, rows, sink, opts, progress, failed)
		if err != nil {
			return Result{}, firstFailure(err)
		}
		logger.Debug("snapshots read and joined in key order", "source_rows", sides[0].count, "target_rows", sides[1].count, "elapsed", time.Since(start))
		return finish(j, spec, sides, sums, began), nil
	}
	g, gctx := errgroup.WithContext(readCtx)
	var merged [2]encodedIter
	for i, s := range sides {
		g.Go(func() error {
			if err := s.ingest(gctx, rows[i], s.sorter); err != nil {
				return failed(err)
			}
			// Sorting the last batch here, not in the join, sorts both
			// sides at once.
			var err error
			if merged[i], err = s.sorter.finish(); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			s.sorted = merged[i] // closed by s.close if the join never starts
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Result{}, firstFailure(err)
	}
	for _, s := range sides {
		if s.pregrouped {
			logger.Debug("grouped in the database", "side", s.name, "groups", s.count)
		}
		if s.partitionRead {
			logger.Debug("partition read in the database", "side", s.name, "partition", s.partition.String(), "rows", s.count)
		}
	}
	logger.Debug("snapshots read", "source_rows", sides[0].count, "target_rows", sides[1].count,
		"spilled_bytes", sides[0].sorter.spilled+sides[1].sorter.spilled, "elapsed", time.Since(start))

	j, err := mergeJoin(ctx, spec, sides, merged, sink, opts, progress)
	if err != nil {
		return Result{}, err
	}
	return finish(j, spec, sides, sums, began), nil
}

// finish completes a join's figures: the rows checksum mode found in
// agreement, the lag, the thresholds, the costs.
func finish(j *join, spec Spec, sides [2]*sideState, sums *checksummed, began time.Time) Result {
	j.res.Mode = "rows"
	if sums != nil {
		// The segments that agree: every row matched, in agreement, its
		// timestamp the same on both sides (a lag of zero).
		n := sums.figures.RowsInAgreement
		j.res.SourceCount += n
		j.res.TargetCount += n
		j.res.Matched += n
		j.res.InAgreement += n
		j.lag.zero += sums.stamps
		j.lag.n += sums.stamps
		j.res.Mode, j.res.Checksum = "checksum", &sums.figures
	}
	j.lag.setResult(&j.res)
	j.res.lag = &j.lag
	j.res.evaluate(spec.Thresholds)
	j.res.SourceRowsRead, j.res.TargetRowsRead = sides[0].count, sides[1].count
	j.res.DurationSeconds = time.Since(began).Seconds()
	return j.res
}

// sideState is one side's ingest: records sorted by key, plus the records
// whose key is unusable, which are quarantined without sorting.
type sideState struct {
	input      Input
	name       Side
	columns    []string // what is read, in order: key columns, fields, timestamp
	keyCols    int
	keys       keyEncoder
	payload    [][]byte // a record as sorted: fields, timestamp, stored key (see appendStoredKey)
	storedKey  []byte
	sorter     *sorter
	quarantine *sorter    // records whose key is NULL or unparsable, ordered by content
	tiers      *sideTiers // nil without further match tiers
	// grouped sides (group_by) keep in the payload how many rows a record
	// folds (rowsSlot; nil for one), which is more than one where the
	// database grouped them (pregrouped).
	spec       *Spec
	rowsSlot   int
	pregrouped bool
	count      int64
	// partition, when set, is the share of keys this run compares;
	// others counts the records read that belong to other partitions.
	partition *Partition
	others    int64
	// partitionRead is set when the database sent the partition's rows
	// only, ordered when it sent them in key order.
	partitionRead, ordered bool
	progress               *atomic.Int64
	// checker reads what it can of each keyed record for the join (nil:
	// nothing).
	checker *checker
	// sorted yields the side's records in key order once ingest is done.
	sorted recordIter
}

func newSideState(name Side, spec Spec, input Input, dir string, budget int, progress *atomic.Int64) *sideState {
	var cols []string
	for _, c := range spec.Columns(name) {
		cols = append(cols, c.Name)
	}
	payload := len(cols) - len(spec.Key) + 1
	if len(spec.Match) > 0 {
		payload += 2 // the tier-1 key and the duplicate count, for the tiers
	}
	rowsSlot := -1
	if spec.Grouped(name) {
		payload++
		rowsSlot = payload - 2
	}
	s := &sideState{spec: &spec, rowsSlot: rowsSlot,
		input: input, name: name, columns: cols, keyCols: len(spec.Key),
		keys:       newKeyEncoder(spec.Key),
		payload:    make([][]byte, payload),
		sorter:     newSorter(dir, string(name), budget*7/8, payload),
		quarantine: newSorter(dir, string(name)+"-quarantine", budget/8, len(cols)+1),
		progress:   progress,
	}
	if len(spec.Match) > 0 {
		s.tiers = newSideTiers(spec, name, dir, budget/8, payload)
		s.keys.skipEmpty = true // an empty key is no key, for tier 1 as for the others
	}
	return s
}

func pick(side Side, source, target string) string {
	if side == SourceSide {
		return source
	}
	return target
}

// scan starts the side's read: for a grouped side, grouped in the
// database where it can do so exactly; for a partitioned run, only the
// partition's rows where the database can pick them exactly; in key order
// if order is not nil, the database can order its keys as the engine
// does, and the other side's can too (the side votes in order once).
func (s *sideState) scan(ctx context.Context, order *orderVote) (Rows, error) {
	if s.rowsSlot >= 0 {
		if gr, ok := s.input.Snapshot.(Grouper); ok {
			if g, ok := s.spec.grouping(s.name); ok {
				rows, ok, err := gr.ScanGrouped(ctx, g)
				if err != nil || ok {
					s.pregrouped = ok
					return rows, err
				}
			}
		}
	}
	ks, keyed := s.input.Snapshot.(KeyScanner)
	keyed = keyed && s.keyCols == 1 && len(s.spec.Key[0].Normalize) == 0
	if order != nil && !keyed {
		order.cast(false) // at once: the other side need not wait to know
		order = nil
	}
	if !keyed || (s.partition == nil && order == nil) {
		return s.input.Snapshot.Scan(ctx, s.columns)
	}
	// The engine still checks each row's partition and order: the database
	// only spares it the reading and the sorting.
	req := KeyScan{Columns: s.columns, KeyType: s.spec.Key[0].Type, Partition: s.partition, Ordered: order != nil}
	voted := false
	if order != nil {
		req.Agree = func(can bool) bool {
			if voted {
				return false // called again: the first call decided
			}
			voted = true
			return order.vote(ctx, can)
		}
	}
	rows, done, err := ks.ScanKeys(ctx, req)
	if order != nil && !voted {
		order.cast(false) // it failed first, or did not ask
	}
	s.partitionRead, s.ordered = done.Partitioned, done.Ordered
	return rows, err
}

// appendContent encodes a row so that equal rows, and only they, encode
// alike: per column 0 for NULL, else its length + 1, then its bytes.
func appendContent(b []byte, row [][]byte) []byte {
	for _, v := range row {
		b = appendNullable(b, v)
	}
	return b
}

// keyedSink takes a side's keyed records: the sorter, or the stream to
// the join of a side read in key order.
type keyedSink interface {
	add(key []byte, cols [][]byte, k known) error
}

// ingest reads the side's rows into out (its records with a usable key),
// the quarantine (the others) and the match tiers.
func (s *sideState) ingest(ctx context.Context, rows Rows, out keyedSink) error {
	defer rows.Close()
	width := len(s.columns)
	if s.pregrouped {
		width++ // the group's row count
	}
	var order []byte
	for rows.Next() {
		row := rows.Row()
		if len(row) != width {
			return fmt.Errorf("%s: read %d columns, want %d", s.name, len(row), width)
		}
		s.count++
		if s.count%4096 == 0 {
			s.progress.Store(s.count)
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		key, exact, kerr := s.keys.encode(row[:s.keyCols])
		if kerr != nil && kerr.null && s.tiers != nil {
			// No tier-1 key (NULL or empty): the further tiers may still
			// match it. A key that does not parse is an invalid record.
			clear(s.payload)
			copy(s.payload, row[s.keyCols:])
			s.payload[len(s.payload)-1] = appendStoredKey(s.storedKey[:0], row[:s.keyCols])
			if err := s.tiers.forward(s.payload, 1); err != nil {
				return err
			}
			continue
		}
		if kerr == nil {
			if s.partition != nil && !s.partition.owns(key) {
				s.others++
				continue
			}
			copy(s.payload, row[s.keyCols:len(s.columns)])
			if s.pregrouped {
				s.payload[s.rowsSlot] = row[len(s.columns)]
			}
			s.payload[len(s.payload)-1] = nil
			if !exact {
				s.storedKey = appendStoredKey(s.storedKey[:0], row[:s.keyCols])
				s.payload[len(s.payload)-1] = s.storedKey
			}
			if err := out.add(key, s.payload, s.checker.check(s.payload)); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			continue
		}
		if s.partition != nil && s.partition.Index != 0 {
			s.others++ // partition 0 reports the records without a usable key
			continue
		}
		// Quarantined records are ordered by their content, so that their
		// order does not depend on the order the database sent them in
		// (which differs between a read in key order and one that is not).
		// A database's group of them is one invalid record per row, as the
		// rows would have been.
		bad := strconv.AppendInt(nil, int64(kerr.column), 10)
		if kerr.null {
			bad = nil
		}
		n := 1
		if s.pregrouped {
			n, _ = strconv.Atoi(string(row[len(s.columns)]))
		}
		order = appendContent(order[:0], row[:len(s.columns)])
		for range n {
			if err := s.quarantine.add(order, append([][]byte{bad}, row[:len(s.columns)]...), known{}); err != nil {
				return err
			}
		}
	}
	s.progress.Store(s.count)
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	return nil
}

// close releases what ingest left open.
func (s *sideState) close() {
	if s.sorted != nil {
		s.sorted.close()
	}
}

// evaluate derives r's rates and checks them and its counts against t.
func (r *Result) evaluate(t Thresholds) {
	r.CountDelta = r.TargetCount - r.SourceCount
	switch {
	case r.SourceCount > 0:
		v := float64(abs(r.CountDelta)) / float64(r.SourceCount)
		r.CountVariance = &v
	case r.TargetCount == 0:
		v := 0.0
		r.CountVariance = &v
	}
	if r.Matched > 0 {
		r.DriftRate = float64(r.RecordsWithFieldMismatch) / float64(r.Matched)
	}
	r.SyncSuccessRate = 1
	if expected := r.SourceCount - r.settlingSource; expected > 0 {
		r.SyncSuccessRate = float64(r.InAgreement) / float64(expected)
	}
	r.Breaches = []string{}
	if t.CountVariance != nil && (r.CountVariance == nil || *r.CountVariance > *t.CountVariance ||
		(r.PeriodsBreached != nil && *r.PeriodsBreached > 0)) {
		r.Breaches = append(r.Breaches, "count_variance")
	}
	if t.DriftRate != nil && r.DriftRate > *t.DriftRate {
		r.Breaches = append(r.Breaches, "drift_rate")
	}
	if t.MinSyncSuccessRate != nil && r.SyncSuccessRate < *t.MinSyncSuccessRate {
		r.Breaches = append(r.Breaches, "sync_success_rate")
	}
	if t.MaxSyncLagP95 != nil && r.SyncLagP95 != nil && *r.SyncLagP95 > t.MaxSyncLagP95.Seconds() {
		r.Breaches = append(r.Breaches, "sync_lag_p95")
	}
	for _, c := range []struct {
		name  string
		limit *int64
		value int64
	}{
		{"missing_in_target", t.MaxMissingInTarget, r.MissingInTarget},
		{"missing_in_source", t.MaxMissingInSource, r.MissingInSource},
		{"timestamp_misaligned", t.MaxTimestampMisaligned, r.TimestampMisaligned},
		{"duplicate_keys", t.MaxDuplicateKeys, r.DuplicateKeys},
		{"invalid_records", t.MaxInvalidRecords, r.InvalidRecords},
	} {
		if c.limit != nil && c.value > *c.limit {
			r.Breaches = append(r.Breaches, c.name)
		}
	}
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// Breached reports whether any threshold was breached.
func (r Result) Breached() bool { return len(r.Breaches) > 0 }
