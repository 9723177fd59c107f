// Package csv reads CSV exports (Salesforce Data Loader, HubSpot, billing
// systems) as a source: driver "csv", the dsn a directory, a table a file
// or a glob in it.
//
// Files are RFC 4180: a header row of column names, then records;
// fields may be quoted, with "" for a quote and newlines inside quotes;
// lines end in \n or \r\n; UTF-8, with or without a byte order mark; the
// delimiter is "," unless the system's options say `delimiter:`. Every
// value is text, typed by the field it is read for. An empty unquoted
// field is NULL and a quoted empty one ("") is the empty string: the one
// distinction encoding/csv cannot make, which is why this package reads
// CSV itself. Blank lines are skipped.
package csv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/sources"
	"github.com/recon-dev/recon/sources/file"
)

func init() {
	sources.RegisterDriver("csv", file.Driver{Name: "csv", NewFormat: newFormat})
}

type format struct{ delimiter byte }

// maxRecordBytes bounds one record's text: a quote that is never closed
// would otherwise read the rest of a large export into memory before it
// fails.
var maxRecordBytes = 64 << 20

func newFormat(options map[string]string) (file.Format, error) {
	f := format{delimiter: ','}
	for k, v := range options {
		switch {
		case k != "delimiter":
			return nil, fmt.Errorf("csv: unknown option %q (known: delimiter)", k)
		case v == "\\t" || v == "tab":
			f.delimiter = '\t'
		case len(v) != 1 || v[0] == '"' || v[0] == '\r' || v[0] == '\n' || v[0] >= utf8.RuneSelf:
			return nil, fmt.Errorf("csv: delimiter %q must be one ASCII character other than a quote or a newline (tab: \"\\t\")", v)
		default:
			f.delimiter = v[0]
		}
	}
	return f, nil
}

// Columns reads the header row.
func (f format) Columns(path string) ([]sources.Column, error) {
	r, err := f.open(path)
	if err != nil {
		return nil, err
	}
	defer r.close()
	cols := make([]sources.Column, len(r.header))
	for i, h := range r.header {
		cols[i] = sources.Column{Name: h, DatabaseType: "TEXT"}
	}
	return cols, nil
}

// Rows streams the records' fields at idx.
func (f format) Rows(ctx context.Context, path string, idx []int) (reconcile.Rows, error) {
	r, err := f.open(path)
	if err != nil {
		return nil, err
	}
	return &rows{ctx: ctx, r: r, idx: idx, out: make([][]byte, len(idx))}, nil
}

func (f format) open(path string) (*reader, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := &reader{f: fh, in: bufio.NewReaderSize(fh, 64<<10), delim: f.delimiter, line: 1}
	if bom, _ := r.in.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		r.in.Discard(3)
	}
	fields, err := r.record()
	switch {
	case err == io.EOF:
		err = errors.New("empty file: the first row must name the columns")
	case err == nil && fields == nil:
		err = errors.New("no header row")
	}
	if err != nil {
		fh.Close()
		return nil, err
	}
	seen := map[string]bool{}
	for _, c := range fields {
		name := string(c)
		if name == "" || seen[name] {
			fh.Close()
			return nil, fmt.Errorf("line 1: the header names a column %q twice or not at all", name)
		}
		seen[name] = true
		r.header = append(r.header, name)
	}
	return r, nil
}

type rows struct {
	ctx context.Context
	r   *reader
	idx []int
	out [][]byte
	n   int
	err error
}

func (rs *rows) Next() bool {
	if rs.err != nil {
		return false
	}
	if rs.n++; rs.n%4096 == 0 {
		if rs.err = rs.ctx.Err(); rs.err != nil {
			return false
		}
	}
	line := rs.r.line
	fields, err := rs.r.record()
	if err == io.EOF {
		return false
	}
	if err != nil {
		rs.err = err
		return false
	}
	if len(fields) != len(rs.r.header) {
		rs.err = fmt.Errorf("line %d: %d fields, but the header has %d", line, len(fields), len(rs.r.header))
		return false
	}
	for i, c := range rs.idx {
		rs.out[i] = fields[c]
	}
	return true
}

