package reports

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dustin/go-humanize"

	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/reports/repairs"
)

// kindOrder is the order in which the report pages list exception kinds.
var kindOrder = []reconcile.Kind{
	reconcile.MissingInTarget,
	reconcile.MissingInSource,
	reconcile.FieldMismatch,
	reconcile.TimestampMisaligned,
	reconcile.DuplicateKey,
	reconcile.InvalidRecord,
	reconcile.CountMismatch,
	reconcile.KeyMismatch,
	reconcile.AmbiguousMatch,
}

// maxValueRunes bounds a value shown on a page; longer ones are cut.
const maxValueRunes = 80

// page is what report.md and report.html show, as plain text: each
// renderer escapes it for its format.
type page struct {
	RunID, Status              string
	Started, Finished, Took    string
	Total, Breached, Failed    int
	Figures                    []figures
	Sections                   []section
	ExceptionsFile, SampleSize string
	// Partition says, on a partial run's page, that its figures are one
	// partition's: "2/4", or "".
	Partition string
}

// figures is one reconciliation's row of key figures. Cells is empty for a
// failed reconciliation, whose figures would read as a clean result.
type figures struct {
	Name     string
	Failed   bool
	Breached bool
	Cells    []string
}

// figureHeads names the figure columns after the reconciliation's name.
var figureHeads = []string{"Source", "Target", "Count variance", "Matched", "Missing in target", "Missing in source",
	"Records with field mismatch", "Drift rate", "Timestamp misaligned", "Duplicates", "Invalid", "Breaches"}

type section struct {
	Name        string
	Error       string
	Breaches    []string
	WorstFields []fieldCount
	Totals      []string // "missing in target 1", per kind present
	Samples     []sampleRow
	Repairs     *repairSection // nil where no repair is configured
	Trend       *trendChart    // nil without at least two runs
	Periods     *periodChart   // nil but for a counts_by reconciliation
	Stakes      []stakeRow     // money at stake, per money field and currency
}

// stakeRow is one money field's value at stake in one currency.
type stakeRow struct {
	Field, Currency, Mismatched, MissingInTarget, Total string
}

// stakeHeads name stakeRow's columns.
var stakeHeads = []string{"Field", "Currency", "Mismatches", "Missing in target", "At stake"}

func newStakeRows(stakes []reconcile.Stake) []stakeRow {
	var rows []stakeRow
	for _, s := range stakes {
		currency := "(none)"
		if s.Currency != nil {
			currency = *s.Currency
		}
		mismatched, missing, total := s.Amounts()
		rows = append(rows, stakeRow{Field: s.Field, Currency: currency, Mismatched: commaDecimal(mismatched),
			MissingInTarget: commaDecimal(missing), Total: commaDecimal(total)})
	}
	return rows
}

