package state

import "database/sql"

// DB is the store's database, for tests that check its tables.
func DB(s *Store) *sql.DB { return s.db }

// DSN is what the store was opened with, for tests that reopen it.
func DSN(s *Store) string { return s.dsn }

// Migrations are the schema's versions, for tests that build an older one.
var Migrations = migrations
