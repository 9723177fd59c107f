package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/reports/repairs"
	"github.com/recon-dev/recon/sources"
)

// systems opens each configured system once, on first use, and remembers
// a failure so that every reconciliation using the system reports it.
type systems struct {
	cfg     *Config
	logger  *slog.Logger
	connect func(context.Context, sources.Config) (*sources.DB, error)
	open    map[string]*sources.DB
	failed  map[string]error
}

// newSystems opens systems for snapshots.
func newSystems(cfg *Config, logger *slog.Logger) *systems {
	return &systems{cfg: cfg, logger: logger, connect: sources.Open, open: map[string]*sources.DB{}, failed: map[string]error{}}
}

// newWritableSystems opens systems to write repairs to.
func newWritableSystems(cfg *Config, logger *slog.Logger) *systems {
	s := newSystems(cfg, logger)
	s.connect = sources.OpenWritable
	return s
}

func (s *systems) get(ctx context.Context, name string) (*sources.DB, error) {
	if db, ok := s.open[name]; ok {
		return db, nil
	}
	if err, ok := s.failed[name]; ok {
		return nil, err
	}
	db, err := s.connect(ctx, s.cfg.Systems[name].Source)
	if err != nil {
		err = &userError{err: err, hint: "check that system " + name + " is reachable and its dsn (host, port, user, password) is right"}
		s.failed[name] = err
		return nil, err
	}
	s.logger.Debug("connected", "system", name, "driver", s.cfg.Systems[name].Source.Driver)
	s.open[name] = db
	return db, nil
}

// input returns one side of a reconciliation.
func (s *systems) input(ctx context.Context, side SideSelection) (reconcile.Input, *sources.Relation, error) {
	db, err := s.get(ctx, side.System)
	if err != nil {
		return reconcile.Input{}, nil, err
	}
	rel := db.Relation(side.Selection)
	return reconcile.Input{Snapshot: rel, Location: s.cfg.Systems[side.System].Location}, rel, nil
}

// repairTable checks the table rc writes on side and returns it.
func (s *systems) repairTable(ctx context.Context, rc Reconciliation, side reconcile.Side) (*repairs.Table, error) {
	name := rc.Side(side).System
	db, err := s.get(ctx, name)
	if err != nil {
		return nil, err
	}
	cols, err := db.Relation(queries.Selection{Table: rc.Repair.Table(side)}).Columns(ctx)
	if err != nil {
		return nil, &userError{err: fmt.Errorf("repair table: %w", err), hint: "name a table the " + string(side) + " may be written in with repair." + string(side) + "_table"}
	}
	sc := s.cfg.Systems[name]
	t, err := repairs.NewTable(side, name, sc.Source.Driver, db.Dialect(), sc.Location, cols, &rc.Spec, rc.Repair)
	if err != nil {
		return nil, &userError{err: err, hint: "the table recon writes must have the columns the reconciliation reads there (and the soft_delete column)"}
	}
	return t, nil
}

func (s *systems) close() {
	for _, db := range s.open {
		db.Close()
	}
}
