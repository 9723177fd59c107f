package reports

import (
	"bytes"
	_ "embed"
	"html/template"
)

//go:embed report.html.tmpl
var htmlTemplate string

var reportPage = template.Must(template.New("report").Parse(htmlTemplate))

// renderHTML renders report.html: the same page as report.md, for a
// browser. It is one self-contained file: inline styles, no scripts, no
// external resources, so it opens offline and prints cleanly.
func renderHTML(p page) ([]byte, error) {
	var b bytes.Buffer
	err := reportPage.Execute(&b, struct {
		page
		Heads       []string
		RepairHeads []string
		StakeHeads  []string
		SummaryFile string
	}{p, figureHeads, repairHeads, stakeHeads, summaryFile})
	return b.Bytes(), err
}
