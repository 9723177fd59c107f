package reports

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/recon-dev/recon/internal/parquetfile"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/reports/repairs"
)

// The files of a report directory.
const (
	exceptionsFile = "exceptions.parquet"
	summaryFile    = "summary.json"
	reportFile     = "report.md"
	htmlFile       = "report.html"
)

// samplesPerKind bounds the exceptions kept for report.md: the first ones of
// each kind in each reconciliation.
const samplesPerKind = 10

// NewRunID returns a run id for a run started at t: it sorts by time as text,
// e.g. "20261123T090633Z-3f9a1c" (UTC, second precision + short random suffix).
func NewRunID(t time.Time) string {
	var suffix [3]byte
	rand.Read(suffix[:]) // never fails (see crypto/rand.Read)
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(suffix[:])
}

// Run is the summary of a finished run.
type Run struct {
	ID         string
	StartedAt  time.Time
	FinishedAt time.Time
	Status     string // "ok" | "breached" | "error"
	Results    []Result
	// Partition is set on a partial run: one of a partitioned run's key
	// partitions, whose figures are the partition's alone.
	Partition *reconcile.Partition
}

// Result is one reconciliation of a run: the engine's figures, the hash of
// the reconciliation's config (which recon apply checks before it writes),
// the lifecycle of its exceptions, why it failed, and the repairs planned.
// The JSON names are part of summary.json.
type Result struct {
	reconcile.Result
	ConfigHash string `json:"config_hash"`
	// ErrorClass and ErrorHint classify a failure (auth, schema,
	// connectivity, config, resource, busy, cancelled, internal) and say
	// what to do first.
	ErrorClass *string `json:"error_class"`
	ErrorHint  *string `json:"error_hint"`
	// Exceptions counted against the previous run that completed, as
	// distinct (kind, record_key, field): first seen now, still open, and
	// gone since. Nil for a run that failed.
	ExceptionsNew      *int64           `json:"exceptions_new"`
	ExceptionsOpen     *int64           `json:"exceptions_open"`
	ExceptionsResolved *int64           `json:"exceptions_resolved"`
	Repairs            *repairs.Summary `json:"repairs"`
	// Trend is the reconciliation's last runs, oldest first, this one
	// last, for the pages' chart (from the state store; summary.json
	// leaves it out).
	Trend []TrendPoint `json:"-"`
}

// ErrorClassBusy is the class of a reconciliation that did not run
// because another recon was running it.
const ErrorClassBusy = "busy"

// Skipped reports whether r did not run because another recon was running
// it: a failure to run here, but no news of the reconciliation, which the
// run holding its lock reports.
func (r Result) Skipped() bool {
	return r.Error != nil && r.ErrorClass != nil && *r.ErrorClass == ErrorClassBusy
}

// TrendPoint is one run in a trend.
type TrendPoint struct {
	RunID      string
	StartedAt  time.Time
	Failed     bool
	DriftRate  float64
	Exceptions int64
}

// ExceptionKey is an exception's identity across runs: its kind, record
// key and field within a reconciliation (nil for a null).
type ExceptionKey struct {
	Kind             string
	RecordKey, Field *string
}

// FirstSeen is when an exception was first seen: a run and its start.
type FirstSeen struct {
	Run string
	At  time.Time
}

// FirstSeer tells when exceptions were first seen, and learns that this
// run saw them: the state store, across runs.
type FirstSeer interface {
	FirstSeen(reconciliation string, keys []ExceptionKey) ([]FirstSeen, error)
}

// writerState is where a Writer is in its life.
type writerState int

const (
	writing writerState = iota
	failed              // a Write or Close failed; only Abort is left
	closed              // the report is in place
	aborted             // the partial directory is removed
)

