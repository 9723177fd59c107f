package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/recon-dev/recon/reconcile"
)

// summary is the content of summary.json. The field order is the key order.
type summary struct {
	RunID      string `json:"run_id"`
	StartedAt  string `json:"started_at"`
	FinishedAt string `json:"finished_at"`
	Status     string `json:"status"`
	// Partition is set on a partial run (recon run --partition).
	Partition       *reconcile.Partition `json:"partition,omitempty"`
	Reconciliations []Result             `json:"reconciliations"`
}

// encodeSummary renders summary.json: indented, with empty collections as
// {} and [] rather than null.
func encodeSummary(run Run) ([]byte, error) {
	s := summary{
		RunID:           run.ID,
		StartedAt:       run.StartedAt.UTC().Format(time.RFC3339),
		FinishedAt:      run.FinishedAt.UTC().Format(time.RFC3339),
		Status:          run.Status,
		Partition:       run.Partition,
		Reconciliations: make([]Result, len(run.Results)),
	}
	for i, r := range run.Results {
		if r.FieldMismatches == nil {
			r.FieldMismatches = map[string]int64{}
		}
		if r.Breaches == nil {
			r.Breaches = []string{}
		}
		s.Reconciliations[i] = r
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ReadRun reads back the run whose report directory is dir, from its
// summary.json.
func ReadRun(dir string) (Run, error) {
	path := filepath.Join(dir, summaryFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return Run{}, err
	}
	var s summary
	if err := json.Unmarshal(b, &s); err != nil {
		return Run{}, fmt.Errorf("read %s: %w", path, err)
	}
	run := Run{ID: s.RunID, Status: s.Status, Results: s.Reconciliations, Partition: s.Partition}
	if run.StartedAt, err = time.Parse(time.RFC3339, s.StartedAt); err != nil {
		return Run{}, fmt.Errorf("read %s: started_at: %w", path, err)
	}
	if run.FinishedAt, err = time.Parse(time.RFC3339, s.FinishedAt); err != nil {
		return Run{}, fmt.Errorf("read %s: finished_at: %w", path, err)
	}
	return run, nil
}

// Status is the status of a run with these results: error if any failed,
// else breached if any breached a threshold, else ok.
func Status(results []Result) string {
	s := "ok"
	for _, r := range results {
		if r.Error != nil {
			return "error"
		}
		if r.Breached() {
			s = "breached"
		}
	}
	return s
}
