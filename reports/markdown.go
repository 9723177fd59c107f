package reports

import (
	"bytes"
	"fmt"
	"strings"
)

// renderMarkdown renders report.md: the key figures of every
// reconciliation first, then per reconciliation its error, breaches, worst
// fields and sample exceptions.
func renderMarkdown(p page) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Reconciliation run %s: %s\n\n", p.RunID, p.Status)
	fmt.Fprintf(&b, "Started %s, finished %s (took %s).\n", p.Started, p.Finished, p.Took)
	if p.Partition != "" {
		fmt.Fprintf(&b, "**Partition %s of a partitioned run:** the figures and exceptions are this partition's keys only; "+
			"`recon merge` makes the reconciliation's run and checks its thresholds.\n", p.Partition)
	}
	fmt.Fprintf(&b, "Reconciliations: %d (%d breached, %d failed). "+
		"Every exception is in `%s`, every figure in `%s`.\n\n",
		p.Total, p.Breached, p.Failed, exceptionsFile, summaryFile)

	b.WriteString("## Key figures\n\n")
	if len(p.Figures) == 0 {
		b.WriteString("No reconciliation ran.\n")
		return b.Bytes()
	}
	b.WriteString("| Reconciliation | " + strings.Join(figureHeads, " | ") + " |\n")
	b.WriteString("| --- |" + strings.Repeat(" ---: |", len(figureHeads)) + "\n")
	for _, f := range p.Figures {
		if f.Failed {
			fmt.Fprintf(&b, "| %s (error) |%s\n", escape(f.Name), strings.Repeat(" — |", len(figureHeads)))
			continue
		}
		fmt.Fprintf(&b, "| %s | %s |\n", escape(f.Name), strings.Join(f.Cells, " | "))
	}

	for _, s := range p.Sections {
		fmt.Fprintf(&b, "\n## %s\n\n", escape(s.Name))
		if s.Error != "" {
			fmt.Fprintf(&b, "**Error:** %s\n\n", escape(s.Error))
		}
		if len(s.Breaches) > 0 {
			b.WriteString("**Breaches:**\n\n")
			for _, br := range s.Breaches {
				fmt.Fprintf(&b, "- %s\n", escape(br))
			}
			b.WriteString("\n")
		}
		if len(s.WorstFields) > 0 {
			b.WriteString("### Worst fields\n\n| Field | Mismatches |\n| --- | ---: |\n")
			for _, f := range s.WorstFields {
				fmt.Fprintf(&b, "| %s | %s |\n", escape(f.Field), f.Count)
			}
			b.WriteString("\n")
		}
		if c := s.Trend; c != nil {
			fmt.Fprintf(&b, "### Trend\n\nThe last %s runs, oldest first: exceptions %s; drift rate %s.\n\n", c.Runs,
				strings.Join(c.Exceptions, ", "), strings.Join(c.DriftRates, ", "))
		}
		if len(s.Stakes) > 0 {
			b.WriteString("### Value at stake\n\n| " + strings.Join(stakeHeads, " | ") + " |\n| --- | --- | ---: | ---: | ---: |\n")
			for _, r := range s.Stakes {
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", escape(r.Field), escape(r.Currency), r.Mismatched, r.MissingInTarget, r.Total)
			}
			b.WriteString("\n")
		}
		if c := s.Periods; c != nil {
			fmt.Fprintf(&b, "### Counts per period\n\n%s of %s periods, %s to %s.\n\n| Period | Source | Target | Variance |\n| --- | ---: | ---: | ---: |\n",
				c.Shown, c.Periods, c.First, c.Last)
			for _, r := range c.Rows {
				mark := ""
				if r.Breached {
					mark = " **(breached)**"
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s%s |\n", r.Period, r.Source, r.Target, r.Variance, mark)
			}
			b.WriteString("\n")
		}
		if r := s.Repairs; r != nil {
			fmt.Fprintf(&b, "### Repairs\n\nDirection %s; %s sent to review (`repairs/review.parquet`); max changes %s.\n\n", r.Direction, r.Review, r.MaxChanges)
			if len(r.Plans) > 0 {
				b.WriteString("| " + strings.Join(repairHeads, " | ") + " |\n| --- | --- | --- | ---: | ---: | ---: | ---: | --- |\n")
				for _, p := range r.Plans {
					files := make([]string, len(p.Files))
					for i, f := range p.Files {
						files[i] = "`" + strings.ReplaceAll(f, "`", "'") + "`"
					}
					fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", p.Side, escape(p.System), escape(p.Table),
						p.Insert, p.Update, p.SoftDelete, p.Records, strings.Join(files, ", "))
				}
				b.WriteString("\n")
			}
		}
		b.WriteString("### Sample exceptions\n\n")
		if len(s.Totals) == 0 {
			b.WriteString("No exceptions.\n")
			continue
		}
		fmt.Fprintf(&b, "Exceptions: %s. The first %s of each kind, in arrival order:\n\n", strings.Join(s.Totals, ", "), p.SampleSize)
		b.WriteString("| Kind | Key | Field | Source value | Target value |\n| --- | --- | --- | --- | --- |\n")
		for _, r := range s.Samples {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.Kind, mdCell(r.Key), mdCell(r.Field), mdCell(r.Source), mdCell(r.Target))
		}
	}
	return b.Bytes()
}

// mdCell renders a value for a table cell: *null* for a missing value, ""
// for an empty one, and cut text with an ellipsis.
func mdCell(c cell) string {
	switch {
	case c.Null:
		return "*null*"
	case c.Text == "":
		return `""`
	case c.Cut:
		return escape(c.Text) + "…"
	}
	return escape(c.Text)
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
