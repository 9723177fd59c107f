package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/runner"
	"github.com/recon-dev/recon/reports"
)

func mergeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f runnerFlags
	var configPath string
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&configPath, "config", "recon.yaml", "the config `file` the partitions ran with")
	fs.StringVar(&f.out, "out", "reports", "write the merged report under `DIR`/<run_id>/")
	fs.BoolVar(&f.summary, "summary", false, "print the summary to stdout even when healthy and not on a terminal")
	f.logFlags.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: recon merge [--config FILE] [--out DIR] PARTIAL_RUN_DIR...

Joins the partial runs of a partitioned run (recon run --partition I/K,
one per partition) into one run under <out>/<run_id>/: the exceptions,
figures, report pages and repair plans one unpartitioned run would have
written, its history and exception lifecycle in the state, and its exit
code: 0 ok, 1 a threshold was breached, 2 could not run or a partition
failed.

It refuses directories that are not partial runs, partitions of another
partitioning, a partition given twice or missing, and reconciliations whose
config changed since the partial runs.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if _, _, err := f.logFlags.logger(stderr); err != nil {
		return report(stderr, err)
	}
	cfg, err := config.Load(configPath)
	if err != nil {
		return report(stderr, err)
	}
	dirs := fs.Args()
	recs, err := runner.CheckPartials(cfg, dirs)
	if err != nil {
		return report(stderr, err)
	}
	return runRunner(ctx, cfg, configPath, f, func(r *runner.Runner) (reports.Run, string, error) { return r.Merge(ctx, recs, dirs) }, stdout, stderr)
}
