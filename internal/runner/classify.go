package runner

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"

	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/reports"
	"github.com/recon-dev/recon/sources"
)

// The error classes of a failed run, as integration teams classify sync
// errors. Their names are part of summary.json, the history and alerts.
const (
	ClassAuth         = "auth"                 // wrong password, access denied
	ClassSchema       = "schema"               // missing table or column, incomparable type
	ClassConnectivity = "connectivity"         // unreachable, timeout, connection lost mid-run
	ClassConfig       = "config"               // the config is wrong
	ClassResource     = "resource"             // disk full, out of memory
	ClassBusy         = reports.ErrorClassBusy // another recon holds the reconciliation's lock
	ClassCancelled    = "cancelled"            // the run was stopped (SIGINT, SIGTERM) before the reconciliation ended
	ClassInternal     = "internal"             // anything else: a bug to report
)

// firstSteps is what to try first for each class.
var firstSteps = map[string]string{
	ClassAuth:         "check the user and password in the system's dsn (keep them in the environment), and that the user may read the tables",
	ClassSchema:       "a table or column the config names is missing or of another type: run recon validate --config <file>",
	ClassConnectivity: "check that the database is up and reachable from this host (host, port, firewall), and that the run's timeout: fits the tables",
	ClassConfig:       "fix the config, then check it with recon validate --config <file>",
	ClassResource:     "free disk space where reports and spill files go (--out, --tmp), or give the run more memory (--memory)",
	ClassBusy:         "another recon is running this reconciliation; wait for it, or look for a stuck daemon (recon status shows the lock)",
	ClassCancelled:    "nothing to fix: the run was stopped before the reconciliation ended; the next run compares it afresh",
	ClassInternal:     "this is a recon bug: report it with the log line",
}

// Classify names the class of a run's error and the first thing to try.
func Classify(err error) (class, firstStep string) {
	class = classify(err)
	return class, firstSteps[class]
}

func classify(err error) string {
	var busy *BusyError
	var partial *PartialError
	var pqErr *pq.Error
	var pgxErr *pgconn.PgError
	var myErr *mysql.MySQLError
	var netErr net.Error
	var opErr *net.OpError
	var pathErr *fs.PathError
	switch {
	case errors.As(err, &partial) && partial.Result.ErrorClass != nil:
		return *partial.Result.ErrorClass
	// The causes of a stopped run first: the driver's error that came of
	// stopping it is wrapped with them.
	case errors.Is(err, ErrCancelled):
		return ClassCancelled
	case errors.As(err, &busy), errors.Is(err, errLostLock):
		return ClassBusy
	case errors.Is(err, errTimeout), errors.Is(err, errUnrenewed):
		return ClassConnectivity
	case errors.As(err, &pqErr):
		return pqClass(string(pqErr.Code))
	case errors.As(err, &pgxErr): // driver: pgx
		return pqClass(pgxErr.Code)
	case errors.As(err, &myErr):
		return mysqlClass(myErr.Number)
	case errors.Is(err, context.DeadlineExceeded):
		return ClassConnectivity
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.ENOMEM):
		return ClassResource
	case errors.Is(err, sources.ErrNoColumn):
		return ClassSchema
	case errors.Is(err, sources.ErrFile):
		return ClassConfig // a CSV or Parquet file a system reads
	case errors.As(err, &opErr): // a socket's, even where its file is missing
		return ClassConnectivity
	// Before the network's other errors: a file's syscall.Errno is a
	// net.Error too (it has Timeout and Temporary).
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission), errors.As(err, &pathErr):
		return ClassConfig // a file the config or a flag names: SQLite database, query file, --tmp
	case errors.As(err, &netErr), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EPIPE):
		return ClassConnectivity
	case errors.Is(err, mysql.ErrInvalidConn), errors.Is(err, pq.ErrSSLNotSupported):
		return ClassConnectivity
	}
	var cfgErr *config.Error
	if errors.As(err, &cfgErr) {
		return ClassConfig
	}
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "bad connection"), strings.Contains(msg, "connection refused"), strings.Contains(msg, "broken pipe"),
		strings.Contains(msg, "unexpected eof"), strings.Contains(msg, "i/o timeout"), strings.Contains(msg, "no such host"):
		return ClassConnectivity
	case strings.Contains(msg, "no such table"), strings.Contains(msg, "no such column"), strings.Contains(msg, "cannot be read as"):
		return ClassSchema
	case strings.Contains(msg, "bad dsn"), strings.Contains(msg, "unknown driver"):
		return ClassConfig
	case strings.Contains(msg, "no space left"), strings.Contains(msg, "out of memory"), strings.Contains(msg, "disk full"):
		return ClassResource
	}
	return ClassInternal
}

// pqClass maps a PostgreSQL SQLSTATE to a class.
func pqClass(code string) string {
	switch {
	case code == "28P01" || code == "28000" || code == "42501": // invalid password, authorization, insufficient privilege
		return ClassAuth
	case code == "3D000" || code == "42P01" || code == "42703" || code == "42883" || code == "42804" || code == "3F000":
		return ClassSchema // no database, table, column, function; datatype mismatch; no schema
	case strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03" || code == "57014":
		return ClassConnectivity // connection exceptions, shutdown, cancelled (timeout)
	case strings.HasPrefix(code, "53") || code == "54000":
		return ClassResource // insufficient resources: disk full, out of memory, too many connections
	case strings.HasPrefix(code, "42"):
		return ClassConfig // syntax errors: a where: filter or query file
	}
	return ClassInternal
}

// mysqlClass maps a MySQL/MariaDB error number to a class.
func mysqlClass(n uint16) string {
	switch n {
	case 1045, 1044, 1142, 1143, 1227, 1698: // access denied
		return ClassAuth
	case 1049, 1146, 1054, 1109: // unknown database, table, column
		return ClassSchema
	case 1021, 1114, 1041, 1037, 1038, 1040: // disk full, table full, out of memory, too many connections
		return ClassResource
	case 1064, 1149: // syntax: a where: filter or query file
		return ClassConfig
	case 2002, 2003, 2006, 2013, 1053, 1927, 3024, 1969: // cannot connect, gone away, lost, shutdown, killed, timeouts
		return ClassConnectivity
	}
	return ClassInternal
}
