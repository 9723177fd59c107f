package main

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq"
	_ "modernc.org/sqlite"

	"github.com/recon-dev/recon/internal/dbtest"
	"github.com/recon-dev/recon/internal/drift"
	"github.com/recon-dev/recon/internal/reporttest"
)

func TestMain(m *testing.M) {
	code := dbtest.Main(m)
	if binDir != "" {
		os.RemoveAll(binDir) // else every run leaves a binary in the temp dir
	}
	os.Exit(code)
}

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// reconBinary builds the recon binary once per test run, into a directory
// TestMain removes.
func reconBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "recon-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "recon")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = errors.New(string(out))
		}
	})
	if binErr != nil {
		t.Fatalf("build recon: %v", binErr)
	}
	return binPath
}

// database is one planted side: how the test opens it and how the config names it.
type database struct {
	dialect drift.Dialect
	driver  string // database/sql driver for planting
	dsn     string
}

func openDatabase(t *testing.T, kind string) database {
	switch kind {
	case "postgres":
		return database{"postgres", "postgres", dbtest.Postgres(t)}
	case "pgx": // PostgreSQL through pgx, planted and read
		return database{"postgres", "pgx", dbtest.Postgres(t)}
	case "mysql":
		return database{"mysql", "mysql", dbtest.MySQL(t)}
	}
	return database{"sqlite", "sqlite", filepath.Join(t.TempDir(), "db.sqlite")}
}

// TestEndToEndFindsPlantedDriftExactly plants the drift scenario into real
// databases, runs the built binary and reads exceptions.parquet back with an
// independent Parquet reader: every planted exception is found, nothing else.
func TestEndToEndFindsPlantedDriftExactly(t *testing.T) {
	for _, pair := range [][2]string{{"postgres", "mysql"}, {"mysql", "postgres"}, {"sqlite", "sqlite"}, {"pgx", "mysql"}} {
		t.Run(pair[0]+"_vs_"+pair[1], func(t *testing.T) {
			crm, billing := openDatabase(t, pair[0]), openDatabase(t, pair[1])
			plant(t, crm, billing, 300)
			cfgPath := filepath.Join(t.TempDir(), "recon.yaml")
			cfg := drift.Config(drift.System{Driver: crm.driver, DSN: "${CRM_DSN}"}, drift.System{Driver: billing.driver, DSN: "${BILLING_DSN}"})
			if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			cmd := exec.Command(reconBinary(t), "run", "--config", cfgPath, "--out", out)
			cmd.Env = append(os.Environ(), "CRM_DSN="+crm.dsn, "BILLING_DSN="+billing.dsn)
			output, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != exitBreached {
				t.Fatalf("recon run: %v, want exit 1 (accounts_vs_customers breaches its drift rate)\n%s", err, output)
			}
			dir := onlyRunDir(t, out)
			rows, err := reporttest.ReadExceptions(filepath.Join(dir, "exceptions.parquet"))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, r.String())
				// Each side's stored key is there exactly where the side has
				// the record (the planted duplicate and invalid records all
				// match a record on the other side).
				hasSource, hasTarget := r.Kind != "missing_in_source", r.Kind != "missing_in_target"
				if r.RecordKey == nil {
					hasSource, hasTarget = false, false
				}
				if (r.SourceKey != nil) != hasSource || (r.TargetKey != nil) != hasTarget {
					t.Errorf("%s: source_key %v, target_key %v", r, r.SourceKey, r.TargetKey)
				}
			}
			want := drift.Expected()
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("exceptions differ from the planted drift\nmissed: %v\nfalse alarms: %v", minus(want, got), minus(got, want))
			}
			sum, err := reporttest.ReadSummary(dir)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Status != "breached" || len(sum.Reconciliations) != 2 {
				t.Fatalf("summary: %+v", sum)
			}
			opps := sum.Reconciliations[0]
			// 300 clean pairs plus the planted cases: 11 closed-won drifting
			// opportunities and 11 lookalikes in the CRM (one more is not
			// closed won); 14 drifting invoices and 11 lookalikes in billing.
			for k, v := range map[string]float64{"source_count": 300 + 11 + 11, "target_count": 300 + 14 + 11, "missing_in_target": 1,
				"missing_in_source": 2, "records_with_field_mismatch": 6, "timestamp_misaligned": 2, "duplicate_keys": 1, "invalid_records": 2} {
				if opps[k] != v {
					t.Errorf("opportunities_vs_invoices %s = %v, want %v", k, opps[k], v)
				}
			}
		})
	}
}

func plant(t *testing.T, crm, billing database, filler int) {
	t.Helper()
	src, err := sql.Open(crm.driver, crm.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tgt, err := sql.Open(billing.driver, billing.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	if err := drift.Plant(context.Background(), src, crm.dialect, tgt, billing.dialect, filler); err != nil {
		t.Fatal(err)
	}
}

func onlyRunDir(t *testing.T, out string) string {
	t.Helper()
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	if len(dirs) != 1 || strings.HasPrefix(dirs[0], ".") {
		t.Fatalf("want one report directory in %s, found %v", out, dirs)
	}
	return filepath.Join(out, dirs[0])
}

// minus returns the items of a not in b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