// commaDecimal groups an exact decimal's integer digits by thousands:
// 1234567.5 becomes 1,234,567.5, digit for digit.
func commaDecimal(s string) string {
	sign, digits := "", s
	if strings.HasPrefix(s, "-") {
		sign, digits = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(digits, ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if hasFrac {
		return sign + b.String() + "." + frac
	}
	return sign + b.String()
}

// periodChart draws a counts_by reconciliation's periods as inline SVG:
// per period a source bar and a target bar side by side, the period's
// slot tinted red where its counts breach.
type periodChart struct {
	Width, Height  int
	Slots          []periodSlot
	Max            string
	First, Last    string
	Shown, Periods string
	Rows           []periodRow // for report.md, and the table under the chart
}

// maxChartPeriods bounds the periods a page draws and lists: the latest.
const maxChartPeriods = 120

type periodSlot struct {
	X, Width, Height int
	Source, Target   trendBar
	Breached         bool
	Title            string
}

type periodRow struct {
	Period, Source, Target, Variance string
	Breached                         bool
}

func newPeriodChart(counts []reconcile.PeriodCount) *periodChart {
	if len(counts) == 0 {
		return nil
	}
	all := len(counts)
	counts = counts[max(0, all-maxChartPeriods):]
	var top int64
	for _, c := range counts {
		top = max(top, c.Source, c.Target)
	}
	width := max(chartWidth, min(len(counts)*12, 960))
	c := &periodChart{Width: width, Height: chartHeight, Max: humanize.Comma(top), Shown: fmt.Sprint(len(counts)), Periods: fmt.Sprint(all),
		First: counts[0].Period, Last: counts[len(counts)-1].Period}
	slot := width / len(counts)
	bar := max((slot-2)/2, 1)
	height := func(n int64) int {
		if top == 0 {
			return 0
		}
		return int(float64(n) / float64(top) * (chartHeight - 10))
	}
	for i, pc := range counts {
		variance := "n/a"
		if pc.Source > 0 {
			variance = percent(float64(pc.Target-pc.Source) / float64(pc.Source))
		}
		title := fmt.Sprintf("%s: source %s, target %s (%s)", pc.Period, humanize.Comma(pc.Source), humanize.Comma(pc.Target), variance)
		x := i * slot
		hs, ht := height(pc.Source), height(pc.Target)
		c.Slots = append(c.Slots, periodSlot{X: x, Width: slot, Height: chartHeight, Breached: pc.Breached, Title: title,
			Source: trendBar{X: x + 1, Y: chartHeight - hs, Width: bar, Height: hs, Fill: "#4c6ea8", Title: title},
			Target: trendBar{X: x + 1 + bar, Y: chartHeight - ht, Width: bar, Height: ht, Fill: "#e0a040", Title: title}})
		c.Rows = append(c.Rows, periodRow{Period: pc.Period, Source: humanize.Comma(pc.Source), Target: humanize.Comma(pc.Target),
			Variance: variance, Breached: pc.Breached})
	}
	return c
}

// trendChart draws a reconciliation's last runs as inline SVG, no script:
// bars for the exceptions of each run (red for a failed run), a line for
// the drift rate. Everything in it is a number or escaped text.
type trendChart struct {
	Width, Height           int
	Bars                    []trendBar
	Line                    string // the drift rate polyline's points
	MaxExceptions, MaxDrift string
	Runs, FirstRun, LastRun string
	Exceptions, DriftRates  []string // per run, oldest first, for report.md
}

type trendBar struct {
	X, Y, Width, Height int
	Fill, Title         string
}

const (
	chartWidth  = 360
	chartHeight = 90
)

func newTrendChart(points []TrendPoint) *trendChart {
	if len(points) < 2 {
		return nil
	}
	var maxEx int64
	maxDrift := 0.0
	for _, p := range points {
		maxEx = max(maxEx, p.Exceptions)
		maxDrift = max(maxDrift, p.DriftRate)
	}
	c := &trendChart{Width: chartWidth, Height: chartHeight, MaxExceptions: humanize.Comma(maxEx), MaxDrift: percent(maxDrift),
		Runs: fmt.Sprint(len(points)), FirstRun: pageTime(points[0].StartedAt), LastRun: pageTime(points[len(points)-1].StartedAt)}
	slot := chartWidth / len(points)
	var line []string
	for i, p := range points {
		h := 0
		if maxEx > 0 {
			h = int(float64(p.Exceptions) / float64(maxEx) * (chartHeight - 10))
		}
		fill, state := "#9bb4d6", fmt.Sprintf("%s exceptions, drift rate %s", humanize.Comma(p.Exceptions), percent(p.DriftRate))
		if p.Failed {
			fill, state, h = "#d0342c", "failed", chartHeight-10
		}
		c.Bars = append(c.Bars, trendBar{X: i*slot + 2, Y: chartHeight - h, Width: slot - 4, Height: h, Fill: fill,
			Title: fmt.Sprintf("%s (%s): %s", p.RunID, pageTime(p.StartedAt), state)})
		y := chartHeight - 5
		if maxDrift > 0 {
			y = chartHeight - 5 - int(p.DriftRate/maxDrift*(chartHeight-15))
		}
		line = append(line, fmt.Sprintf("%d,%d", i*slot+slot/2, y))
		ex, drift := humanize.Comma(p.Exceptions), percent(p.DriftRate)
		if p.Failed {
			ex, drift = "failed", "failed"
		}
		c.Exceptions, c.DriftRates = append(c.Exceptions, ex), append(c.DriftRates, drift)
	}
	c.Line = strings.Join(line, " ")
	return c
}

// repairSection is what a reconciliation's repair plans hold.
type repairSection struct {
	Direction, Review, MaxChanges string
	Plans                         []repairPlan
}

type repairPlan struct {
	Side, System, Table                 string
	Insert, Update, SoftDelete, Records string
	Files                               []string
}

// repairHeads name repairPlan's columns.
var repairHeads = []string{"Side", "System", "Table", "Insert", "Update", "Soft delete", "Records", "Files"}

func newRepairSection(s *repairs.Summary) *repairSection {
	if s == nil {
		return nil
	}
	r := &repairSection{Direction: s.Direction, Review: humanize.Comma(s.Review), MaxChanges: "none"}
	if s.MaxChanges != nil {
		r.MaxChanges = humanize.Comma(*s.MaxChanges)
	}
	for _, p := range s.Plans {
		files := slices.Sorted(maps.Values(p.Files))
		r.Plans = append(r.Plans, repairPlan{Side: p.Side, System: p.System, Table: p.Table,
			Insert: humanize.Comma(p.Insert), Update: humanize.Comma(p.Update), SoftDelete: humanize.Comma(p.SoftDelete),
			Records: humanize.Comma(p.Records), Files: files})
	}
	return r
}

type fieldCount struct{ Field, Count string }

// sampleRow is one sample exception; a nil cell is a missing value.
type sampleRow struct {
	Kind                       string
	Key, Field, Source, Target cell
}

// cell is a value on a page: Null for a missing value, else Text (cut to
// maxValueRunes, with Cut set).
type cell struct {
	Text      string
	Null, Cut bool
}

func newPage(run Run, samples map[sampleKey]*sample) page {
	p := page{
		RunID: run.ID, Status: run.Status, Total: len(run.Results),
		Started: pageTime(run.StartedAt), Finished: pageTime(run.FinishedAt),
		Took:           run.FinishedAt.Sub(run.StartedAt).Round(time.Second).String(),
		ExceptionsFile: exceptionsFile, SampleSize: fmt.Sprint(samplesPerKind),
	}
	if run.Partition != nil {
		p.Partition = run.Partition.String()
	}
	for _, r := range run.Results {
		switch {
		case r.Error != nil:
			p.Failed++
		case len(r.Breaches) > 0:
			p.Breached++
		}
		p.Figures = append(p.Figures, newFigures(r))
		s := section{Name: r.Name, Breaches: r.Breaches, WorstFields: worstFields(r.FieldMismatches), Repairs: newRepairSection(r.Repairs),
			Trend: newTrendChart(r.Trend), Periods: newPeriodChart(r.PeriodCounts), Stakes: newStakeRows(r.ValueAtStake)}
		if r.Error != nil {
			s.Error = *r.Error
		}
		s.Totals, s.Samples = sampleRows(r.Name, samples)
		p.Sections = append(p.Sections, s)
	}
	return p
}

func newFigures(r Result) figures {
	f := figures{Name: r.Name, Failed: r.Error != nil, Breached: len(r.Breaches) > 0}
	if f.Failed {
		return f
	}
	variance := "n/a"
	if r.CountVariance != nil {
		variance = percent(*r.CountVariance)
	}
	f.Cells = []string{
		humanize.Comma(r.SourceCount), humanize.Comma(r.TargetCount), variance, humanize.Comma(r.Matched),
		humanize.Comma(r.MissingInTarget), humanize.Comma(r.MissingInSource), humanize.Comma(r.RecordsWithFieldMismatch),
		percent(r.DriftRate), humanize.Comma(r.TimestampMisaligned), humanize.Comma(r.DuplicateKeys),
		humanize.Comma(r.InvalidRecords), humanize.Comma(int64(len(r.Breaches))),
	}
	return f
}

// worstFields lists the mismatching fields, most mismatches first.
func worstFields(mismatches map[string]int64) []fieldCount {
	var fields []string
	for f, n := range mismatches {
		if n > 0 {
			fields = append(fields, f)
		}
	}
	slices.SortFunc(fields, func(x, y string) int {
		return cmp.Or(cmp.Compare(mismatches[y], mismatches[x]), strings.Compare(x, y))
	})
	out := make([]fieldCount, len(fields))
	for i, f := range fields {
		out[i] = fieldCount{f, humanize.Comma(mismatches[f])}
	}
	return out
}

// sampleRows returns the count of each kind of exception of reconciliation
// name, and its first exceptions of each kind.
func sampleRows(name string, samples map[sampleKey]*sample) (totals []string, rows []sampleRow) {
	for _, k := range kindOrder {
		s := samples[sampleKey{name, k}]
		if s == nil {
			continue
		}
		totals = append(totals, fmt.Sprintf("%s %s", kindLabel(k), humanize.Comma(s.total)))
		for _, e := range s.first {
			src, tgt := newCell(e.SourceValue), newCell(e.TargetValue)
			if k == reconcile.TimestampMisaligned && e.SourceValue == nil && e.TargetValue == nil {
				src, tgt = updatedCell(e.SourceUpdatedAt), updatedCell(e.TargetUpdatedAt)
			}
			rows = append(rows, sampleRow{Kind: kindLabel(k), Key: newCell(e.RecordKey), Field: newCell(e.Field), Source: src, Target: tgt})
		}
	}
	return totals, rows
}

func kindLabel(k reconcile.Kind) string {
	return strings.ReplaceAll(string(k), "_", " ")
}

func percent(fraction float64) string {
	return fmt.Sprintf("%.2f%%", fraction*100)
}

func pageTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func newCell(s *string) cell {
	switch {
	case s == nil:
		return cell{Null: true}
	case utf8.RuneCountInString(*s) > maxValueRunes:
		return cell{Text: string([]rune(*s)[:maxValueRunes]), Cut: true}
	}
	return cell{Text: *s}
}

// updatedCell renders a last-modified instant, which is what a
// timestamp_misaligned exception is about.
func updatedCell(t *time.Time) cell {
	if t == nil {
		return cell{Null: true}
	}
	return cell{Text: "updated " + pageTime(*t)}
}
