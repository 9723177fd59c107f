package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// pyarrowScript prints, as JSON, how pyarrow sees a Parquet file: its
// schema, the nulls per column read whole and filtered on IS NULL (which
// uses the statistics), and some rows with timestamps as microseconds.
const pyarrowScript = `
import json, sys
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

path, rows = sys.argv[1], [int(i) for i in sys.argv[2].split(",")]
t = pq.read_table(path)

def value(col, i):
    v = col[i]
    if pa.types.is_timestamp(col.type):
        return v.value if v.is_valid else None
    return v.as_py()

print(json.dumps({
    "schema": [f"{f.name} {f.type} {'nullable' if f.nullable else 'required'}" for f in t.schema],
    "nulls": [t.column(c).null_count for c in t.column_names],
    "filtered_nulls": [pq.read_table(path, filters=pc.field(c).is_null()).num_rows for c in t.column_names],
    "rows": [[value(t.column(c), i) for c in t.column_names] for i in rows],
}))
`

func TestPyarrowReadsExceptions(t *testing.T) {
	if err := exec.Command("python3", "-c", "import pyarrow.parquet").Run(); err != nil {
		t.Skip("pyarrow is not importable; this check is optional")
	}
	const n = 150_000
	rows := []int{0, 1, 65535, 65536, 149999}
	path := writeRun(t, n)
	var stderr bytes.Buffer
	cmd := exec.Command("python3", "-c", pyarrowScript, path, strings.Trim(fmt.Sprint(rows), "[]"))
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyarrow: %v\n%s", err, stderr.String())
	}
	var got struct {
		Schema        []string
		Nulls         []int64
		FilteredNulls []int64 `json:"filtered_nulls"`
		Rows          [][]any
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("pyarrow output %s: %v", out, err)
	}

	var schema []string
	for i, name := range columnNames {
		typ := "string"
		if i >= 8 {
			typ = "timestamp[us, tz=UTC]"
		}
		rep := "nullable"
		if required(i) {
			rep = "required"
		}
		schema = append(schema, name+" "+typ+" "+rep)
	}
	if !reflect.DeepEqual(got.Schema, schema) {
		t.Errorf("schema:\n got %q\nwant %q", got.Schema, schema)
	}

	nulls := make([]int64, len(columnNames))
	for i := range n {
		for c, v := range wantValues(genException(i)) {
			if v == nil {
				nulls[c]++
			}
		}
	}
	if !reflect.DeepEqual(got.Nulls, nulls) || !reflect.DeepEqual(got.FilteredNulls, nulls) {
		t.Errorf("nulls per column: read %v, filtered on IS NULL %v; want %v", got.Nulls, got.FilteredNulls, nulls)
	}

	if len(got.Rows) != len(rows) {
		t.Fatalf("got %d rows, want %d", len(got.Rows), len(rows))
	}
	for k, i := range rows {
		want := wantValues(genException(i))
		for c, v := range got.Rows[k] {
			if num, ok := v.(json.Number); ok {
				got.Rows[k][c], _ = num.Int64()
			}
		}
		if !reflect.DeepEqual(got.Rows[k], want) {
			t.Errorf("row %d:\n got %q\nwant %q", i, got.Rows[k], want)
		}
	}
}
