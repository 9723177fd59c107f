package repairs_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recon-dev/recon/internal/reporttest"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/reports/repairs"
	"github.com/recon-dev/recon/sources"
	"github.com/recon-dev/recon/sources/sqlite"
)

// The fields of the test reconciliation, in order, with their owners.
var testFields = []struct {
	field reconcile.Field
	rule  repairs.FieldRule
	typ   string // the written table's column type
}{
	{reconcile.Field{Name: "name", Type: reconcile.String}, repairs.FieldRule{Owner: repairs.SourceOwns}, "TEXT"},
	{reconcile.Field{Name: "score", Type: reconcile.Int}, repairs.FieldRule{Owner: repairs.TargetOwns}, "INTEGER"},
	{reconcile.Field{Name: "amount", Type: reconcile.Decimal}, repairs.FieldRule{Owner: repairs.SourceOwns}, "NUMERIC"},
	{reconcile.Field{Name: "close", Type: reconcile.Date}, repairs.FieldRule{Owner: repairs.SourceOwns}, "DATE"},
	{reconcile.Field{Name: "active", Type: reconcile.Bool}, repairs.FieldRule{Owner: repairs.SourceOwns}, "BOOLEAN"},
	{reconcile.Field{Name: "seen", Type: reconcile.Timestamp}, repairs.FieldRule{Owner: repairs.SourceOwns}, "TIMESTAMP"},
	{reconcile.Field{Name: "segments", Type: reconcile.String, Normalize: []reconcile.Normalization{reconcile.Multiselect}}, repairs.FieldRule{Owner: repairs.SourceOwns}, "TEXT"},
	{reconcile.Field{Name: "stage", Type: reconcile.String}, repairs.FieldRule{Owner: repairs.SourceOwns, Review: true}, "TEXT"},
	{reconcile.Field{Name: "phone", Type: reconcile.String}, repairs.FieldRule{Owner: repairs.NewestOwns}, "TEXT"},
	{reconcile.Field{Name: "notes", Type: reconcile.String}, repairs.FieldRule{}, "TEXT"},
}

const (
	fName = iota
	fScore
	fAmount
	fClose
	fActive
	fSeen
	fSegments
	fStage
	fPhone
	fNotes
)

func testSpec() (*reconcile.Spec, []repairs.FieldRule) {
	spec := &reconcile.Spec{Name: "accounts", Key: []reconcile.KeyColumn{{Source: "id", Target: "crm_id", Type: reconcile.Int}},
		Timestamp: &reconcile.TimestampSpec{Source: "updated_at", Target: "updated_at"}}
	var rules []repairs.FieldRule
	for _, f := range testFields {
		f.field.Source, f.field.Target = f.field.Name, f.field.Name
		spec.Fields = append(spec.Fields, f.field)
		rules = append(rules, f.rule)
	}
	return spec, rules
}