// Writer writes the report of one run. It is not safe for concurrent use.
type Writer struct {
	runID   string
	outDir  string
	partial string // outDir/.<id>.partial, where the files are written
	final   string // outDir/<id>, where Close puts them
	file    *parquetfile.Writer[exceptionRow]
	samples map[sampleKey]*sample
	state   writerState
	rows    []reconcile.Exception // reused by Write
	// pending are exceptions of one reconciliation waiting to learn when
	// they were first seen; seer tells (nil: all are first seen now).
	pending []reconcile.Exception
	keys    []ExceptionKey
	seer    FirstSeer
	started time.Time
	// behind is a full batch of pending exceptions a goroutine is
	// flushing (nil: none), while the next fills: the join that writes
	// them need not wait on the state store. flushed gives its outcome.
	behind  []reconcile.Exception
	flushed chan flushOutcome
}

// flushOutcome is how flushing a batch ended; fileFailed says the report's
// file failed (not the state store), which fails the Writer.
type flushOutcome struct {
	err        error
	fileFailed bool
}

// pendingRows bounds the exceptions held while their first sighting is
// looked up: one lookup per batch keeps a remote state store fast.
const pendingRows = 1024

// sampleKey names the exceptions of one kind in one reconciliation.
type sampleKey struct {
	reconciliation string
	kind           reconcile.Kind
}

// sample holds the first exceptions of one sampleKey and how many there were.
type sample struct {
	total int64
	first []reconcile.Exception
}

