package reports

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recon-dev/recon/internal/reporttest"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/reports/repairs"
)

// chromium runs headless Chromium with args plus the page's URL and
// returns what it printed on stdout.
func chromium(t *testing.T, page string, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		reporttest.RequireTool(t, "chromium is not installed (Debian package chromium): report.html is not checked in a browser")
	}
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--window-size=1280,1000"}
	cmd := exec.Command(bin, append(append(base, args...), "file://"+page)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return out
}

// TestReportPageInBrowser opens report.html in Chromium, as finance does:
// the figures are there, and values from the databases, however hostile,
// show as text and never become markup or script.
func TestReportPageInBrowser(t *testing.T) {
	hostile := `<script>document.title="pwned"</script><b>bold</b>`
	out := t.TempDir()
	run := Run{ID: "20261123T020000Z-abcdef", StartedAt: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC), Status: "breached"}
	run.FinishedAt = run.StartedAt.Add(90 * time.Second)
	run.Results = []Result{{Result: reconcile.Result{
		Name: "opportunities_vs_invoices", SourceCount: 1234567, TargetCount: 1234000, CountDelta: -567,
		CountVariance: ptr(0.000459), Matched: 1233990, MissingInTarget: 577, MissingInSource: 10,
		FieldMismatches: map[string]int64{"amount": 42}, RecordsWithFieldMismatch: 42, DriftRate: 42.0 / 1233990,
		Breaches: []string{"drift_rate"},
	}, Repairs: &repairs.Summary{Direction: "source_to_target", Review: 3, Plans: []repairs.PlanSummary{{Side: "target",
		System: "billing" + hostile, Table: "invoices", Driver: "mysql", Insert: 577, Update: 41, Records: 618, Batches: 2,
		Files: map[string]string{"sql": "repairs/opportunities_vs_invoices.sql"}}}},
		Trend: []TrendPoint{{RunID: "a", StartedAt: run.StartedAt.Add(-48 * time.Hour), Exceptions: 90, DriftRate: 0.01},
			{RunID: "b", StartedAt: run.StartedAt.Add(-24 * time.Hour), Failed: true},
			{RunID: run.ID, StartedAt: run.StartedAt, Exceptions: 42, DriftRate: 0.004}}}}
	w, err := Create(out, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []reconcile.Exception{
		{Reconciliation: run.Results[0].Name, Kind: reconcile.FieldMismatch, RecordKey: ptr("OPP-7"), Field: ptr("amount"),
			SourceValue: ptr("1250.00"), TargetValue: ptr("1205.00")},
		{Reconciliation: run.Results[0].Name, Kind: reconcile.FieldMismatch, RecordKey: ptr("OPP-8"), Field: ptr("account_name"),
			SourceValue: ptr(hostile), TargetValue: ptr("")},
	} {
		if err := w.write(e); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := w.Close(run)
	if err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, htmlFile)

	dom := string(chromium(t, page, "--dump-dom"))
	for _, want := range []string{
		"<title>Reconciliation 20261123T020000Z-abcdef: breached</title>", // no script ran to change it
		"1,234,567", "1,234,000", "0.05%", "1,233,990", "drift_rate", "1250.00", "1205.00", "(empty)",
		`&lt;script&gt;document.title="pwned"&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;`,
		"<h3>Repairs</h3>", "Direction source_to_target; 3 sent to review", "<td class=\"num\">577</td>", "<td class=\"num\">618</td>",
		"<code>repairs/opportunities_vs_invoices.sql</code>", `billing&lt;script&gt;`,
		"<h3>Trend</h3>", `fill="#d0342c"`, "<polyline", "The last 3 runs", "up to 1.00%",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Count(dom, "<rect ") != 3 {
		t.Errorf("the trend chart has %d bars, want 3", strings.Count(dom, "<rect "))
	}
	if strings.Contains(dom, "<script") || strings.Contains(dom, "<b>bold") {
		t.Errorf("a database value became markup:\n%s", dom)
	}

	shot := filepath.Join(t.TempDir(), "report.png")
	chromium(t, page, "--screenshot="+shot)
	png, err := os.ReadFile(shot)
	if err != nil || len(png) < 10_000 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("screenshot: %d bytes, %v", len(png), err)
	}
}

// goldenPage writes a golden case's report and returns its report.html.
func goldenPage(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(writeGolden(t, t.TempDir(), name), htmlFile)
}

// TestPeriodChartInBrowser opens a counts_by reconciliation's page: a bar
// per side and period, the breached period banded, the counts listed.
func TestPeriodChartInBrowser(t *testing.T) {
	page := goldenPage(t, "periods")
	dom := string(chromium(t, page, "--dump-dom"))
	for _, want := range []string{"<h3>Counts per period</h3>", "4 periods, 2026-11-27 to 2026-11-30", "2026-11-28: source 380, target 369 (-2.89%)",
		`<tr class="breached"><td>2026-11-28</td><td class="num">380</td><td class="num">369</td><td class="num">-2.89% (breached)</td></tr>`,
		"count mismatch", `fill="#f6d5d3"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// Two bars per period and one band for the breached day.
	if n := strings.Count(dom, "<rect "); n != 4*2+1 {
		t.Errorf("the chart has %d rects, want 9", n)
	}
	if shot := os.Getenv("RECON_SCREENSHOT"); shot != "" {
		chromium(t, page, "--screenshot="+shot)
	}
}

// TestValueAtStakeInBrowser: finance reads the money at stake per
// currency, exact to the cent however large.
func TestValueAtStakeInBrowser(t *testing.T) {
	dom := string(chromium(t, goldenPage(t, "normal"), "--dump-dom"))
	for _, want := range []string{"<h3>Value at stake</h3>",
		`<tr><td>amount</td><td>EUR</td><td class="num">1,234,567.50</td><td class="num">0.01</td><td class="num">1,234,567.51</td></tr>`,
		`<td class="num">9,999,999,999,999,999,999.99</td>`} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}