// table is a written table of side s, as SQLite types its columns.
func table(t *testing.T, s reconcile.Side, spec *reconcile.Spec, rs *repairs.Spec) *repairs.Table {
	t.Helper()
	key := map[reconcile.Side]string{reconcile.SourceSide: "id", reconcile.TargetSide: "crm_id"}[s]
	cols := []sources.Column{{Name: key, DatabaseType: "INTEGER"}, {Name: "updated_at", DatabaseType: "TIMESTAMP"}, {Name: "is_deleted", DatabaseType: "BOOLEAN"}}
	for _, f := range testFields {
		cols = append(cols, sources.Column{Name: f.field.Name, DatabaseType: f.typ})
	}
	ny, _ := time.LoadLocation("America/New_York")
	tbl, err := repairs.NewTable(s, string(s)+"_system", "sqlite", sqlite.Dialect{}, ny, cols, spec, rs)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// record is a record whose fields are all "x" but for the ones given;
// a nil value is NULL.
func record(id string, at string, fields map[int]*string) *reconcile.Record {
	r := &reconcile.Record{Key: [][]byte{[]byte(id)}, Rows: 1, Location: time.UTC}
	for i := range testFields {
		v := []byte("x")
		switch i {
		case fScore:
			v = []byte("1")
		case fAmount:
			v = []byte("1.00")
		case fClose:
			v = []byte("2024-01-01")
		case fActive:
			v = []byte("t")
		case fSeen:
			v = []byte("2024-01-01 00:00:00Z")
		}
		if p, ok := fields[i]; ok {
			v = nil
			if p != nil {
				v = []byte(*p)
			}
		}
		r.Fields = append(r.Fields, v)
	}
	if at != "" {
		r.Timestamp = []byte(at)
		ts, _ := time.Parse(time.RFC3339, at)
		r.UpdatedAt = &ts
	}
	return r
}

func s(v string) *string { return &v }

// differ returns the Difference of two records, comparing as the engine does.
func differ(t *testing.T, spec *reconcile.Spec, src, tgt *reconcile.Record) *reconcile.Difference {
	t.Helper()
	d := &reconcile.Difference{Spec: spec, Source: src, Target: tgt}
	r := src
	if r == nil {
		r = tgt
	}
	key := string(r.Key[0])
	d.Key = &key
	if src == nil || tgt == nil {
		return d
	}
	for i, f := range spec.Fields {
		a, _ := f.Parse(src.Fields[i], src.Location)
		b, _ := f.Parse(tgt.Fields[i], tgt.Location)
		if !bytes.Equal(src.Fields[i], tgt.Fields[i]) && fmt.Sprint(a) != fmt.Sprint(b) {
			d.Mismatched = append(d.Mismatched, i)
		}
	}
	return d
}

const (
	t0 = "2024-03-01T12:00:00Z"
	t1 = "2024-03-02T12:00:00Z"
)

// plannedDiffs is one of each case a plan distinguishes, by key.
func plannedDiffs(t *testing.T, spec *reconcile.Spec) []*reconcile.Difference {
	return []*reconcile.Difference{
		// 1: every source-owned field differs, the source is newer
		differ(t, spec, record("1", t1, map[int]*string{fName: s("O'Brien \\ \"q\"\r\nZoë 😀"), fAmount: s("1234.50"), fClose: s("2024-03-31"),
			fActive: s("false"), fSeen: s("2024-03-01 12:00:00Z"), fSegments: s("b; a;;c"), fPhone: s("555-1"), fNotes: s("n1")}),
			record("1", t0, map[int]*string{fName: s("OBrien"), fAmount: s("1234.00"), fClose: s("2024-04-01"), fActive: s("true"),
				fSeen: s("2024-03-02 12:00:00Z"), fSegments: s("a"), fPhone: s("555-0"), fNotes: s("n2")})),
		// 2: the target-owned score differs, the target is newer on phone, stage needs review
		differ(t, spec, record("2", t0, map[int]*string{fScore: s("10"), fPhone: s("old"), fStage: s("Won")}),
			record("2", t1, map[int]*string{fScore: s("20"), fPhone: s("new"), fStage: s("Lost")})),
		// 3: phone differs and both were modified at the same instant: a tie
		differ(t, spec, record("3", t0, map[int]*string{fPhone: s("a")}), record("3", t0, map[int]*string{fPhone: s("b")})),
		// 4: the source has NULL where the target has a value; empty text
		differ(t, spec, record("4", t0, map[int]*string{fName: nil, fAmount: nil}), record("4", t0, map[int]*string{fName: s("was set"), fAmount: s("5")})),
		// 5, 6: missing on one side
		differ(t, spec, record("5", t0, map[int]*string{fName: s("new, \"quoted\"")}), nil),
		differ(t, spec, nil, record("6", t0, nil)),
	}
}

// planRun runs a planner of direction dir over ds and returns its summary
// and its directory.
func planRun(t *testing.T, dir repairs.Direction, ds []*reconcile.Difference, mutate func(*repairs.Spec)) (*repairs.Summary, string) {
	t.Helper()
	return planRunWith(t, dir, ds, mutate, nil)
}

// planRunWith is planRun with the reconciliation's spec changed by spec too.
func planRunWith(t *testing.T, dir repairs.Direction, ds []*reconcile.Difference, mutate func(*repairs.Spec), changeSpec func(*reconcile.Spec)) (*repairs.Summary, string) {
	t.Helper()
	spec, rules := testSpec()
	if changeSpec != nil {
		changeSpec(spec)
	}
	rs := &repairs.Spec{Direction: dir, Fields: rules, SourceTable: "accounts", TargetTable: "mirror",
		SoftDelete: &repairs.SoftDelete{Column: "is_deleted", Value: "true"},
		Formats:    []repairs.Format{repairs.SQL, repairs.CSV, repairs.Salesforce, repairs.HubSpot}}
	if mutate != nil {
		mutate(rs)
	}
	var tables [2]*repairs.Table
	for i, side := range []reconcile.Side{reconcile.SourceSide, reconcile.TargetSide} {
		if dir.Writes(side) {
			tables[i] = table(t, side, spec, rs)
		}
	}
	out := filepath.Join(t.TempDir(), "repairs")
	review, err := repairs.CreateReview(out)
	if err != nil {
		t.Fatal(err)
	}
	p, err := repairs.NewPlanner(out, repairs.Header{RunID: "run-1", Reconciliation: "accounts", ConfigHash: "abc"}, spec, rs, tables, review)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		d.Spec = spec
		if err := p.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := p.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := review.Close(); err != nil {
		t.Fatal(err)
	}
	return sum, out
}

// statements reads a side's SQL plan back: "kind key set-columns" per statement.
func statements(t *testing.T, sum *repairs.Summary, dir string, side reconcile.Side) []string {
	t.Helper()
	for _, p := range sum.Plans {
		if p.Side != string(side) {
			continue
		}
		file, ok := p.Files["sql"]
		if !ok {
			return nil
		}
		var out []string
		if _, err := repairs.ScanSQL(filepath.Join(filepath.Dir(dir), file), "sqlite", func(_ int, b repairs.Batch) error {
			for _, st := range b.Statements {
				out = append(out, string(st.Kind)+" "+describe(st.SQL))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	return nil
}

var setColumn = regexp.MustCompile(`(?:^|, )"(\w+)" = `)

// describe reduces a statement to the key it changes and the columns it sets.
func describe(stmt string) string {
	if strings.HasPrefix(stmt, "INSERT") {
		cols := stmt[strings.Index(stmt, "(")+1 : strings.Index(stmt, ")")]
		key := stmt[strings.Index(stmt, "SELECT ")+7:]
		return strings.Split(key, ",")[0] + " (" + cols + ")"
	}
	set := stmt[strings.Index(stmt, " SET ")+5 : strings.Index(stmt, " WHERE ")]
	var cols []string
	for _, m := range setColumn.FindAllStringSubmatch(set, -1) {
		cols = append(cols, m[1])
	}
	where := stmt[strings.Index(stmt, " WHERE ")+7:]
	key := strings.SplitN(strings.SplitN(where, " = ", 2)[1], " ", 2)[0]
	return key + " [" + strings.Join(cols, " ") + "]"
}

func TestPlansFollowOwnersAndDirection(t *testing.T) {
	for _, c := range []struct {
		dir            repairs.Direction
		source, target []string
	}{
		{repairs.SourceToTarget, nil, []string{
			`update '1' [name amount close active seen segments phone]`,
			`update '4' [name amount]`,
			`insert 5 ("crm_id", "name", "amount", "close", "active", "seen", "segments", "phone")`,
			`soft_delete '6' [is_deleted]`,
		}},
		{repairs.TargetToSource, []string{
			`update '2' [score phone]`,
			`soft_delete '5' [is_deleted]`,
			`insert 6 ("id", "score", "phone")`,
		}, nil},
		{repairs.Both, []string{
			`update '2' [score phone]`,
			`insert 6 ("id", "score", "phone")`,
		}, []string{
			`update '1' [name amount close active seen segments phone]`,
			`update '4' [name amount]`,
			`insert 5 ("crm_id", "name", "amount", "close", "active", "seen", "segments", "phone")`,
		}},
	} {
		t.Run(c.dir.String(), func(t *testing.T) {
			spec, _ := testSpec()
			sum, dir := planRun(t, c.dir, plannedDiffs(t, spec), nil)
			if got := statements(t, sum, dir, reconcile.SourceSide); !slices.Equal(got, c.source) {
				t.Errorf("source plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.source, "\n"))
			}
			if got := statements(t, sum, dir, reconcile.TargetSide); !slices.Equal(got, c.target) {
				t.Errorf("target plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.target, "\n"))
			}
			rows, err := reporttest.ReadRows(filepath.Join(dir, repairs.ReviewFile))
			if err != nil {
				t.Fatal(err)
			}
			var review []string
			for _, r := range rows {
				review = append(review, fmt.Sprintf("%s %s %s: %s", r["record_key"], r["kind"], r["field"], r["reason"]))
			}
			slices.Sort(review)
			want := []string{
				"2 field_mismatch stage: review field: a person decides",
				"3 field_mismatch phone: owner newest: both records were last modified at the same instant",
			}
			if !slices.Equal(review, want) || sum.Review != 2 {
				t.Errorf("review (%d):\n%s\nwant:\n%s", sum.Review, strings.Join(review, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestDuplicatesAndInvalidRecordsGoToReview(t *testing.T) {
	spec, _ := testSpec()
	dup := differ(t, spec, record("7", t1, map[int]*string{fName: s("a")}), record("7", t0, map[int]*string{fName: s("b")}))
	dup.Target.Rows = 3
	bad := differ(t, spec, record("8", t1, map[int]*string{fName: s("a")}), record("8", t0, map[int]*string{fName: s("b"), fAmount: s("lots")}))
	bad.Target.Invalid = []int{fAmount}
	bad.Mismatched = []int{fName}
	unkeyed := &reconcile.Difference{Unkeyed: true, BadKey: -1, Source: record("", t0, nil)}
	unkeyed.Source.Key = [][]byte{nil}
	sum, dir := planRun(t, repairs.Both, []*reconcile.Difference{dup, bad, unkeyed}, nil)
	for _, p := range sum.Plans {
		if p.Records != 0 {
			t.Errorf("%s plan changes %d records, want none", p.Side, p.Records)
		}
	}
	rows, err := reporttest.ReadRows(filepath.Join(dir, repairs.ReviewFile))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%v %s %v %v: %s", r["record_key"], r["kind"], r["field"], r["side"], r["reason"]))
	}
	want := []string{
		"7 duplicate_key <nil> target: duplicate key: 3 target records share it, so no repair can tell them apart",
		"8 invalid_record amount target: invalid value in amount: a person must correct it",
		"<nil> invalid_record <nil> source: the key is NULL: the record cannot be matched",
	}
	if !slices.Equal(got, want) {
		t.Errorf("review:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The Salesforce file follows Bulk API 2.0's CSV rules: the External ID
// field and the object's field names as the header, LF line ends, #N/A to
// set a field to null on update, blank to leave it, dates YYYY-MM-DD,
// datetimes ISO 8601 in UTC with Z, booleans true/false.
func TestSalesforceFile(t *testing.T) {
	spec, _ := testSpec()
	sum, dir := planRun(t, repairs.SourceToTarget, plannedDiffs(t, spec), nil)
	files := sum.Plans[0].Files
	b, err := os.ReadFile(filepath.Join(filepath.Dir(dir), files["salesforce"]))
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := []string{"crm_id", "name", "amount", "close", "active", "seen", "segments", "phone", "is_deleted"}
	if !slices.Equal(recs[0], head) {
		t.Fatalf("header %q, want %q", recs[0], head)
	}
	want := [][]string{
		// encoding/csv reads a CR LF inside a value as LF; the bytes are checked below
		{"1", "O'Brien \\ \"q\"\nZoë 😀", "1234.50", "2024-03-31", "false", "2024-03-01T12:00:00.000Z", "b;a;c", "555-1", ""},
		{"4", "#N/A", "#N/A", "", "", "", "", "", ""},
		{"5", `new, "quoted"`, "1.00", "2024-01-01", "true", "2024-01-01T00:00:00.000Z", "x", "x", ""},
		{"6", "", "", "", "", "", "", "", "true"},
	}
	if !slices.EqualFunc(recs[1:], want, slices.Equal) {
		t.Errorf("rows:\n%q\nwant:\n%q", recs[1:], want)
	}
	if !bytes.Contains(b, []byte("\r\nZoë")) {
		t.Error("the CR LF inside a value was not kept")
	}
	if bytes.Contains(bytes.ReplaceAll(b, []byte("\r\nZoë"), nil), []byte("\r\n")) {
		t.Error("a record ends in CRLF; the job says LF")
	}
	var job repairs.SalesforceJob
	jb, err := os.ReadFile(strings.TrimSuffix(filepath.Join(filepath.Dir(dir), files["salesforce"]), ".csv") + ".job.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(jb, &job); err != nil {
		t.Fatal(err)
	}
	if job != (repairs.SalesforceJob{Object: "mirror", ExternalIDFieldName: "crm_id", Operation: "upsert", LineEnding: "LF", ColumnDelimiter: "COMMA"}) {
		t.Errorf("job %+v", job)
	}
}

// HubSpot's batch upsert takes at most 100 inputs per request, properties
// as strings, "" to clear one and multi-select values ;-joined.
func TestHubSpotFile(t *testing.T) {
	spec, _ := testSpec()
	var ds []*reconcile.Difference
	for i := range 250 {
		id := fmt.Sprint(1000 + i)
		ds = append(ds, differ(t, spec, record(id, t1, map[int]*string{fSegments: s(" x ;y"), fName: nil, fActive: s("1")}),
			record(id, t0, map[int]*string{fSegments: s("z"), fName: s("n"), fActive: s("0")})))
	}
	sum, dir := planRun(t, repairs.SourceToTarget, ds, nil)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(dir), sum.Plans[0].Files["hubspot"]))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d bodies, want 3 (100 + 100 + 50)", len(lines))
	}
	n := 0
	for i, l := range lines {
		var body struct {
			Inputs []struct {
				IDProperty string         `json:"idProperty"`
				ID         string         `json:"id"`
				Properties map[string]any `json:"properties"`
			} `json:"inputs"`
		}
		if err := json.Unmarshal([]byte(l), &body); err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		if len(body.Inputs) > repairs.HubSpotBatchSize || (i < 2 && len(body.Inputs) != 100) {
			t.Errorf("body %d has %d inputs", i, len(body.Inputs))
		}
		for _, in := range body.Inputs {
			want := map[string]any{"segments": "x;y", "name": "", "active": "true"}
			if in.IDProperty != "crm_id" || in.ID != fmt.Sprint(1000+n) || fmt.Sprint(in.Properties) != fmt.Sprint(want) {
				t.Errorf("input %d: %+v", n, in)
			}
			n++
		}
	}
	if n != 250 {
		t.Errorf("%d inputs, want 250", n)
	}
}

// The generic CSV tells NULL (an empty unquoted cell) from the empty string
// (""), keeps CR and LF inside values, and gives each row the record's
// values once repaired.
func TestUpsertCSV(t *testing.T) {
	spec, _ := testSpec()
	ds := plannedDiffs(t, spec)
	ds = append(ds, differ(t, spec, record("9", t1, map[int]*string{fName: s("")}), record("9", t0, nil)))
	sum, dir := planRun(t, repairs.SourceToTarget, ds, nil)
	files := sum.Plans[0].Files
	b, err := os.ReadFile(filepath.Join(filepath.Dir(dir), files["csv"]))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\r\n")
	want := []string{
		`"crm_id","name","amount","close","active","seen","segments","phone"`,
		"\"1\",\"O'Brien \\ \"\"q\"\"",
		"Zoë 😀\",\"1234.50\",\"2024-03-31\",\"false\",\"2024-03-01 07:00:00-05:00\",\"b; a;;c\",\"555-1\"",
		`"4",,,"2024-01-01","t","2024-01-01 00:00:00Z","x","x"`,
		`"5","new, ""quoted""","1.00","2024-01-01","true","2023-12-31 19:00:00-05:00","x","x"`,
		`"9","","1.00","2024-01-01","t","2024-01-01 00:00:00Z","x","x"`,
		"",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("upsert.csv:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	d, err := os.ReadFile(strings.Replace(filepath.Join(filepath.Dir(dir), files["csv"]), "upsert", "soft_delete", 1))
	if err != nil {
		t.Fatal(err)
	}
	if string(d) != "\"crm_id\",\"is_deleted\"\r\n\"6\",\"true\"\r\n" {
		t.Errorf("soft_delete.csv:\n%q", d)
	}
}

func TestMaxChangesAndSummary(t *testing.T) {
	spec, _ := testSpec()
	sum, _ := planRun(t, repairs.Both, plannedDiffs(t, spec), func(rs *repairs.Spec) { rs.MaxChanges = 2; rs.Formats = []repairs.Format{repairs.SQL} })
	if sum.MaxChanges == nil || *sum.MaxChanges != 2 || sum.Direction != "both" || len(sum.Plans) != 2 {
		t.Fatalf("summary %+v", sum)
	}
	for _, p := range sum.Plans {
		if p.Records != p.Insert+p.Update+p.SoftDelete || p.Batches != 1 || len(p.Files) != 1 {
			t.Errorf("%s plan %+v", p.Side, p)
		}
	}
}

// review.parquet reads in DuckDB with typed columns and right nulls.
func TestDuckDBReadsReview(t *testing.T) {
	spec, _ := testSpec()
	_, dir := planRun(t, repairs.SourceToTarget, plannedDiffs(t, spec), nil)
	from := "FROM read_parquet(" + reporttest.SQLString(filepath.Join(dir, repairs.ReviewFile)) + ")"
	var cols []string
	for _, r := range reporttest.DuckDB(t, "SELECT column_name, column_type FROM (DESCRIBE SELECT * "+from+")") {
		cols = append(cols, fmt.Sprint(r["column_name"], " ", r["column_type"]))
	}
	want := []string{"run_id VARCHAR", "reconciliation VARCHAR", "record_key VARCHAR", "field VARCHAR", "source_value VARCHAR",
		"target_value VARCHAR", "source_updated_at TIMESTAMP WITH TIME ZONE", "target_updated_at TIMESTAMP WITH TIME ZONE",
		"reason VARCHAR", "kind VARCHAR", "side VARCHAR", "source_key VARCHAR", "target_key VARCHAR"}
	if !slices.Equal(cols, want) {
		t.Errorf("columns:\n%v\nwant\n%v", cols, want)
	}
	rows := reporttest.DuckDB(t, "SELECT record_key, field, reason, side IS NULL AS no_side, "+
		"epoch(target_updated_at) AS tgt, source_key, target_key "+from+" ORDER BY record_key")
	got := fmt.Sprint(rows)
	epoch := func(s string) float64 { t, _ := time.Parse(time.RFC3339, s); return float64(t.Unix()) }
	wantRows := fmt.Sprintf("[map[field:stage no_side:true reason:review field: a person decides record_key:2 source_key:2 target_key:2 tgt:%v] "+
		"map[field:phone no_side:true reason:owner newest: both records were last modified at the same instant record_key:3 source_key:3 target_key:3 tgt:%v]]",
		epoch(t1), epoch(t0))
	if got != wantRows {
		t.Errorf("rows:\n%s\nwant\n%s", got, wantRows)
	}
}

// A review field with no owner still goes to review, and owner newest
// treats timestamps within the tolerance as a tie.
func TestReviewWithoutOwnerAndToleranceTies(t *testing.T) {
	spec, _ := testSpec()
	ds := []*reconcile.Difference{
		differ(t, spec, record("1", t0, map[int]*string{fNotes: s("a")}), record("1", t0, map[int]*string{fNotes: s("b")})),
		differ(t, spec, record("2", "2024-03-01T12:30:00Z", map[int]*string{fPhone: s("a")}), record("2", t0, map[int]*string{fPhone: s("b")})),
	}
	_, dir := planRunWith(t, repairs.SourceToTarget, ds, func(rs *repairs.Spec) { rs.Fields[fNotes].Review = true }, func(spec *reconcile.Spec) {
		spec.Timestamp.Tolerance = time.Hour
	})
	rows, err := reporttest.ReadRows(filepath.Join(dir, repairs.ReviewFile))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s %s: %s", r["record_key"], r["field"], r["reason"]))
	}
	want := []string{
		"1 notes: review field: a person decides",
		"2 phone: owner newest: the records were last modified within the timestamps' tolerance of each other, which cannot tell which is newer",
	}
	if !slices.Equal(got, want) {
		t.Errorf("review:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// With a grace, a record missing on the side recon may not write is
// soft-deleted only once it has been missing that long, never on first
// sight, and never without a state store to tell.
func TestSoftDeleteGrace(t *testing.T) {
	spec, _ := testSpec()
	now := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	firstSeen := map[string]time.Time{"6": now.Add(-40 * 24 * time.Hour), "7": now.Add(-24 * time.Hour), "8": now}
	ds := []*reconcile.Difference{differ(t, spec, nil, record("6", t0, nil)), differ(t, spec, nil, record("7", t0, nil)), differ(t, spec, nil, record("8", t0, nil))}
	for _, withState := range []bool{true, false} {
		spec, rules := testSpec()
		rs := &repairs.Spec{Direction: repairs.SourceToTarget, Fields: rules, TargetTable: "mirror",
			SoftDelete: &repairs.SoftDelete{Column: "is_deleted", Value: "true", Grace: 30 * 24 * time.Hour}, Formats: []repairs.Format{repairs.SQL}}
		out := filepath.Join(t.TempDir(), "repairs")
		review, err := repairs.CreateReview(out)
		if err != nil {
			t.Fatal(err)
		}
		p, err := repairs.NewPlanner(out, repairs.Header{RunID: "r"}, spec, rs, [2]*repairs.Table{nil, table(t, reconcile.TargetSide, spec, rs)}, review)
		if err != nil {
			t.Fatal(err)
		}
		var asked []string
		if withState {
			p.Now = now
			p.FirstSeen = func(kind reconcile.Kind, key string) (time.Time, error) {
				asked = append(asked, string(kind)+" "+key)
				return firstSeen[key], nil
			}
		}
		for _, d := range ds {
			d.Spec = spec
			if err := p.Write(d); err != nil {
				t.Fatal(err)
			}
		}
		sum, err := p.Close()
		if err != nil {
			t.Fatal(err)
		}
		review.Close()
		want := int64(0)
		if withState {
			want = 1 // only 6, missing for 40 days
			if strings.Join(asked, ",") != "missing_in_source 6,missing_in_source 7,missing_in_source 8" {
				t.Errorf("asked %v", asked)
			}
		}
		if got := sum.Plans[0].SoftDelete; got != want {
			t.Errorf("with state %v: %d soft deletes, want %d", withState, got, want)
		}
	}
}
