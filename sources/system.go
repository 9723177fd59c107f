package sources

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/reconcile"
)

// Driver opens the systems of one kind. A kind of system is a folder that
// registers its Driver from init (RegisterDriver): SQL dialects through
// Register, files and, later, SaaS APIs directly.
type Driver interface {
	// Open connects to (or finds) the system and checks that it answers.
	// Its errors name cfg.Name and hold no secret.
	Open(ctx context.Context, cfg Config) (System, error)
	// Secrets returns the parts of dsn never to show (passwords).
	Secrets(dsn string) []string
	// CheckSelection says what a reconciliation may not ask of this kind
	// of system (a file has no where: and no query:); nil if all is fine.
	CheckSelection(sel queries.Selection) error
}

// System is one open system.
type System interface {
	// Table is what sel selects: a table or query of a database, a set of
	// files.
	Table(sel queries.Selection) Table
	Close() error
}

// Table is one side's relation: what the validator checks and the engine
// reads.
type Table interface {
	// Columns lists the relation's columns without reading its rows.
	Columns(ctx context.Context) ([]Column, error)
	// Scan streams the named columns of every row as text, in that order
	// (columns resolve as Resolve does).
	Scan(ctx context.Context, columns []string) (reconcile.Rows, error)
}

// Aborter is a System whose reads can be cut at once, for a run that
// times out on a system that stopped answering.
type Aborter interface {
	Abort()
}

var (
	driversMu sync.RWMutex
	drivers   = map[string]Driver{}
)

// RegisterDriver makes a kind of system available under a name.
// Registering a name twice is a programming error and panics.
func RegisterDriver(name string, d Driver) {
	driversMu.Lock()
	defer driversMu.Unlock()
	if _, dup := drivers[name]; dup {
		panic("sources: RegisterDriver called twice for driver " + name)
	}
	drivers[name] = d
}

// Drivers lists the registered driver names.
func Drivers() []string {
	driversMu.RLock()
	defer driversMu.RUnlock()
	names := make([]string, 0, len(drivers))
	for n := range drivers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func lookupDriver(name string) (Driver, error) {
	driversMu.RLock()
	d, ok := drivers[name]
	driversMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown driver %q (known: %s; forgotten import of its sources/ package?)",
			name, strings.Join(Drivers(), ", "))
	}
	return d, nil
}

// Open opens a system of any registered kind.
func Open(ctx context.Context, cfg Config) (System, error) {
	d, err := lookupDriver(cfg.Driver)
	if err != nil {
		return nil, fmt.Errorf("system %q: %w", cfg.Name, err)
	}
	return d.Open(ctx, cfg)
}

// CheckSelection checks sel against what systems of driver can select.
func CheckSelection(driver string, sel queries.Selection) error {
	d, err := lookupDriver(driver)
	if err != nil {
		return err
	}
	return d.CheckSelection(sel)
}

// Writable reports whether recon can write repairs to systems of driver.
func Writable(driver string) bool {
	_, err := lookup(driver)
	return err == nil
}
