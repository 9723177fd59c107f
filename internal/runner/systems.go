package runner

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/hint"
	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/reports/repairs"
	"github.com/recon-dev/recon/sources"
)

// Systems opens each configured system once, on first use, and remembers
// a failure to connect so that every reconciliation using the system
// reports it (but not one its own context cut short).
type Systems struct {
	mu      sync.Mutex // Abort comes from a reconciliation's timeout, in another goroutine
	cfg     *config.Config
	logger  *slog.Logger
	connect func(context.Context, sources.Config) (sources.System, error)
	open    map[string]sources.System
	failed  map[string]error
}

// NewSystems opens systems for snapshots.
func NewSystems(cfg *config.Config, logger *slog.Logger) *Systems {
	return &Systems{cfg: cfg, logger: logger, connect: sources.Open, open: map[string]sources.System{}, failed: map[string]error{}}
}

// NewWritableSystems opens SQL systems to write repairs to.
func NewWritableSystems(cfg *config.Config, logger *slog.Logger) *Systems {
	s := NewSystems(cfg, logger)
	s.connect = func(ctx context.Context, c sources.Config) (sources.System, error) {
		return sources.OpenWritable(ctx, c)
	}
	return s
}

// SQL returns the open SQL system name, which repairs are written to.
func (s *Systems) SQL(ctx context.Context, name string) (*sources.DB, error) {
	sys, err := s.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	db, ok := sys.(*sources.DB)
	if !ok {
		return nil, fmt.Errorf("system %q (%s) is not an SQL database: recon writes repairs only to those", name, s.cfg.Systems[name].Source.Driver)
	}
	return db, nil
}

// Get returns the open system name, connecting on first use.
func (s *Systems) Get(ctx context.Context, name string) (sources.System, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if db, ok := s.open[name]; ok {
		return db, nil
	}
	if err, ok := s.failed[name]; ok {
		return nil, err
	}
	db, err := s.connect(ctx, s.cfg.Systems[name].Source)
	if err != nil {
		err = hint.Wrap(err, "check that system "+name+" is reachable and its dsn (host, port, user, password) is right")
		// A connection cut short by the reconciliation's own timeout (or
		// a cancelled run) says nothing of the system: the next
		// reconciliation tries again.
		if ctx.Err() == nil {
			s.failed[name] = err
		}
		return nil, err
	}
	s.logger.Debug("connected", "system", name, "driver", s.cfg.Systems[name].Source.Driver)
	s.open[name] = db
	return db, nil
}

// Input returns one side of a reconciliation.
func (s *Systems) Input(ctx context.Context, side config.SideSelection) (reconcile.Input, sources.Table, error) {
	sys, err := s.Get(ctx, side.System)
	if err != nil {
		return reconcile.Input{}, nil, err
	}
	table := sys.Table(side.Selection)
	return reconcile.Input{Snapshot: table, Location: s.cfg.Systems[side.System].Location}, table, nil
}

// RepairTable checks the table rc writes on side and returns it.
func (s *Systems) RepairTable(ctx context.Context, rc config.Reconciliation, side reconcile.Side) (*repairs.Table, error) {
	name := rc.Side(side).System
	db, err := s.SQL(ctx, name)
	if err != nil {
		return nil, err
	}
	cols, err := db.Relation(queries.Selection{Table: rc.Repair.Table(side)}).Columns(ctx)
	if err != nil {
		return nil, hint.Wrap(fmt.Errorf("repair table: %w", err), "name a table the "+string(side)+" may be written in with repair."+string(side)+"_table")
	}
	sc := s.cfg.Systems[name]
	t, err := repairs.NewTable(side, name, sc.Source.Driver, db.Dialect(), sc.Location, cols, &rc.Spec, rc.Repair)
	if err != nil {
		return nil, hint.Wrap(err, "the table recon writes must have the columns the reconciliation reads there (and the soft_delete column)")
	}
	return t, nil
}

// Abort closes the connections of systems now, ending reads that a
// database which stopped answering would never end; a later Get opens
// them anew.
func (s *Systems) Abort(names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range names {
		if sys, ok := s.open[name]; ok {
			if a, ok := sys.(sources.Aborter); ok {
				a.Abort()
			}
			sys.Close()
			delete(s.open, name)
		}
	}
}

// Close closes every open system.
func (s *Systems) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, db := range s.open {
		db.Close()
	}
}
