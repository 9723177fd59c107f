package reconcile

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// oracleSpec compares a string, a decimal and a timestamp.
func oracleSpec() Spec {
	return Spec{
		Name: "oracle",
		Key:  []KeyColumn{{Source: "k", Target: "k", Type: String}},
		Fields: []Field{
			{Name: "s", Source: "s", Target: "s", Type: String},
			{Name: "d", Source: "d", Target: "d", Type: Decimal},
		},
		Timestamp: &TimestampSpec{Source: "t", Target: "t", Tolerance: time.Second},
	}
}

// randomRows draws rows from small domains, so keys collide, repeat and
// differ only by case or leading zeros.
func randomRows(r *rand.Rand, n int) [][]string {
	keys := []string{"1", "2", "10", "042", "42", "a", "A", "b ", "b", "é", "e\u0301", "", "zz", "9", "-1", null}
	strs := []string{"x", "X", "", null, "y"}
	decs := []string{"1", "1.0", "1.00", "2", "-0", "0", "x", null}
	stamps := []string{"2024-03-01 12:00:00+00", "2024-03-01T12:00:00.5Z", "2024-03-01 12:00:02+00", "bad", null}
	rows := make([][]string, n)
	for i := range rows {
		rows[i] = []string{keys[r.IntN(len(keys))], strs[r.IntN(len(strs))], decs[r.IntN(len(decs))], stamps[r.IntN(len(stamps))]}
	}
	return rows
}

// preferred reports whether duplicate row a, rather than b, is compared:
// the newest by timestamp (one without a valid timestamp is older), ties
// broken by the smaller values, NULL smallest.
func preferred(a, b []string) bool {
	at, aok := oracleTime(a[3])
	bt, bok := oracleTime(b[3])
	switch {
	case aok != bok:
		return aok
	case aok && !at.Equal(bt):
		return at.After(bt)
	}
	for i := 1; i < len(a); i++ {
		if (a[i] == null) != (b[i] == null) {
			return a[i] == null
		}
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func oracleTime(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02 15:04:05-07", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// oracle reconciles with maps, the obvious way, for comparison.
func oracle(src, tgt [][]string) []string {
	type group struct {
		first []string
		count int
	}
	index := func(rows [][]string) (map[string]*group, int) {
		m := map[string]*group{}
		nullKeys := 0
		for _, r := range rows {
			if r[0] == null {
				nullKeys++
				continue
			}
			if g, ok := m[r[0]]; ok {
				g.count++
				if preferred(r, g.first) {
					g.first = r
				}
			} else {
				m[r[0]] = &group{first: r, count: 1}
			}
		}
		return m, nullKeys
	}
	parseDec := func(s string) (decimal.Decimal, bool, bool) { // value, null, ok
		if s == null {
			return decimal.Decimal{}, true, true
		}
		d, err := decimal.NewFromString(s)
		return d, false, err == nil
	}
	parseTS := func(s string) (time.Time, bool, bool) {
		if s == null {
			return time.Time{}, true, true
		}
		for _, layout := range []string{"2006-01-02 15:04:05-07", time.RFC3339Nano} {
			if t, err := time.Parse(layout, s); err == nil {
				return t, false, true
			}
		}
		return time.Time{}, false, false
	}
	var out []string
	add := func(kind, key, field, side string) { out = append(out, kind+"|"+key+"|"+field+"|"+side) }
	// badColumns names a record's invalid columns: every one is reported.
	badColumns := func(r []string) []string {
		var bad []string
		if _, _, ok := parseDec(r[2]); !ok {
			bad = append(bad, "d")
		}
		if _, _, ok := parseTS(r[3]); !ok {
			bad = append(bad, "t")
		}
		return bad
	}
	sm, sNull := index(src)
	tm, tNull := index(tgt)
	for _, side := range []struct {
		m     map[string]*group
		other map[string]*group
		name  string
		kind  string
	}{{sm, tm, "source", "missing_in_target"}, {tm, sm, "target", "missing_in_source"}} {
		for k, g := range side.m {
			if g.count > 1 {
				add("duplicate_key", k, "", side.name)
			}
			for _, bad := range badColumns(g.first) {
				add("invalid_record", k, bad, side.name)
			}
			if _, ok := side.other[k]; !ok {
				add(side.kind, k, "", "")
			}
		}
	}
	for k, sg := range sm {
		tg, ok := tm[k]
		if !ok {
			continue
		}
		a, b := sg.first, tg.first
		if a[1] != b[1] {
			add("field_mismatch", k, "s", "")
		}
		da, an, aok := parseDec(a[2])
		db, bn, bok := parseDec(b[2])
		if aok && bok && (an != bn || (!an && !da.Equal(db))) {
			add("field_mismatch", k, "d", "")
		}
		ta, an, aok := parseTS(a[3])
		tb, bn, bok := parseTS(b[3])
		if aok && bok && (an != bn || (!an && (ta.Sub(tb) > time.Second || tb.Sub(ta) > time.Second))) {
			add("timestamp_misaligned", k, "", "")
		}
	}
	for range sNull {
		add("invalid_record", "∅", "", "source")
	}
	for range tNull {
		add("invalid_record", "∅", "", "target")
	}
	slices.Sort(out)
	return out
}

func FuzzEngineMatchesOracle(f *testing.F) {
	for seed := range uint64(40) {
		f.Add(seed, uint16(seed%3)*200)
	}
	f.Fuzz(func(t *testing.T, seed uint64, budget uint16) {
		r := rand.New(rand.NewPCG(seed, 7))
		src, tgt := randomRows(r, r.IntN(60)), randomRows(r, r.IntN(60))
		var sink collect
		_, err := Run(context.Background(), oracleSpec(), Input{sliceSnapshot{src}, time.UTC}, Input{sliceSnapshot{tgt}, time.UTC},
			&sink, Options{MemoryBudget: int(budget)})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range sink.got {
			s := func(p *string) string {
				if p == nil {
					return ""
				}
				return *p
			}
			key := "∅"
			if e.RecordKey != nil {
				key = *e.RecordKey
			}
			got = append(got, fmt.Sprintf("%s|%s|%s|%s", e.Kind, key, s(e.Field), e.Side))
		}
		slices.Sort(got)
		if want := oracle(src, tgt); !slices.Equal(got, want) {
			t.Fatalf("seed %d budget %d\nengine: %q\noracle: %q", seed, budget, got, want)
		}
	})
}
