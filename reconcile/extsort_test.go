package reconcile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
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
		if err := s.add(appendIntKey(nil, int64(k)), [][]byte{[]byte(strconv.Itoa(i))}, known{}); err != nil {
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

// A record's encoding is as long as recordSize says, decodes to the key,
// what is known of it and the columns it was made of (NULL apart from
// empty), and, cut short or garbled, is refused as corrupt rather than
// read past or panicked on. Column lengths straddle the one-byte length's
// end (126 bytes and up). stamp's bits say whether the record is stamped,
// with a bad or a NULL timestamp.
// The arena's chunks keep arrival order for ties across chunks, give a
// record larger than a chunk one of its own, are reused after a spill
// rather than added to, and hold no more than the budget and a chunk.
func TestArenaChunksKeepOrderAndTheBudget(t *testing.T) {
	for _, budget := range []int{64 << 20, 6 << 20} { // in memory, and spilled
		s := newSorter(t.TempDir(), "side", budget, 1)
		rng := rand.New(rand.NewPCG(3, 4))
		type rec struct{ key, seq, size int }
		var want []rec
		most := 0
		for i := range 40000 {
			r := rec{rng.IntN(1000), i, rng.IntN(300)}
			if i%5000 == 1 {
				r.size = arenaChunk + rng.IntN(arenaChunk) // larger than a chunk
			}
			want = append(want, r)
			payload := fmt.Appendf(nil, "%d:%s", i, strings.Repeat("x", r.size))
			if err := s.add(appendIntKey(nil, int64(r.key)), [][]byte{payload}, known{}); err != nil {
				t.Fatal(err)
			}
			held := 0
			for _, c := range s.chunks {
				held += cap(c)
			}
			most = max(most, held)
		}
		if limit := budget + 3*arenaChunk; most > limit {
			t.Errorf("budget %d: chunks held %d bytes, want at most %d", budget, most, limit)
		}
		if spilled := len(s.runs) > 0; spilled != (budget < 32<<20) {
			t.Fatalf("budget %d: %d runs", budget, len(s.runs))
		}
		it, err := s.finish()
		if err != nil {
			t.Fatal(err)
		}
		slices.SortStableFunc(want, func(a, b rec) int { return a.key - b.key })
		for i, w := range want {
			r, err := it.next()
			if err != nil || r == nil {
				t.Fatalf("budget %d, record %d: %v, %v", budget, i, r, err)
			}
			seq, rest, _ := strings.Cut(string(r.cols[0]), ":")
			if !bytes.Equal(r.key, appendIntKey(nil, int64(w.key))) || seq != strconv.Itoa(w.seq) || len(rest) != w.size {
				t.Fatalf("budget %d, record %d: key %x seq %s size %d, want key %d seq %d size %d", budget, i, r.key, seq, len(rest), w.key, w.seq, w.size)
			}
		}
		if r, err := it.next(); r != nil || err != nil {
			t.Fatalf("a record more: %v %v", r, err)
		}
		it.close()
	}
}

func FuzzRecordEncoding(f *testing.F) {
	f.Add([]byte("k1"), []byte("Account 7\x00\x00USD"), uint16(0), uint64(0), uint8(0), int64(0), uint32(0))
	f.Add([]byte{}, []byte(strings.Repeat("x", 300)), uint16(1), uint64(0b1011), uint8(1), int64(1709251205), uint32(999_999_999))
	f.Add([]byte("k"), []byte("x"), uint16(0), uint64(1<<63), uint8(1), int64(-62135596800), uint32(1))
	f.Add([]byte("k"), []byte("x"), uint16(0), uint64(0), uint8(0b11), int64(5), uint32(5))
	f.Add([]byte("k"), []byte("x"), uint16(0), uint64(7), uint8(0b101), int64(5), uint32(5))
	for _, n := range []int{125, 126, 127, 128, 16383, 16384} {
		f.Add([]byte("key"), []byte(strings.Repeat("y", n)), uint16(0b10), uint64(0), uint8(0), int64(0), uint32(0))
	}
	f.Fuzz(func(t *testing.T, key, data []byte, nulls uint16, parses uint64, stamp uint8, secs int64, nanos uint32) {
		var k known
		switch {
		case stamp&1 == 0:
		case stamp&0b10 != 0:
			k.stamp = stampBad
		case stamp&0b100 != 0:
			k.stamp = stampNull
		default:
			k = known{secs: secs, nanos: int32(nanos % 1e9), stamp: stampTime}
		}
		k.parses = parses
		// data's columns are separated by 0x00; nulls marks the NULL ones.
		parts := bytes.Split(data, []byte{0})
		cols := make([][]byte, len(parts))
		for i, p := range parts {
			if i < 16 && nulls&(1<<i) != 0 {
				continue
			}
			cols[i] = append([]byte{}, p...) // empty, not NULL
		}
		enc := appendRecord(nil, key, k, cols)
		if len(enc) != recordSize(key, k, cols) {
			t.Fatalf("encoded in %d bytes, recordSize says %d", len(enc), recordSize(key, k, cols))
		}
		r := record{cols: make([][]byte, len(cols))}
		n, err := decodeRecord(enc, &r)
		if err != nil || n != len(enc) {
			t.Fatalf("decoded %d of %d bytes: %v", n, len(enc), err)
		}
		if !bytes.Equal(r.key, key) {
			t.Fatalf("key %q, want %q", r.key, key)
		}
		if r.known != k {
			t.Fatalf("known %+v, want %+v", r.known, k)
		}
		for i := range cols {
			if !bytes.Equal(r.cols[i], cols[i]) || (r.cols[i] == nil) != (cols[i] == nil) {
				t.Fatalf("column %d: %q (NULL %v), want %q (NULL %v)", i, r.cols[i], r.cols[i] == nil, cols[i], cols[i] == nil)
			}
		}
		for cut := range enc {
			if _, err := decodeRecord(enc[:cut], &r); err == nil {
				t.Fatalf("decoded a record cut to %d of %d bytes", cut, len(enc))
			}
		}
		// The byte of flags after the key, garbled: flags no encoding
		// sets are refused.
		at := uvarintLen(uint64(len(key))) + len(key)
		for _, flags := range []byte{0x10, 0x80, knownStampBad, knownStampNull, knownStamped | knownStampBad | knownStampNull} {
			garbled := append([]byte{}, enc...)
			garbled[at] = flags | garbled[at]&knownParses
			if _, err := decodeRecord(garbled, &r); err == nil {
				t.Fatalf("decoded a record whose flags are %#x", garbled[at])
			}
		}
	})
}

// The merge gives every record of any number of runs (empty ones, one
// alone, counts that are no power of two) once, by key, ties in run
// order: keys that share their first 8 bytes and more, which their
// cached prefixes cannot tell apart, included.
func TestMergeOrdersAnyNumberOfRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	s := newSorter(t.TempDir(), "side", 1<<20, 1)
	for runs := 1; runs <= 9; runs++ {
		t.Run(strconv.Itoa(runs), func(t *testing.T) {
			type rec struct {
				key      []byte
				run, seq int
			}
			var want []rec
			var paths []string
			for r := range runs {
				var recs []rec
				if r%4 != 3 { // every fourth run is empty
					for i := range rng.IntN(300) {
						// Stems of 9 bytes that share their first 8, and
						// shorter ones, then a few letters: ties, equal
						// prefixes and prefixes that decide are all common.
						stem := []string{"account-0", "account-1", "acc", "b", ""}[rng.IntN(5)]
						key := append([]byte{tagText}, stem+strings.Repeat("a", rng.IntN(3))+string(rune('a'+rng.IntN(4)))...)
						if rng.IntN(4) == 0 { // another tag: the tag decides first
							key = appendIntKey(nil, int64(rng.IntN(3)))
						}
						recs = append(recs, rec{key, r, i})
					}
				}
				slices.SortStableFunc(recs, func(a, b rec) int { return bytes.Compare(a.key, b.key) })
				path := fmt.Sprintf("%s/merge-%d-%d.run", s.dir, runs, r)
				w, err := createRun(path)
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range recs {
					w.write(appendRecord(nil, x.key, known{}, [][]byte{[]byte(fmt.Sprintf("%d/%d", x.run, x.seq))}))
				}
				if err := w.close(); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, path)
				want = append(want, recs...)
			}
			slices.SortStableFunc(want, func(a, b rec) int { return bytes.Compare(a.key, b.key) })
			m, err := s.openMerge(paths)
			if err != nil {
				t.Fatal(err)
			}
			defer m.close()
			for i, w := range want {
				r, err := m.next()
				if err != nil || r == nil {
					t.Fatalf("record %d of %d: %v, %v", i, len(want), r, err)
				}
				if got, want := fmt.Sprintf("%q %s", r.key, r.cols[0]), fmt.Sprintf("%q %d/%d", w.key, w.run, w.seq); got != want {
					t.Fatalf("record %d = %s, want %s", i, got, want)
				}
			}
			if r, err := m.next(); r != nil || err != nil {
				t.Fatalf("a record more: %v %v", r, err)
			}
		})
	}
}

