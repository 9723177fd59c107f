// Command recon reconciles records between two systems' databases: count
// parity, field-level divergence and last-modified misalignment, written as
// a Parquet drift report with a summary for cron and people.
//
// Exit codes: 0 ran and every threshold held; 1 ran and a threshold was
// breached; 2 could not run (bad config, unreachable system, cancelled).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // timezone: names must resolve on hosts without zoneinfo

	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/hint"
	"github.com/recon-dev/recon/internal/state"
	_ "github.com/recon-dev/recon/sources/all"
)

const (
	exitOK       = 0
	exitBreached = 1
	exitError    = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "reconcile now and write a drift report", runCmd},
		{"merge", "join the partial runs of a partitioned run into one run", mergeCmd},
		{"validate", "check a config and the tables and columns it names", validateCmd},
		{"apply", "show, then execute, the repair plans of a run", applyCmd},
		{"status", "show the tracked figures and trends; exit 3 when a reconciliation is stale", statusCmd},
		{"schedule", "run reconciliations on their cron schedules, as a daemon", scheduleCmd},
	}
}

const usage = `recon reconciles records between two systems' databases and reports drift.

Usage:
  recon <command> [flags]

Commands:
%s
Run "recon <command> --help" for a command's flags.

Exit codes: 0 ok, 1 a threshold was breached, 2 could not run,
3 (recon status) a reconciliation is stale.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var list string
	for _, c := range commands() {
		list += fmt.Sprintf("  %-10s %s\n", c.name, c.summary)
	}
	if len(args) == 0 {
		fmt.Fprintf(stderr, usage, list)
		return exitError
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(stdout, usage, list)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "Error: unknown command %q\nTry: recon --help\n", args[0])
	return exitError
}

// report prints err as "Error: ..." and its hint as "Try: ...", and returns exitError.
func report(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "Error: %v\n", err)
	if h := hint.Of(err); h != "" {
		fmt.Fprintf(stderr, "Try: %s\n", h)
	}
	return exitError
}

// parseFlags parses a command's flags and refuses stray arguments; done
// says the command ends here (--help, or a mistake) with exit code code.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		return flagExit(err), true
	}
	if fs.NArg() > 0 {
		return report(stderr, hint.Wrap(fmt.Errorf("unexpected argument %q", fs.Arg(0)), "recon "+fs.Name()+" --help")), true
	}
	return exitOK, false
}

// openState opens the config's state store.
func openState(ctx context.Context, cfg *config.Config) (*state.Store, error) {
	store, err := state.Open(ctx, cfg.State, "", cfg.StateName)
	if err != nil {
		return nil, hint.Wrap(err, "state: in the config names where recon keeps its history (an SQLite file, or postgres://…)")
	}
	return store, nil
}
