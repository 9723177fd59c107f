package schedule

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/recon-dev/recon/internal/status"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/reports"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func TestMetricsAndHealth(t *testing.T) {
	m := NewMetrics()
	h := m.Handler()
	if code, _ := get(t, h, "/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz before scheduling: %d", code)
	}
	m.SetUp(true)
	if code, body := get(t, h, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	start := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	newEx, rate, lag := int64(3), 0.995, 120.0
	msg := "boom"
	m.Finished(reports.Run{ID: "r1", StartedAt: start, FinishedAt: start.Add(90 * time.Second), Status: "breached", Results: []reports.Result{
		{Result: reconcile.Result{Name: "deals", SourceCount: 1000, TargetCount: 990, Matched: 980, InAgreement: 975, MissingInTarget: 20,
			FieldMismatches: map[string]int64{"amount": 4, "stage": 1}, Breaches: []string{"drift_rate"}}, ExceptionsNew: &newEx},
		{Result: reconcile.Result{Name: "contacts", Error: &msg}},
	}}, "")
	m.SetStatus(status.Report{Coverage: 0.5, Reconciliations: []status.Reconciliation{
		{Name: "deals", Figures: status.Figures{SyncSuccessRate: &rate, SyncLagP95: &lag, OpenExceptions: 25}},
		{Name: "contacts", Stale: true},
	}})
	_, body := get(t, h, "/metrics")
	for _, want := range []string{
		`recon_last_run_duration_seconds{reconciliation="deals"} 90`,
		`recon_last_run_success{reconciliation="contacts"} 0`,
		`recon_runs_total{reconciliation="deals",status="breached"} 1`,
		`recon_runs_total{reconciliation="contacts",status="error"} 1`,
		`recon_records{kind="in_agreement",reconciliation="deals"} 975`,
		`recon_exceptions{kind="field_mismatch",reconciliation="deals"} 5`,
		`recon_exceptions{kind="missing_in_target",reconciliation="deals"} 20`,
		`recon_exceptions_lifecycle{reconciliation="deals",state="new"} 3`,
		`recon_sync_success_rate{reconciliation="deals"} 0.995`,
		`recon_sync_lag_seconds{quantile="0.95",reconciliation="deals"} 120`,
		`recon_open_exceptions{reconciliation="deals"} 25`,
		`recon_stale{reconciliation="contacts"} 1`,
		`recon_coverage 0.5`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// A figure with nothing to compute it from any more is dropped.
	m.SetStatus(status.Report{Coverage: 1, Reconciliations: []status.Reconciliation{{Name: "deals", Figures: status.Figures{SyncLagP95: &lag}}}})
	if _, body = get(t, h, "/metrics"); strings.Contains(body, `recon_sync_success_rate{reconciliation="deals"}`) || !strings.Contains(body, `recon_sync_lag_seconds{quantile="0.95",reconciliation="deals"} 120`) {
		t.Errorf("after the success rate went: %s", body)
	}
}
