package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/hint"
	"github.com/recon-dev/recon/internal/runner"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/sources"
)

func validateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "recon.yaml", "the config `file`")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: recon validate [--config FILE]

Checks the config, connects to every system, and checks that every table,
filter, query and column exists and that column types can be compared as
the config's field types, and that every table a repair may write has the
columns its plans write and guard, and, for mode checksum or auto, whether
the databases can checksum it. Reads no rows. Exit 0 if all is well, 2 if
not.

Flags:
`)
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stderr); done {
		return code
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return report(stderr, err)
	}
	sys := runner.NewSystems(cfg, discardLogger())
	defer sys.Close()
	var problems []error
	for _, rc := range cfg.Reconciliations {
		errs := validateReconciliation(ctx, sys, rc)
		if len(errs) == 0 {
			what := fmt.Sprintf("%d key column(s), %d field(s)", len(rc.Spec.Key), len(rc.Spec.Fields))
			if n := len(rc.Spec.Match); n > 0 {
				what = fmt.Sprintf("%d key column(s) and %d further match tier(s), %d field(s)", len(rc.Spec.Key), n, len(rc.Spec.Fields))
			}
			if cb := rc.Spec.CountsBy; cb != nil {
				what = fmt.Sprintf("rows counted per %s in %s", cb.Period, cb.Location)
			}
			if rc.Mode != config.ModeRows {
				what += ", " + checksumNote(ctx, sys, rc)
			}
			fmt.Fprintf(stdout, "ok  %s: %s.%s vs %s.%s, %s\n", rc.Spec.Name,
				rc.Source.System, rc.Source.Selection, rc.Target.System, rc.Target.Selection, what)
			continue
		}
		for _, e := range errs {
			fmt.Fprintf(stdout, "BAD %s: %v\n", rc.Spec.Name, e)
		}
		problems = append(problems, errs...)
	}
	if len(problems) > 0 {
		return report(stderr, hint.Wrap(fmt.Errorf("config %s: %d problem(s) found, listed above", *cfgPath, len(problems)),
			"fix the names in the config or the database, then run recon validate again"))
	}
	return exitOK
}

// checksumNote says whether a reconciliation of mode checksum or auto can
// be checksummed, and why not: it then compares rows.
func checksumNote(ctx context.Context, sys *runner.Systems, rc config.Reconciliation) string {
	src, _, err := sys.Input(ctx, rc.Source)
	var tgt reconcile.Input
	if err == nil {
		tgt, _, err = sys.Input(ctx, rc.Target)
	}
	why := ""
	if err == nil {
		why, err = reconcile.ChecksumPossible(ctx, rc.Spec, src, tgt)
	}
	switch {
	case err != nil:
		return fmt.Sprintf("mode %s: cannot tell whether checksums are possible: %v", rc.Mode, err)
	case why != "":
		return fmt.Sprintf("mode %s: checksums are not possible (%s), so rows are compared", rc.Mode, why)
	}
	return fmt.Sprintf("mode %s: checksums possible", rc.Mode)
}

// validateReconciliation checks both sides' columns and their types.
func validateReconciliation(ctx context.Context, sys *runner.Systems, rc config.Reconciliation) []error {
	var errs []error
	keyFamilies := [2][]sources.Family{make([]sources.Family, len(rc.Spec.Key)), make([]sources.Family, len(rc.Spec.Key))}
	for _, side := range []struct {
		name reconcile.Side
		sel  config.SideSelection
	}{{reconcile.SourceSide, rc.Source}, {reconcile.TargetSide, rc.Target}} {
		_, rel, err := sys.Input(ctx, side.sel)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cols, err := rel.Columns(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, need := range rc.Spec.Columns(side.name) {
			found, err := sources.Resolve(cols, []string{need.Name})
			if err != nil {
				errs = append(errs, fmt.Errorf("%s, %s %s.%s: %w", need.Role, side.name, side.sel.System, side.sel.Selection, err))
				continue
			}
			fam := sources.FamilyOf(found[0].DatabaseType)
			if i := slices.IndexFunc(rc.Spec.Columns(side.name), func(c reconcile.Column) bool { return c == need }); i < len(rc.Spec.Key) {
				keyFamilies[sideIndex(side.name)][i] = fam
			}
			if !comparable(need.Type, fam) {
				errs = append(errs, fmt.Errorf("%s: %s column %q is %s (%s), which cannot be read as %s",
					need.Role, side.name, found[0].Name, found[0].DatabaseType, fam, need.Type))
			}
		}
		if rc.Repair != nil && rc.Repair.Direction.Writes(side.name) {
			if _, err := sys.RepairTable(ctx, rc, side.name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for i, k := range rc.Spec.Key {
		src, tgt := keyFamilies[0][i], keyFamilies[1][i]
		if k.Type == reconcile.String && src != tgt && (fractional(src) || fractional(tgt)) {
			errs = append(errs, fmt.Errorf("key #%d: the source's %s is %s and the target's %s is %s: as text keys they never match (42.00 is not 42); declare the key type: int",
				i+1, k.Source, src, k.Target, tgt))
		}
	}
	return errs
}

// fractional reports whether a family's text may carry a fraction or an
// exponent, which another family writes differently.
func fractional(f sources.Family) bool { return f == sources.Decimal || f == sources.Float }

func sideIndex(s reconcile.Side) int {
	if s == reconcile.SourceSide {
		return 0
	}
	return 1
}

// readableAs says which column families each field type can be read from.
// Text and untyped columns can hold anything: their values are parsed.
var readableAs = map[reconcile.FieldType][]sources.Family{
	reconcile.String:    nil, // any
	reconcile.Int:       {sources.Integer, sources.Decimal, sources.Float},
	reconcile.Decimal:   {sources.Integer, sources.Decimal, sources.Float},
	reconcile.Float:     {sources.Integer, sources.Decimal, sources.Float},
	reconcile.Bool:      {sources.Bool, sources.Integer},
	reconcile.Date:      {sources.Date, sources.Timestamp},
	reconcile.Timestamp: {sources.Timestamp, sources.Date},
}

func comparable(t reconcile.FieldType, f sources.Family) bool {
	allowed := readableAs[t]
	return allowed == nil || f == sources.Text || f == sources.Unknown || slices.Contains(allowed, f)
}
