package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/recon-dev/recon/reconcile"
)

func TestProgressReport(t *testing.T) {
	type figures struct {
		src, tgt, compared, expectSrc, expectTgt, segments int64
		level                                              int32
	}
	for _, c := range []struct {
		name    string
		figures figures
		elapsed time.Duration
		line    string
		attrs   string
	}{
		{"reading, no earlier run", figures{src: 3000, tgt: 1000}, 2 * time.Second,
			"orders: read 3000 source + 1000 target rows, 2000 rows/s",
			"[reconciliation orders source_rows 3000 target_rows 1000 rows_per_second 2000 keys_compared 0]"},
		{"reading, as many rows as last run", figures{src: 3000, tgt: 1000, expectSrc: 6000, expectTgt: 4000}, 2 * time.Second,
			"orders: read 3000 source + 1000 target rows, 2000 rows/s, about 6s left to read (as many rows as last run)",
			"[reconciliation orders source_rows 3000 target_rows 1000 rows_per_second 2000 keys_compared 0 read_seconds_left 6]"},
		{"comparing", figures{src: 6000, tgt: 4000, compared: 5000, expectSrc: 6000, expectTgt: 4000}, 5 * time.Second,
			"orders: read 6000 source + 4000 target rows; compared 5000 keys",
			"[reconciliation orders source_rows 6000 target_rows 4000 rows_per_second 2000 keys_compared 5000]"},
		// The first pass of checksum mode reads no row: it says so, not
		// "0 rows/s".
		{"checksumming every row", figures{level: 1}, 95 * time.Second,
			"orders: checksumming in both databases, level 1, 1m35s",
			"[reconciliation orders checksum_level 1 segments_compared 0 elapsed_seconds 95]"},
		{"checksumming differing segments", figures{level: 2, segments: 9766}, 100 * time.Second,
			"orders: checksumming in both databases, level 2 (9766 segments compared so far), 1m40s",
			"[reconciliation orders checksum_level 2 segments_compared 9766 elapsed_seconds 100]"},
		{"reading the differing segments", figures{src: 40, tgt: 60, segments: 11102}, 2 * time.Second,
			"orders: read 40 source + 60 target rows, 50 rows/s",
			"[reconciliation orders source_rows 40 target_rows 60 rows_per_second 50 keys_compared 0]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := &reconcile.Progress{ExpectSourceRows: c.figures.expectSrc, ExpectTargetRows: c.figures.expectTgt}
			p.SourceRows.Store(c.figures.src)
			p.TargetRows.Store(c.figures.tgt)
			p.Compared.Store(c.figures.compared)
			p.ChecksumLevel.Store(c.figures.level)
			p.SegmentsCompared.Store(c.figures.segments)
			line, attrs := progressReport("orders", p, c.elapsed)
			if line != c.line {
				t.Errorf("line %q, want %q", line, c.line)
			}
			if got := fmt.Sprint(attrs); got != c.attrs {
				t.Errorf("attributes %s, want %s", got, c.attrs)
			}
		})
	}
}

// On a terminal a log line clears the progress line it follows rather
// than run on from it.
func TestTerminalClearsTheProgressLine(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	term := &terminal{file: f}
	logger := slog.New(slog.NewTextHandler(term, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	io.WriteString(term, "orders: checksumming in both databases, level 1, 3s")
	logger.Info("checksummed segments")
	io.WriteString(term, "orders: read 40 source + 60 target rows, 50 rows/s")
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	want := "\r\033[Korders: checksumming in both databases, level 1, 3s" +
		"\r\033[Klevel=INFO msg=\"checksummed segments\"\n" +
		"\r\033[Korders: read 40 source + 60 target rows, 50 rows/s"
	if string(got) != want {
		t.Errorf("terminal got %q, want %q", got, want)
	}
}
