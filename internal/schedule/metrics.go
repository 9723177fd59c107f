package schedule

import (
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/status"
	"github.com/recon-dev/recon/reports"
)

// Metrics are the daemon's Prometheus metrics: per reconciliation, its
// last run (time, duration, status, records, exceptions by kind) and the
// tracked figures; overall, the coverage. It is a runner.Observer.
type Metrics struct {
	registry *prometheus.Registry
	up       atomic.Bool

	lastRun, duration, success            *prometheus.GaugeVec
	records, exceptions                   *prometheus.GaugeVec
	runs                                  *prometheus.CounterVec
	syncSuccess, driftRate, driftRate30d  *prometheus.GaugeVec
	lag, mttr, open, stale, exceptionsNew *prometheus.GaugeVec
	coverage                              prometheus.Gauge
}

// NewMetrics makes the daemon's metrics in a registry of their own.
func NewMetrics() *Metrics {
	m := &Metrics{registry: prometheus.NewRegistry()}
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "recon", Name: name, Help: help}, labels)
		m.registry.MustRegister(v)
		return v
	}
	m.lastRun = g("last_run_timestamp_seconds", "When the last run of a reconciliation finished (Unix time).", "reconciliation")
	m.duration = g("last_run_duration_seconds", "How long the last run of a reconciliation took.", "reconciliation")
	m.success = g("last_run_success", "1 if the last run of a reconciliation completed (whatever it found), 0 if it failed.", "reconciliation")
	m.records = g("records", "Records of the last run: read per side, and matched.", "reconciliation", "kind")
	m.exceptions = g("exceptions", "Exceptions of the last run, by kind.", "reconciliation", "kind")
	m.exceptionsNew = g("exceptions_lifecycle", "Exceptions of the last run against the run before: new, open, resolved.", "reconciliation", "state")
	m.syncSuccess = g("sync_success_rate", "Records in agreement / source records, last successful run.", "reconciliation")
	m.driftRate = g("drift_rate", "Records with a field mismatch / matched records, last successful run.", "reconciliation")
	m.driftRate30d = g("drift_rate_30d", "Drift rate over the last 30 days' runs.", "reconciliation")
	m.lag = g("sync_lag_seconds", "Estimated sync latency of the last successful run.", "reconciliation", "quantile")
	m.mttr = g("mttr_30d_seconds", "Mean time from an exception's first sighting to its resolution, last 30 days.", "reconciliation")
	m.open = g("open_exceptions", "Exceptions open now.", "reconciliation")
	m.stale = g("stale", "1 if a reconciliation has no successful run within its max_staleness.", "reconciliation")
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "recon", Name: "runs_total", Help: "Runs by reconciliation and status."},
		[]string{"reconciliation", "status"})
	m.coverage = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "recon", Name: "coverage", Help: "Configured reconciliations that succeeded within their max_staleness / configured."})
	m.registry.MustRegister(m.runs, m.coverage)
	return m
}

// SetUp says whether the scheduler is running, for /healthz.
func (m *Metrics) SetUp(up bool) { m.up.Store(up) }

// Handler serves /metrics and /healthz.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !m.up.Load() {
			http.Error(w, "not scheduling", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	return mux
}

// Started implements runner.Observer.
func (m *Metrics) Started(string, []config.Reconciliation) {}

// Failed implements runner.Observer: a run without a report failed.
func (m *Metrics) Failed(_ string, recs []config.Reconciliation, _ error) {
	for _, rc := range recs {
		m.runs.WithLabelValues(rc.Spec.Name, "error").Inc()
		m.success.WithLabelValues(rc.Spec.Name).Set(0)
	}
}

// Finished implements runner.Observer: the last run's figures.
func (m *Metrics) Finished(run reports.Run, _ string) {
	for _, r := range run.Results {
		name := r.Name
		if r.Skipped() { // another recon ran it, and tells
			m.runs.WithLabelValues(name, "skipped").Inc()
			continue
		}
		m.lastRun.WithLabelValues(name).Set(float64(run.FinishedAt.Unix()))
		m.duration.WithLabelValues(name).Set(run.FinishedAt.Sub(run.StartedAt).Seconds())
		st := reports.Status([]reports.Result{r})
		m.runs.WithLabelValues(name, st).Inc()
		if r.Error != nil {
			m.success.WithLabelValues(name).Set(0)
			continue
		}
		m.success.WithLabelValues(name).Set(1)
		for kind, n := range map[string]int64{"source": r.SourceCount, "target": r.TargetCount, "matched": r.Matched, "in_agreement": r.InAgreement} {
			m.records.WithLabelValues(name, kind).Set(float64(n))
		}
		var mismatches int64
		for _, n := range r.FieldMismatches {
			mismatches += n
		}
		for kind, n := range map[string]int64{"missing_in_target": r.MissingInTarget, "missing_in_source": r.MissingInSource,
			"field_mismatch": mismatches, "timestamp_misaligned": r.TimestampMisaligned, "duplicate_key": r.DuplicateKeys,
			"invalid_record": r.InvalidRecords, "ambiguous_match": r.AmbiguousMatches, "key_mismatch": r.KeyMismatches} {
			m.exceptions.WithLabelValues(name, kind).Set(float64(n))
		}
		if r.PeriodsBreached != nil {
			m.exceptions.WithLabelValues(name, "count_mismatch").Set(float64(*r.PeriodsBreached))
		}
		for state, n := range map[string]*int64{"new": r.ExceptionsNew, "open": r.ExceptionsOpen, "resolved": r.ExceptionsResolved} {
			if n != nil {
				m.exceptionsNew.WithLabelValues(name, state).Set(float64(*n))
			}
		}
	}
}

// SetStatus sets the tracked figures from the status.
func (m *Metrics) SetStatus(st status.Report) {
	m.coverage.Set(st.Coverage)
	for _, r := range st.Reconciliations {
		// A figure with nothing to compute it from now (MTTR once the
		// window holds no resolution) is dropped, not left at its old value.
		set := func(v *prometheus.GaugeVec, f *float64, labels ...string) {
			labels = append([]string{r.Name}, labels...)
			if f == nil {
				v.DeleteLabelValues(labels...)
				return
			}
			v.WithLabelValues(labels...).Set(*f)
		}
		set(m.syncSuccess, r.SyncSuccessRate)
		set(m.driftRate, r.DriftRate)
		set(m.driftRate30d, r.DriftRate30d)
		set(m.lag, r.SyncLagP50, "0.5")
		set(m.lag, r.SyncLagP95, "0.95")
		set(m.lag, r.SyncLagMax, "1")
		set(m.mttr, r.MTTRSeconds)
		m.open.WithLabelValues(r.Name).Set(float64(r.OpenExceptions))
		stale := 0.0
		if r.Stale {
			stale = 1
		}
		m.stale.WithLabelValues(r.Name).Set(stale)
	}
}
