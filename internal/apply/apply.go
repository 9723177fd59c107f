// Package apply runs a run's SQL repair plans against their systems, batch
// by batch, and journals what it committed in the run's directory.
//
// Invariants:
//   - Each batch is one transaction: it commits whole or, on the first
//     error, rolls back whole; batches after a failed one are not run.
//   - The journal (repairs/applied.json) records a batch only once it has
//     committed, so applying a run again resumes after the last committed
//     batch and does nothing once every batch has been applied. Should a
//     crash fall between a commit and its journal entry, the batch runs
//     again, which is harmless: every statement is guarded (see
//     queries.Change) and changes nothing the second time.
package apply

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/recon-dev/recon/reports/repairs"
)

// JournalFile is the journal's name in a run's repairs directory.
const JournalFile = "applied.json"

// Journal is what has been applied of a run's plans, by plan file.
type Journal struct {
	path  string
	Plans map[string]*Entry `json:"plans"`
}

// Entry is the applying of one plan file.
type Entry struct {
	Batches    int                    `json:"batches"`
	Committed  int                    `json:"committed"` // batches committed, in order
	Rows       map[repairs.Kind]int64 `json:"rows"`      // rows changed by committed batches, by kind
	StartedAt  time.Time              `json:"started_at"`
	FinishedAt *time.Time             `json:"finished_at"` // set once every batch has committed
	Error      *string                `json:"error"`       // the last failure, if the plan is not finished
}

// Done reports whether every batch of the plan has been committed.
func (e *Entry) Done() bool { return e.FinishedAt != nil }

// OpenJournal reads the journal in dir (a run's repairs directory), or
// starts an empty one.
func OpenJournal(dir string) (*Journal, error) {
	j := &Journal{path: filepath.Join(dir, JournalFile), Plans: map[string]*Entry{}}
	b, err := os.ReadFile(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, j); err != nil {
		return nil, fmt.Errorf("read %s: %w (it records what was applied: fix or move it, never delete it blindly)", j.path, err)
	}
	return j, nil
}

// Entry returns the entry of plan file name, starting one for a plan of
// batches batches.
func (j *Journal) Entry(name string, batches int) *Entry {
	e := j.Plans[name]
	if e == nil {
		e = &Entry{Batches: batches, Rows: map[repairs.Kind]int64{}}
		j.Plans[name] = e
	}
	return e
}

// Save writes the journal: a new file renamed over the old, so a crash
// leaves one or the other.
func (j *Journal) Save() error {
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	tmp := j.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, j.path)
}

// BatchError is a batch that failed and was rolled back.
type BatchError struct {
	Batch, Of int // 1-based
	Line      int // of the failing statement in the plan file
	Err       error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("batch %d of %d failed at line %d and was rolled back: %v", e.Batch, e.Of, e.Line, e.Err)
}

func (e *BatchError) Unwrap() error { return e.Err }

// Run applies the batches of the SQL plan file at path (written for
// driver's dialect) that e does not record as committed, on conn, after the
// plan's session statements, reading one batch at a time. After each commit
// it updates e and calls save; it stops at the first error, with that
// batch rolled back. scrub cleans an error of secrets before the journal
// keeps it.
func Run(ctx context.Context, conn *sql.Conn, path, driver string, session []string, e *Entry,
	now func() time.Time, save func() error, scrub func(error) error) error {
	if e.StartedAt.IsZero() {
		e.StartedAt = now().UTC()
	}
	fail := func(err error) error {
		err = scrub(err)
		msg := err.Error()
		e.Error = &msg
		return errors.Join(err, save())
	}
	for _, s := range session {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fail(fmt.Errorf("session %q: %w", s, err))
		}
	}
	_, err := repairs.ScanSQL(path, driver, func(i int, b repairs.Batch) error {
		if i < e.Committed {
			return nil
		}
		rows, err := runBatch(ctx, conn, b)
		if err != nil {
			var be *BatchError
			if errors.As(err, &be) {
				be.Batch, be.Of = i+1, e.Batches
			}
			return err
		}
		e.Committed = i + 1
		for k, n := range rows {
			e.Rows[k] += n
		}
		return save()
	})
	if err != nil {
		return fail(err)
	}
	t := now().UTC()
	e.FinishedAt, e.Error = &t, nil
	return save()
}

func runBatch(ctx context.Context, conn *sql.Conn, b repairs.Batch) (map[repairs.Kind]int64, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, &BatchError{Line: b.Line, Err: err}
	}
	rows := map[repairs.Kind]int64{}
	for _, s := range b.Statements {
		res, err := tx.ExecContext(ctx, s.SQL)
		if err != nil {
			tx.Rollback()
			return nil, &BatchError{Line: s.Line, Err: err}
		}
		n, err := res.RowsAffected()
		if err != nil {
			tx.Rollback()
			return nil, &BatchError{Line: s.Line, Err: err}
		}
		rows[s.Kind] += n
	}
	if err := tx.Commit(); err != nil {
		return nil, &BatchError{Line: b.Line, Err: err}
	}
	return rows, nil
}
