package main

import (
	"strings"
	"testing"
)

func TestTablesAndRatios(t *testing.T) {
	out := `goos: linux
BenchmarkPostgresVsMariaDB/read_floor/both_in_parallel-2 	       1	4000000000 ns/op	    500000 rows/s
BenchmarkPostgresVsMariaDB/reconcile-2                   	       1	6000000000 ns/op	    333333 rows/s
BenchmarkScale/100000000-2        	       1	181838734312 ns/op	       140.0 max-open-files	       156.9 peak-RSS-MiB
BenchmarkParse/decimal-2           	       1	      11.53 ns/op	       0 B/op	       0 allocs/op
BenchmarkSizes/rows=1000000/drift=0.01%/read_floor-2      	       1	2000000000 ns/op	   1013308 rows/s
BenchmarkSizes/rows=1000000/drift=0.01%/checksum-2        	       1	3000000000 ns/op	        65.42 peak-RSS-MiB
BenchmarkSizes/rows=1000000/drift=0.01%/rows_vs_floor-2   	       1	2400000000 ns/op	 1900000000 floor-ns/op	         1.21 x-floor
BenchmarkSizes/rows=1000000/drift=1%/rows_vs_floor-2   	       1	2500000000 ns/op	 2000000000 floor-ns/op	         1.23 x-floor	 1.104 x-floor-min	 1.31 x-floor-max
PASS
`
	results, err := parse(strings.NewReader(out))
	if err != nil || len(results) != 8 {
		t.Fatalf("parse: %v, %d results", err, len(results))
	}
	var b strings.Builder
	write(&b, results)
	for _, want := range []string{
		"## PostgresVsMariaDB\n\n| benchmark | time | figures |",
		"| reconcile | 6s | 333333 rows/s, **1.50× the read floor** (one run, against the floor measured before it) |",
		"## Scale",
		"| 100000000 | 3m1.839s | 140 max-open-files, 156.9 peak-RSS-MiB |",
		"| rows=1000000/drift=0.01%/checksum | 3s | 65.42 peak-RSS-MiB, **1.50× the read floor** (one run, against the floor measured before it) |",
		"| decimal | 11ns | 0 B/op, 0 allocs/op |",
		"| rows=1000000/drift=0.01%/rows_vs_floor | 2.4s | 1900000000 floor-ns/op, 1.21 x-floor, **1.21× the read floor** (median of alternated pairs) |",
		"| rows=1000000/drift=1%/rows_vs_floor | 2.5s | 2000000000 floor-ns/op, 1.23 x-floor, 1.104 x-floor-min, 1.31 x-floor-max, **1.23× the read floor** (median of alternated pairs, each pair 1.10–1.31) |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("BENCHMARKS.md lacks %q:\n%s", want, b.String())
		}
	}
	if _, err := parse(strings.NewReader("BenchmarkX-2 1 fast ns/op\n")); err == nil {
		t.Error("a malformed line was accepted")
	}
}
