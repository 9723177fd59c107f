package dbtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql" // also registers the "mysql" driver
)

var my = newMySQL()

func newMySQL() *backend {
	return &backend{
		name:   "MariaDB",
		env:    "RECON_TEST_MYSQL_DSN",
		driver: "mysql",
		create: "CREATE DATABASE `%s` CHARACTER SET utf8mb4",
		drop:   "DROP DATABASE IF EXISTS `%s`",
		start:  startMySQL,
		withDB: mysqlWithDB,
	}
}

// MySQL returns a go-sql-driver/mysql DSN, user[:pass]@tcp(127.0.0.1:PORT)/DBNAME
// for a throwaway server, of a fresh, empty utf8mb4 database created for t and
// dropped at t.Cleanup. See the package doc for where the server comes from.
func MySQL(t testing.TB) string {
	t.Helper()
	return my.database(t)
}

func mysqlWithDB(adminDSN, db string) (string, error) {
	cfg, err := mysql.ParseDSN(adminDSN)
	if err != nil {
		return "", fmt.Errorf("parse the MariaDB admin DSN: %w", err)
	}
	cfg.DBName = db
	return cfg.FormatDSN(), nil
}

// startMySQL starts a throwaway MariaDB server whose root user has an empty
// password, and returns its admin DSN.
func startMySQL() (string, error) {
	server := findBinary("mariadbd", "mysqld")
	install := findBinary("mariadb-install-db", "mysql_install_db")
	if server == "" || install == "" {
		return "", fmt.Errorf("%w: need mariadbd (or mysqld) and mariadb-install-db (or mysql_install_db) in PATH, /usr/sbin or /usr/bin", errNotInstalled)
	}
	dir, err := tempDir("mysql", nil)
	if err != nil {
		return "", err
	}
	// --no-defaults must come first. A starting mariadbd deletes every
	// #sql* file in its tmpdir, so each server needs its own.
	common := []string{"--no-defaults", "--datadir=" + filepath.Join(dir, "data"), "--tmpdir=" + dir,
		"--skip-log-bin",
		"--innodb-buffer-pool-size=32M",
		"--innodb-log-file-size=8M",
		"--innodb-flush-log-at-trx-commit=0",
		"--innodb-doublewrite=0",
	}
	if os.Geteuid() == 0 {
		common = append(common, "--user=root") // else mariadbd refuses to run as root
	}
	installArgs := slices.Concat(common, []string{"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"})
	if err := run(command(dir, nil, syscall.SIGKILL, install, installArgs...)); err != nil {
		return "", err
	}
	sock := filepath.Join(dir, "mysql.sock")
	return serve("mysql", filepath.Join(dir, "server.log"), syscall.SIGTERM, func(port int) (*exec.Cmd, string, string) {
		args := slices.Concat(common, []string{
			"--socket=" + sock,
			"--pid-file=" + filepath.Join(dir, "mariadbd.pid"),
			"--port=" + strconv.Itoa(port),
			"--bind-address=127.0.0.1",
			"--skip-networking=0",
			"--skip-name-resolve",
			// As Debian's packaged configuration; the compiled-in default is latin1.
			"--character-set-server=utf8mb4",
			"--collation-server=utf8mb4_general_ci",
			"--max-connections=500",
		})
		cmd := command(dir, nil, syscall.SIGKILL, server, args...)
		return cmd, "root@unix(" + sock + ")/", fmt.Sprintf("root@tcp(127.0.0.1:%d)/", port)
	})
}

// findBinary returns the path of the first of names found in PATH or in the
// system directories a non-root PATH lacks, or "" if there is none.
func findBinary(names ...string) string {
	for _, name := range names {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
		for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
			if path, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
				return path
			}
		}
	}
	return ""
}
