package repairs

import (
	"encoding/csv"
	"encoding/json"
	"fmt"

	"strings"
)

// upsertCSV writes a plan as generic bulk-upsert files (RFC 4180, CRLF):
// <name>.upsert.csv holds inserts and updates, a row per record with the
// key columns and every field a plan may write on the side, each cell the
// value the record has once repaired (a changed field's new value, an
// unchanged field's value as read); <name>.soft_delete.csv holds soft
// deletes, the key columns and the soft-delete column. A NULL is an empty
// unquoted cell; every value, the empty string included, is quoted, so a
// loader (PostgreSQL COPY … CSV, DuckDB) tells the two apart. CR and LF
// inside values are kept.
type upsertCSV struct {
	pl                *plan
	upserts, deletes  *file
	deletesPath       string
	fieldPos          map[int]int // field index → its cell after the key
	upsertRow, delRow []*string
}

func newUpsertCSV(pl *plan, path, deletesPath string) (*upsertCSV, error) {
	f, err := pl.create(path)
	if err != nil {
		return nil, err
	}
	u := &upsertCSV{pl: pl, upserts: f, deletesPath: deletesPath, fieldPos: map[int]int{}}
	header := pl.keyColumns()
	for i, fi := range pl.toward {
		u.fieldPos[fi] = i
		header = append(header, pl.fieldColumn(fi))
	}
	writeCSVRow(f, texts(header))
	u.upsertRow = make([]*string, len(header))
	return u, nil
}

func (u *upsertCSV) add(c *change) error {
	nk := len(c.key)
	if c.kind == SoftDeleted {
		if u.deletes == nil {
			f, err := u.pl.create(u.deletesPath)
			if err != nil {
				return err
			}
			u.deletes = f
			writeCSVRow(f, texts(append(u.pl.keyColumns(), u.pl.table.column(u.pl.p.rules.SoftDelete.Column).Name)))
			u.delRow = make([]*string, nk+1)
		}
		for i, k := range c.key {
			u.delRow[i] = k.ptr()
		}
		u.delRow[nk] = c.softDelete.ptr()
		writeCSVRow(u.deletes, u.delRow)
		return nil
	}
	row := u.upsertRow
	for i, k := range c.key {
		row[i] = k.ptr()
	}
	if c.current != nil { // unchanged fields keep their value
		for f, pos := range u.fieldPos {
			row[nk+pos] = text(c.current.Fields[f])
		}
	}
	for _, s := range c.sets {
		row[nk+u.fieldPos[s.field]] = s.val.ptr()
	}
	writeCSVRow(u.upserts, row)
	return nil
}

func (u *upsertCSV) close() error {
	err := u.upserts.close()
	if derr := u.deletes.close(); err == nil {
		err = derr
	}
	return err
}

// ptr is the value's text, or nil for NULL.
func (v val) ptr() *string {
	if v.null {
		return nil
	}
	return &v.text
}

func texts(ss []string) []*string {
	out := make([]*string, len(ss))
	for i := range ss {
		out[i] = &ss[i]
	}
	return out
}

// writeCSVRow writes one RFC 4180 record: nil as an empty unquoted cell,
// every value quoted.
func writeCSVRow(f *file, cells []*string) {
	for i, c := range cells {
		if i > 0 {
			f.WriteByte(',')
		}
		if c != nil {
			f.WriteByte('"')
			f.WriteString(strings.ReplaceAll(*c, `"`, `""`))
			f.WriteByte('"')
		}
	}
	f.WriteString("\r\n")
}

// salesforceCSV writes a plan as a Salesforce Bulk API 2.0 upsert job: a
// CSV (LF line ends, as the job says) whose header is the written side's
// column names (the object's field API names): the External ID field, the
// fields a plan may write and the soft-delete field; and the job's
// settings beside it. A blank cell leaves a field as it is; #N/A sets it
// to null. Dates are YYYY-MM-DD, datetimes ISO 8601 in UTC with Z,
// booleans true/false.
type salesforceCSV struct {
	pl       *plan
	f        *file
	w        *csv.Writer
	ext      int // the key column the External ID field is
	fieldPos map[int]int
	softPos  int // -1 without soft deletes
	row      []string
}

// SalesforceJob is the .job.json beside a Salesforce plan: the body of
// the Bulk API 2.0 request that creates the ingest job.
type SalesforceJob struct {
	Object              string `json:"object"`
	ExternalIDFieldName string `json:"externalIdFieldName"`
	Operation           string `json:"operation"`
	LineEnding          string `json:"lineEnding"`
	ColumnDelimiter     string `json:"columnDelimiter"`
}

