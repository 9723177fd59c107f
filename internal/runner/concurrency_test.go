package runner_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recon-dev/recon/internal/alert"
	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/runner"
	"github.com/recon-dev/recon/internal/schedule"
	"github.com/recon-dev/recon/internal/state"
)

// Two daemons and a manual recon run, all triggering one reconciliation
// every second on one state store, never run it at once: in the history,
// each run starts after the one before ended. The history survives a
// daemon's restart.
func TestNoOverlapUnderConcurrentTriggers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs daemons for seconds")
	}
	for kind, dsn := range stateStores(t) {
		t.Run(kind, func(t *testing.T) {
			s := newScenario(t, dsn, "    schedule: \"* * * * * *\"\n")
			s.grow(t, 20_000) // a run takes a while, so that triggers collide
			// They run for 4 s, and on until both a scheduled and a manual
			// run are in the history: on a loaded machine the manual loop
			// can hold the lock through every tick for a while.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			watch := openStore(t, s)
			go func(ctx context.Context, cancel context.CancelFunc) {
				for start := time.Now(); ctx.Err() == nil; time.Sleep(250 * time.Millisecond) {
					if time.Since(start) < 4*time.Second {
						continue
					}
					runs, _ := watch.Runs(ctx, "deals", time.Time{}, 0)
					kinds := map[string]bool{}
					for _, r := range runs {
						kinds[r.Trigger] = true
					}
					if kinds["schedule"] && kinds["manual"] {
						cancel()
					}
				}
			}(ctx, cancel)
			var wg sync.WaitGroup
			daemon := func(ctx context.Context, name string) {
				defer wg.Done()
				store := openStore(t, s)
				d := &schedule.Daemon{Config: s.cfg, State: store, Grace: time.Minute, NewRunner: func() *runner.Runner {
					return &runner.Runner{Config: s.cfg, State: store, Out: filepath.Join(s.dir, name)}
				}}
				if err := d.Run(ctx); err != nil {
					t.Error(err)
				}
			}
			wg.Add(3)
			go daemon(ctx, "daemon-1")
			go daemon(ctx, "daemon-2")
			go func() {
				defer wg.Done()
				store := openStore(t, s)
				r := &runner.Runner{Config: s.cfg, State: store, Trigger: "manual", Out: filepath.Join(s.dir, "manual")}
				for ctx.Err() == nil {
					if _, _, err := r.Run(context.Background(), s.cfg.Reconciliations); err != nil {
						t.Error(err)
					}
					time.Sleep(150 * time.Millisecond)
				}
			}()
			wg.Wait()
			runs := history(t, s)
			if len(runs) < 3 {
				t.Fatalf("%d runs", len(runs))
			}
			checkNoOverlap(t, runs)
			triggers := map[string]int{}
			for _, r := range runs {
				triggers[r.Trigger]++
			}
			if triggers["schedule"] == 0 || triggers["manual"] == 0 {
				t.Errorf("runs by trigger %v: want both scheduled and manual ones", triggers)
			}

			// A daemon restarted on the same state adds to the history.
			before := len(runs)
			ctx, cancel = context.WithTimeout(context.Background(), 2500*time.Millisecond)
			defer cancel()
			wg.Add(1)
			daemon(ctx, "daemon-1")
			runs = history(t, s)
			if len(runs) <= before {
				t.Errorf("after a restart: %d runs, before %d", len(runs), before)
			}
			checkNoOverlap(t, runs)
		})
	}
}