func (rs *rows) Row() [][]byte { return rs.out }
func (rs *rows) Err() error    { return rs.err }
func (rs *rows) Close() error  { return rs.r.close() }

// reader reads records; a record's fields are valid until the next call.
type reader struct {
	f      *os.File
	in     *bufio.Reader
	delim  byte
	line   int // of the next record's first line
	header []string
	buf    []byte
	ends   []int
	nulls  []bool
	fields [][]byte
}

func (r *reader) close() error { return r.f.Close() }

// record reads the next non-blank record: its fields, nil for an unquoted
// empty one. io.EOF at the end.
func (r *reader) record() ([][]byte, error) {
	for {
		r.buf, r.ends, r.nulls = r.buf[:0], r.ends[:0], r.nulls[:0]
		start := r.line
		blank, err := r.fields0()
		if err != nil {
			if err == io.EOF && len(r.ends) > 0 && !blank {
				break
			}
			if err != io.EOF {
				err = fmt.Errorf("line %d: %w", start, err)
			}
			return nil, err
		}
		if !blank {
			break
		}
	}
	r.fields = r.fields[:0]
	from := 0
	for i, end := range r.ends {
		if r.nulls[i] {
			r.fields = append(r.fields, nil)
		} else {
			r.fields = append(r.fields, r.buf[from:end:end])
		}
		from = end
	}
	return r.fields, nil
}

// fields0 reads one record's fields into buf/ends/nulls. blank reports a
// line with nothing on it. io.EOF ends the input (the record read so far,
// if any, is complete).
func (r *reader) fields0() (blank bool, err error) {
	c, err := r.in.ReadByte()
	if err != nil {
		return false, err
	}
	if c == '\n' || (c == '\r' && r.peekNewline()) {
		r.line++
		return true, nil
	}
	r.in.UnreadByte()
	for {
		quoted, err := r.field()
		r.ends = append(r.ends, len(r.buf))
		r.nulls = append(r.nulls, !quoted && len(r.buf) == r.startOf(len(r.ends)-1))
		if err != nil {
			return false, err
		}
		c, err := r.in.ReadByte()
		switch {
		case err != nil:
			return false, err
		case c == r.delim:
			continue
		case c == '\n':
			r.line++
			return false, nil
		case c == '\r' && r.peekNewline():
			r.line++
			return false, nil
		default:
			return false, fmt.Errorf("unexpected %q after a quoted field", c)
		}
	}
}

func (r *reader) startOf(field int) int {
	if field == 0 {
		return 0
	}
	return r.ends[field-1]
}

var errTooLong = fmt.Errorf("a record longer than %d MiB: is a quote never closed?", maxRecordBytes>>20)

// peekNewline consumes the \n of a \r\n.
func (r *reader) peekNewline() bool {
	if b, err := r.in.Peek(1); err == nil && b[0] == '\n' {
		r.in.Discard(1)
		return true
	}
	return false
}

// field reads one field into buf, up to (not including) the delimiter or
// line end that ends it.
func (r *reader) field() (quoted bool, err error) {
	c, err := r.in.ReadByte()
	if err != nil {
		return false, err
	}
	if c != '"' {
		r.in.UnreadByte()
		for {
			c, err := r.in.ReadByte()
			if err != nil {
				return false, err
			}
			if c == r.delim || c == '\n' || c == '\r' {
				r.in.UnreadByte()
				return false, nil
			}
			if c == '"' {
				return false, errors.New(`a quote inside an unquoted field (quote the field and write "" for a quote)`)
			}
			if r.buf = append(r.buf, c); len(r.buf) > maxRecordBytes {
				return false, errTooLong
			}
		}
	}
	for {
		c, err := r.in.ReadByte()
		if err == io.EOF {
			return true, errors.New("a quoted field is not closed before the end of the file")
		}
		if err != nil {
			return true, err
		}
		if c == '\n' {
			r.line++
		}
		if c != '"' {
			if r.buf = append(r.buf, c); len(r.buf) > maxRecordBytes {
				return true, errTooLong
			}
			continue
		}
		next, err := r.in.Peek(1)
		if err == nil && next[0] == '"' {
			r.in.Discard(1)
			r.buf = append(r.buf, '"')
			continue
		}
		return true, nil
	}
}
