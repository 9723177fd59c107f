package main

import (
	"context"
	"log/slog"

	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/sources"
)

// systems opens each configured system once, on first use, and remembers
// a failure so that every reconciliation using the system reports it.
type systems struct {
	cfg    *Config
	logger *slog.Logger
	open   map[string]*sources.DB
	failed map[string]error
}

func newSystems(cfg *Config, logger *slog.Logger) *systems {
	return &systems{cfg: cfg, logger: logger, open: map[string]*sources.DB{}, failed: map[string]error{}}
}

func (s *systems) get(ctx context.Context, name string) (*sources.DB, error) {
	if db, ok := s.open[name]; ok {
		return db, nil
	}
	if err, ok := s.failed[name]; ok {
		return nil, err
	}
	db, err := sources.Open(ctx, s.cfg.Systems[name].Source)
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

func (s *systems) close() {
	for _, db := range s.open {
		db.Close()
	}
}
