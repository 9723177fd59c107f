package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePartition(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Partition
		bad  bool
	}{
		{in: "0/4", want: Partition{0, 4}},
		{in: "3/4", want: Partition{3, 4}},
		{in: " 0 / 1 ", want: Partition{0, 1}},
		{in: "4/4", bad: true},
		{in: "-1/4", bad: true},
		{in: "1/0", bad: true},
		{in: "1", bad: true},
		{in: "a/b", bad: true},
	} {
		got, err := ParsePartition(c.in)
		if (err != nil) != c.bad || got != c.want && !c.bad {
			t.Errorf("ParsePartition(%q) = %v, %v", c.in, got, err)
		}
	}
}

func TestEveryKeyHasOnePartition(t *testing.T) {
	enc := newKeyEncoder([]KeyColumn{{Type: String}})
	for _, count := range []int{1, 2, 3, 7} {
		per := make([]int, count)
		for i := -50; i < 200; i++ {
			for _, k := range []string{fmt.Sprint(i), fmt.Sprintf("k%d", i)} {
				key, _, kerr := enc.encode([][]byte{[]byte(k)})
				if kerr != nil {
					t.Fatal(kerr)
				}
				owners := 0
				for p := range count {
					if (&Partition{p, count}).owns(key) {
						owners++
						per[p]++
					}
				}
				if owners != 1 {
					t.Fatalf("key %q has %d owners of %d partitions", k, owners, count)
				}
			}
		}
		for p, n := range per {
			if n < 500/count/2 {
				t.Errorf("partition %d/%d owns only %d of 500 keys", p, count, n)
			}
		}
	}
}

// partitionedRun runs spec in count partitions and replays their partial
// files, as recon run --partition and recon merge do.
func partitionedRun(t *testing.T, spec Spec, src, tgt Input, count int, budget int) ([]Exception, Result, error) {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i := range count {
		path := filepath.Join(dir, fmt.Sprintf("p%d", i))
		p := Partition{i, count}
		w, err := CreatePartial(path, &spec, p)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Run(context.Background(), spec, src, tgt, w, Options{MemoryBudget: budget, Partition: &p})
		if err != nil {
			w.Abort()
			return nil, Result{}, err
		}
		if err := w.Close(res); err != nil {
			t.Fatal(err)
		}
		paths = append([]string{path}, paths...) // any order
	}
	var sink collect
	res, err := Replay(context.Background(), spec, paths, [2]*time.Location{src.Location, tgt.Location}, &sink)
	return sink.got, res, err
}

// comparable leaves out of a Result what differs between a partitioned run
// and a single one by nature: the time taken and the rows read.
func comparable(t *testing.T, r Result) string {
	t.Helper()
	r.DurationSeconds, r.SourceRowsRead, r.TargetRowsRead = 0, 0, 0
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func FuzzPartitionsMergeIntoOneRun(f *testing.F) {
	for seed := range uint64(12) {
		f.Add(seed, uint8(seed%5+1), uint16(seed%2)*300)
	}
	f.Fuzz(func(t *testing.T, seed uint64, count uint8, budget uint16) {
		if count == 0 || count > 16 {
			return
		}
		r := rand.New(rand.NewPCG(seed, 11))
		src, tgt := randomRows(r, r.IntN(80)), randomRows(r, r.IntN(80))
		spec := oracleSpec()
		spec.Fields[1].Money = true
		in := func(rows [][]string) Input { return Input{sliceSnapshot{rows}, time.UTC} }
		var single collect
		want, err := Run(context.Background(), spec, in(src), in(tgt), &single, Options{MemoryBudget: int(budget)})
		if err != nil {
			t.Fatal(err)
		}
		got, res, err := partitionedRun(t, spec, in(src), in(tgt), int(count), int(budget))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, single.got) {
			t.Fatalf("%d partitions merged:\n%v\none run:\n%v", count, got, single.got)
		}
		if g, w := comparable(t, res), comparable(t, want); g != w {
			t.Fatalf("%d partitions merged:\n%s\none run:\n%s", count, g, w)
		}
	})
}

