package state_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recon-dev/recon/internal/dbtest"
	"github.com/recon-dev/recon/internal/state"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// stores returns a fresh store of each kind, and how to open another
// handle on the same one (as a second process would).
func stores(t *testing.T) map[string]func(*testing.T) *state.Store {
	t.Helper()
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "recon-state.db")
	pg := dbtest.Postgres(t)
	open := func(dsn string) func(*testing.T) *state.Store {
		return func(t *testing.T) *state.Store {
			s, err := state.Open(ctx, dsn, "", "test")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	}
	return map[string]func(*testing.T) *state.Store{"sqlite": open(file), "postgres": open(pg)}
}

var t0 = time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)

func ids(names ...string) []state.Identity {
	var out []state.Identity
	for _, n := range names {
		out = append(out, state.Identity{Kind: "field_mismatch", RecordKey: n, Field: "amount"})
	}
	return out
}

// storedRows counts the open set's rows, unopened ones included.
func storedRows(t *testing.T, s *state.Store) int {
	t.Helper()
	var n int
	if err := state.DB(s).QueryRow("SELECT COUNT(*) FROM recon_open_exceptions").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A scripted sequence of runs: drift appears, persists, changes, a run
// fails (and resolves nothing), then it is repaired.
func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	for kind, open := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			s := open(t)
			day := 24 * time.Hour
			seen := func(run string, at time.Time, names ...string) []state.FirstSeen {
				fs, err := s.Seen(ctx, run, "deals", at, ids(names...))
				if err != nil {
					t.Fatal(err)
				}
				return fs
			}
			finish := func(run string, at time.Time, want state.Lifecycle) {
				t.Helper()
				lc, err := s.Finish(ctx, run, "deals", at)
				if err != nil {
					t.Fatal(err)
				}
				if lc != want {
					t.Errorf("%s: lifecycle %+v, want %+v", run, lc, want)
				}
			}
			seen("r1", t0, "A", "B")
			seen("r1", t0, "B") // seen twice in one run: one exception
			finish("r1", t0, state.Lifecycle{New: 2})

			fs := seen("r2", t0.Add(day), "B", "C")
			if fs[0] != (state.FirstSeen{Run: "r1", At: t0}) || fs[1] != (state.FirstSeen{Run: "r2", At: t0.Add(day)}) {
				t.Errorf("first seen %+v", fs)
			}
			finish("r2", t0.Add(day), state.Lifecycle{New: 1, Open: 1, Resolved: 1}) // A resolved after a day

			seen("r3", t0.Add(2*day), "C") // this run fails
			if err := s.Discard(ctx, "r3", "deals"); err != nil {
				t.Fatal(err)
			}
			if n, _ := s.OpenExceptions(ctx, "deals"); n != 2 {
				t.Errorf("after a failed run, %d open, want 2 (B and C): a failed run resolves nothing", n)
			}
			if fs := seen("r4", t0.Add(3*day), "C", "D"); fs[0].Run != "r2" || fs[1].Run != "r4" {
				t.Errorf("first seen %+v", fs)
			}
			finish("r4", t0.Add(3*day), state.Lifecycle{New: 1, Open: 1, Resolved: 1}) // B resolved
			finish("r5", t0.Add(4*day), state.Lifecycle{Resolved: 2})                  // all repaired

			n, open, err := s.Resolutions(ctx, "deals", t0)
			if err != nil {
				t.Fatal(err)
			}
			// A open 1 day, B 3 days, C 3 days, D 1 day: to the start of the run that found each gone.
			want := (1 + 3 + 3 + 1) * day
			if n != 4 || open != want {
				t.Errorf("resolved %d, open %s in all; want 4 and %s", n, open, want)
			}
			if n, _ := s.OpenExceptions(ctx, "deals"); n != 0 {
				t.Errorf("%d open at the end", n)
			}
			if rows := storedRows(t, s); rows != 0 {
				t.Errorf("recon_open_exceptions keeps %d rows: a failed run's sightings must not outlive the next run", rows)
			}
		})
	}
}

