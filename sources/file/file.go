// Package file is what the file sources share: a system is a directory
// (the dsn), a table is a file name or a glob inside it whose files are
// read one after another as one table, and a Format reads one kind of
// file. sources/file/csv and sources/file/parquet each register a Driver
// built here.
//
// Invariants: a missing file, or a glob that matches none, is an error;
// every file of a table has the same columns; rows stream with memory
// bounded by one row (CSV) or one batch (Parquet); where: and query: are
// refused, as a file has no SQL.
package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/sources"
)

// Format reads one kind of file.
type Format interface {
	// Columns reads a file's column names and types.
	Columns(path string) ([]sources.Column, error)
	// Rows streams the columns at indexes idx of a file's rows as text.
	Rows(ctx context.Context, path string, idx []int) (reconcile.Rows, error)
}

// Driver is the sources.Driver of a file format. NewFormat makes the
// format of one system from its options, refusing unknown ones.
type Driver struct {
	Name      string
	NewFormat func(options map[string]string) (Format, error)
}

// Open finds the system's directory.
func (d Driver) Open(_ context.Context, cfg sources.Config) (sources.System, error) {
	format, err := d.NewFormat(cfg.Options)
	if err != nil {
		return nil, fmt.Errorf("system %q: %w", cfg.Name, err)
	}
	dir := cfg.DSN
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(cfg.BaseDir, dir)
	}
	info, err := os.Stat(dir)
	if err == nil && !info.IsDir() {
		err = errors.New("not a directory: the dsn of a file system is the directory its files are in")
	}
	if err != nil {
		return nil, fmt.Errorf("system %q: %w", cfg.Name, err)
	}
	return &system{name: cfg.Name, driver: d.Name, dir: dir, format: format}, nil
}

// Secrets: a directory holds no password.
func (d Driver) Secrets(string) []string { return nil }

// CheckSelection refuses what only SQL can do.
func (d Driver) CheckSelection(sel queries.Selection) error {
	switch {
	case sel.Query != "":
		return fmt.Errorf("a %s system reads files, not queries: name a file (table: contacts.csv) or a glob (table: contacts-*.csv)", d.Name)
	case sel.Where != "":
		return fmt.Errorf("a %s system reads files, which take no where: filter; export only the rows to compare", d.Name)
	}
	return nil
}

type system struct {
	name, driver, dir string
	format            Format
}

func (s *system) Table(sel queries.Selection) sources.Table { return &table{sys: s, name: sel.Table} }
func (s *system) Close() error                              { return nil }

// table is a file, or the files a glob matches, read as one table.
type table struct {
	sys  *system
	name string
}

func (t *table) errorf(format string, args ...any) error {
	return &fileError{fmt.Sprintf("system %q, %s: %s", t.sys.name, t.name, fmt.Sprintf(format, args...))}
}

// fileError is an error in the files a system reads: missing, malformed,
// of other columns.
type fileError struct{ msg string }

func (e *fileError) Error() string { return e.msg }
func (e *fileError) Unwrap() error { return sources.ErrFile }

// files lists the table's files, sorted.
func (t *table) files() ([]string, error) {
	pattern := filepath.Join(t.sys.dir, t.name)
	if !strings.ContainsAny(t.name, "*?[") {
		if _, err := os.Stat(pattern); err != nil {
			return nil, t.errorf("%v", err)
		}
		return []string{pattern}, nil
	}
	files, err := filepath.Glob(pattern)
	if err != nil {
		return nil, t.errorf("bad glob: %v", err)
	}
	if len(files) == 0 {
		return nil, t.errorf("no file in %s matches %s", t.sys.dir, t.name)
	}
	slices.Sort(files)
	return files, nil
}

// Columns reads the first file's columns and checks that every other file
// has the same names.
func (t *table) Columns(ctx context.Context) ([]sources.Column, error) {
	files, err := t.files()
	if err != nil {
		return nil, err
	}
	var first []sources.Column
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cols, err := t.sys.format.Columns(f)
		if err != nil {
			return nil, t.errorf("%s: %v", filepath.Base(f), err)
		}
		if i == 0 {
			first = cols
			continue
		}
		if !sameNames(first, cols) {
			return nil, t.errorf("%s has columns %s, but %s has %s: the files of one table must have the same columns",
				filepath.Base(f), names(cols), filepath.Base(files[0]), names(first))
		}
	}
	return first, nil
}

func sameNames(a, b []sources.Column) bool {
	return slices.EqualFunc(a, b, func(x, y sources.Column) bool { return x.Name == y.Name })
}

func names(cols []sources.Column) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return "(" + strings.Join(out, ", ") + ")"
}

// Scan reads the files in order, each's wanted columns resolved in it.
func (t *table) Scan(ctx context.Context, columns []string) (reconcile.Rows, error) {
	files, err := t.files()
	if err != nil {
		return nil, err
	}
	return &chain{t: t, ctx: ctx, files: files, columns: columns}, nil
}

// chain reads the rows of one file after another.
type chain struct {
	t       *table
	ctx     context.Context
	files   []string
	columns []string
	cur     reconcile.Rows
	err     error
}

func (c *chain) Next() bool {
	for c.err == nil {
		if c.cur != nil {
			if c.cur.Next() {
				return true
			}
			c.err = c.cur.Err()
			if err := c.cur.Close(); c.err == nil {
				c.err = err
			}
			c.cur = nil
			if c.err != nil {
				c.err = c.t.errorf("%s: %v", filepath.Base(c.files[0]), c.err)
				return false
			}
			c.files = c.files[1:]
		}
		if len(c.files) == 0 {
			return false
		}
		c.err = c.open(c.files[0])
	}
	return false
}

func (c *chain) open(path string) error {
	cols, err := c.t.sys.format.Columns(path)
	if err != nil {
		return c.t.errorf("%s: %v", filepath.Base(path), err)
	}
	found, err := sources.Resolve(cols, c.columns)
	if err != nil {
		return fmt.Errorf("system %q, %s: %s: %w", c.t.sys.name, c.t.name, filepath.Base(path), err)
	}
	idx := make([]int, len(found))
	for i, f := range found {
		idx[i] = slices.IndexFunc(cols, func(c sources.Column) bool { return c.Name == f.Name })
	}
	if c.cur, err = c.t.sys.format.Rows(c.ctx, path, idx); err != nil {
		return c.t.errorf("%s: %v", filepath.Base(path), err)
	}
	return nil
}

func (c *chain) Row() [][]byte { return c.cur.Row() }
func (c *chain) Err() error    { return c.err }

func (c *chain) Close() error {
	if c.cur != nil {
		err := c.cur.Close()
		c.cur = nil
		return err
	}
	return nil
}
