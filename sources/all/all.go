// Package all imports every source adapter, so that a program importing it
// can open any driver recon supports.
package all

import (
	_ "github.com/recon-dev/recon/sources/file/csv"     // driver "csv"
	_ "github.com/recon-dev/recon/sources/file/parquet" // driver "parquet"
	_ "github.com/recon-dev/recon/sources/mysql"        // driver "mysql"
	_ "github.com/recon-dev/recon/sources/postgres"     // drivers "postgres" and "pgx"
	_ "github.com/recon-dev/recon/sources/sqlite"       // driver "sqlite"
)
