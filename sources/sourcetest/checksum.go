package sourcetest

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/sources"
)

// testChecksumSegments checks, for a ChecksumDialect, that segments of an
// integer key are the key ranges reconcile.SegmentLevel describes: the key
// range, the rows each segment sums, a level within a parent's segments,
// and the rows a Scan of leaves reads, listed as few ranges or as many.
func testChecksumSegments(t *testing.T, h Harness) {
	if _, ok := h.Dialect.(sources.ChecksumDialect); !ok {
		return
	}
	e := newEnv(t, h)
	e.create("segs", "id", h.Types.BigInt.DDL, "v", h.Types.VarChar.DDL)
	const least, n = -1500, 3000 // keys least … least+n-1, and a NULL
	var values []string
	for i := range n {
		values = append(values, fmt.Sprintf("(%d, 'v')", least+i))
	}
	e.exec("INSERT INTO segs (id, v) VALUES " + strings.Join(values, ", ") + ", (NULL, 'n')")
	rel := e.rel(queries.Selection{Table: "segs"})
	sess, why, err := rel.OpenChecksums(e.ctx(), reconcile.ChecksumPlan{Side: reconcile.SourceSide,
		Key: reconcile.ChecksumColumn{Name: "id", Type: reconcile.Int}, Columns: []reconcile.ChecksumColumn{{Name: "v", Type: reconcile.String}}})
	if err != nil || why != "" {
		t.Fatalf("OpenChecksums: %q, %v", why, err)
	}
	defer sess.Close()
	lo, hi, any, err := sess.KeyRange(e.ctx())
	if err != nil || !any || lo != least || hi != least+n-1 {
		t.Fatalf("KeyRange = %d, %d, %t, %v; want %d, %d", lo, hi, any, err, least, least+n-1)
	}
	segment := func(width, key int64) int64 { return (key - least) / width }
	sums := func(level reconcile.SegmentLevel) map[int64]int64 {
		t.Helper()
		got, err := sess.Sums(e.ctx(), level)
		if err != nil {
			t.Fatalf("Sums(%+v): %v", level, err)
		}
		rows := map[int64]int64{}
		for _, s := range got {
			rows[s.Segment] = s.Rows
		}
		return rows
	}
	top := reconcile.SegmentLevel{Origin: least, Last: hi, Width: 256}
	want := map[int64]int64{}
	for k := int64(least); k <= hi; k++ {
		want[segment(256, k)]++
	}
	if got := sums(top); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows per segment of 256 = %v, want %v", got, want)
	}
	within := []int64{1, 2, 7, 11} // 11 is the last, short
	sub := reconcile.SegmentLevel{Origin: least, Last: hi, Width: 64, ParentWidth: 256, Within: within}
	want = map[int64]int64{}
	for k := int64(least); k <= hi; k++ {
		for _, p := range within {
			if segment(256, k) == p {
				want[segment(64, k)]++
			}
		}
	}
	if got := sums(sub); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows per segment of 64 within %v = %v, want %v", within, got, want)
	}
	// Within every other segment: more parents than a condition lists,
	// of 64 keys (a sixteenth of the span in every 16 of them: listed in
	// one statement) and of 2 (read 16 at a time).
	for _, widths := range [][2]int64{{16, 64}, {1, 2}} {
		var everyOther []int64
		for p := int64(0); p < n/widths[1]; p += 2 {
			everyOther = append(everyOther, p)
		}
		many := reconcile.SegmentLevel{Origin: least, Last: hi, Width: widths[0], ParentWidth: widths[1], Within: everyOther}
		want = map[int64]int64{}
		for k := int64(least); k <= hi; k++ {
			if slices.Contains(everyOther, segment(widths[1], k)) {
				want[segment(widths[0], k)]++
			}
		}
		if got := sums(many); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("rows per segment of %d within %d segments of %d = %v, want %v", widths[0], len(everyOther), widths[1], got, want)
		}
	}
	// A narrower key type less an origin beyond its range (the other
	// side's) is still computed in 64 bits.
	e.create("segs4", "id", h.Types.Integer.DDL, "v", h.Types.VarChar.DDL)
	e.exec("INSERT INTO segs4 (id, v) VALUES (5, 'v'), (7, 'v'), (2147483647, 'v')")
	narrow, why, err := e.rel(queries.Selection{Table: "segs4"}).OpenChecksums(e.ctx(), reconcile.ChecksumPlan{Side: reconcile.SourceSide,
		Key: reconcile.ChecksumColumn{Name: "id", Type: reconcile.Int}, Columns: []reconcile.ChecksumColumn{{Name: "v", Type: reconcile.String}}})
	if err != nil || why != "" {
		t.Fatalf("OpenChecksums of an %s key: %q, %v", h.Types.Integer.DDL, why, err)
	}
	wide := reconcile.SegmentLevel{Origin: -1 << 31, Last: 2147483647, Width: 1 << 30}
	got, err := narrow.Sums(e.ctx(), wide)
	narrow.Close()
	if err != nil {
		t.Fatalf("Sums of an %s key from origin -2^31: %v", h.Types.Integer.DDL, err)
	}
	counts := map[int64]int64{}
	for _, s := range got {
		counts[s.Segment] = s.Rows
	}
	if want := map[int64]int64{2: 2, 3: 1}; fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("rows per segment of 2^30 from -2^31 = %v, want %v", counts, want)
	}
	// Every other key: 1,500 ranges of one key, more than a condition
	// lists; a few adjacent segments: one range.
	var alternate []int64
	for s := int64(0); s < n; s += 2 {
		alternate = append(alternate, s)
	}
	// And the same of the rows a filter keeps (not NULL keys, whose
	// remainder is NULL).
	filtered := e.rel(queries.Selection{Table: "segs", Where: "id % 3 <> 0"})
	for _, c := range []struct {
		rel  *sources.Relation
		keep func(k int64) bool
		leaf reconcile.SegmentLevel
	}{
		{rel, nil, reconcile.SegmentLevel{Origin: least, Last: hi, Width: 1, Within: alternate}},
		{rel, nil, reconcile.SegmentLevel{Origin: least, Last: hi, Width: 16, Within: []int64{3, 4, 5, 187}}},
		{filtered, func(k int64) bool { return k%3 != 0 }, reconcile.SegmentLevel{Origin: least, Last: hi, Width: 1, Within: alternate}},
	} {
		leaf := c.leaf
		wantKeys := []string{"NULL"}
		if c.keep != nil {
			wantKeys = nil
		}
		for k := int64(least); k <= hi; k++ {
			for _, s := range leaf.Within {
				if segment(leaf.Width, k) == s && (c.keep == nil || c.keep(k)) {
					wantKeys = append(wantKeys, strconv.FormatInt(k, 10))
				}
			}
		}
		scan, _, err := c.rel.OpenChecksums(e.ctx(), reconcile.ChecksumPlan{Side: reconcile.SourceSide,
			Key: reconcile.ChecksumColumn{Name: "id", Type: reconcile.Int}, Columns: []reconcile.ChecksumColumn{{Name: "v", Type: reconcile.String}}})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := scan.Scan(e.ctx(), []string{"id"}, []reconcile.SegmentLevel{leaf})
		if err != nil {
			t.Fatalf("Scan of %d segments at width %d: %v", len(leaf.Within), leaf.Width, err)
		}
		var keys []string
		for rows.Next() {
			if k := rows.Row()[0]; k == nil {
				keys = append(keys, "NULL")
			} else {
				keys = append(keys, string(k))
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			t.Fatal(err)
		}
		if got, want := sortedKeys(keys), sortedKeys(wantKeys); got != want {
			t.Errorf("Scan of %d segments at width %d read %d keys, want %d", len(leaf.Within), leaf.Width, len(keys), len(wantKeys))
		}
	}
}

