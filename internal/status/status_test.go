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
}
