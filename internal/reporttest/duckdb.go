package reporttest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireTool skips the test with why, or fails it when
// RECON_TEST_REQUIRE_TOOLS=1 (as CI sets it).
func RequireTool(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("RECON_TEST_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s (RECON_TEST_REQUIRE_TOOLS=1)", why)
	}
	t.Skipf("%s; set RECON_TEST_REQUIRE_TOOLS=1 to fail instead of skipping", why)
}

// DuckDB runs sql in DuckDB (tools/duckdb/query.mjs, the @duckdb/node-api
// package data engineers' notebooks use too) and returns its rows.
func DuckDB(t testing.TB, sql string) []map[string]any {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		RequireTool(t, "node is not installed: DuckDB checks need Node.js")
	}
	tool := filepath.Join(moduleRoot(t), "tools", "duckdb")
	if _, err := os.Stat(filepath.Join(tool, "node_modules", "@duckdb", "node-api")); err != nil {
		RequireTool(t, "DuckDB for Node is not installed: run `make duckdb` (npm ci in tools/duckdb)")
	}
	cmd := exec.Command("node", filepath.Join(tool, "query.mjs"), sql)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("duckdb %s: %v\n%s", sql, err, stderr.String())
	}
	var rows []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("duckdb %s: line %q: %v", sql, sc.Text(), err)
		}
		rows = append(rows, row)
	}
	return rows
}

// SQLString quotes s as an SQL string literal.
func SQLString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// moduleRoot is the directory of go.mod, above the test's directory.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