func newSalesforceCSV(pl *plan, path, jobPath string) (*salesforceCSV, error) {
	ext, err := pl.p.rules.externalKey(pl.p.spec)
	if err != nil {
		return nil, err
	}
	keys := pl.keyColumns()
	job, err := json.MarshalIndent(SalesforceJob{Object: pl.table.Name, ExternalIDFieldName: keys[ext],
		Operation: "upsert", LineEnding: "LF", ColumnDelimiter: "COMMA"}, "", "  ")
	if err != nil {
		return nil, err
	}
	jf, err := pl.create(jobPath)
	if err != nil {
		return nil, err
	}
	jf.Write(append(job, '\n'))
	if err := jf.close(); err != nil {
		return nil, err
	}
	f, err := pl.create(path)
	if err != nil {
		return nil, err
	}
	s := &salesforceCSV{pl: pl, f: f, w: csv.NewWriter(f), ext: ext, fieldPos: map[int]int{}, softPos: -1}
	header := []string{keys[ext]}
	for i, fi := range pl.toward {
		s.fieldPos[fi] = i + 1
		header = append(header, pl.fieldColumn(fi))
	}
	if sd := pl.p.rules.SoftDelete; sd != nil {
		s.softPos = len(header)
		header = append(header, pl.table.column(sd.Column).Name)
	}
	s.row = make([]string, len(header))
	return s, s.w.Write(header)
}

// salesforceNull is what a Bulk API CSV cell holds to set a field to null.
const salesforceNull = "#N/A"

func (s *salesforceCSV) add(c *change) error {
	clear(s.row)
	s.row[0] = c.key[s.ext].crm
	for _, set := range c.sets {
		v := set.val.crm
		if set.val.null || v == "" { // Salesforce keeps no empty strings: they are nulls
			v = ""
			if c.kind == Update {
				v = salesforceNull
			}
		}
		s.row[s.fieldPos[set.field]] = v
	}
	if c.kind == SoftDeleted {
		s.row[s.softPos] = c.softDelete.crm
	}
	return s.w.Write(s.row)
}

func (s *salesforceCSV) close() error {
	s.w.Flush()
	if err := s.w.Error(); err != nil {
		s.f.close()
		return fmt.Errorf("write %s: %w", s.f.path, err)
	}
	return s.f.close()
}

// hubSpot writes a plan as bodies of HubSpot's CRM v3 batch upsert
// (POST /crm/v3/objects/<object>/batch/upsert), one JSON document per
// line, at most 100 inputs each. Records are identified by the unique
// property of the key column the config names; properties are the fields a
// change writes, as strings: "" clears one, multi-select values are
// ;-joined, dates YYYY-MM-DD, datetimes ISO 8601 in UTC with Z.
type hubSpot struct {
	pl     *plan
	f      *file
	ext    int
	idProp string
	inputs []HubSpotInput
}

// HubSpotBatchSize is the most inputs HubSpot takes in one batch request.
const HubSpotBatchSize = 100

// HubSpotBatch is one line of a HubSpot plan.
type HubSpotBatch struct {
	Inputs []HubSpotInput `json:"inputs"`
}

// HubSpotInput is one record of a batch upsert.
type HubSpotInput struct {
	IDProperty string            `json:"idProperty"`
	ID         string            `json:"id"`
	Properties map[string]string `json:"properties"`
}

func newHubSpot(pl *plan, path string) (*hubSpot, error) {
	ext, err := pl.p.rules.externalKey(pl.p.spec)
	if err != nil {
		return nil, err
	}
	f, err := pl.create(path)
	if err != nil {
		return nil, err
	}
	return &hubSpot{pl: pl, f: f, ext: ext, idProp: pl.keyColumns()[ext]}, nil
}

func (h *hubSpot) add(c *change) error {
	in := HubSpotInput{IDProperty: h.idProp, ID: c.key[h.ext].crm, Properties: map[string]string{}}
	for _, s := range c.sets {
		in.Properties[h.pl.fieldColumn(s.field)] = s.val.crm
	}
	if c.kind == SoftDeleted {
		in.Properties[h.pl.table.column(h.pl.p.rules.SoftDelete.Column).Name] = c.softDelete.crm
	}
	if h.inputs = append(h.inputs, in); len(h.inputs) == HubSpotBatchSize {
		return h.flush()
	}
	return nil
}

func (h *hubSpot) flush() error {
	if len(h.inputs) == 0 {
		return nil
	}
	b, err := json.Marshal(HubSpotBatch{Inputs: h.inputs})
	if err != nil {
		return err
	}
	h.f.Write(append(b, '\n'))
	h.inputs = h.inputs[:0]
	return nil
}

func (h *hubSpot) close() error {
	if h.f.f == nil {
		return nil
	}
	if err := h.flush(); err != nil {
		h.f.close()
		return err
	}
	return h.f.close()
}
