package repairs

import (
	"bufio"
	"fmt"
	"os"
	"strings"
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

func newSQLPlan(path string, h Header, t *Table, batchSize int) (*sqlPlan, error) {
	f, err := createFile(path)
	if err != nil {
		return nil, err
	}
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

// SQLPlan is a SQL plan file as recon apply reads it back.
type SQLPlan struct {
	Session []string
	Batches []Batch
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

// Counts returns how many statements of each kind the plan holds.
func (p *SQLPlan) Counts() map[Kind]int64 {
	n := map[Kind]int64{}
	for _, b := range p.Batches {
		for _, s := range b.Statements {
			n[s.Kind]++
		}
	}
	return n
}

// ReadSQL reads back a plan that a Planner wrote. It accepts nothing else:
// a statement that is not an INSERT or UPDATE of recon's form, a line
// outside a batch, or a batch left open is an error naming the line, so a
// plan edited into something else is refused rather than run.
func ReadSQL(path string) (*SQLPlan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	plan := &SQLPlan{}
	var batch *Batch
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<30)
	bad := func(n int, why string) error { return fmt.Errorf("%s, line %d: %s", path, n, why) }
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		upper := strings.ToUpper(line)
		switch {
		case line == "" || strings.HasPrefix(line, "--"):
		case upper == "BEGIN;" || upper == "START TRANSACTION;":
			if batch != nil {
				return nil, bad(n, "a batch starts inside another")
			}
			batch = &Batch{Line: n}
		case upper == "COMMIT;":
			if batch == nil {
				return nil, bad(n, "COMMIT outside a batch")
			}
			plan.Batches = append(plan.Batches, *batch)
			batch = nil
		case batch == nil:
			if !strings.HasPrefix(upper, "SET ") || !strings.HasSuffix(line, ";") || len(plan.Batches) > 0 {
				return nil, bad(n, "only SET statements may come before the first batch")
			}
			plan.Session = append(plan.Session, strings.TrimSuffix(line, ";"))
		default:
			end := strings.LastIndex(line, statementEnd)
			if end < 0 {
				return nil, bad(n, "a statement must end in \"; -- <kind>\"")
			}
			kind := Kind(line[end+len(statementEnd):])
			stmt := line[:end]
			verb := map[Kind]string{Insert: "INSERT INTO ", Update: "UPDATE ", SoftDeleted: "UPDATE "}[kind]
			if verb == "" || !strings.HasPrefix(stmt, verb) {
				return nil, bad(n, fmt.Sprintf("not a recon repair statement (kind %q); recon only applies guarded INSERT and UPDATE", kind))
			}
			batch.Statements = append(batch.Statements, Statement{Line: n, SQL: stmt, Kind: kind})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if batch != nil {
		return nil, bad(batch.Line, "the batch that starts here has no COMMIT")
	}
	return plan, nil
}
