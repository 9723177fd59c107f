package dbtest

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	_ "github.com/lib/pq" // registers the "postgres" driver
)

var pg = newPostgres()

func newPostgres() *backend {
	return &backend{
		name:   "PostgreSQL",
		env:    "RECON_TEST_POSTGRES_DSN",
		driver: "postgres",
		create: `CREATE DATABASE "%s"`,
		// FORCE (PostgreSQL 13+) ends connections the test left open.
		drop:   `DROP DATABASE IF EXISTS "%s" WITH (FORCE)`,
		start:  startPostgres,
		withDB: postgresWithDB,
	}
}

// Postgres returns a lib/pq URL DSN,
// postgres://user@127.0.0.1:PORT/DBNAME?sslmode=disable for a throwaway
// server, of a fresh, empty UTF8 database created for t and dropped at
// t.Cleanup. See the package doc for where the server comes from.
func Postgres(t testing.TB) string {
	t.Helper()
	return pg.database(t)
}

func postgresWithDB(adminDSN, db string) (string, error) {
	// The errors leave out the DSN: it may hold a password.
	u, err := url.Parse(adminDSN)
	if err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", errors.New("the PostgreSQL admin DSN is not a postgres:// URL")
	}
	u.Path = "/" + db
	return u.String(), nil
}

// startPostgres starts a throwaway server as the postgres user when run as
// root (initdb and postgres refuse root), and returns its admin DSN.
func startPostgres() (string, error) {
	bin, err := postgresBinDir()
	if err != nil {
		return "", err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		if cred, err = credential("postgres"); err != nil {
			return "", fmt.Errorf("initdb refuses root, so the postgres system user is needed: %w", err)
		}
	}
	dir, err := tempDir("pg", cred)
	if err != nil {
		return "", err
	}
	data := filepath.Join(dir, "data")
	initdb := command(dir, cred, syscall.SIGKILL, filepath.Join(bin, "initdb"), "-D", data,
		"-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
	if err := run(initdb); err != nil {
		return "", err
	}
	// SIGINT is a fast shutdown; SIGQUIT, sent if the test binary dies, an
	// immediate one. Dynamic shared memory lives in the data directory so
	// that even then only a 56-byte System V segment outlives the server.
	return serve("postgres", filepath.Join(dir, "server.log"), syscall.SIGINT, func(port int) (*exec.Cmd, string, string) {
		cmd := command(dir, cred, syscall.SIGQUIT, filepath.Join(bin, "postgres"), "-D", data,
			"-p", strconv.Itoa(port), "-k", dir,
			"-c", "listen_addresses=127.0.0.1",
			"-c", "dynamic_shared_memory_type=mmap",
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
			"-c", "max_connections=200")
		ready := fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", dir, port)
		admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
		return cmd, ready, admin
	})
}

// postgresBinDir returns the directory holding initdb and postgres: the
// highest version under /usr/lib/postgresql, else `pg_config --bindir`,
// else the directory of postgres in PATH.
func postgresBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(bin string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(bin)), 64) // "15", "9.6"
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return cmp.Compare(version(b), version(a)) })
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	if path, err := exec.LookPath("postgres"); err == nil {
		dirs = append(dirs, filepath.Dir(path))
	}
	for _, dir := range dirs {
		_, errInitdb := exec.LookPath(filepath.Join(dir, "initdb"))
		_, errPostgres := exec.LookPath(filepath.Join(dir, "postgres"))
		if errInitdb == nil && errPostgres == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%w: no initdb and postgres in /usr/lib/postgresql/*/bin, `pg_config --bindir` or PATH", errNotInstalled)
}

// credential returns the credential to run a process as the named user.
func credential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("uid of %s: %w", name, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("gid of %s: %w", name, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
