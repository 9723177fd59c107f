package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/recon-dev/recon/internal/hint"

	"github.com/recon-dev/recon/reconcile"
)

type logFlags struct {
	level  string
	format string
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.level, "log-level", "", "debug, info, warn or error (default info on a terminal, warn otherwise, so cron stays quiet when healthy)")
	fs.StringVar(&l.format, "log-format", "", "text or json (default text on a terminal, json otherwise)")
}

// logger builds the run's logger on stderr and says whether stderr is a terminal.
func (l *logFlags) logger(stderr io.Writer) (*slog.Logger, bool, error) {
	tty := isTerminal(stderr)
	level := slog.LevelWarn
	if tty {
		level = slog.LevelInfo
	}
	if l.level != "" {
		if err := level.UnmarshalText([]byte(l.level)); err != nil {
			return nil, false, hint.Wrap(fmt.Errorf("--log-level %q: %w", l.level, err), "use debug, info, warn or error")
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	format := l.format
	if format == "" {
		format = map[bool]string{true: "text", false: "json"}[tty]
	}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(stderr, opts)), tty, nil
	case "text":
		return slog.New(slog.NewTextHandler(stderr, opts)), tty, nil
	}
	return nil, false, hint.Wrap(fmt.Errorf("--log-format %q", l.format), "use text or json")
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// terminal is a terminal's stderr shared by the progress line, redrawn in
// place, and log lines: every write first clears the line, so that a log
// line never runs on from the progress line before it.
type terminal struct {
	mu   sync.Mutex
	file *os.File
}

// onTerminal returns stderr as a terminal where it is one, else as it is.
func onTerminal(stderr io.Writer) io.Writer {
	if f, ok := stderr.(*os.File); ok && isTerminal(f) {
		return &terminal{file: f}
	}
	return stderr
}

func (t *terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := t.file.WriteString("\r\033[K"); err != nil {
		return 0, err
	}
	return t.file.Write(p)
}

// Fd makes a terminal's stderr known as one (isTerminal).
func (t *terminal) Fd() uintptr { return t.file.Fd() }

// showProgress reports rows read while a reconciliation runs: a live line on
// a terminal (stderr a terminal, see onTerminal), an info log every 30 s
// otherwise. The returned func stops it.
func showProgress(name string, p *reconcile.Progress, logger *slog.Logger, stderr io.Writer, tty bool) func() {
	every := 30 * time.Second
	if tty {
		every = 500 * time.Millisecond
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				if tty {
					io.WriteString(stderr, "") // clears the line
				}
				return
			case <-tick.C:
				line, attrs := progressReport(name, p, time.Since(start))
				if tty {
					io.WriteString(stderr, line)
				} else {
					logger.Info("progress", attrs...)
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// progressReport is what showProgress says of p, elapsed into a
// reconciliation: a terminal's line and a log's attributes.
func progressReport(name string, p *reconcile.Progress, elapsed time.Duration) (line string, attrs []any) {
	if level := p.ChecksumLevel.Load(); level > 0 {
		// No row is read until the databases have summed the level, one
		// statement each: what is known is how long it has taken.
		segments := p.SegmentsCompared.Load()
		line = fmt.Sprintf("%s: checksumming in both databases, level %d", name, level)
		if segments > 0 {
			line += fmt.Sprintf(" (%d segments compared so far)", segments)
		}
		line += fmt.Sprintf(", %s", elapsed.Round(time.Second))
		return line, []any{"reconciliation", name, "checksum_level", level, "segments_compared", segments, "elapsed_seconds", int64(elapsed.Seconds())}
	}
	src, tgt, compared := p.SourceRows.Load(), p.TargetRows.Load(), p.Compared.Load()
	rate := float64(src+tgt) / elapsed.Seconds()
	left, known := p.Remaining(elapsed)
	known = known && compared == 0
	attrs = []any{"reconciliation", name, "source_rows", src, "target_rows", tgt,
		"rows_per_second", int64(rate), "keys_compared", compared}
	switch {
	case compared > 0:
		line = fmt.Sprintf("%s: read %d source + %d target rows; compared %d keys", name, src, tgt, compared)
	case known:
		line = fmt.Sprintf("%s: read %d source + %d target rows, %.0f rows/s, about %s left to read (as many rows as last run)", name, src, tgt, rate, left.Round(time.Second))
		attrs = append(attrs, "read_seconds_left", int64(left.Seconds()))
	default:
		line = fmt.Sprintf("%s: read %d source + %d target rows, %.0f rows/s", name, src, tgt, rate)
	}
	return line, attrs
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// memoryHeadroomMiB is what a run needs besides its sort budget: drivers'
// buffers, the Parquet writer, merge buffers, the runtime.
const memoryHeadroomMiB = 64

// limitMemory gives the garbage collector a soft limit of the sort budget
// plus headroom, unless GOMEMLIMIT says otherwise: without one it lets
// the heap grow to twice what is live before collecting, and peak RSS
// wanders (1M rows PostgreSQL vs MariaDB, three runs each: 188 MiB peak
// without, 156 MiB with, no slower). A soft limit never fails an
// allocation; past it the collector only works harder.
//
// Under that limit, and unless GOGC says otherwise, the collector waits
// for the heap to grow fivefold, not twofold: the drivers allocate a
// string or two for every value read, which made collecting 10% of a run
// streamed in key order (1M rows: 2.24 s and 72 MiB peak at GOGC=100,
// 2.05 s and 140 MiB at 400). Since then the engine allocates less, and
// at 1M rows both measure alike, but at 10M rows GOGC=100 still costs 11%
// more CPU and 6% more time. The limit still bounds the heap.
// maxMemoryMiB is the most --memory the engine uses (2 GiB a
// reconciliation).
const maxMemoryMiB = 2048

// checkMemory refuses a --memory the engine would not use as given.
func checkMemory(mib int) error {
	if mib < 1 || mib > maxMemoryMiB {
		return hint.Wrap(fmt.Errorf("--memory %d: the sort budget is 1 to %d MiB", mib, maxMemoryMiB), "leave it out for 64, or give the MiB of records to sort in memory per reconciliation")
	}
	return nil
}

func limitMemory(budgetMiB int) {
	if os.Getenv("GOMEMLIMIT") != "" || budgetMiB <= 0 {
		return
	}
	debug.SetMemoryLimit(int64(budgetMiB+memoryHeadroomMiB) << 20)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}
