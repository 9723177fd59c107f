package reconcile

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
)

// A side that spills more runs than the fan-in is merged in passes: at no
// time are more than fanIn runs open, every record comes out once, in key
// order, duplicates in arrival order, and the intermediate runs are gone.
func TestMergeInPassesKeepsOrderAndBoundsOpenRuns(t *testing.T) {
	dir := t.TempDir()
	s := newSorter(dir, "side", 4096, 1)
	s.fanIn = 3
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 20000
	type rec struct{ key, seq int }
	var want []rec
	for i := range n {
		k := rng.IntN(n / 4) // about four records a key
		want = append(want, rec{k, i})
		if err := s.add(appendIntKey(nil, int64(k)), [][]byte{[]byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.runs) < 30 {
		t.Fatalf("only %d runs spilled; the test wants many passes", len(s.runs))
	}
	it, err := s.finish()
	if err != nil {
		t.Fatal(err)
	}
	defer it.close()
	if m, ok := it.(*mergeIter); !ok || len(m.readers) > 3 || s.passes < 2 {
		t.Fatalf("final merge of %d runs after %d passes, want at most 3 after 2 or more", len(s.runs), s.passes)
	}
	files, _ := os.ReadDir(dir)
	if len(files) > 3 {
		t.Errorf("%d run files left on disk, want at most 3", len(files))
	}
	slices.SortStableFunc(want, func(a, b rec) int { return a.key - b.key })
	for i, w := range want {
		r, err := it.next()
		if err != nil || r == nil {
			t.Fatalf("record %d: %v, %v", i, r, err)
		}
		if got := fmt.Sprintf("%x/%s", r.key, r.cols[0]); got != fmt.Sprintf("%x/%d", appendIntKey(nil, int64(w.key)), w.seq) {
			t.Fatalf("record %d = %s, want key %d seq %d", i, got, w.key, w.seq)
		}
	}
	if r, err := it.next(); r != nil || err != nil {
		t.Fatalf("a record more: %v %v", r, err)
	}
}
