package reports

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dustin/go-humanize"

	"github.com/recon-dev/recon/reconcile"
)

// kindOrder is the order in which report.md lists exception kinds.
var kindOrder = []reconcile.Kind{
	reconcile.MissingInTarget,
	reconcile.MissingInSource,
	reconcile.FieldMismatch,
	reconcile.TimestampMisaligned,
	reconcile.DuplicateKey,
	reconcile.InvalidRecord,
}

// maxValueRunes bounds a value shown in report.md; longer ones are cut.
const maxValueRunes = 80

// renderMarkdown renders report.md: the key figures of every
// reconciliation first, then per reconciliation its error, breaches, worst
// fields and sample exceptions.
func renderMarkdown(run Run, samples map[sampleKey]*sample) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Reconciliation run %s: %s\n\n", run.ID, run.Status)
	fmt.Fprintf(&b, "Started %s, finished %s (took %s).\n",
		mdTime(run.StartedAt), mdTime(run.FinishedAt), run.FinishedAt.Sub(run.StartedAt).Round(time.Second))
	var breached, failed int
	for _, r := range run.Results {
		if r.Error != nil {
			failed++
		} else if len(r.Breaches) > 0 {
			breached++
		}
	}
	fmt.Fprintf(&b, "Reconciliations: %d (%d breached, %d failed). "+
		"Every exception is in `%s`, every figure in `%s`.\n\n",
		len(run.Results), breached, failed, exceptionsFile, summaryFile)

	b.WriteString("## Key figures\n\n")
	if len(run.Results) == 0 {
		b.WriteString("No reconciliation ran.\n")
		return b.Bytes()
	}
	b.WriteString("| Reconciliation | Source | Target | Count variance | Matched | Missing in target | Missing in source " +
		"| Records with field mismatch | Drift rate | Timestamp misaligned | Duplicates | Invalid | Breaches |\n")
	b.WriteString("| --- |" + strings.Repeat(" ---: |", 12) + "\n")
	for _, r := range run.Results {
		writeFigures(&b, r)
	}

	for _, r := range run.Results {
		fmt.Fprintf(&b, "\n## %s\n\n", escape(r.Name))
		if r.Error != nil {
			fmt.Fprintf(&b, "**Error:** %s\n\n", escape(*r.Error))
		}
		if len(r.Breaches) > 0 {
			b.WriteString("**Breaches:**\n\n")
			for _, br := range r.Breaches {
				fmt.Fprintf(&b, "- %s\n", escape(br))
			}
			b.WriteString("\n")
		}
		writeWorstFields(&b, r.FieldMismatches)
		writeSamples(&b, r.Name, samples)
	}
	return b.Bytes()
}

// writeFigures writes the key-figures row of r; a failed reconciliation's
// figures are not shown, since they would read as a clean result.
func writeFigures(b *bytes.Buffer, r reconcile.Result) {
	if r.Error != nil {
		fmt.Fprintf(b, "| %s (error) |%s\n", escape(r.Name), strings.Repeat(" — |", 12))
		return
	}
	variance := "n/a"
	if r.CountVariance != nil {
		variance = percent(*r.CountVariance)
	}
	cells := []string{
		escape(r.Name),
		humanize.Comma(r.SourceCount),
		humanize.Comma(r.TargetCount),
		variance,
		humanize.Comma(r.Matched),
		humanize.Comma(r.MissingInTarget),
		humanize.Comma(r.MissingInSource),
		humanize.Comma(r.RecordsWithFieldMismatch),
		percent(r.DriftRate),
		humanize.Comma(r.TimestampMisaligned),
		humanize.Comma(r.DuplicateKeys),
		humanize.Comma(r.InvalidRecords),
		humanize.Comma(int64(len(r.Breaches))),
	}
	fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | "))
}

// writeWorstFields lists the mismatching fields, most mismatches first.
func writeWorstFields(b *bytes.Buffer, mismatches map[string]int64) {
	var fields []string
	for f, n := range mismatches {
		if n > 0 {
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		return
	}
	slices.SortFunc(fields, func(x, y string) int {
		return cmp.Or(cmp.Compare(mismatches[y], mismatches[x]), strings.Compare(x, y))
	})
	b.WriteString("### Worst fields\n\n| Field | Mismatches |\n| --- | ---: |\n")
	for _, f := range fields {
		fmt.Fprintf(b, "| %s | %s |\n", escape(f), humanize.Comma(mismatches[f]))
	}
	b.WriteString("\n")
}

// writeSamples writes the first exceptions of each kind of reconciliation
// name, with how many there were of each kind.
func writeSamples(b *bytes.Buffer, name string, samples map[sampleKey]*sample) {
	b.WriteString("### Sample exceptions\n\n")
	var totals []string
	for _, k := range kindOrder {
		if s := samples[sampleKey{name, k}]; s != nil {
			totals = append(totals, fmt.Sprintf("%s %s", kindLabel(k), humanize.Comma(s.total)))
		}
	}
	if len(totals) == 0 {
		b.WriteString("No exceptions.\n")
		return
	}
	fmt.Fprintf(b, "Exceptions: %s. The first %d of each kind, in arrival order:\n\n",
		strings.Join(totals, ", "), samplesPerKind)
	b.WriteString("| Kind | Key | Field | Source value | Target value |\n| --- | --- | --- | --- | --- |\n")
	for _, k := range kindOrder {
		s := samples[sampleKey{name, k}]
		if s == nil {
			continue
		}
		for _, e := range s.first {
			src, tgt := value(e.SourceValue), value(e.TargetValue)
			if k == reconcile.TimestampMisaligned && e.SourceValue == nil && e.TargetValue == nil {
				src, tgt = updated(e.SourceUpdatedAt), updated(e.TargetUpdatedAt)
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", kindLabel(k), value(e.RecordKey), value(e.Field), src, tgt)
		}
	}
}

func kindLabel(k reconcile.Kind) string {
	return strings.ReplaceAll(string(k), "_", " ")
}

func percent(fraction float64) string {
	return fmt.Sprintf("%.2f%%", fraction*100)
}

func mdTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// updated renders a last-modified instant, which is what a
// timestamp_misaligned exception is about.
func updated(t *time.Time) string {
	if t == nil {
		return "*null*"
	}
	return "updated " + mdTime(*t)
}

// value renders an exception's text for a table cell: *null* for a
// missing value, "" for an empty one, and long text cut.
func value(s *string) string {
	switch {
	case s == nil:
		return "*null*"
	case *s == "":
		return `""`
	case utf8.RuneCountInString(*s) > maxValueRunes:
		return escape(string([]rune(*s)[:maxValueRunes])) + "…"
	}
	return escape(*s)
}

// mdEscaper keeps text literal in markdown, table cells included: markdown
// punctuation is backslash-escaped and a line break shows as ↵.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "|", `\|`, "`", "\\`", "*", `\*`, "_", `\_`,
	"[", `\[`, "]", `\]`, "<", `\<`, ">", `\>`, "&", `\&`,
	"\r\n", "↵", "\n", "↵", "\r", "↵",
)

func escape(s string) string {
	return mdEscaper.Replace(s)
}
