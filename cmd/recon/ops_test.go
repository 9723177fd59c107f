package main

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/recon-dev/recon/internal/dbtest"
	"github.com/recon-dev/recon/internal/drift"
	"github.com/recon-dev/recon/internal/reporttest"
)

// hooks is a webhook receiver on loopback that answers 503 to its first
// failFirst requests, then records the bodies it gets.
type hooks struct {
	mu        sync.Mutex
	failFirst int
	requests  int
	bodies    []string
}

func (h *hooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests++
	if h.requests <= h.failFirst {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	h.bodies = append(h.bodies, r.URL.Path+" "+string(b))
}

func (h *hooks) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...)
}

// A breach is alerted (retried after a failure); recon status is fresh
// right after, and once a reconciliation goes past its max_staleness it
// exits 3 and alerts that too: the dead man's switch.
func TestAlertsAndDeadMansSwitch(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			stateDSN := "recon-state.db"
			if kind == "postgres" {
				stateDSN = dbtest.Postgres(t)
			}
			alertsAndDeadMansSwitch(t, stateDSN)
		})
	}
}

func alertsAndDeadMansSwitch(t *testing.T, stateDSN string) {
	h := &hooks{failFirst: 1}
	srv := httptest.NewServer(h)
	defer srv.Close()
	dir := demoConfig(t)
	text, _ := os.ReadFile(filepath.Join(dir, "recon.yaml"))
	cfg := strings.Replace(string(text), "version: 1\n", fmt.Sprintf("version: 1\nstate: %q\nalerts:\n  webhooks: [{url: %q, format: json}]\n  ping: %q\n",
		stateDSN, srv.URL+"/hook/${HOOK_TOKEN}", srv.URL+"/ping"), 1)
	cfg = strings.Replace(cfg, "  - name: accounts_vs_customers\n", "  - name: accounts_vs_customers\n    max_staleness: 6s\n", 1)
	path := writeFile(t, dir, "alerts.yaml", cfg)
	env := map[string]string{"HOOK_TOKEN": "tok-3f9a"}

	code, _, stderr := runRecon(t, env, "run", "--config", path, "--out", t.TempDir())
	if code != exitBreached {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	got := h.got()
	var breach struct {
		Event, Summary  string
		Reconciliations []map[string]any
	}
	if len(got) != 3 || !strings.HasPrefix(got[0], "/ping/start ") || !strings.HasPrefix(got[1], "/ping ") || !strings.HasPrefix(got[2], "/hook/tok-3f9a ") {
		t.Fatalf("the receiver got %q", got)
	}
	if err := json.Unmarshal([]byte(strings.SplitN(got[2], " ", 2)[1]), &breach); err != nil || breach.Event != "breach" ||
		!strings.Contains(breach.Summary, "accounts_vs_customers breached drift_rate") || len(breach.Reconciliations) != 2 {
		t.Errorf("breach alert %+v (%v)", breach, err)
	}
	if h.requests != 4 {
		t.Errorf("%d requests, want 4: the first ping failed and was retried", h.requests)
	}

	code, stdout, _ := runRecon(t, env, "status", "--config", path)
	if code != exitOK || !strings.Contains(stdout, "Coverage: 2 of 2") {
		t.Fatalf("status right after the run: exit %d\n%s", code, stdout)
	}
	time.Sleep(6 * time.Second)
	code, stdout, _ = runRecon(t, env, "status", "--config", path, "--json")
	var st struct {
		Coverage float64
		Stale    []string
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || code != exitStale || st.Coverage != 0.5 || strings.Join(st.Stale, ",") != "accounts_vs_customers" {
		t.Fatalf("status past max_staleness: exit %d, %+v, %v\n%s", code, st, err, stdout)
	}
	got = h.got()
	if last := got[len(got)-1]; !strings.Contains(last, `"event":"stale"`) || !strings.Contains(last, "accounts_vs_customers") {
		t.Errorf("stale alert: %s", last)
	}
}

// No password reaches a log, an alert, the state store or a report, even
// when a system refuses it.
func TestNoPasswordAnywhere(t *testing.T) {
	const pgPassword, myPassword = "Pg-s3cret-7741", "My-s3cret-9902"
	h := &hooks{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	pg := withPassword(t, dbtest.Postgres(t), pgPassword) // trust auth: accepted
	if !strings.Contains(pg, pgPassword) {
		t.Fatalf("the DSN %q carries no password: the test would prove nothing", pg)
	}
	my, err := gomysql.ParseDSN(dbtest.MySQL(t))
	if err != nil {
		t.Fatal(err)
	}
	my.Passwd = myPassword // refused
	crm := database{"postgres", "postgres", pg}
	plant(t, crm, database{"sqlite", "sqlite", filepath.Join(t.TempDir(), "unused.db")}, 5)
	dir := t.TempDir()
	cfg := drift.Config(drift.System{Driver: "postgres", DSN: "${CRM_DSN}"}, drift.System{Driver: "mysql", DSN: "${BILLING_DSN}"})
	cfg = strings.Replace(cfg, "version: 1\n", fmt.Sprintf("version: 1\nalerts: {webhooks: [{url: %q, format: slack}, {url: %q}]}\n", srv.URL+"/s", srv.URL+"/j"), 1)
	path := writeFile(t, dir, "recon.yaml", cfg)
	env := map[string]string{"CRM_DSN": pg, "BILLING_DSN": my.FormatDSN()}
	out := t.TempDir()
	code, stdout, stderr := runRecon(t, env, "run", "--config", path, "--out", out, "--log-level", "debug", "--log-format", "json")
	if code != exitError || !strings.Contains(stdout, "Access denied") {
		t.Fatalf("exit %d, want 2 (billing refuses the password)\n%s%s", code, stdout, stderr)
	}
	_, statusOut, _ := runRecon(t, env, "status", "--config", path, "--json")
	texts := map[string]string{"stdout": stdout, "stderr and logs": stderr, "status": statusOut, "alerts": strings.Join(h.got(), "\n")}
	if !strings.Contains(texts["alerts"], `auth`) {
		t.Errorf("no auth failure alerted: %s", texts["alerts"])
	}
	filepath.Walk(out, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			b, _ := os.ReadFile(p)
			texts[p] = string(b)
		}
		return nil
	})
	for _, f := range []string{"recon-state.db", "recon-state.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		texts[f] = string(b)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "recon-state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows string
	if err := db.QueryRow("SELECT group_concat(coalesce(error, '') || config_hash, ' ') FROM recon_runs").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	texts["state rows"] = rows
	if !strings.Contains(rows, "Access denied") {
		t.Errorf("the state does not record the failure: %s", rows)
	}
	for name, text := range texts {
		for _, secret := range []string{pgPassword, myPassword} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds a password", name)
			}
		}
	}
}