// A run that dies between its sightings and Finish (killed, so neither
// Finish nor Discard runs) opens nothing and resolves nothing: the next
// run first sees what it saw, and what it alone saw is dropped uncounted.
func TestRunThatDied(t *testing.T) {
	ctx := context.Background()
	for kind, open := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			s := open(t)
			hour := time.Hour
			if _, err := s.Seen(ctx, "r1", "deals", t0, ids("A", "B")); err != nil {
				t.Fatal(err)
			}
			if lc, err := s.Finish(ctx, "r1", "deals", t0); err != nil || lc != (state.Lifecycle{New: 2}) {
				t.Fatalf("r1: %+v %v", lc, err)
			}
			// r2 sees B, C and D, then dies.
			if _, err := s.Seen(ctx, "r2", "deals", t0.Add(hour), ids("B", "C", "D")); err != nil {
				t.Fatal(err)
			}
			if n, err := s.OpenExceptions(ctx, "deals"); err != nil || n != 2 {
				t.Errorf("while r2 runs: %d open (%v), want 2: what a run saw is not open before it completes", n, err)
			}
			fs, err := s.Seen(ctx, "r3", "deals", t0.Add(2*hour), ids("B", "C"))
			if err != nil {
				t.Fatal(err)
			}
			if fs[0] != (state.FirstSeen{Run: "r1", At: t0}) || fs[1] != (state.FirstSeen{Run: "r3", At: t0.Add(2 * hour)}) {
				t.Errorf("r3 first seen %+v: B since r1, C since r3 (r2 died)", fs)
			}
			lc, err := s.Finish(ctx, "r3", "deals", t0.Add(2*hour))
			if want := (state.Lifecycle{New: 1, Open: 1, Resolved: 1}); err != nil || lc != want {
				t.Errorf("r3: %+v %v, want %+v (A resolved; D, seen only by r2, neither new nor resolved)", lc, err, want)
			}
			if rows := storedRows(t, s); rows != 2 {
				t.Errorf("after r3: %d rows, want B and C", rows)
			}
		})
	}
}

// A run that lost its lock (paused past its lease while another run took
// over) and wakes for one more batch, or to finish, takes nothing from the
// run that started after it: both fail, and its Discard leaves the later
// run's sightings alone.
func TestRunThatLostItsLock(t *testing.T) {
	ctx := context.Background()
	for kind, open := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			s := open(t)
			hour := time.Hour
			if _, err := s.Seen(ctx, "r1", "deals", t0, ids("B")); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Finish(ctx, "r1", "deals", t0); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Seen(ctx, "r3", "deals", t0.Add(2*hour), ids("A", "B")); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Seen(ctx, "r2", "deals", t0.Add(hour), ids("A", "B")); err == nil || !strings.Contains(err.Error(), "lost its lock") {
				t.Errorf("a batch of r2, which r3 started after: %v, want it refused", err)
			}
			if _, err := s.Finish(ctx, "r2", "deals", t0.Add(hour)); err == nil || !strings.Contains(err.Error(), "lost its lock") {
				t.Errorf("r2 finishing after r3 marked its exceptions: %v, want it refused", err)
			}
			if err := s.Discard(ctx, "r2", "deals"); err != nil {
				t.Fatal(err)
			}
			lc, err := s.Finish(ctx, "r3", "deals", t0.Add(2*hour))
			if want := (state.Lifecycle{New: 1, Open: 1}); err != nil || lc != want {
				t.Errorf("r3: %+v %v, want %+v", lc, err, want)
			}
			if n, err := s.OpenExceptions(ctx, "deals"); err != nil || n != 2 {
				t.Errorf("after r3: %d open (%v), want A and B", n, err)
			}
		})
	}
}

