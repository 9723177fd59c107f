package repairs

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/recon-dev/recon/sources"
)

// sqlPlan writes a plan as SQL in the written side's dialect: a comment
// header, the session's SET statements, then batches of statements between
// BEGIN and COMMIT lines, one statement per line ending in "; -- <kind>".
type sqlPlan struct {
	*file
	table     *Table
	batchSize int
	inBatch   int
	batches   int
	counts    map[Kind]int64
}

// statementEnd separates a statement from the kind of change it makes.
const statementEnd = "; -- "

func newSQLPlan(pl *plan, path string) (*sqlPlan, error) {
	f, err := pl.create(path)
	if err != nil {
		return nil, err
	}
	h, t, batchSize := pl.p.header, pl.table, pl.p.rules.BatchSize
	if batchSize <= 0 {
		batchSize = DefaultBatchSize
	}
	fmt.Fprintf(f, "-- recon repair plan for reconciliation %q: writes the %s system %q (%s), table %q\n", h.Reconciliation, t.Side, t.System, t.Driver, t.Name)
	fmt.Fprintf(f, "-- run %s, config hash %s\n", h.RunID, h.ConfigHash)
	fmt.Fprintf(f, "-- Every UPDATE changes a row only while it still reads as the run's snapshot read it, and every INSERT only\n")
	fmt.Fprintf(f, "-- while its key is absent: a row changed since is left alone, and running this file again changes nothing.\n")
	fmt.Fprintf(f, "-- Apply it with: recon apply --run <run directory> --execute (or the database's client, stopping at the first error)\n")
	for _, s := range t.Dialect.Session() {
		fmt.Fprintf(f, "%s;\n", s)
	}
	return &sqlPlan{file: f, table: t, batchSize: batchSize, counts: map[Kind]int64{}}, nil
}

func (s *sqlPlan) add(c *change) error {
	if s.inBatch == 0 {
		s.batches++
		fmt.Fprintf(s, "%s;\n", s.table.Dialect.Begin())
	}
	s.counts[c.kind]++
	s.WriteString(c.sql)
	s.WriteString(statementEnd)
	s.WriteString(string(c.kind))
	s.WriteByte('\n')
	if s.inBatch++; s.inBatch == s.batchSize {
		s.inBatch = 0
		s.WriteString("COMMIT;\n")
	}
	return nil
}

func (s *sqlPlan) close() error {
	if s.file.f == nil {
		return nil
	}
	if s.inBatch > 0 {
		s.WriteString("COMMIT;\n")
		s.inBatch = 0
	}
	fmt.Fprintf(s, "-- end of plan: %d insert, %d update, %d soft_delete in %d batches\n",
		s.counts[Insert], s.counts[Update], s.counts[SoftDeleted], s.batches)
	return s.file.close()
}

// SQLPlan is what ScanSQL learns of a plan file.
type SQLPlan struct {
	Session []string // the SET statements before the first batch
	Batches int
	Counts  map[Kind]int64
	SHA256  string // of the whole file, in hex
}

// Batch is the statements of one transaction of a plan.
type Batch struct {
	Line       int // of its BEGIN
	Statements []Statement
}

// Statement is one statement of a plan, without its terminating semicolon.
type Statement struct {
	Line int
	SQL  string
	Kind Kind
}

