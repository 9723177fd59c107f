package reconcile

import (
	"context"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scaleSnapshot generates n light rows (key, amount, e-mail, date) in a
// stride through the key range, the target with 0.01% of amounts off.
type scaleSnapshot struct {
	n      int
	target bool
}

func (s scaleSnapshot) Scan(context.Context, []string) (Rows, error) {
	return &scaleRows{s: s, row: make([][]byte, 4)}, nil
}

type scaleRows struct {
	s   scaleSnapshot
	i   int
	buf []byte
	row [][]byte
}

func (r *scaleRows) Next() bool {
	if r.i >= r.s.n {
		return false
	}
	r.i++
	k := int64((uint64(r.i)*2654435761)%uint64(r.s.n)) + 1 // a permutation when n is not a multiple of the prime's factors
	b := strconv.AppendInt(r.buf[:0], k, 10)
	end0 := len(b)
	cents := 10000 + k%90000
	if r.s.target && k%10000 == 0 {
		cents++
	}
	b = strconv.AppendInt(b, cents/100, 10)
	b = append(b, '.', byte('0'+cents/10%10), byte('0'+cents%10))
	end1 := len(b)
	b = append(b, "rep"...)
	b = strconv.AppendInt(b, k%5000, 10)
	b = append(b, "@example.com"...)
	end2 := len(b)
	b = append(b, "2024-03-"...)
	b = append(b, byte('0'+k%2), byte('1'+k%9))
	r.buf = b
	r.row[0], r.row[1], r.row[2], r.row[3] = b[:end0], b[end0:end1], b[end1:end2], b[end2:]
	return true
}
func (r *scaleRows) Row() [][]byte { return r.row }
func (r *scaleRows) Err() error    { return nil }
func (r *scaleRows) Close() error  { return nil }

type countingSink struct{ n int64 }

func (c *countingSink) Write(*Difference) error { c.n++; return nil }

// BenchmarkScale runs the engine on generated rows at each size of
// RECON_SIM_ROWS (comma-separated rows a side; default 1,000,000), with
// the default 64 MiB memory budget, and reports the peak RSS of each size
// and the most files it had open: both must stay flat as sizes grow, the
// spill runs being on disk and merged in passes of bounded fan-in.
func BenchmarkScale(b *testing.B) {
	sizes := []int{1_000_000}
	if env := os.Getenv("RECON_SIM_ROWS"); env != "" {
		sizes = nil
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				b.Fatalf("RECON_SIM_ROWS: %q is not a row count", f)
			}
			sizes = append(sizes, n)
		}
	}
	spec := Spec{Name: "scale", Key: []KeyColumn{{Source: "id", Target: "id", Type: Int}},
		Fields: []Field{{Name: "amount", Source: "amount", Target: "amount", Type: Decimal},
			{Name: "email", Source: "email", Target: "email", Type: String, Normalize: []Normalization{Email}},
			{Name: "day", Source: "day", Target: "day", Type: Date}}}
	for _, n := range sizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			resetPeakRSS(b)
			var maxFiles atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
							maxFiles.Store(max(maxFiles.Load(), int64(len(fds))))
						}
					}
				}
			})
			for b.Loop() {
				var sink countingSink
				res, err := Run(context.Background(), spec, Input{Snapshot: scaleSnapshot{n: n}}, Input{Snapshot: scaleSnapshot{n: n, target: true}},
					&sink, Options{TempDir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				if res.Matched != int64(n) || res.RecordsWithFieldMismatch != int64(n/10000) {
					b.Fatalf("matched %d, mismatched %d; want %d and %d", res.Matched, res.RecordsWithFieldMismatch, n, n/10000)
				}
			}
			close(stop)
			wg.Wait()
			b.ReportMetric(peakRSS(b)/1024, "peak-RSS-MiB")
			b.ReportMetric(float64(maxFiles.Load()), "max-open-files")
			b.ReportMetric(float64(2*n*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// resetPeakRSS returns the heap the sizes before left to the system and
// resets the kernel's high-water mark of the process's resident set, so
// that peakRSS measures one size, not every size before it in the process
// (Linux's clear_refs).
func resetPeakRSS(b *testing.B) {
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Fatalf("reset the peak RSS: %v", err)
	}
}

// peakRSS returns the process's peak resident set since resetPeakRSS, in
// KiB (VmHWM).
func peakRSS(b *testing.B) float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatalf("VmHWM: %v", err)
			}
			return kib
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
