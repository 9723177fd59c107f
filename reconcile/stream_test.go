package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"
)

// orderedSnapshot serves rows in encoded key order (NULL and unreadable
// keys first, as a database puts NULLs), as a database ordering an
// integer key does, and says so; shuffled, it breaks its word.
type orderedSnapshot struct {
	rows     [][]string
	shuffled bool
	// failAfter, when positive, fails the read after that many rows.
	failAfter int
	// agreed, if not nil, records what KeyScan.Agree answered.
	agreed *[]bool
}

func (o orderedSnapshot) Scan(ctx context.Context, cols []string) (Rows, error) {
	return sliceSnapshot{o.rows}.Scan(ctx, cols)
}

func (o orderedSnapshot) ScanKeys(ctx context.Context, req KeyScan) (Rows, KeyScanned, error) {
	if req.Ordered && req.Agree != nil {
		agreed := req.Agree(true)
		if o.agreed != nil {
			*o.agreed = append(*o.agreed, agreed)
		}
		if !agreed {
			rows, err := o.Scan(ctx, req.Columns)
			return rows, KeyScanned{}, err
		}
	}
	enc := newKeyEncoder([]KeyColumn{{Type: String}})
	keyOf := func(r []string) []byte {
		if r[0] == null {
			return nil
		}
		k, _, err := enc.encode([][]byte{[]byte(r[0])})
		if err != nil {
			return nil
		}
		return bytes.Clone(k)
	}
	rows := slices.Clone(o.rows)
	slices.SortStableFunc(rows, func(a, b []string) int { return bytes.Compare(keyOf(a), keyOf(b)) })
	if o.shuffled {
		slices.Reverse(rows)
	}
	if o.failAfter > 0 {
		return &failingRows{sliceRows: sliceRows{rows: rows[:o.failAfter], width: len(req.Columns)}}, KeyScanned{Ordered: req.Ordered}, nil
	}
	return &sliceRows{rows: rows, width: len(req.Columns)}, KeyScanned{Ordered: req.Ordered}, nil
}

// failingRows ends in errBroken after its rows.
type failingRows struct{ sliceRows }

func (r *failingRows) Err() error { return errBroken }

// FuzzStreamedJoinIsTheSortedOne checks that sides read in key order and
// joined as they stream make the run the external sort makes.
func FuzzStreamedJoinIsTheSortedOne(f *testing.F) {
	for seed := range uint64(30) {
		f.Add(seed)
	}
	defer func(n int) { batchRecords = n }(batchRecords)
	batchRecords = 3 // records of a key span batches, and are kept across them
	f.Fuzz(func(t *testing.T, seed uint64) {
		r := rand.New(rand.NewPCG(seed, 3))
		src, tgt := randomRows(r, r.IntN(120)), randomRows(r, r.IntN(120))
		spec := oracleSpec()
		run := func(a, b Snapshot) ([]Exception, Result) {
			var sink collect
			res, err := Run(context.Background(), spec, Input{a, time.UTC}, Input{b, time.UTC}, &sink, Options{MemoryBudget: 300})
			if err != nil {
				t.Fatal(err)
			}
			return sink.got, res
		}
		wantExc, want := run(sliceSnapshot{src}, sliceSnapshot{tgt})
		gotExc, got := run(orderedSnapshot{rows: src}, orderedSnapshot{rows: tgt})
		if !reflect.DeepEqual(gotExc, wantExc) {
			t.Fatalf("streamed:\n%v\nsorted:\n%v", gotExc, wantExc)
		}
		if comparable(t, got) != comparable(t, want) {
			t.Fatalf("streamed %s\nsorted %s", comparable(t, got), comparable(t, want))
		}
	})
}

func TestStreamRefusesKeysOutOfOrder(t *testing.T) {
	rows := [][]string{{"1", "a", "1", null}, {"2", "b", "2", null}, {"3", "c", "3", null}}
	spec := oracleSpec()
	_, err := Run(context.Background(), spec, Input{orderedSnapshot{rows: rows, shuffled: true}, time.UTC},
		Input{orderedSnapshot{rows: rows}, time.UTC}, &collect{}, Options{})
	if !errors.Is(err, errOutOfOrder) {
		t.Fatalf("err = %v, want errOutOfOrder", err)
	}
}

