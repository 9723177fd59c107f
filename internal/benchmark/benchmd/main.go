// Command benchmd turns the output of `make bench` (go test -bench lines)
// into BENCHMARKS.md: the machine, the command, and a table per benchmark
// family, with each reconciliation's ratio to the read floor measured in
// the same run.
//
//	make bench   # runs the benchmarks, then: go run ./internal/benchmark/benchmd bench.out > BENCHMARKS.md
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// result is one benchmark line: its name and its metrics by unit.
type result struct {
	name    string
	metrics map[string]float64
	units   []string // in the order printed
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: benchmd BENCH_OUTPUT_FILE > BENCHMARKS.md")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchmd:", err)
		os.Exit(2)
	}
	defer f.Close()
	results, err := parse(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchmd:", err)
		os.Exit(2)
	}
	if len(results) == 0 {
		fmt.Fprintln(os.Stderr, "benchmd: no benchmark lines in", os.Args[1])
		os.Exit(2)
	}
	write(os.Stdout, results)
}

// parse reads "BenchmarkName-N  iterations  value unit  value unit…" lines.
func parse(r io.Reader) ([]result, error) {
	var out []result
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		name := fields[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] // the GOMAXPROCS suffix
		}
		res := result{name: strings.TrimPrefix(name, "Benchmark"), metrics: map[string]float64{}}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%q: %v", sc.Text(), err)
			}
			res.metrics[fields[i+1]] = v
			res.units = append(res.units, fields[i+1])
		}
		out = append(out, res)
	}
	return out, sc.Err()
}

func write(w io.Writer, results []result) {
	fmt.Fprintf(w, "# Benchmarks\n\nWritten by `make bench` on %s. Reproduce with `make bench` (defaults `ROWS=1000000`,\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "`TEXT_SIZES=1000000,10000000`, `SIZES=100000,1000000,10000000`, `SIM_ROWS=10000000,100000000`); every figure below is one run of that command.\n\n")
	fmt.Fprintf(w, "## Machine\n\n| | |\n|---|---|\n")
	fmt.Fprintf(w, "| CPU | %s, %d cores |\n| memory | %s |\n| Go | %s |\n", cpuModel(), runtime.NumCPU(), memTotal(), runtime.Version())
	for _, tool := range [][]string{{"postgres", "--version"}, {"mariadbd", "--version"}} {
		if out, err := exec.Command(tool[0], tool[1:]...).Output(); err == nil {
			fmt.Fprintf(w, "| %s | %s |\n", tool[0], strings.TrimSpace(string(out)))
		}
	}
	fmt.Fprintln(w)
	// The parallel read floor's ns/op, by the name its reconciliations
	// share: "PostgresVsMariaDB" for PostgresVsMariaDB/reconcile,
	// "Sizes/rows=1000000/drift=1%" for …/checksum.
	floor := map[string]float64{}
	for _, r := range results {
		for _, suffix := range []string{"/read_floor/both_in_parallel", "/read_floor"} {
			if prefix, ok := strings.CutSuffix(r.name, suffix); ok {
				floor[prefix] = r.metrics["ns/op"]
			}
		}
	}
	family := ""
	for _, r := range results {
		fam, sub, _ := strings.Cut(r.name, "/")
		if fam != family {
			if family != "" {
				fmt.Fprintln(w)
			}
			family = fam
			fmt.Fprintf(w, "## %s\n\n| benchmark | time | figures |\n|---|---|---|\n", fam)
		}
		var figures []string
		for _, u := range r.units {
			if u == "ns/op" {
				continue
			}
			figures = append(figures, fmt.Sprintf("%s %s", strconv.FormatFloat(r.metrics[u], 'f', -1, 64), u))
		}
		prefix, last := r.name, ""
		if i := strings.LastIndexByte(r.name, '/'); i >= 0 {
			prefix, last = r.name[:i], r.name[i+1:]
		}
		if x, ok := r.metrics["x-floor"]; ok {
			spread := ""
			if lo, hi := r.metrics["x-floor-min"], r.metrics["x-floor-max"]; hi > 0 {
				spread = fmt.Sprintf(", each pair %.2f–%.2f", lo, hi)
			}
			figures = append(figures, fmt.Sprintf("**%.2f× the read floor** (median of alternated pairs%s)", x, spread))
		} else if f := floor[prefix]; f > 0 && (last == "reconcile" || last == "binary" || last == "rows" || last == "checksum") {
			figures = append(figures, fmt.Sprintf("**%.2f× the read floor** (one run, against the floor measured before it)", r.metrics["ns/op"]/f))
		}
		if sub == "" {
			sub = fam
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", sub, roundTime(time.Duration(r.metrics["ns/op"])), strings.Join(figures, ", "))
	}
}

// roundTime shows a time to about four digits: a whole run to the
// millisecond, a parse to the nanosecond.
func roundTime(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Microsecond)
	}
	return d
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	return "unknown"
}