// A run cut short in its second record fails the merge there, and every
// call after says so again rather than read on.
func TestMergeFailsForGoodOnACorruptRun(t *testing.T) {
	s := newSorter(t.TempDir(), "side", 1<<20, 1)
	path := s.dir + "/cut.run"
	w, err := createRun(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		w.write(appendRecord(nil, appendIntKey(nil, int64(i)), known{}, [][]byte{[]byte("value")}))
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, whole[:len(whole)-3], 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := s.openMerge([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	if r, err := m.next(); r == nil || err != nil {
		t.Fatalf("first record: %v, %v", r, err)
	}
	for call := range 3 {
		if r, err := m.next(); r != nil || !errors.Is(err, errCorruptSpill) {
			t.Fatalf("call %d after the first record: %v, %v; want a corrupt spill", call+1, r, err)
		}
	}
}

// A run whose record length is garbled says it is corrupt: it is not
// taken at its word (a length of 2^62 would panic, one of 2^40 ask for a
// terabyte).
func TestMergeRefusesAGarbledLength(t *testing.T) {
	s := newSorter(t.TempDir(), "side", 1<<20, 1)
	for _, length := range []uint64{1 << 62, 1 << 40, 100} {
		path := fmt.Sprintf("%s/garbled-%d.run", s.dir, length)
		if err := os.WriteFile(path, binary.AppendUvarint(nil, length), 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := s.openMerge([]string{path})
		if err == nil {
			m.close()
		}
		if !errors.Is(err, errCorruptSpill) {
			t.Errorf("a record of %d bytes in a file of %d: %v, want a corrupt spill", length, uvarintLen(length), err)
		}
	}
}
