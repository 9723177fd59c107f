// Command plant writes the demo's systems: SQLite databases for a CRM
// (crm.db), a billing system (billing.db) and a marketing platform
// (marketing.db), and a HubSpot-style CSV export (hubspot/), with the
// scenarios of package drift planted in them.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite"

	"github.com/recon-dev/recon/internal/drift"
)

func main() {
	dir := flag.String("dir", "testdata/demo", "where to write crm.db and billing.db")
	filler := flag.Int("filler", 2000, "clean opportunity/invoice pairs besides the planted drift")
	flag.Parse()
	if err := plant(*dir, *filler); err != nil {
		fmt.Fprintln(os.Stderr, "plant:", err)
		os.Exit(2)
	}
}

func plant(dir string, filler int) error {
	var dbs []*sql.DB
	for _, name := range []string{"crm.db", "billing.db"} {
		path := filepath.Join(dir, name)
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return err
		}
		db, err := sql.Open("sqlite", path)
		if err != nil {
			return err
		}
		defer db.Close()
		dbs = append(dbs, db)
	}
	if err := drift.Plant(context.Background(), dbs[0], "sqlite", dbs[1], "sqlite", filler); err != nil {
		return err
	}
	for _, db := range dbs {
		if err := db.Close(); err != nil {
			return err
		}
	}
	if err := drift.PlantCRM(context.Background(), dir); err != nil {
		return err
	}
	fmt.Printf("planted %d clean pairs and the drift scenario in %s/crm.db and %s/billing.db,\n", filler, dir, dir)
	fmt.Printf("and deals, leads and contacts in %s/crm.db, billing.db, marketing.db and hubspot/\n", dir)
	return nil
}