// A store at schema version 2 keeps its open exceptions through the
// migration to version 3: they stay open, first seen when they were.
func TestMigrationKeepsOpenExceptions(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "recon-state.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range state.Migrations[:2] {
		for _, stmt := range strings.Split(m, ";\n") {
			if _, err := db.Exec(stmt); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, stmt := range []string{
		"CREATE TABLE recon_schema (version BIGINT NOT NULL)", "INSERT INTO recon_schema VALUES (2)",
		"INSERT INTO recon_open_exceptions VALUES ('deals', 'field_mismatch', 'A', 'amount', 'r1', '2026-11-01T02:00:00.000000Z')",
		"INSERT INTO recon_seen VALUES ('r2', 'deals', 'field_mismatch', 'B', 'amount')", // of a run that died
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := state.Open(ctx, path, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.OpenExceptions(ctx, "deals"); err != nil || n != 1 {
		t.Errorf("after the migration: %d open (%v), want 1", n, err)
	}
	fs, err := s.Seen(ctx, "r3", "deals", t0.Add(time.Hour), ids("A", "B"))
	if err != nil || fs[0] != (state.FirstSeen{Run: "r1", At: t0}) || fs[1].Run != "r3" {
		t.Errorf("first seen %+v, %v", fs, err)
	}
	if lc, err := s.Finish(ctx, "r3", "deals", t0.Add(time.Hour)); err != nil || lc != (state.Lifecycle{New: 1, Open: 1}) {
		t.Errorf("r3: %+v %v", lc, err)
	}
}

func TestRunHistory(t *testing.T) {
	ctx := context.Background()
	for kind, open := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			s := open(t)
			for i, status := range []string{"ok", "error", "breached"} {
				start := t0.Add(time.Duration(i) * time.Hour)
				r := state.Run{RunID: "r" + string(rune('1'+i)), Reconciliation: "deals", Trigger: "schedule", ConfigHash: "h", StartedAt: start}
				if err := s.StartRun(ctx, r); err != nil {
					t.Fatal(err)
				}
				end := start.Add(time.Minute)
				r.FinishedAt, r.Status, r.Matched, r.InAgreement = &end, status, 100, 99
				if status == "error" {
					class := "connectivity"
					r.ErrorClass = &class
				} else {
					mode, seconds := []string{"rows", "", "checksum"}[i], 1.5+float64(i)
					r.Mode, r.DurationSeconds = &mode, &seconds
				}
				if err := s.EndRun(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			runs, err := s.Runs(ctx, "deals", time.Time{}, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 2 || runs[0].RunID != "r3" || runs[1].RunID != "r2" || *runs[1].ErrorClass != "connectivity" || runs[0].InAgreement != 99 {
				t.Errorf("runs %+v", runs)
			}
			last, err := s.LastSuccess(ctx, "deals")
			if err != nil || last == nil || last.RunID != "r3" || last.FinishedAt == nil || !last.FinishedAt.Equal(t0.Add(2*time.Hour+time.Minute)) {
				t.Errorf("last success %+v, %v", last, err)
			}
			ok, err := s.Successes(ctx, "deals", 8)
			if err != nil || len(ok) != 2 || ok[0].RunID != "r3" || ok[1].RunID != "r1" {
				t.Fatalf("successes %+v, %v", ok, err)
			}
			if ok[0].Mode == nil || *ok[0].Mode != "checksum" || *ok[0].DurationSeconds != 3.5 || *ok[1].Mode != "rows" || *ok[1].DurationSeconds != 1.5 {
				t.Errorf("modes and durations %+v", ok)
			}
			if runs[1].Mode != nil || runs[1].DurationSeconds != nil {
				t.Errorf("a run that failed has a mode or a duration: %+v", runs[1])
			}
			// History survives a restart: another handle reads the same.
			again, err := open(t).Runs(ctx, "deals", time.Time{}, 0)
			if err != nil || len(again) != 3 {
				t.Errorf("after reopening: %d runs, %v", len(again), err)
			}
		})
	}
}

func TestLocks(t *testing.T) {
	ctx := context.Background()
	for kind, open := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			a, b := open(t), open(t)
			ok, _, err := a.TryLock(ctx, "deals", "host-a", t0, time.Minute)
			if err != nil || !ok {
				t.Fatalf("first lock: %v %v", ok, err)
			}
			ok, held, err := b.TryLock(ctx, "deals", "host-b", t0.Add(30*time.Second), time.Minute)
			if err != nil || ok || held.Holder != "host-a" || !held.ExpiresAt.Equal(t0.Add(time.Minute)) {
				t.Fatalf("a held lock taken: %v %+v %v", ok, held, err)
			}
			if ok, err := a.Renew(ctx, "deals", "host-a", t0.Add(50*time.Second), time.Minute); err != nil || !ok {
				t.Fatalf("renew: %v %v", ok, err)
			}
			// host-a dies: its lease runs out and host-b takes the lock.
			if ok, _, _ := b.TryLock(ctx, "deals", "host-b", t0.Add(100*time.Second), time.Minute); ok {
				t.Fatal("a renewed lease was taken before it expired")
			}
			if ok, _, err := b.TryLock(ctx, "deals", "host-b", t0.Add(111*time.Second), time.Minute); err != nil || !ok {
				t.Fatalf("an expired lease was not taken: %v %v", ok, err)
			}
			if ok, _ := a.Renew(ctx, "deals", "host-a", t0.Add(112*time.Second), time.Minute); ok {
				t.Fatal("host-a renewed a lock it lost")
			}
			if err := b.Unlock(ctx, "deals", "host-b"); err != nil {
				t.Fatal(err)
			}
			// Concurrent takers: exactly one wins.
			var wg sync.WaitGroup
			wins := make(chan string, 8)
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s := []*state.Store{a, b}[i%2]
					holder := string(rune('a' + i))
					if ok, _, err := s.TryLock(ctx, "race", holder, t0, time.Minute); err == nil && ok {
						wins <- holder
					} else if err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			close(wins)
			var winners []string
			for w := range wins {
				winners = append(winners, w)
			}
			if len(winners) != 1 {
				t.Errorf("winners %v, want exactly one", winners)
			}
		})
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	ctx := context.Background()
	for kind, open := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			s := open(t)
			if _, err := state.DB(s).Exec("UPDATE recon_schema SET version = 99"); err != nil {
				t.Fatal(err)
			}
			dsn := state.DSN(s)
			_, err := state.Open(ctx, dsn, "", "test")
			if !errors.Is(err, state.ErrNewerSchema) {
				t.Fatalf("opening a schema-99 store: %v", err)
			}
		})
	}
}

