package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recon-dev/recon/internal/drift"
)

// repairDemo plants the repair scenario in two SQLite files and writes its
// config (direction source_to_target) with extra repair settings.
func repairDemo(t *testing.T, extra string) (dir, cfg string) {
	t.Helper()
	dir = t.TempDir()
	var dbs []*sql.DB
	for _, name := range []string{"crm.db", "mirror.db"} {
		db, err := sql.Open("sqlite", filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs = append(dbs, db)
	}
	if err := drift.PlantRepairs(context.Background(), dbs[0], "sqlite", dbs[1], "sqlite", 5); err != nil {
		t.Fatal(err)
	}
	text := drift.RepairConfig(drift.System{Driver: "sqlite", DSN: "crm.db"}, drift.System{Driver: "sqlite", DSN: "mirror.db"}, "source_to_target")
	return dir, writeFile(t, dir, "recon.yaml", strings.Replace(text, "      batch_size: 4\n", "      batch_size: 4\n"+extra, 1))
}

func runOnce(t *testing.T, cfg string) string {
	t.Helper()
	out := t.TempDir()
	if code, stdout, stderr := runRecon(t, nil, "run", "--config", cfg, "--out", out); code != exitOK {
		t.Fatalf("run: exit %d\n%s%s", code, stdout, stderr)
	}
	return onlyRunDir(t, out)
}

func mirrorRows(t *testing.T, dir, query string) string {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, "mirror.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var s string
	if err := db.QueryRow(query).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

const mirrorState = "SELECT group_concat(crm_id || '=' || coalesce(name, '∅') || '/' || is_deleted, ',') FROM (SELECT * FROM mirror_accounts ORDER BY crm_id)"

func TestApplyRefusesAChangedConfig(t *testing.T) {
	dir, cfg := repairDemo(t, "")
	run := runOnce(t, cfg)
	text, _ := os.ReadFile(cfg)
	writeFile(t, dir, "recon.yaml", strings.Replace(string(text), "{name: notes, type: string}", "{name: notes, type: string, normalize: [trim]}", 1))
	before := mirrorRows(t, dir, mirrorState)
	code, _, stderr := runRecon(t, nil, "apply", "--config", cfg, "--run", run, "--execute")
	if code != exitError || !strings.Contains(stderr, "accounts_to_mirror: its config changed since run") || !strings.Contains(stderr, "Try: recon run --config") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	if after := mirrorRows(t, dir, mirrorState); after != before {
		t.Error("a refused apply changed the mirror")
	}
	code, _, stderr = runRecon(t, nil, "apply", "--config", cfg, "--run", run, "--only", "nope")
	if code != exitError || !strings.Contains(stderr, `--only "nope"`) {
		t.Errorf("--only nope: exit %d\n%s", code, stderr)
	}
	code, _, stderr = runRecon(t, nil, "apply", "--config", cfg)
	if code != exitError || !strings.Contains(stderr, "no run given") {
		t.Errorf("no --run: exit %d\n%s", code, stderr)
	}
}

func TestApplyRefusesMoreThanMaxChangesWithoutForce(t *testing.T) {
	dir, cfg := repairDemo(t, "      max_changes: 3\n")
	run := runOnce(t, cfg)
	before := mirrorRows(t, dir, mirrorState)
	code, _, stderr := runRecon(t, nil, "apply", "--config", cfg, "--run", run, "--execute")
	if code != exitError || !strings.Contains(stderr, "more than repair.max_changes 3") || !strings.Contains(stderr, "--force") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if mirrorRows(t, dir, mirrorState) != before {
		t.Fatal("a refused apply changed the mirror")
	}
	code, stdout, stderr := runRecon(t, nil, "apply", "--config", cfg, "--run", run, "--execute", "--force")
	if code != exitOK || !strings.Contains(stdout, "applied; rows changed: 1 insert, 9 update, 1 soft_delete") {
		t.Errorf("--force: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestApplyRefusesAnEditedPlan(t *testing.T) {
	dir, cfg := repairDemo(t, "")
	run := runOnce(t, cfg)
	plan := filepath.Join(run, "repairs", "accounts_to_mirror.sql")
	text, err := os.ReadFile(plan)
	if err != nil {
		t.Fatal(err)
	}
	before := mirrorRows(t, dir, mirrorState)
	for _, c := range []struct{ edit, want string }{
		{strings.Replace(string(text), "BEGIN;\n", "BEGIN;\nDELETE FROM mirror_accounts; -- update\n", 1), "line 7: not a recon repair statement"},
		{strings.Replace(string(text), "'Account 900018'", "'Account 900018 edited'", 1), "accounts_to_mirror.sql was changed since the run wrote it"},
	} {
		if c.edit == string(text) {
			t.Fatal("the edit changed nothing")
		}
		if err := os.WriteFile(plan, []byte(c.edit), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runRecon(t, nil, "apply", "--config", cfg, "--run", run, "--execute")
		if code != exitError || !strings.Contains(stderr, c.want) {
			t.Errorf("exit %d, want 2 and %q\n%s", code, c.want, stderr)
		}
		if mirrorRows(t, dir, mirrorState) != before {
			t.Fatal("an edited plan changed the mirror")
		}
	}
}

// A batch that fails is rolled back whole, the batches before it stay
// committed, and applying again resumes with it.
func TestApplyStopsAtAFailedBatchAndResumes(t *testing.T) {
	dir, cfg := repairDemo(t, "")
	run := runOnce(t, cfg)
	db, err := sql.Open("sqlite", filepath.Join(dir, "mirror.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The third batch updates 900018 last: a trigger makes it fail there.
	if _, err := db.Exec(`CREATE TRIGGER block BEFORE UPDATE ON mirror_accounts WHEN OLD.crm_id = '900018'
		BEGIN SELECT RAISE(ABORT, 'blocked by a trigger'); END`); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runRecon(t, nil, "apply", "--config", cfg, "--run", run, "--execute")
	for _, w := range []string{"batch 3 of 3 failed at line", "rolled back", "blocked by a trigger", "batches 1 to 2 are committed", "run recon apply again"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q", w)
		}
	}
	if code != exitError || !strings.Contains(stdout, "(2 of 3 batches committed)") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	// Batch 3 also soft-deletes 900014: rolled back with the failure.
	if got := mirrorRows(t, dir, "SELECT is_deleted || '/' || (SELECT count(*) FROM mirror_accounts WHERE crm_id = '900013') FROM mirror_accounts WHERE crm_id = '900014'"); got != "0/1" {
		t.Errorf("after the failed batch, 900014 is_deleted / 900013 inserted = %s, want 0/1 (batch 2 committed, batch 3 rolled back)", got)
	}
	if _, err := db.Exec("DROP TRIGGER block"); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runRecon(t, nil, "apply", "--config", cfg, "--run", run, "--execute")
	if code != exitOK || !strings.Contains(stdout, "rows changed: 1 insert, 9 update, 1 soft_delete (3 of 3 batches committed)") {
		t.Errorf("resumed: exit %d\n%s%s", code, stdout, stderr)
	}
}