// Create starts the report of run id under outDir. It writes into a hidden temporary
// directory outDir/.<id>.partial and only Close renames it to outDir/<id>, so readers never see a half report.
func Create(outDir, runID string) (*Writer, error) {
	if runID == "" || strings.HasPrefix(runID, ".") || strings.ContainsAny(runID, "/\\\x00") {
		return nil, fmt.Errorf("create report in %s: invalid run id %q", outDir, runID)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", outDir, err)
	}
	final := filepath.Join(outDir, runID)
	if _, err := os.Lstat(final); err == nil {
		return nil, fmt.Errorf("create report %s: %w", final, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("create report %s: %w", final, err)
	}
	partial := filepath.Join(outDir, "."+runID+".partial")
	if err := os.Mkdir(partial, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", partial, err)
	}
	w := &Writer{runID: runID, outDir: outDir, partial: partial, final: final, samples: make(map[sampleKey]*sample), started: time.Now().UTC(),
		flushed: make(chan flushOutcome, 1)}
	file, err := parquetfile.Create[exceptionRow](filepath.Join(partial, exceptionsFile))
	if err != nil {
		return nil, errors.Join(err, removeDir(partial))
	}
	w.file = file
	return w, nil
}

// Dir is the directory the report's files are being written in; other
// writers of the run (repair plans) put theirs beneath it before Close.
func (w *Writer) Dir() string { return w.partial }

// TrackLifecycle makes the report ask seer when each exception was first
// seen, for the run that started at started. Without it, every exception
// is first seen by this run.
func (w *Writer) TrackLifecycle(seer FirstSeer, started time.Time) {
	w.seer, w.started = seer, started.UTC()
}

// Write reports a Difference as exceptions: one row per kind, field and side.
func (w *Writer) Write(d *reconcile.Difference) error {
	w.rows = d.AppendExceptions(w.rows[:0])
	for _, e := range w.rows {
		if err := w.write(e); err != nil {
			return err
		}
	}
	return nil
}

// write adds one exception (the run_id column comes from the Writer).
// Text that is not valid UTF-8 is stored with U+FFFD in place of the bad
// bytes, since Parquet STRING columns must hold UTF-8.
func (w *Writer) write(e reconcile.Exception) error {
	if w.state != writing {
		return fmt.Errorf("write %s: report is closed or failed", w.exceptionsPath())
	}
	if !knownKind(e.Kind) {
		return fmt.Errorf("write %s: unknown exception kind %q", w.exceptionsPath(), e.Kind)
	}
	if e.Side != "" && e.Side != reconcile.SourceSide && e.Side != reconcile.TargetSide {
		return fmt.Errorf("write %s: unknown side %q", w.exceptionsPath(), e.Side)
	}
	if len(w.pending) > 0 && w.pending[0].Reconciliation != e.Reconciliation {
		if err := w.Flush(); err != nil {
			return err
		}
	}
	w.pending = append(w.pending, clean(e))
	if len(w.pending) == pendingRows {
		return w.flushBehind()
	}
	return nil
}

// Flush writes the exceptions held back, once it knows when each was first
// seen. The runner calls it when a reconciliation ends, before the state
// store closes the reconciliation's part of the run.
func (w *Writer) Flush() error {
	if _, err := w.waitBehind(); err != nil {
		return err
	}
	if len(w.pending) == 0 {
		return nil
	}
	if out := w.flush(w.pending); out.err != nil {
		if out.fileFailed {
			w.state = failed
		}
		return out.err
	}
	w.pending = w.pending[:0]
	return nil
}

// flushBehind flushes the pending exceptions in a goroutine, once the
// batch before them is flushed, and starts the next batch.
func (w *Writer) flushBehind() error {
	spare, err := w.waitBehind()
	if err != nil {
		return err
	}
	w.behind, w.pending = w.pending, spare[:0]
	go func(batch []reconcile.Exception) { w.flushed <- w.flush(batch) }(w.behind)
	return nil
}

// waitBehind waits for the batch being flushed behind, if any, and gives
// back its slice to reuse. A batch that failed is dropped, as a pending
// one is when its reconciliation fails.
func (w *Writer) waitBehind() ([]reconcile.Exception, error) {
	if w.behind == nil {
		return nil, nil
	}
	out := <-w.flushed
	batch := w.behind
	w.behind = nil
	if out.fileFailed {
		w.state = failed
	}
	return batch, out.err
}

// flush writes batch, exceptions of one reconciliation, once it knows when
// each was first seen. Only the batch's own goroutine, one at a time,
// touches the file, the samples and keys.
func (w *Writer) flush(batch []reconcile.Exception) flushOutcome {
	seen := make([]FirstSeen, len(batch))
	if w.seer != nil {
		w.keys = w.keys[:0]
		for _, e := range batch {
			w.keys = append(w.keys, ExceptionKey{Kind: string(e.Kind), RecordKey: e.RecordKey, Field: e.Field})
		}
		var err error
		// The file is intact: a state store that did not answer fails
		// the reconciliation (the runner drops its pending exceptions), not
		// the report.
		if seen, err = w.seer.FirstSeen(batch[0].Reconciliation, w.keys); err != nil {
			return flushOutcome{err: err}
		}
	}
	for i, e := range batch {
		fs := seen[i]
		if fs.Run == "" {
			fs = FirstSeen{Run: w.runID, At: w.started}
		}
		if err := w.file.Write(newExceptionRow(w.runID, e, fs)); err != nil {
			return flushOutcome{err: err, fileFailed: true}
		}
		key := sampleKey{e.Reconciliation, e.Kind}
		s := w.samples[key]
		if s == nil {
			s = &sample{}
			w.samples[key] = s
		}
		s.total++
		if len(s.first) < samplesPerKind {
			s.first = append(s.first, e)
		}
	}
	return flushOutcome{}
}

// DropPending forgets the exceptions held back: the runner calls it when a
// reconciliation fails, so they are neither looked up in the state store
// nor written. Those already written stay in the report, which says the
// reconciliation failed.
func (w *Writer) DropPending() {
	w.waitBehind() // dropped too, whatever its outcome: the reconciliation failed
	w.pending = w.pending[:0]
}

// Close finishes exceptions.parquet, writes summary.json and report.md, and
// renames the directory into place; returns the final dir. run.ID must be
// the Writer's run id and run.Status a known one, else Close changes
// nothing and fails. After a Write or Close that failed otherwise, only Abort
// is left to call.
func (w *Writer) Close(run Run) (string, error) {
	if w.state != writing {
		return "", fmt.Errorf("close report %s: already closed or failed", w.final)
	}
	if run.ID != w.runID {
		return "", fmt.Errorf("close report %s: run id %q is not the report's", w.final, run.ID)
	}
	if !knownStatus(run.Status) {
		return "", fmt.Errorf("close report %s: unknown status %q", w.final, run.Status)
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	w.state = failed // until the report is in place
	file := w.file
	w.file = nil
	if err := file.Close(); err != nil {
		return "", err
	}
	summary, err := encodeSummary(run)
	if err != nil {
		return "", fmt.Errorf("write %s: %w", filepath.Join(w.partial, summaryFile), err)
	}
	if err := writeFile(filepath.Join(w.partial, summaryFile), summary); err != nil {
		return "", err
	}
	p := newPage(run, w.samples)
	if err := writeFile(filepath.Join(w.partial, reportFile), renderMarkdown(p)); err != nil {
		return "", err
	}
	html, err := renderHTML(p)
	if err != nil {
		return "", fmt.Errorf("write %s: %w", filepath.Join(w.partial, htmlFile), err)
	}
	if err := writeFile(filepath.Join(w.partial, htmlFile), html); err != nil {
		return "", err
	}
	if err := os.Rename(w.partial, w.final); err != nil {
		return "", fmt.Errorf("close report: %w", err)
	}
	w.state = closed
	if err := syncDir(w.outDir); err != nil {
		return "", err
	}
	return w.final, nil
}

// Abort removes the partial directory (used when a run is cancelled or fails
// before Close). After a successful Close it does nothing, so it can be
// deferred.
func (w *Writer) Abort() error {
	if w.state == closed || w.state == aborted {
		return nil
	}
	w.waitBehind() // its file is discarded
	w.state = aborted
	var err error
	if w.file != nil {
		err = w.file.Discard()
		w.file = nil
	}
	return errors.Join(err, removeDir(w.partial))
}

func (w *Writer) exceptionsPath() string {
	return filepath.Join(w.partial, exceptionsFile)
}

func knownKind(k reconcile.Kind) bool {
	switch k {
	case reconcile.MissingInTarget, reconcile.MissingInSource, reconcile.FieldMismatch,
		reconcile.TimestampMisaligned, reconcile.DuplicateKey, reconcile.InvalidRecord, reconcile.CountMismatch,
		reconcile.AmbiguousMatch, reconcile.KeyMismatch:
		return true
	}
	return false
}

func knownStatus(s string) bool {
	return s == "ok" || s == "breached" || s == "error"
}

// clean returns a copy of e that shares no memory with the caller's
// (the caller may reuse what its pointers point to) and holds valid UTF-8.
func clean(e reconcile.Exception) reconcile.Exception {
	e.Reconciliation = strings.ToValidUTF8(e.Reconciliation, "\uFFFD")
	e.RecordKey = cleanText(e.RecordKey)
	e.SourceKey = cleanText(e.SourceKey)
	e.TargetKey = cleanText(e.TargetKey)
	e.Field = cleanText(e.Field)
	e.SourceValue = cleanText(e.SourceValue)
	e.TargetValue = cleanText(e.TargetValue)
	e.SourceUpdatedAt = copyTime(e.SourceUpdatedAt)
	e.TargetUpdatedAt = copyTime(e.TargetUpdatedAt)
	return e
}

func cleanText(s *string) *string {
	if s == nil {
		return nil
	}
	c := strings.ToValidUTF8(*s, "\uFFFD")
	return &c
}

func copyTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := t.UTC()
	return &c
}

// writeFile writes data to a new file at path and syncs it.
func writeFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncClose(f)
}

// syncClose flushes f to disk and closes it.
func syncClose(f *os.File) error {
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return nil
}

// syncDir makes a rename inside dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func removeDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}