// ScanSQL reads back a plan that a Planner wrote for a driver's dialect,
// one batch at a time: batch, if not nil, is called with each (numbered
// from 0) as soon as it is read, so memory holds one batch however large
// the plan. It accepts nothing but recon's own form: a statement that is
// not an INSERT or UPDATE of that form, or that holds a second statement, a
// line outside a batch, a batch left open, is an error naming the line, so
// a plan edited into something else is refused rather than run. An error
// from batch stops the scan and is returned.
func ScanSQL(path, driver string, batch func(i int, b Batch) error) (*SQLPlan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	plan := &SQLPlan{Counts: map[Kind]int64{}}
	var cur *Batch
	sc := bufio.NewScanner(io.TeeReader(f, h))
	sc.Buffer(make([]byte, 1<<16), 64<<20)
	bad := func(n int, why string) error { return fmt.Errorf("%s, line %d: %s", path, n, why) }
	escapes, ident := escapeStrings(driver), identQuote(driver)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		upper := strings.ToUpper(line)
		switch {
		case line == "" || strings.HasPrefix(line, "--"):
		case upper == "BEGIN;" || upper == "START TRANSACTION;":
			if cur != nil {
				return nil, bad(n, "a batch starts inside another")
			}
			cur = &Batch{Line: n}
		case upper == "COMMIT;":
			if cur == nil {
				return nil, bad(n, "COMMIT outside a batch")
			}
			if batch != nil {
				if err := batch(plan.Batches, *cur); err != nil {
					return nil, err
				}
			}
			plan.Batches++
			cur = nil
		case cur == nil:
			stmt, ok := strings.CutSuffix(line, ";")
			if !ok || !strings.HasPrefix(upper, "SET ") || plan.Batches > 0 || !oneStatement(stmt, escapes, ident) {
				return nil, bad(n, "only SET statements may come before the first batch")
			}
			plan.Session = append(plan.Session, stmt)
		default:
			end := strings.LastIndex(line, statementEnd)
			if end < 0 {
				return nil, bad(n, "a statement must end in \"; -- <kind>\"")
			}
			kind := Kind(line[end+len(statementEnd):])
			stmt := line[:end]
			verb := map[Kind]string{Insert: "INSERT INTO ", Update: "UPDATE ", SoftDeleted: "UPDATE "}[kind]
			if verb == "" || !strings.HasPrefix(stmt, verb) || !oneStatement(stmt, escapes, ident) {
				return nil, bad(n, fmt.Sprintf("not a recon repair statement (kind %q); recon only applies guarded INSERT and UPDATE statements, one per line", kind))
			}
			cur.Statements = append(cur.Statements, Statement{Line: n, SQL: stmt, Kind: kind})
			plan.Counts[kind]++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if cur != nil {
		return nil, bad(cur.Line, "the batch that starts here has no COMMIT")
	}
	plan.SHA256 = hex.EncodeToString(h.Sum(nil))
	return plan, nil
}

// escapeStrings reports whether driver's dialect writes text holding a
// backslash as an escape string (E'…', PostgreSQL's), in which a backslash
// escapes: the one place a plan of its may hold one.
func escapeStrings(driver string) bool {
	d, err := sources.Lookup(driver)
	if err != nil {
		return false
	}
	lit, err := d.StringLiteral(`\`)
	return err == nil && strings.HasPrefix(lit, "E'")
}

// identQuote is the character driver's dialect quotes identifiers with
// (0 for none known).
func identQuote(driver string) byte {
	d, err := sources.Lookup(driver)
	if err != nil {
		return 0
	}
	return d.QuoteIdent("x")[0]
}

// oneStatement reports whether s is one statement: no ';' outside its
// quotes ('…' with ” doubled, "…", `…`). Plans hold backslashes only in
// escape strings (E'…', where escapes is set), where they escape, and in
// identifiers quoted as the dialect quotes them (ident), where every
// dialect reads them as themselves; a backslash anywhere else is refused,
// so no dialect can read a quote differently.
func oneStatement(s string, escapes bool, ident byte) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ';', '\\':
			return false
		case '\'', '"', '`':
			escaping := escapes && c == '\'' && i > 0 && (s[i-1] == 'E' || s[i-1] == 'e') && (i < 2 || !isWord(s[i-2]))
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '\\' && c != ident {
					if !escaping {
						return false
					}
					j++
					continue
				}
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						j++
						continue
					}
					break
				}
			}
			if j >= len(s) {
				return false // unterminated
			}
			i = j
		}
	}
	return true
}

func isWord(c byte) bool {
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
