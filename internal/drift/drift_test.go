package drift

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The demo's config is committed for people to read; it must be the one the
// scenario generates.
func TestDemoConfigIsCurrent(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "demo", "recon.yaml")
	want := "# The demo: a CRM, a billing system and a marketing platform in SQLite files\n" +
		"# and a HubSpot export beside this config (make demo writes them). Paths are\n" +
		"# relative to this file. The CRM is the system of record for the deals'\n" +
		"# terms; finance reviews amounts; billing owns the customers' tier.\n" +
		DemoConfig()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is stale; run go test ./internal/drift -update", path)
	}
}

func TestExpectedHasEveryKind(t *testing.T) {
	kinds := map[string]bool{}
	_, _, a := opportunities(0)
	_, _, b := accounts()
	for _, e := range append(a, b...) {
		kinds[e.Kind] = true
	}
	for _, k := range []string{"missing_in_target", "missing_in_source", "field_mismatch", "timestamp_misaligned", "duplicate_key", "invalid_record"} {
		if !kinds[k] {
			t.Errorf("the scenario plants no %s", k)
		}
	}
}
