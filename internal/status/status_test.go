package status

import (
	"testing"
	"time"

	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/state"
)

func TestMaxStaleness(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	started := now.Add(-10 * time.Hour)
	finished := started.Add(20 * time.Minute)
	last := &state.Run{StartedAt: started, FinishedAt: &finished}
	for _, c := range []struct {
		name string
		rc   config.Reconciliation
		want time.Duration
	}{
		{"the config's", config.Reconciliation{MaxStaleness: 3 * time.Hour, Schedule: "0 2 * * *"}, 3 * time.Hour},
		{"no schedule", config.Reconciliation{}, 26 * time.Hour},
		{"nightly: 1.1 days and the last run's 20 minutes", config.Reconciliation{Schedule: "0 2 * * *"}, time.Duration(1.1*float64(24*time.Hour)) + 20*time.Minute},
		{"hourly, in a zone", config.Reconciliation{Schedule: "CRON_TZ=America/New_York 15 * * * *"}, 66*time.Minute + 20*time.Minute},
		{"every 30 seconds", config.Reconciliation{Schedule: "*/30 * * * * *"}, 33*time.Second + 20*time.Minute},
	} {
		if got := MaxStaleness(c.rc, last, now); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	if got := MaxStaleness(config.Reconciliation{Schedule: "0 2 * * *"}, nil, now); got != time.Duration(1.1*float64(24*time.Hour)) {
		t.Errorf("never ran: %s", got)
	}
	// The interval is the schedule's at the last success's start.
	day := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, time.UTC) } // the 30th is a Monday
	for _, c := range []struct {
		name     string
		schedule string
		started  time.Time
		interval time.Duration
	}{
		{"weekdays, Friday's run: the weekend", "0 2 * * 1-5", day(27, 2, 0), 72 * time.Hour},
		{"weekdays, Thursday's run", "0 2 * * 1-5", day(26, 2, 0), 24 * time.Hour},
		{"weekdays, a run a little late", "0 2 * * 1-5", day(27, 2, 0).Add(1500 * time.Millisecond), 72 * time.Hour},
		{"twice a night, the first", "0 2,3 * * *", day(30, 2, 0), time.Hour},
		{"twice a night, the second", "0 2,3 * * *", day(30, 3, 0), 23 * time.Hour},
		{"a manual run just before the nightly", "0 2 * * *", day(27, 1, 55), 24 * time.Hour},
		{"the first of the month", "0 2 1 * *", day(1, 2, 0), 30 * 24 * time.Hour},
	} {
		finished := c.started.Add(20 * time.Minute)
		last := &state.Run{StartedAt: c.started, FinishedAt: &finished}
		want := time.Duration(1.1*float64(c.interval)) + 20*time.Minute
		if got := MaxStaleness(config.Reconciliation{Schedule: c.schedule}, last, now); got != want {
			t.Errorf("%s: %s, want %s", c.name, got, want)
		}
	}
}
