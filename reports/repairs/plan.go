package repairs

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
)

// plan is the repairs of one reconciliation on one side, in every format
// the config asks for. Its files are created with its first change.
type plan struct {
	p       *Planner
	table   *Table
	toward  []int // the fields a plan may write on this side
	outputs []output
	files   map[Format]string
	created []string // every file the plan made, which abort removes
	counts  map[Kind]int64
	sql     *sqlPlan
}

// output is one format's file(s) of a plan.
type output interface {
	add(*change) error
	close() error
}

func (p *Planner) newPlan(t *Table, toward []int) (*plan, error) {
	pl := &plan{p: p, table: t, toward: toward, files: map[Format]string{}, counts: map[Kind]int64{}}
	// A plan that cannot write its CRM formats fails now, not at its first change.
	for _, f := range p.rules.Formats {
		if f == Salesforce || f == HubSpot {
			if _, err := p.rules.externalKey(p.spec); err != nil {
				return nil, fmt.Errorf("repairs of %s, format %s: %w", p.spec.Name, f, err)
			}
		}
	}
	return pl, nil
}

func (pl *plan) add(c *change) error {
	if pl.outputs == nil {
		if err := pl.open(); err != nil {
			return err
		}
	}
	pl.counts[c.kind]++
	for _, o := range pl.outputs {
		if err := o.add(c); err != nil {
			return err
		}
	}
	return nil
}

func (pl *plan) open() error {
	p, s := pl.p, pl.table.Side
	for _, f := range p.rules.Formats {
		var o output
		var err error
		switch f {
		case SQL:
			pl.files[f] = p.fileName(s, "sql")
			pl.sql, err = newSQLPlan(pl, pl.files[f])
			o = pl.sql
		case CSV:
			pl.files[f] = p.fileName(s, "upsert.csv")
			o, err = newUpsertCSV(pl, pl.files[f], p.fileName(s, "soft_delete.csv"))
		case Salesforce:
			pl.files[f] = p.fileName(s, "salesforce.csv")
			o, err = newSalesforceCSV(pl, pl.files[f], p.fileName(s, "salesforce.job.json"))
		case HubSpot:
			pl.files[f] = p.fileName(s, "hubspot.json")
			o, err = newHubSpot(pl, pl.files[f])
		}
		if err != nil {
			pl.abort()
			return err
		}
		pl.outputs = append(pl.outputs, o)
	}
	return nil
}

func (pl *plan) close() (PlanSummary, error) {
	t := pl.table
	s := PlanSummary{Side: string(t.Side), System: t.System, Driver: t.Driver, Table: t.Name,
		Insert: pl.counts[Insert], Update: pl.counts[Update], SoftDelete: pl.counts[SoftDeleted], Files: map[string]string{}}
	s.Records = s.Insert + s.Update + s.SoftDelete
	var errs []error
	for _, o := range pl.outputs {
		errs = append(errs, o.close())
	}
	if pl.sql != nil {
		s.Batches = pl.sql.batches
		s.SQLSHA256 = pl.sql.sum()
	}
	for f, path := range pl.files {
		s.Files[string(f)] = filepath.Join(filepath.Base(pl.p.dir), filepath.Base(path))
	}
	return s, errors.Join(errs...)
}

// abort removes what the plan made, and nothing else.
func (pl *plan) abort() {
	for _, o := range pl.outputs {
		o.close()
	}
	for _, path := range pl.created {
		os.Remove(path)
	}
}

// fieldColumn is the written table's column of field f.
func (pl *plan) fieldColumn(f int) string {
	field := pl.p.spec.Fields[f]
	return pl.table.column(pick(pl.table.Side, field.Source, field.Target)).Name
}

// keyColumns are the written table's key columns.
func (pl *plan) keyColumns() []string {
	var cols []string
	for _, k := range pl.p.spec.Key {
		cols = append(cols, pl.table.column(pick(pl.table.Side, k.Source, k.Target)).Name)
	}
	return cols
}

// file is a plan file being written: buffered, hashed, synced on close.
type file struct {
	path string
	f    *os.File
	hash hash.Hash
	*bufio.Writer
}

// create makes a new file of the plan (never one that exists, which may
// be another's).
func (pl *plan) create(path string) (*file, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	pl.created = append(pl.created, path)
	h := sha256.New()
	return &file{path: path, f: f, hash: h, Writer: bufio.NewWriterSize(io.MultiWriter(f, h), 1<<16)}, nil
}

// sum is the SHA-256 of what was written, in hex, once flushed.
func (f *file) sum() string { return hex.EncodeToString(f.hash.Sum(nil)) }

func (f *file) close() error {
	if f == nil || f.f == nil {
		return nil
	}
	err := f.Flush()
	if err == nil {
		err = f.f.Sync()
	}
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	f.f = nil
	if err != nil {
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	return nil
}

// Summary is the repairs part of a reconciliation in summary.json.
type Summary struct {
	Direction string        `json:"direction"`
	Plans     []PlanSummary `json:"plans"`
	// Review counts the rows sent to review.parquet.
	Review int64 `json:"review"`
	// MaxChanges is the config's limit on changed records per plan, if any.
	MaxChanges *int64 `json:"max_changes"`
}

// PlanSummary is one side's plan.
type PlanSummary struct {
	Side       string `json:"side"`
	System     string `json:"system"`
	Driver     string `json:"driver"`
	Table      string `json:"table"`
	Insert     int64  `json:"insert"`
	Update     int64  `json:"update"`
	SoftDelete int64  `json:"soft_delete"`
	// Records is the changed records: every change is one record's.
	Records int64 `json:"records"`
	// Batches is the SQL plan's transactions.
	Batches int `json:"batches"`
	// Files names the plan's files by format, relative to the run directory.
	Files map[string]string `json:"files"`
	// SQLSHA256 is the SHA-256 of the SQL plan: recon apply runs nothing
	// of a plan that was changed since.
	SQLSHA256 string `json:"sql_sha256,omitempty"`
}
