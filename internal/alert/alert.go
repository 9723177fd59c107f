// Package alert tells people and monitors about runs: it POSTs alerts to
// webhooks (Slack-compatible {"text": …}, or a JSON body with the figures)
// when a run breaches a threshold, fails, finds too many new exceptions or
// goes stale, and pings a healthchecks.io/Cronitor-style URL when a run
// starts (<ping>/start), succeeds (<ping>) and fails (<ping>/fail), so
// that an outside monitor is a second dead man's switch.
//
// Invariants:
//   - A delivery is retried with exponential backoff and jitter (1 s, 2 s,
//     4 s … plus 0–500 ms), each attempt under a timeout, at most Attempts
//     times; a 4xx answer other than 429 is not retried.
//   - Payloads hold names, figures, error classes and hints, never a
//     secret: errors have had their DSN passwords scrubbed where they were
//     made, and webhook and ping URLs, which carry tokens, appear in no
//     payload and in logs only as their host.
package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/status"
	"github.com/recon-dev/recon/reports"
)

// Notifier sends alerts and pings as a config's alerts: section says.
type Notifier struct {
	Alerts config.Alerts
	Client *http.Client
	Logger *slog.Logger
	// Backoff is the wait before retry n (0 for the first retry); nil is
	// 1 s · 2^n plus 0–500 ms of jitter.
	Backoff func(n int) time.Duration
}

// Alert is one thing to tell: what happened and the figures behind it.
type Alert struct {
	// Event is "breach", "failure" or "stale".
	Event   string `json:"event"`
	RunID   string `json:"run_id,omitempty"`
	Status  string `json:"status"`
	Summary string `json:"summary"`
	// Report is the run's report directory, on the host that ran it.
	Report          string           `json:"report,omitempty"`
	Reconciliations []Reconciliation `json:"reconciliations"`
}

// Reconciliation is one reconciliation in an alert.
type Reconciliation struct {
	Name               string   `json:"name"`
	Status             string   `json:"status"`
	Breaches           []string `json:"breaches"`
	Error              *string  `json:"error"`
	ErrorClass         *string  `json:"error_class"`
	ErrorHint          *string  `json:"error_hint"`
	SourceCount        int64    `json:"source_count"`
	TargetCount        int64    `json:"target_count"`
	Matched            int64    `json:"matched"`
	MissingInTarget    int64    `json:"missing_in_target"`
	MissingInSource    int64    `json:"missing_in_source"`
	RecordsWithDrift   int64    `json:"records_with_field_mismatch"`
	DriftRate          float64  `json:"drift_rate"`
	SyncSuccessRate    float64  `json:"sync_success_rate"`
	ExceptionsNew      *int64   `json:"exceptions_new"`
	ExceptionsResolved *int64   `json:"exceptions_resolved"`
	// StaleFor is how long since its last success, for a stale one.
	StaleFor string `json:"stale_for,omitempty"`
}

// Enabled reports whether there is anyone to tell.
func (n *Notifier) Enabled() bool { return len(n.Alerts.Webhooks) > 0 || n.Alerts.Ping != "" }

// ForRun returns the alert a finished run calls for, or nil when every
// reconciliation ran and held its thresholds.
func ForRun(run reports.Run, dir string) *Alert {
	a := &Alert{RunID: run.ID, Status: run.Status, Report: dir}
	var failed, breached []string
	for _, r := range run.Results {
		status := reports.Status([]reports.Result{r})
		a.Reconciliations = append(a.Reconciliations, Reconciliation{Name: r.Name, Status: status, Breaches: r.Breaches,
			Error: r.Error, ErrorClass: r.ErrorClass, ErrorHint: r.ErrorHint, SourceCount: r.SourceCount, TargetCount: r.TargetCount,
			Matched: r.Matched, MissingInTarget: r.MissingInTarget, MissingInSource: r.MissingInSource, RecordsWithDrift: r.RecordsWithFieldMismatch,
			DriftRate: r.DriftRate, SyncSuccessRate: r.SyncSuccessRate, ExceptionsNew: r.ExceptionsNew, ExceptionsResolved: r.ExceptionsResolved})
		switch {
		case r.Skipped():
		case r.Error != nil:
			class := "internal"
			if r.ErrorClass != nil {
				class = *r.ErrorClass
			}
			failed = append(failed, fmt.Sprintf("%s failed (%s)", r.Name, class))
		case r.Breached():
			breached = append(breached, fmt.Sprintf("%s breached %s", r.Name, strings.Join(r.Breaches, ", ")))
		}
	}
	switch {
	case len(failed) > 0:
		a.Event = "failure"
	case len(breached) > 0:
		a.Event = "breach"
	default:
		return nil
	}
	a.Summary = fmt.Sprintf("recon run %s: %s", run.ID, strings.Join(append(failed, breached...), "; "))
	return a
}