// stuckSnapshot's rows never come: Next waits until its read is
// cancelled, as a database that stopped answering does.
type stuckSnapshot struct{}

func (stuckSnapshot) Scan(ctx context.Context, _ []string) (Rows, error) {
	return &stuckRows{ctx: ctx}, nil
}

type stuckRows struct{ ctx context.Context }

func (r *stuckRows) Next() bool    { <-r.ctx.Done(); return false }
func (r *stuckRows) Row() [][]byte { return nil }
func (r *stuckRows) Err() error    { return r.ctx.Err() }
func (r *stuckRows) Close() error  { return nil }

// brokenSnapshot's read fails at once.
type brokenSnapshot struct{}

func (brokenSnapshot) Scan(context.Context, []string) (Rows, error) { return &brokenRows{}, nil }

type brokenRows struct{}

func (*brokenRows) Next() bool    { return false }
func (*brokenRows) Row() [][]byte { return nil }
func (*brokenRows) Err() error    { return errBroken }
func (*brokenRows) Close() error  { return nil }

var errBroken = errors.New("connection lost")

// TestAFailedSideEndsTheOther checks that a side whose read fails stops
// the other side's read, rather than wait for it to end.
func TestAFailedSideEndsTheOther(t *testing.T) {
	failsWith(t, errBroken, "the target's read went on after the source's failed", func() error {
		_, err := Run(context.Background(), oracleSpec(), Input{brokenSnapshot{}, time.UTC}, Input{stuckSnapshot{}, time.UTC}, &collect{}, Options{})
		return err
	})
}

// failsWith checks that run fails with want within ten seconds, and
// says stuck if it does not end.
func failsWith(t *testing.T, want error, stuck string, run func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- run() }()
	select {
	case err := <-done:
		if !errors.Is(err, want) {
			t.Fatalf("err = %v, want %v", err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal(stuck)
	}
}

// stuckOrderedSnapshot is a side read in key order that never sends a row.
type stuckOrderedSnapshot struct{ stuckSnapshot }

func (s stuckOrderedSnapshot) ScanKeys(ctx context.Context, req KeyScan) (Rows, KeyScanned, error) {
	if !req.Agree(true) {
		panic("asked not to order a side whose other is read in order")
	}
	rows, err := s.Scan(ctx, req.Columns)
	return rows, KeyScanned{Ordered: true}, err
}

// TestAStreamedSideThatFailsEndsTheJoin checks that a streamed side whose
// read fails, with batches still queued for the join, ends the run while
// the join waits on the other side, which never sends a row.
func TestAStreamedSideThatFailsEndsTheJoin(t *testing.T) {
	defer func(n int) { batchRecords = n }(batchRecords)
	batchRecords = 1
	var rows [][]string
	for i := range 50 {
		rows = append(rows, []string{fmt.Sprint(i), "a", "1", null})
	}
	failsWith(t, errBroken, "the join waited on the stuck side after the other failed", func() error {
		_, err := Run(context.Background(), oracleSpec(), Input{orderedSnapshot{rows: rows, failAfter: 4}, time.UTC},
			Input{stuckOrderedSnapshot{}, time.UTC}, &collect{}, Options{})
		return err
	})
}

// openingSnapshot's read does not open until its context is cancelled,
// then fails as a driver does when its statement is cancelled.
type openingSnapshot struct{}

func (openingSnapshot) Scan(ctx context.Context, _ []string) (Rows, error) {
	<-ctx.Done()
	return nil, errCancelledStatement
}

// refusedSnapshot's read fails to open, as one naming a missing column.
type refusedSnapshot struct{}

func (refusedSnapshot) Scan(context.Context, []string) (Rows, error) { return nil, errMissingColumn }

var (
	errCancelledStatement = errors.New("canceling statement due to user request")
	errMissingColumn      = errors.New(`no such column "missing"`)
)

// TestTheFirstFailureIsTheError checks that a run whose target fails to
// open reports that failure, not the source's read it cancelled (which
// the run's error classes would take for a lost connection).
func TestTheFirstFailureIsTheError(t *testing.T) {
	_, err := Run(context.Background(), oracleSpec(), Input{openingSnapshot{}, time.UTC}, Input{refusedSnapshot{}, time.UTC}, &collect{}, Options{})
	if !errors.Is(err, errMissingColumn) || errors.Is(err, errCancelledStatement) {
		t.Fatalf("err = %v, want the target's failure alone", err)
	}
}

type failingSink struct{ writes int }

var errSinkFull = errors.New("disk full")

func (s *failingSink) Write(*Difference) error {
	s.writes++
	return errSinkFull
}

// TestAFailedJoinEndsTheMerges checks that when the join of two sorted
// sides fails (its sink refuses a difference), the goroutines merging
// each side's spilled runs stop, and close their run files, rather than
// wait to hand over records nobody reads.
func TestAFailedJoinEndsTheMerges(t *testing.T) {
	defer func(n int) { batchRecords = n }(batchRecords)
	batchRecords = 1
	var source, target [][]string
	for i := range 2000 {
		source = append(source, []string{fmt.Sprint(i * 7919 % 2000), "a", "1", null})
		target = append(target, []string{fmt.Sprint(i * 7919 % 2000), "b", "1", null})
	}
	files := func() int {
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd to count open files")
		}
		return len(fds)
	}
	goroutines, open := runtime.NumGoroutine(), files()
	var sink failingSink
	_, err := Run(context.Background(), oracleSpec(), Input{sliceSnapshot{source}, time.UTC}, Input{sliceSnapshot{target}, time.UTC},
		&sink, Options{MemoryBudget: 16 << 10})
	if !errors.Is(err, errSinkFull) || sink.writes != 1 {
		t.Fatalf("err = %v after %d writes, want the sink's error at the first", err, sink.writes)
	}
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > goroutines; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still running after the run, %d before it", runtime.NumGoroutine(), goroutines)
		}
	}
	if n := files(); n > open {
		t.Fatalf("%d files open after the run, %d before it", n, open)
	}
}