func sortedKeys(keys []string) string {
	out := append([]string(nil), keys...)
	slices.Sort(out)
	return strings.Join(out, ",")
}

// textOwner is the partition of a single text key, as reconcile.Partition
// defines it: a canonical int64's value, else the first 32 bits of the
// SHA-256 of its text, mod count.
func textOwner(key string, count int) int {
	if n, err := strconv.ParseInt(key, 10, 64); err == nil && strconv.FormatInt(n, 10) == key {
		return int((n%int64(count) + int64(count)) % int64(count))
	}
	sum := sha256.Sum256([]byte(key))
	return int(binary.BigEndian.Uint32(sum[:4]) % uint32(count))
}

// testTextPartition checks that a TextPartitioner's read of a partition
// of text keys holds every row of the partition (as reconcile.Partition
// assigns them, NULL keys to 0), and not every row of the table.
func testTextPartition(t *testing.T, h Harness) {
	if _, ok := h.Dialect.(sources.TextPartitioner); !ok {
		return
	}
	e := newEnv(t, h)
	e.create("tparts", "id", h.Types.VarChar.DDL, "v", h.Types.VarChar.DDL)
	keys := []string{"42", "-7", "0", "-0", "042", "+5", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
		"99999999999999999999", "", " ", "abc", "ABC", "abc ", "Zo\u00eb", "Zoe\u0308", "日本", "a'b", `a\b`}
	for i := range 200 {
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	var values []string
	for _, k := range keys {
		lit, err := h.Dialect.(queries.Writer).StringLiteral(k)
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, "("+lit+", 'v')")
	}
	e.exec("INSERT INTO tparts (id, v) VALUES " + strings.Join(values, ", ") + ", (NULL, 'n')")
	for _, count := range []int{1, 3, 5} {
		for index := range count {
			rows, done, err := e.rel(queries.Selection{Table: "tparts"}).ScanKeys(e.ctx(), reconcile.KeyScan{Columns: []string{"id", "v"},
				KeyType: reconcile.String, Partition: &reconcile.Partition{Index: index, Count: count}})
			if err != nil {
				t.Fatalf("ScanKeys %d/%d: %v", index, count, err)
			}
			if !done.Partitioned {
				t.Fatalf("ScanKeys %d/%d of text keys: not partitioned in the database", index, count)
			}
			read := map[string]bool{}
			n := 0
			for rows.Next() {
				n++
				if k := rows.Row()[0]; k == nil {
					read["NULL"] = true
				} else {
					read[string(k)] = true
				}
			}
			if err := errors.Join(rows.Err(), rows.Close()); err != nil {
				t.Fatal(err)
			}
			if index == 0 && !read["NULL"] {
				t.Errorf("partition 0/%d lacks the NULL key", count)
			}
			for _, k := range keys {
				if textOwner(k, count) == index && !read[k] {
					t.Errorf("partition %d/%d lacks key %q", index, count, k)
				}
			}
			if count > 1 && n >= len(keys) {
				t.Errorf("partition %d/%d read %d of %d rows: the database did not narrow the read", index, count, n, len(keys)+1)
			}
		}
	}
}
