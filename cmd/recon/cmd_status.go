package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/recon-dev/recon/internal/alert"
	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/status"
)

// exitStale is recon status's exit code when a reconciliation has gone
// longer than its max_staleness without a successful run.
const exitStale = 3

func statusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "recon.yaml", "the config `file`")
	asJSON := fs.Bool("json", false, "print one JSON document instead of a table")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: recon status [--config FILE] [--json]

Shows, from the state store, per reconciliation and overall: the sync
success rate, sync latency (p50/p95/max), data drift rate (last run and 30
days), MTTR (30 days), open exceptions, the last success, whether a run is
going on, and the trend of the last runs; and the coverage: how many
reconciliations succeeded within their max_staleness.

Exit codes: 0 all fresh, 3 at least one reconciliation is stale (no
successful run within its max_staleness: a dead man's switch for cron or a
monitor; the config's alert webhooks are told), 2 could not tell.

Flags:
`)
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stderr); done {
		return code
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return report(stderr, err)
	}
	store, err := openState(ctx, cfg)
	if err != nil {
		return report(stderr, err)
	}
	defer store.Close()
	st, err := status.Compute(ctx, cfg, store, time.Now())
	if err != nil {
		return report(stderr, err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return report(stderr, err)
		}
	} else {
		printStatus(stdout, st)
	}
	if len(st.Stale) > 0 {
		if a := alert.ForStale(st); a != nil {
			n := &alert.Notifier{Alerts: cfg.Alerts, Logger: discardLogger()}
			if err := n.Send(ctx, *a); err != nil {
				fmt.Fprintf(stderr, "Error: could not deliver the staleness alert: %v\n", err)
			}
		}
		return exitStale
	}
	return exitOK
}

func printStatus(w io.Writer, st status.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RECONCILIATION\tLAST SUCCESS\tSTALE AFTER\tSUCCESS RATE\tLAG p50/p95/max\tDRIFT RUN/30d\tMTTR 30d\tOPEN\tTREND (drift, oldest first)\t")
	for _, r := range st.Reconciliations {
		last := "never"
		if r.LastSuccess != nil {
			last = r.LastSuccess.UTC().Format("2006-01-02 15:04") + " (" + age(st.GeneratedAt.Sub(*r.LastSuccess)) + " ago)"
		}
		if r.Stale {
			last += " STALE"
		}
		name := r.Name
		if r.Running != nil {
			name += " (running)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s / %s\t%s\t%d\t%s\t\n", name, last, age(r.MaxStaleness), pct(r.SyncSuccessRate),
			lag(r.SyncLagP50)+"/"+lag(r.SyncLagP95)+"/"+lag(r.SyncLagMax), pct(r.DriftRate), pct(r.DriftRate30d), seconds(r.MTTRSeconds),
			r.OpenExceptions, sparkline(r.Trend))
	}
	o := st.Overall
	fmt.Fprintf(tw, "overall\t\t\t%s\t%s\t— / %s\t%s\t%d\t\t\n", pct(o.SyncSuccessRate), lag(o.SyncLagP50)+"/"+lag(o.SyncLagP95)+"/"+lag(o.SyncLagMax),
		pct(o.DriftRate30d), seconds(o.MTTRSeconds), o.OpenExceptions)
	tw.Flush()
	fresh := len(st.Reconciliations) - len(st.Stale)
	fmt.Fprintf(w, "\nCoverage: %d of %d reconciliations succeeded within their max_staleness (%s).\n", fresh, len(st.Reconciliations), pct(&st.Coverage))
	if len(st.Stale) > 0 {
		fmt.Fprintf(w, "Stale: %s.\n", strings.Join(st.Stale, ", "))
	}
	for _, r := range st.Reconciliations {
		if r.LastRun != nil && r.LastRun.Status == "error" {
			class := "internal"
			if r.LastRun.ErrorClass != nil {
				class = *r.LastRun.ErrorClass
			}
			fmt.Fprintf(w, "%s: the last run (%s) failed [%s]: %s\n", r.Name, r.LastRun.RunID, class, deref(r.LastRun.Error))
		}
	}
}

// sparkline draws drift rates, oldest first, scaled to the largest; a
// failed run is ×, a run that found nothing ▁.
func sparkline(runs []status.Run) string {
	bars := []rune("▁▂▃▄▅▆▇█")
	top := 0.0
	for _, r := range runs {
		if r.DriftRate != nil && *r.DriftRate > top {
			top = *r.DriftRate
		}
	}
	var b strings.Builder
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		switch {
		case r.DriftRate == nil:
			b.WriteRune('×')
		case top == 0:
			b.WriteRune(bars[0])
		default:
			b.WriteRune(bars[int(*r.DriftRate/top*float64(len(bars)-1)+0.5)])
		}
	}
	return b.String()
}

func pct(f *float64) string {
	if f == nil {
		return "—"
	}
	return fmt.Sprintf("%.2f%%", *f*100)
}

func lag(s *float64) string {
	if s == nil {
		return "—"
	}
	return age(time.Duration(*s * float64(time.Second)))
}

func seconds(s *float64) string {
	if s == nil {
		return "—"
	}
	return age(time.Duration(*s * float64(time.Second)))
}

// age renders a duration the way people read it: 3h12m, 2d4h, 45s.
func age(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d >= time.Second:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Millisecond).String()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
