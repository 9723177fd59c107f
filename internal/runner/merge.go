package runner

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/hint"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/reports"
)

// A partitioned run is K partial runs (recon run --partition i/K, one per
// worker, in any order, anywhere that can read the systems) and one merge
// (recon merge) where their report directories come together. Each partial
// run writes, per reconciliation, the engine's Differences for its keys and
// its figures to PartialsDir/<name>.partial; the merge replays them, in
// key order, through the same report writer, repair planner and state a
// single run feeds, so the merged run is that single run: its exceptions,
// figures, plans, history and lifecycle.

// partialPath is where a partial run keeps a reconciliation's partial file.
func partialPath(runDir, name string) string {
	return filepath.Join(runDir, PartialsDir, url.PathEscape(name)+".partial")
}

// createPartial starts the partial file of rc in the run being written.
func (r *Runner) createPartial(s *runScope, rc config.Reconciliation) (*reconcile.PartialWriter, error) {
	if err := os.MkdirAll(filepath.Join(s.writer.Dir(), PartialsDir), 0o755); err != nil {
		return nil, err
	}
	return reconcile.CreatePartial(partialPath(s.writer.Dir(), rc.Spec.Name), &rc.Spec, *r.Partition)
}

// replay merges the partial runs' files of rc into sink.
func (r *Runner) replay(ctx context.Context, rc config.Reconciliation, sink reconcile.Sink) (reconcile.Result, error) {
	paths := make([]string, len(r.Partials))
	for i, dir := range r.Partials {
		paths[i] = partialPath(dir, rc.Spec.Name)
	}
	locs := [2]*time.Location{r.location(rc.Source.System), r.location(rc.Target.System)}
	return reconcile.Replay(ctx, rc.Spec, paths, locs, sink)
}

func (r *Runner) location(system string) *time.Location {
	if l := r.Config.Systems[system].Location; l != nil {
		return l
	}
	return time.UTC
}

// PartialError is a reconciliation that failed in one of the partial runs
// being merged: the merged run reports it failed, with the partition's
// error and class, as a single run would have.
type PartialError struct {
	Dir       string
	Partition reconcile.Partition
	Result    reports.Result
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("partition %s (%s) failed: %s", e.Partition, e.Dir, *e.Result.Error)
}

// CheckPartials reads the partial runs in dirs and returns the config's
// reconciliations they ran, which a merge of them reports. It refuses
// directories that are not partial runs, partial runs of another
// partitioning, a partition given twice or missing, and reconciliations
// whose config changed since (their hash differs), or that not every
// partial run has, or whose partial file is missing or cut short: the
// merge would not be the run one worker would have made, and it refuses
// before it writes anything.
func CheckPartials(cfg *config.Config, dirs []string) ([]config.Reconciliation, error) {
	if len(dirs) == 0 {
		return nil, hint.Wrap(errors.New("no partial runs to merge"), "name the report directories of every partition's run: recon merge --config FILE DIR…")
	}
	var count int
	seen := map[int]string{}
	hashes := map[string]string{}
	var names []string
	for i, dir := range dirs {
		run, err := reports.ReadRun(dir)
		if err != nil {
			return nil, hint.Wrap(fmt.Errorf("read partial run %s: %w", dir, err), "name the run directories that recon run --partition wrote (…/<run_id>)")
		}
		p := run.Partition
		switch {
		case p == nil:
			return nil, hint.Wrap(fmt.Errorf("%s is not a partial run", dir), "merge the runs of recon run --partition i/K")
		case i == 0:
			count = p.Count
		case p.Count != count:
			return nil, fmt.Errorf("%s is partition %s but %s is one of %d: merge the partials of one partitioned run", dir, p, dirs[0], count)
		}
		if other, ok := seen[p.Index]; ok {
			return nil, fmt.Errorf("partition %s is given twice: %s and %s", p, other, dir)
		}
		seen[p.Index] = dir
		var here []string
		for _, res := range run.Results {
			here = append(here, res.Name)
			// A reconciliation that failed in the partition has no file:
			// it fails in the merge, as it did there.
			if res.Error == nil {
				if err := reconcile.CheckPartial(partialPath(dir, res.Name)); err != nil {
					return nil, hint.Wrap(fmt.Errorf("partial run %s, reconciliation %q: %w", dir, res.Name, err),
						fmt.Sprintf("run partition %s again (recon run --partition %s), then merge", p, p))
				}
			}
			if i == 0 {
				names = append(names, res.Name)
				hashes[res.Name] = res.ConfigHash
			} else if h, ok := hashes[res.Name]; !ok || h != res.ConfigHash {
				return nil, fmt.Errorf("%s ran reconciliation %q with another config than %s: run every partition with one config", dir, res.Name, dirs[0])
			}
		}
		if len(here) != len(names) {
			return nil, fmt.Errorf("%s ran %s, but %s ran %s: run every partition with the same --only", dir, strings.Join(here, ", "), dirs[0], strings.Join(names, ", "))
		}
	}
	for i := range count {
		if _, ok := seen[i]; !ok {
			return nil, hint.Wrap(fmt.Errorf("partition %d/%d is missing", i, count), "run it (recon run --partition "+fmt.Sprintf("%d/%d", i, count)+"), then merge all of them")
		}
	}
	recs, err := cfg.Select(names)
	if err != nil {
		return nil, err
	}
	for _, rc := range recs {
		if rc.Hash != hashes[rc.Spec.Name] {
			return nil, hint.Wrap(fmt.Errorf("reconciliation %q changed in the config since the partial runs", rc.Spec.Name),
				"merge with the config the partitions ran with, or run them again")
		}
	}
	return recs, nil
}

// Merge merges the partial runs in dirs (see CheckPartials) into one run
// of recs, as Run does: a report, repair plans, history and lifecycle. A
// reconciliation that failed in a partition fails in the merged run.
func (r *Runner) Merge(ctx context.Context, recs []config.Reconciliation, dirs []string) (reports.Run, string, error) {
	failed := map[string]error{}
	for _, dir := range dirs {
		run, err := reports.ReadRun(dir)
		if err != nil {
			return reports.Run{}, "", err
		}
		for _, res := range run.Results {
			if res.Error != nil && failed[res.Name] == nil {
				failed[res.Name] = &PartialError{Dir: dir, Partition: *run.Partition, Result: res}
			}
		}
	}
	m := *r
	m.Partials, m.Partition = slices.Clone(dirs), nil
	m.failedPartials = failed
	return m.Run(ctx, recs)
}