func openStore(t *testing.T, s *scenario) *state.Store {
	t.Helper()
	store, err := state.Open(context.Background(), s.cfg.State, "", s.cfg.StateName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// history reads the runs of "deals" through a new handle, oldest first.
func history(t *testing.T, s *scenario) []state.Run {
	t.Helper()
	runs, err := openStore(t, s).Runs(context.Background(), "deals", time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(runs)
	return runs
}

func checkNoOverlap(t *testing.T, runs []state.Run) {
	t.Helper()
	for i, r := range runs {
		if r.FinishedAt == nil || !r.Succeeded() {
			t.Errorf("run %s (%s): status %s", r.RunID, r.Trigger, r.Status)
			continue
		}
		if i > 0 && r.StartedAt.Before(*runs[i-1].FinishedAt) {
			t.Errorf("run %s (%s) started at %s, before run %s (%s) ended at %s", r.RunID, r.Trigger, r.StartedAt.Format(time.StampMicro),
				runs[i-1].RunID, runs[i-1].Trigger, runs[i-1].FinishedAt.Format(time.StampMicro))
		}
	}
}

// grow adds n agreeing records to both tables.
func (s *scenario) grow(t *testing.T, n int) {
	t.Helper()
	for _, table := range []string{"deals", "invoices"} {
		db := s.crm
		if table == "invoices" {
			db = s.inv
		}
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		for id := 1000; id < 1000+n; id++ {
			if _, err := tx.Exec(fmt.Sprintf("INSERT INTO %s VALUES (?, '1.00', '2024-01-01T00:00:00Z')", table), id); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

// On a stop, the daemon takes no new run and lets the run going on finish
// within its grace; past the grace the run is cancelled and leaves no
// report. Either way it returns.
func TestDaemonStopsGracefully(t *testing.T) {
	if testing.Short() {
		t.Skip("runs daemons for seconds")
	}
	for _, c := range []struct {
		grace    time.Duration
		finishes bool
	}{{time.Minute, true}, {50 * time.Millisecond, false}} {
		s := newScenario(t, "recon-state.db", "    schedule: \"* * * * * *\"\n")
		s.grow(t, 150_000)
		store := openStore(t, s)
		out := filepath.Join(s.dir, "reports")
		d := &schedule.Daemon{Config: s.cfg, State: store, Grace: c.grace, NewRunner: func() *runner.Runner {
			return &runner.Runner{Config: s.cfg, State: store, Out: out}
		}}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		// Stop as soon as a run holds the lock.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if held, _ := store.Holder(context.Background(), "deals", time.Now()); held != nil {
				break
			}
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(time.Minute):
			t.Fatal("the daemon did not stop")
		}
		runs := history(t, s)
		entries, _ := os.ReadDir(out)
		reports := 0
		for _, e := range entries {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				reports++
			}
		}
		if c.finishes && (len(runs) != 1 || !runs[0].Succeeded() || reports != 1) {
			t.Errorf("grace %s: %d runs (%+v), %d reports; want the run going on to finish", c.grace, len(runs), runs, reports)
		}
		if !c.finishes && (reports != 0 || (len(runs) == 1 && runs[0].Succeeded())) {
			t.Errorf("grace %s: %d reports, runs %+v; want the run cancelled", c.grace, reports, runs)
		}
	}
}

// A run waiting for the daemon's other run when the daemon is stopped
// never starts: the stop waits only for the run going on.
func TestDaemonStartsNoWaitingRunOnStop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a daemon for seconds")
	}
	s := newScenario(t, "recon-state.db", `    schedule: "* * * * * *"
  - name: deals_again
    source: {system: crm, table: deals}
    target: {system: billing, table: invoices}
    key: [{source: id, type: int}]
    fields: [{name: amount, type: decimal}]
    schedule: "* * * * * *"
`)
	s.grow(t, 150_000)
	store := openStore(t, s)
	d := &schedule.Daemon{Config: s.cfg, State: store, Grace: time.Minute, NewRunner: func() *runner.Runner {
		return &runner.Runner{Config: s.cfg, State: store, Out: filepath.Join(s.dir, "reports")}
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	held := func() bool {
		for _, name := range []string{"deals", "deals_again"} {
			if h, _ := store.Holder(context.Background(), name, time.Now()); h != nil {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(5 * time.Second); !held() && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var runs []string
	for _, name := range []string{"deals", "deals_again"} {
		h, err := store.Runs(context.Background(), name, time.Time{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range h {
			runs = append(runs, name+" "+r.Status)
		}
	}
	if len(runs) != 1 || !strings.HasSuffix(runs[0], " ok") {
		t.Errorf("runs %v: want the one going on at the stop, finished, and no other", runs)
	}
}

// The daemon gives a reconciliation that never succeeded its max_staleness
// from the daemon's start before it alerts, then alerts once per episode.
func TestDaemonAlertsStalenessOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a daemon for seconds")
	}
	var mu sync.Mutex
	var alerts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		alerts = append(alerts, string(b))
	}))
	defer srv.Close()
	got := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(alerts)
	}
	s := newScenario(t, "recon-state.db", "    schedule: \"0 0 1 1 *\"\n    max_staleness: 1s\n")
	store := openStore(t, s)
	d := &schedule.Daemon{Config: s.cfg, State: store, Grace: time.Minute, CheckEvery: 50 * time.Millisecond,
		Notifier: &alert.Notifier{Alerts: config.Alerts{Webhooks: []config.Webhook{{URL: srv.URL, Format: "json"}}}},
		NewRunner: func() *runner.Runner {
			return &runner.Runner{Config: s.cfg, State: store, Out: filepath.Join(s.dir, "reports")}
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(700 * time.Millisecond)
	if a := got(); len(a) != 0 {
		t.Fatalf("alerted within max_staleness of the daemon's start: %q", a)
	}
	time.Sleep(1300 * time.Millisecond)
	a := got()
	if len(a) != 1 || !strings.Contains(a[0], `"event":"stale"`) || !strings.Contains(a[0], "never succeeded") {
		t.Fatalf("alerts %q: want one stale alert", a)
	}
}