// withPassword returns a postgres:// DSN with a password.
func withPassword(t *testing.T, dsn, password string) string {
	t.Helper()
	return strings.Replace(dsn, "postgres://postgres@", "postgres://postgres:"+password+"@", 1)
}

// A PostgreSQL backend that stops answering mid-read (SIGSTOP) ends the
// run, classified connectivity, within the reconciliation's timeout:
// never a nightly job hung for good.
func TestHungDatabaseEndsTheRunWithinItsTimeout(t *testing.T) {
	pg := dbtest.Postgres(t)
	dir := t.TempDir()
	lite, err := sql.Open("sqlite", filepath.Join(dir, "lite.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lite.Exec("CREATE TABLE t (id INTEGER, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	lite.Close()
	writeFile(t, dir, "slow.sql", "SELECT g AS id, 'x' AS v FROM generate_series(1, 20000000) g")
	path := writeFile(t, dir, "recon.yaml", `version: 1
systems: {pg: {driver: postgres, dsn: "${PG_DSN}"}, lite: {driver: sqlite, dsn: lite.db}}
reconciliations:
  - name: slow
    timeout: 3s
    source: {system: pg, query: slow.sql}
    target: {system: lite, table: t}
    key: [{source: id, type: int}]
    fields: [{name: v}]
`)
	out := t.TempDir()
	cmd := exec.Command(reconBinary(t), "run", "--config", path, "--out", out)
	cmd.Env = append(os.Environ(), "PG_DSN="+pg)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	admin, err := sql.Open("postgres", pg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		admin.QueryRow("SELECT pid FROM pg_stat_activity WHERE query LIKE '%generate_series%' AND pid <> pg_backend_pid() AND state = 'active'").Scan(&pid)
	}
	if pid == 0 {
		cmd.Process.Kill()
		t.Fatalf("recon's query never showed up\n%s", stderr.String())
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	defer syscall.Kill(pid, syscall.SIGCONT)
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("recon still waits on the stopped backend 30 s later\n%s", stderr.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitError {
		t.Fatalf("exit: %v, want 2\n%s", err, stderr.String())
	}
	if took := time.Since(stopped); took > 8*time.Second {
		t.Errorf("the run ended %s after the backend stopped; its timeout is 3 s", took)
	}
	sum, err := reporttest.ReadSummary(onlyRunDir(t, out))
	if err != nil {
		t.Fatal(err)
	}
	r := sum.Reconciliations[0]
	if r["error_class"] != "connectivity" || !strings.Contains(fmt.Sprint(r["error"]), "timed out after 3s") {
		t.Errorf("error %v, class %v", r["error"], r["error_class"])
	}
}

// recon schedule, the built binary on an every-two-seconds schedule, runs
// and records both reconciliations, serves its metrics, and on SIGTERM
// stops cleanly: exit 0, every report complete.
func TestScheduleDaemonRunsAndStopsOnSIGTERM(t *testing.T) {
	dir := demoConfig(t)
	text, _ := os.ReadFile(filepath.Join(dir, "recon.yaml"))
	path := writeFile(t, dir, "daemon.yaml", strings.Replace(string(text), "version: 1\n", "version: 1\nschedule: \"*/2 * * * * *\"\n", 1))
	out := t.TempDir()
	cmd := exec.Command(reconBinary(t), "schedule", "--config", path, "--out", out, "--metrics-addr", "127.0.0.1:0", "--log-format", "json", "--log-level", "info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var mu sync.Mutex
	var logs []map[string]any
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		dec := json.NewDecoder(stderr)
		for {
			var line map[string]any
			if err := dec.Decode(&line); err != nil {
				return
			}
			mu.Lock()
			logs = append(logs, line)
			mu.Unlock()
		}
	}()
	find := func(msg string) []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		var got []map[string]any
		for _, l := range logs {
			if l["msg"] == msg {
				got = append(got, l)
			}
		}
		return got
	}
	deadline := time.Now().Add(40 * time.Second)
	for len(find("run finished")) < 4 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	finished := find("run finished")
	if len(finished) < 4 {
		t.Fatalf("%d runs finished in 40 s: %v", len(finished), logs)
	}
	addr := find("serving metrics")
	if len(addr) != 1 {
		t.Fatalf("no metrics address logged")
	}
	resp, err := http.Get("http://" + addr[0]["addr"].(string) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`recon_runs_total{reconciliation="accounts_vs_customers",status="breached"}`, `recon_last_run_success{reconciliation="opportunities_vs_invoices"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { <-logged; done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after SIGTERM: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("still running a minute after SIGTERM")
	}
	if len(find("stopped")) != 1 {
		t.Errorf("no clean stop logged")
	}
	code, stdout, _ := runRecon(t, nil, "status", "--config", path, "--json")
	var st struct {
		Reconciliations []struct {
			Name  string
			Trend []struct {
				Trigger, Status string
				Mode            *string
				DurationSeconds *float64 `json:"duration_seconds"`
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || code != exitOK {
		t.Fatalf("status: exit %d, %v\n%s", code, err, stdout)
	}
	for _, r := range st.Reconciliations {
		if len(r.Trend) < 2 || r.Trend[0].Trigger != "schedule" || r.Trend[0].Status == "error" {
			t.Errorf("%s: history %+v", r.Name, r.Trend)
			continue
		}
		if last := r.Trend[0]; last.Mode == nil || *last.Mode != "rows" || last.DurationSeconds == nil || *last.DurationSeconds <= 0 {
			t.Errorf("%s: the last run's mode %v and duration %v", r.Name, last.Mode, last.DurationSeconds)
		}
	}
	entries, _ := os.ReadDir(out)
	reports := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".partial") {
			t.Errorf("a partial report was left: %s", e.Name())
		} else if e.IsDir() {
			reports++
		}
	}
	if reports < len(finished) {
		t.Errorf("%d reports for %d finished runs", reports, len(finished))
	}
}

// The garbage collector's soft limit follows --memory, unless GOMEMLIMIT
// sets one.
func TestMemoryLimitFollowsTheBudget(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	limitMemory(100)
	if got := debug.SetMemoryLimit(-1); got != (100+memoryHeadroomMiB)<<20 {
		t.Errorf("limit %d, want %d", got, (100+memoryHeadroomMiB)<<20)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "1GiB")
	limitMemory(100)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set, yet the limit became %d", got)
	}
}