// A state: in libpq's key=value form is PostgreSQL, as a system's dsn may
// be: taken for a file's path, it made directories named after it,
// password and all.
func TestKeywordDSNIsPostgres(t *testing.T) {
	for dsn, want := range map[string]bool{
		"postgres://u:p@db/recon":                           true,
		"host=db user=recon password=pw dbname=recon":       true,
		"dbname=recon":                                      true,
		"recon-state.db":                                    false,
		"/var/lib/recon/state.db":                           false,
		"./state dbname=x.db":                               false, // a path with a space
		"weird=1 path=x":                                    false,
		"host=/var/run/postgresql user=postgres dbname=rec": true,
	} {
		if got := state.IsPostgres(dsn); got != want {
			t.Errorf("IsPostgres(%q) = %t, want %t", dsn, got, want)
		}
	}
	u, err := url.Parse(dbtest.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	// trust auth: the password is sent and not needed.
	dsn := fmt.Sprintf("host=%s port=%s user=postgres password=NotShown dbname=%s sslmode=disable", u.Hostname(), u.Port(), strings.TrimPrefix(u.Path, "/"))
	dir := t.TempDir()
	s, err := state.Open(context.Background(), dsn, dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var version string
	if err := state.DB(s).QueryRow("SELECT version()").Scan(&version); err != nil || !strings.HasPrefix(version, "PostgreSQL") {
		t.Fatalf("the store is %q (%v), want PostgreSQL", version, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("opening a key=value dsn wrote %v into the base directory", entries)
	}
}
