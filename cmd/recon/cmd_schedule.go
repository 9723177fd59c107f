package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/recon-dev/recon/internal/alert"
	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/hint"
	"github.com/recon-dev/recon/internal/runner"
	"github.com/recon-dev/recon/internal/schedule"
)

func scheduleCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := flag.NewFlagSet("schedule", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "recon.yaml", "the config `file`")
	fs.StringVar(&f.out, "out", "reports", "write each run's report under `DIR`/<run_id>/")
	fs.IntVar(&f.memoryMiB, "memory", 64, "MiB of records to sort in memory per reconciliation before spilling to disk (1 to 2048)")
	fs.StringVar(&f.tempDir, "tmp", "", "`DIR` for spill files (default the system's temp dir)")
	metricsAddr := fs.String("metrics-addr", "", "serve /metrics (Prometheus) and /healthz on `ADDR`, like :9090 (default off)")
	grace := fs.Duration("grace", 10*time.Minute, "on SIGTERM or SIGINT, how long to let the runs going on finish before cancelling them")
	f.logFlags.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: recon schedule [--config FILE] [--out DIR] [--metrics-addr ADDR] [--grace DURATION]

Runs as a daemon: each reconciliation on its schedule: (a cron expression:
five fields, or six with seconds first; CRON_TZ=<zone> may lead), by
default the config's top-level schedule:. A run still going when its next
time comes is skipped; so is one another recon (daemon or recon run) is
running on the same state. Every run is recorded in the state store, alerts
and pings go as for recon run, and a reconciliation with no successful run
within its max_staleness is alerted once.

SIGTERM or SIGINT: no new runs; the runs going on get --grace to finish,
then are cancelled; exit 0.

Flags:
`)
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stderr); done {
		return code
	}
	logger, _, err := f.logFlags.logger(stderr)
	if err != nil {
		return report(stderr, err)
	}
	if err := checkMemory(f.memoryMiB); err != nil {
		return report(stderr, err)
	}
	limitMemory(f.memoryMiB)
	cfg, err := config.Load(f.config)
	if err != nil {
		return report(stderr, err)
	}
	store, err := openState(ctx, cfg)
	if err != nil {
		return report(stderr, err)
	}
	defer store.Close()
	notifier := &alert.Notifier{Alerts: cfg.Alerts, Logger: logger}
	d := &schedule.Daemon{Config: cfg, State: store, Notifier: notifier, Logger: logger, Grace: *grace,
		NewRunner: func() *runner.Runner {
			return &runner.Runner{Config: cfg, State: store, Out: f.out, MemoryMiB: f.memoryMiB, TempDir: f.tempDir, Logger: logger}
		}}
	if *metricsAddr != "" {
		d.Metrics = schedule.NewMetrics()
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return report(stderr, hint.Wrap(fmt.Errorf("--metrics-addr %s: %w", *metricsAddr, err), "choose a free address, like :9090"))
		}
		srv := &http.Server{Handler: d.Metrics.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		logger.Info("serving metrics", "addr", ln.Addr().String())
	}
	logger.Info("recon schedule started", "config", f.config, "state", cfg.StateName)
	if err := d.Run(ctx); err != nil {
		if errors.Is(err, schedule.ErrNothingScheduled) {
			return report(stderr, hint.Wrap(err, "give the config a top-level schedule: \"0 2 * * *\", or one per reconciliation"))
		}
		return report(stderr, err)
	}
	return exitOK
}