func TestCountsByRunWholeInPartitionZero(t *testing.T) {
	spec := Spec{Name: "leads", CountsBy: &CountsBy{Source: "t", Target: "t", Period: Day, Location: time.UTC},
		Thresholds: Thresholds{CountVariance: new(float64)}}
	src := [][]string{{"2026-11-01 10:00:00"}, {"2026-11-01 11:00:00"}, {"2026-11-02 10:00:00"}}
	tgt := [][]string{{"2026-11-01 10:00:00"}, {"2026-11-02 10:00:00"}}
	in := func(rows [][]string) Input { return Input{sliceSnapshot{rows}, time.UTC} }
	var single collect
	now := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	want, err := Run(context.Background(), spec, in(src), in(tgt), &single, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	got, res, err := partitionedRun(t, spec, in(src), in(tgt), 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(single.got) != 1 || !reflect.DeepEqual(got, single.got) || comparable(t, res) != comparable(t, want) {
		t.Fatalf("merged %v %s, want %v %s", got, comparable(t, res), single.got, comparable(t, want))
	}
}

func TestMatchTiersRefusePartitions(t *testing.T) {
	spec := contactsSpec()
	empty := Input{sliceSnapshot{}, time.UTC}
	_, _, err := partitionedRun(t, spec, empty, empty, 2, 0)
	if !errors.Is(err, ErrNotPartitionable) {
		t.Fatalf("err = %v, want ErrNotPartitionable", err)
	}
}

func TestReplayRefusesPartialsThatAreNotOneRun(t *testing.T) {
	spec := oracleSpec()
	dir := t.TempDir()
	rows := Input{sliceSnapshot{[][]string{{"1", "x", "1", null}, {"2", "y", "2", null}}}, time.UTC}
	write := func(name string, p Partition, finish bool) string {
		path := filepath.Join(dir, name)
		w, err := CreatePartial(path, &spec, p)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Run(context.Background(), spec, rows, Input{sliceSnapshot{}, time.UTC}, w, Options{Partition: &p})
		if err != nil {
			t.Fatal(err)
		}
		if !finish {
			w.w.Flush()
			w.f.Close()
			return path
		}
		if err := w.Close(res); err != nil {
			t.Fatal(err)
		}
		return path
	}
	p0, p1 := write("p0", Partition{0, 2}, true), write("p1", Partition{1, 2}, true)
	other := write("q1", Partition{1, 3}, true)
	unfinished := write("u1", Partition{1, 2}, false)
	renamed := spec
	renamed.Name = "other"
	locs := [2]*time.Location{time.UTC, time.UTC}
	for _, c := range []struct {
		name  string
		spec  Spec
		paths []string
		want  string
	}{
		{"missing", spec, []string{p0}, "partition 1/2 of oracle is missing"},
		{"twice", spec, []string{p0, p1, p1}, "is given twice"},
		{"other count", spec, []string{p0, other}, "merge the partials of one partitioned run"},
		{"unfinished", spec, []string{p0, unfinished}, "unfinished partial file"},
		{"other reconciliation", renamed, []string{p0, p1}, `not "other"`},
	} {
		var sink collect
		_, err := Replay(context.Background(), c.spec, c.paths, locs, &sink)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	if b, err := os.ReadFile(p0); err != nil || len(b) == 0 {
		t.Fatal("the partial file was not written", err)
	}
	// CheckPartial, reading only a file's ends, takes a whole file and
	// refuses it cut short anywhere, as Replay would.
	if err := CheckPartial(p0); err != nil {
		t.Errorf("CheckPartial of a whole file: %v", err)
	}
	whole, err := os.ReadFile(p0)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(whole) {
		cut := filepath.Join(dir, "cut")
		if err := os.WriteFile(cut, whole[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		if err := CheckPartial(cut); err == nil {
			t.Fatalf("CheckPartial took the file cut to %d of its %d bytes", n, len(whole))
		}
		var sink collect
		if _, err := Replay(context.Background(), spec, []string{cut, p1}, locs, &sink); err == nil {
			t.Fatalf("Replay took the file cut to %d of its %d bytes", n, len(whole))
		}
	}
	// ... and changed anywhere, which Replay might not notice.
	for i := range whole {
		changed := filepath.Join(dir, "changed")
		b := slices.Clone(whole)
		b[i] ^= 0x10
		if err := os.WriteFile(changed, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := CheckPartial(changed); err == nil {
			t.Fatalf("CheckPartial took the file changed at byte %d of %d", i, len(whole))
		}
	}
	if err := CheckPartial(unfinished); err == nil || !strings.Contains(err.Error(), "unfinished partial file") {
		t.Errorf("CheckPartial of an unfinished file: %v", err)
	}
	if err := CheckPartial(filepath.Join(dir, "absent")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("CheckPartial of no file: %v", err)
	}
}

// writePartial writes one hand-made Difference and the figures to a
// partial file of spec, partition 0 of 1.
func writePartial(t *testing.T, spec *Spec, d *Difference) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p0")
	w, err := CreatePartial(path, spec, Partition{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(d); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(Result{Name: spec.Name}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPartialKeepsFarInstants(t *testing.T) {
	spec := oracleSpec()
	far, old := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), time.Date(1600, 1, 1, 0, 0, 0, 1000, time.UTC)
	key := "k"
	d := &Difference{Spec: &spec, Key: &key, order: []byte{tagText, 'k', 0, 1}, Mismatched: []int{0},
		Source: &Record{Key: [][]byte{[]byte("k")}, Fields: [][]byte{[]byte("a"), nil}, Timestamp: []byte("9999-12-31"), UpdatedAt: &far, Rows: 1},
		Target: &Record{Key: [][]byte{[]byte("k")}, Fields: [][]byte{[]byte("b"), nil}, Timestamp: []byte("1600-01-01"), UpdatedAt: &old, Rows: 1}}
	var got collect
	if _, err := Replay(context.Background(), spec, []string{writePartial(t, &spec, d)}, [2]*time.Location{time.UTC, time.UTC}, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.got) != 1 || !got.got[0].SourceUpdatedAt.Equal(far) || !got.got[0].TargetUpdatedAt.Equal(old) {
		t.Fatalf("read back %+v, want the instants %s and %s", got.got, far, old)
	}
}

func TestReplayRefusesADifferenceOutOfShape(t *testing.T) {
	spec := oracleSpec()
	key := "k"
	rec := func() *Record {
		return &Record{Key: [][]byte{[]byte("k")}, Fields: [][]byte{[]byte("a"), nil}, Rows: 1}
	}
	for name, d := range map[string]*Difference{
		"mismatched field":  {Mismatched: []int{7}, Source: rec(), Target: rec()},
		"invalid column":    {Source: &Record{Fields: [][]byte{nil, nil}, Invalid: []int{9}, Rows: 1}},
		"too few fields":    {Source: &Record{Fields: [][]byte{nil}, Rows: 1}},
		"bad key column":    {Unkeyed: true, BadKey: 3, Source: rec()},
		"mismatch one side": {Mismatched: []int{0}, Source: rec()},
	} {
		d.Spec, d.Key, d.order = &spec, &key, []byte{tagText, 'k', 0, 1}
		var sink collect
		_, err := Replay(context.Background(), spec, []string{writePartial(t, &spec, d)}, [2]*time.Location{time.UTC, time.UTC}, &sink)
		if err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("%s: err = %v, want a corrupt file", name, err)
		}
	}
}

// TestTextKeysPartitionBySHA256 pins the partition of single text keys
// (which databases compute in SQL to send only a partition's rows): the
// first 32 bits of the SHA-256 of the key's text, NUL bytes included,
// mod the count; a canonical integer written as text stays k mod count.
func TestTextKeysPartitionBySHA256(t *testing.T) {
	enc := newKeyEncoder([]KeyColumn{{Type: String}})
	for _, c := range []struct {
		key          string
		count, owner int
	}{
		{"abc", 4, 3},    // SHA-256 ba7816bf…
		{"", 7, 1},       // e3b0c442…
		{"a\x00b", 5, 4}, // 59b271ae…
		{"a\x00b", 3, 2}, // the NUL itself is hashed
		{"a\x00b", 13, 7},
		{"42\x00", 7, 6}, // not an integer
		{"\x00", 7, 1},
		{"042", 3, 2},      // 19158c4a…: not canonical, so text
		{"Zo\u00eb", 6, 0}, // c6a12698…
		{"42", 4, 2},       // an integer
		{"-7", 4, 1},       // an integer, mod taken upwards
	} {
		key, _, kerr := enc.encode([][]byte{[]byte(c.key)})
		if kerr != nil {
			t.Fatal(kerr)
		}
		if got := partitionOf(key, c.count); got != c.owner {
			t.Errorf("partition of %q among %d = %d, want %d", c.key, c.count, got, c.owner)
		}
	}
	// Two text components are no single text: their encoding is hashed.
	two := newKeyEncoder([]KeyColumn{{Type: String}, {Type: String}})
	key, _, _ := two.encode([][]byte{[]byte("a"), []byte("b")})
	if _, ok := singleText(key); ok {
		t.Errorf("the key (a, b) reads as one text")
	}
}