// Send posts a to every webhook, each with retries, and returns what could
// not be delivered.
func (n *Notifier) Send(ctx context.Context, a Alert) error {
	var errs []error
	for i, w := range n.Alerts.Webhooks {
		var body any = a
		if w.Format == "slack" {
			body = map[string]string{"text": slackText(a)}
		}
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		if err := n.deliver(ctx, http.MethodPost, w.URL, b); err != nil {
			errs = append(errs, fmt.Errorf("webhook #%d (%s): %w", i+1, hostOf(w.URL), err))
			n.logger().Error("alert not delivered", "webhook", i+1, "host", hostOf(w.URL), "event", a.Event, "error", err)
			continue
		}
		n.logger().Info("alert delivered", "webhook", i+1, "host", hostOf(w.URL), "event", a.Event)
	}
	return errors.Join(errs...)
}

// Ping tells the monitor a run started ("start"), succeeded ("") or failed
// ("fail"), in the healthchecks.io/Cronitor convention.
func (n *Notifier) Ping(ctx context.Context, what string) error {
	if n.Alerts.Ping == "" {
		return nil
	}
	u := strings.TrimSuffix(n.Alerts.Ping, "/")
	if what != "" {
		u += "/" + what
	}
	if err := n.deliver(ctx, http.MethodPost, u, nil); err != nil {
		n.logger().Error("ping not delivered", "host", hostOf(u), "ping", what, "error", err)
		return fmt.Errorf("ping %s: %w", hostOf(u), err)
	}
	return nil
}

// deliver sends one request, retrying as the package doc says.
func (n *Notifier) deliver(ctx context.Context, method, u string, body []byte) error {
	attempts := max(n.Alerts.Attempts, 1)
	var last error
	for i := range attempts {
		if i > 0 {
			select {
			case <-time.After(n.backoff(i - 1)):
			case <-ctx.Done():
				return errors.Join(last, ctx.Err())
			}
		}
		retry, err := n.attempt(ctx, method, u, body)
		if err == nil {
			return nil
		}
		last = fmt.Errorf("attempt %d of %d: %w", i+1, attempts, err)
		if !retry {
			return last
		}
	}
	return last
}

// attempt makes one request; retry says whether another may succeed.
func (n *Notifier) attempt(ctx context.Context, method, u string, body []byte) (retry bool, err error) {
	timeout := n.Alerts.Timeout
	if timeout <= 0 {
		timeout = config.DefaultAlertTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("not a valid URL") // the URL itself may be a secret
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "recon")
	client := n.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL
		}
		return true, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	switch {
	case resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("answered %s", resp.Status)
	}
	return false, fmt.Errorf("answered %s", resp.Status)
}

func (n *Notifier) backoff(retry int) time.Duration {
	if n.Backoff != nil {
		return n.Backoff(retry)
	}
	return time.Second<<min(retry, 10) + time.Duration(rand.Int64N(int64(500*time.Millisecond)))
}

func (n *Notifier) logger() *slog.Logger {
	if n.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return n.Logger
}

