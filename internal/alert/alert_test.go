package alert_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recon-dev/recon/internal/alert"
	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/reports"
)

// receiver is a webhook endpoint on loopback that fails its first
// failures requests, then records what it is sent.
type receiver struct {
	mu       sync.Mutex
	failures int
	calls    []string // "METHOD path"
	bodies   [][]byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, req.Method+" "+req.URL.Path)
	if r.failures > 0 {
		r.failures--
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	r.bodies = append(r.bodies, body)
}

func failedRun() reports.Run {
	msg, class, hint := `system "crm", connect: pq: password authentication failed for user "recon"`, "auth", "check the user and password"
	newEx := int64(12)
	return reports.Run{ID: "20261130T020000Z-abcdef", Status: "error", Results: []reports.Result{
		{Result: reconcile.Result{Name: "deals", Breaches: []string{"drift_rate"}, DriftRate: 0.02, SyncSuccessRate: 0.97, MissingInTarget: 3}, ExceptionsNew: &newEx},
		{Result: reconcile.Result{Name: "contacts", Error: &msg}, ErrorClass: &class, ErrorHint: &hint},
	}}
}

func TestWebhooksRetryWithBackoff(t *testing.T) {
	rec := &receiver{failures: 2}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	var waits []time.Duration
	n := &alert.Notifier{
		Alerts: config.Alerts{Webhooks: []config.Webhook{{URL: srv.URL + "/hooks/T000/secret-token", Format: "slack"}, {URL: srv.URL + "/ops", Format: "json"}},
			Attempts: 5, Timeout: time.Second},
		Backoff: func(n int) time.Duration { waits = append(waits, time.Second<<n); return time.Millisecond },
	}
	a := alert.ForRun(failedRun(), "/var/lib/recon/reports/20261130T020000Z-abcdef")
	if a == nil || a.Event != "failure" {
		t.Fatalf("alert %+v", a)
	}
	if err := n.Send(context.Background(), *a); err != nil {
		t.Fatal(err)
	}
	if len(rec.calls) != 4 || len(rec.bodies) != 2 {
		t.Fatalf("calls %v, bodies %d: want 2 failures, then the slack and the json deliveries", rec.calls, len(rec.bodies))
	}
	if len(waits) != 2 || waits[0] != time.Second || waits[1] != 2*time.Second {
		t.Errorf("backoff before retries %v, want 1s then 2s", waits)
	}
	var slack map[string]string
	if err := json.Unmarshal(rec.bodies[0], &slack); err != nil || len(slack) != 1 {
		t.Fatalf("slack body %s: %v", rec.bodies[0], err)
	}
	for _, w := range []string{"contacts failed (auth)", "deals breached drift_rate", "password authentication failed", "12 new exceptions", "try: check the user"} {
		if !strings.Contains(slack["text"], w) {
			t.Errorf("slack text lacks %q:\n%s", w, slack["text"])
		}
	}
	var body alert.Alert
	if err := json.Unmarshal(rec.bodies[1], &body); err != nil {
		t.Fatal(err)
	}
	if body.Event != "failure" || body.RunID != "20261130T020000Z-abcdef" || len(body.Reconciliations) != 2 ||
		*body.Reconciliations[1].ErrorClass != "auth" || body.Reconciliations[0].MissingInTarget != 3 {
		t.Errorf("json body %+v", body)
	}
	for _, b := range rec.bodies {
		if strings.Contains(string(b), "secret-token") || strings.Contains(string(b), "http") {
			t.Errorf("a payload holds a URL: %s", b)
		}
	}
}

func TestGivesUpAfterAttemptsAndOn4xx(t *testing.T) {
	rec := &receiver{failures: 100}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	n := &alert.Notifier{Alerts: config.Alerts{Webhooks: []config.Webhook{{URL: srv.URL + "/x", Format: "json"}}, Attempts: 3},
		Backoff: func(int) time.Duration { return 0 }}
	err := n.Send(context.Background(), alert.Alert{Event: "breach"})
	if err == nil || len(rec.calls) != 3 || !strings.Contains(err.Error(), "attempt 3 of 3") || strings.Contains(err.Error(), "/x") {
		t.Errorf("after %d calls: %v", len(rec.calls), err)
	}
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusNotFound) }))
	defer gone.Close()
	calls := 0
	n.Alerts.Webhooks[0].URL = gone.URL
	n.Client = &http.Client{Transport: countingTransport{&calls}}
	if err := n.Send(context.Background(), alert.Alert{}); err == nil || calls != 1 {
		t.Errorf("a 404 was retried: %d calls, %v", calls, err)
	}
}

type countingTransport struct{ n *int }

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	*c.n++
	return http.DefaultTransport.RoundTrip(r)
}

func TestPings(t *testing.T) {
	rec := &receiver{failures: 1}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	o := alert.Observer{Notifier: &alert.Notifier{Alerts: config.Alerts{Ping: srv.URL + "/ping/uuid", Attempts: 3}, Backoff: func(int) time.Duration { return 0 }}}
	o.Started("r1", nil)
	o.Finished(reports.Run{ID: "r1", Status: "ok"}, "")
	o.Finished(failedRun(), "")
	o.Failed("r3", nil, errors.New("run cancelled: the daemon is stopping"))
	busy, class := "skipped: another recon (h:1) has been running deals", reports.ErrorClassBusy
	o.Finished(reports.Run{ID: "r4", Status: "error", Results: []reports.Result{{Result: reconcile.Result{Name: "deals", Error: &busy}, ErrorClass: &class}}}, "")
	want := []string{"POST /ping/uuid/start", "POST /ping/uuid/start", "POST /ping/uuid", "POST /ping/uuid/fail", "POST /ping/uuid/fail", "POST /ping/uuid"}
	if strings.Join(rec.calls, ",") != strings.Join(want, ",") {
		t.Errorf("pings %v, want %v (the first failed and was retried; a run without a report failed; a skipped one did not)", rec.calls, want)
	}
}

// A run that ended without a report is a failure of each of its
// reconciliations; one skipped because another recon ran it is not.
func TestFailureAlerts(t *testing.T) {
	recs := []config.Reconciliation{{Spec: reconcile.Spec{Name: "deals"}}, {Spec: reconcile.Spec{Name: "contacts"}}}
	a := alert.ForFailedRun("r1", recs, errors.New("run cancelled: the daemon is stopping"))
	if a.Event != "failure" || len(a.Reconciliations) != 2 || a.Reconciliations[1].Name != "contacts" || !strings.Contains(a.Summary, "the daemon is stopping") {
		t.Errorf("%+v", a)
	}
	busy, class := "skipped", reports.ErrorClassBusy
	skipped := reports.Result{Result: reconcile.Result{Name: "deals", Error: &busy}, ErrorClass: &class}
	if a := alert.ForRun(reports.Run{ID: "r2", Status: "error", Results: []reports.Result{skipped}}, ""); a != nil {
		t.Errorf("a skipped reconciliation alerted: %+v", a)
	}
	run := failedRun()
	run.Results = append(run.Results, skipped)
	if a := alert.ForRun(run, ""); a == nil || a.Event != "failure" || strings.Contains(a.Summary, "deals failed") {
		t.Errorf("%+v", a)
	}
}