// refusedKeysSnapshot's keyed read fails before it can vote on order.
type refusedKeysSnapshot struct{ refusedSnapshot }

func (refusedKeysSnapshot) ScanKeys(context.Context, KeyScan) (Rows, KeyScanned, error) {
	return nil, KeyScanned{}, errMissingColumn
}

// TestNoSideIsReadInOrderAlone checks that a side that can be read in key
// order is not when the other cannot be (its database would pay for an
// ordered read the engine's sort makes useless), and that a side whose
// database fails before it votes does not leave the other waiting.
func TestNoSideIsReadInOrderAlone(t *testing.T) {
	rows := [][]string{{"3", "c", "3", null}, {"1", "a", "1", null}, {"2", "b", "2", null}}
	spec := oracleSpec()
	want, wantRes := runLines(t, spec, Input{sliceSnapshot{rows}, time.UTC}, Input{sliceSnapshot{rows[:2]}, time.UTC}, 0)
	for _, ordered := range []int{0, 1} {
		var agreed []bool
		inputs := [2]Input{{sliceSnapshot{rows}, time.UTC}, {sliceSnapshot{rows[:2]}, time.UTC}}
		inputs[ordered].Snapshot = orderedSnapshot{rows: [][][]string{rows, rows[:2]}[ordered], agreed: &agreed}
		got, res := runLines(t, spec, inputs[0], inputs[1], 0)
		if !slices.Equal(agreed, []bool{false}) {
			t.Errorf("side %d: Agree answered %v, want [false]", ordered, agreed)
		}
		if !slices.Equal(got, want) || comparable(t, res) != comparable(t, wantRes) {
			t.Errorf("side %d ordered: %v %s, want %v %s", ordered, got, comparable(t, res), want, comparable(t, wantRes))
		}
	}
	failsWith(t, errMissingColumn, "the source waited for the vote of a target that failed", func() error {
		_, err := Run(context.Background(), spec, Input{orderedSnapshot{rows: rows}, time.UTC}, Input{refusedKeysSnapshot{}, time.UTC}, &collect{}, Options{})
		return err
	})
}