// slackText renders an alert as Slack's message text.
func slackText(a Alert) string {
	var b strings.Builder
	b.WriteString(a.Summary)
	for _, r := range a.Reconciliations {
		switch {
		case r.Error != nil:
			fmt.Fprintf(&b, "\n• %s: failed: %s", r.Name, *r.Error)
			if r.ErrorHint != nil {
				fmt.Fprintf(&b, " (try: %s)", *r.ErrorHint)
			}
		case r.StaleFor != "":
			fmt.Fprintf(&b, "\n• %s: no successful run for %s", r.Name, r.StaleFor)
		case len(r.Breaches) > 0:
			fmt.Fprintf(&b, "\n• %s: breached %s; drift rate %.2f%%, sync success rate %.2f%%, %d missing in target, %d missing in source",
				r.Name, strings.Join(r.Breaches, ", "), r.DriftRate*100, r.SyncSuccessRate*100, r.MissingInTarget, r.MissingInSource)
			if r.ExceptionsNew != nil {
				fmt.Fprintf(&b, ", %d new exceptions", *r.ExceptionsNew)
			}
		}
	}
	return b.String()
}

// hostOf is what logs may show of a URL that may carry a token.
func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "(invalid URL)"
	}
	return p.Host
}

// Observer pings and alerts as runs start and end; see runner.Observer.
type Observer struct{ *Notifier }

// Started pings <ping>/start.
func (o Observer) Started(string, []config.Reconciliation) {
	o.Ping(context.Background(), "start")
}

// Finished pings success or failure and alerts on a breach or a failure.
// A reconciliation skipped because another recon was running it is
// neither: that recon pings and alerts its outcome.
func (o Observer) Finished(run reports.Run, dir string) {
	ctx := context.Background()
	a := ForRun(run, dir)
	if a != nil && a.Event == "failure" {
		o.Ping(ctx, "fail")
	} else {
		o.Ping(ctx, "")
	}
	if a != nil {
		o.Send(ctx, *a)
	}
}

// Failed pings failure and alerts on a run that ended without a report:
// cancelled (a stopping daemon past its grace, SIGTERM) or unable to
// write it (a full disk).
func (o Observer) Failed(runID string, recs []config.Reconciliation, err error) {
	ctx := context.Background()
	o.Ping(ctx, "fail")
	o.Send(ctx, ForFailedRun(runID, recs, err))
}

// ForFailedRun returns the alert for a run that ended without a report.
func ForFailedRun(runID string, recs []config.Reconciliation, err error) Alert {
	msg := err.Error()
	a := Alert{Event: "failure", RunID: runID, Status: "error", Summary: fmt.Sprintf("recon run %s ended without a report: %s", runID, msg)}
	for _, rc := range recs {
		a.Reconciliations = append(a.Reconciliations, Reconciliation{Name: rc.Spec.Name, Status: "error", Breaches: []string{}, Error: &msg})
	}
	return a
}

// ForStale returns the alert for reconciliations that have gone longer
// than their max_staleness without a successful run, or nil if none has.
func ForStale(st status.Report) *Alert {
	if len(st.Stale) == 0 {
		return nil
	}
	a := &Alert{Event: "stale", Status: "stale"}
	var parts []string
	for _, r := range st.Reconciliations {
		if !r.Stale {
			continue
		}
		since := "never succeeded"
		if r.LastSuccess != nil {
			since = st.GeneratedAt.Sub(*r.LastSuccess).Round(time.Minute).String()
		}
		parts = append(parts, fmt.Sprintf("%s (last success: %s, limit %s)", r.Name, since, r.MaxStaleness))
		ar := Reconciliation{Name: r.Name, Status: "stale", Breaches: []string{"max_staleness"}, StaleFor: since}
		if r.LastRun != nil {
			ar.Error, ar.ErrorClass = r.LastRun.Error, r.LastRun.ErrorClass
		}
		a.Reconciliations = append(a.Reconciliations, ar)
	}
	a.Summary = "recon: no successful run within max_staleness: " + strings.Join(parts, "; ")
	return a
}
