// Package dbtest gives tests real, throwaway PostgreSQL and MariaDB/MySQL
// databases: no mocks, no Docker.
//
// Postgres(t) and MySQL(t) return the DSN of a fresh, empty database that
// lives only as long as the test t. The server behind it is either
//
//   - an existing server named by RECON_TEST_POSTGRES_DSN (a lib/pq URL of an
//     admin connection, e.g. postgres://postgres@db:5432/postgres?sslmode=disable)
//     or RECON_TEST_MYSQL_DSN (a go-sql-driver/mysql DSN of a user allowed to
//     CREATE DATABASE, e.g. root:secret@tcp(db:3306)/), or
//   - a throwaway server started from the installed binaries the first time a
//     test of the binary asks for one: data in a temporary directory, trust
//     (PostgreSQL) or empty-password root (MariaDB) auth, listening only on
//     127.0.0.1 on a free port, durability switched off for speed.
//
// Invariants:
//
//   - Every call creates a new database with a unique name: recon_, a random
//     id of the test binary, a counter and the test name, reduced to
//     [a-z0-9_] and at most 63 bytes. The database is dropped by t.Cleanup.
//   - A test binary starts at most one server of each kind, and each binary
//     starts its own, so `go test ./...` may run packages in parallel.
//   - Main stops the servers and removes their directories. If the test
//     binary dies first, the kernel stops the servers (parent-death signal)
//     and the next test binary to start a server removes the leftover
//     directories.
//
// A package using dbtest must run its tests through Main; Postgres and MySQL
// fail the test otherwise:
//
//	func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
//
// When the server binaries are missing and no DSN is set, the test is
// skipped; with RECON_TEST_REQUIRE_DB=1 (set by CI) it fails instead. A
// server that is installed but does not come up always fails the test, with
// the tail of the server's log.
package dbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	requireEnv   = "RECON_TEST_REQUIRE_DB"
	dirPrefix    = "recon-dbtest-" // followed by the pid of the test binary
	startTimeout = time.Minute
	stopTimeout  = 10 * time.Second
	logTailBytes = 4000
)

// errNotInstalled marks missing server binaries: a skip, not a failure.
var errNotInstalled = errors.New("server binaries not found")

var (
	mainRunning atomic.Bool
	mu          sync.Mutex
	atExits     []func() // run by Main, last first

	runID   = fmt.Sprintf("%08x", rand.Uint32())
	dbCount atomic.Int64
)

// Main runs the tests of a package and then stops the servers they started
// and removes their directories. It returns the exit code for os.Exit:
//
//	func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
func Main(m *testing.M) int {
	mainRunning.Store(true)
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for i := len(atExits) - 1; i >= 0; i-- {
			atExits[i]()
		}
		atExits = nil
	}()
	return m.Run()
}

// atExit registers f to be run when Main returns.
func atExit(f func()) {
	mu.Lock()
	defer mu.Unlock()
	atExits = append(atExits, f)
}

// backend is one kind of database server, shared by all tests of the binary.
type backend struct {
	name   string // for messages
	env    string // names an existing server to use instead of starting one
	driver string
	create string // SQL to create a database; %s is its name
	drop   string // SQL to drop a database; %s is its name
	// start starts a throwaway server and returns its admin DSN.
	start func() (string, error)
	// withDB returns adminDSN changed to connect to database db.
	withDB func(adminDSN, db string) (string, error)

	once     sync.Once
	adminDSN string
	admin    *sql.DB
	err      error
}

// connect connects to the server, starting it first if no DSN is set.
func (b *backend) connect() {
	dsn := os.Getenv(b.env)
	if dsn == "" {
		var err error
		if dsn, err = b.start(); err != nil {
			b.err = fmt.Errorf("start %s: %w", b.name, err)
			return
		}
	}
	db, err := sql.Open(b.driver, dsn)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = db.PingContext(ctx)
	}
	if err != nil {
		b.err = fmt.Errorf("connect to %s admin DSN: %w", b.name, err)
		return
	}
	atExit(func() { db.Close() })
	b.adminDSN, b.admin = dsn, db
}

// database creates a fresh database for t, dropped at t.Cleanup, and
// returns its DSN.
func (b *backend) database(t testing.TB) string {
	t.Helper()
	if !mainRunning.Load() {
		t.Fatalf("dbtest: %s needs TestMain to call os.Exit(dbtest.Main(m)), which stops the servers", b.name)
	}
	b.once.Do(b.connect)
	if errors.Is(b.err, errNotInstalled) {
		msg := fmt.Sprintf("dbtest: %v; install %s or set %s to an existing server", b.err, b.name, b.env)
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("%s (%s=1 requires a database)", msg, requireEnv)
		}
		t.Skipf("%s (%s=1 turns this skip into a failure)", msg, requireEnv)
	}
	if b.err != nil {
		t.Fatalf("dbtest: %v", b.err)
	}
	name := dbName(t.Name())
	dsn, err := b.withDB(b.adminDSN, name)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	if _, err := b.admin.Exec(fmt.Sprintf(b.create, name)); err != nil {
		t.Fatalf("dbtest: create %s database %s: %v", b.name, name, err)
	}
	t.Cleanup(func() {
		if _, err := b.admin.Exec(fmt.Sprintf(b.drop, name)); err != nil {
			t.Errorf("dbtest: drop %s database %s: %v", b.name, name, err)
		}
	})
	return dsn
}

// dbName returns a new database name, a valid unquoted identifier in both
// PostgreSQL and MySQL, unique across test binaries.
func dbName(test string) string {
	name := fmt.Sprintf("recon_%s_%d_%s", runID, dbCount.Add(1), strings.ToLower(test))
	name = strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			return r
		}
		return '_'
	}, name)
	return name[:min(len(name), 63)]
}

// tempDir creates the directory of a throwaway server, owned by cred's user
// if cred is set, and has Main remove it. It first removes the directories
// of test binaries that are gone.
func tempDir(kind string, cred *syscall.Credential) (string, error) {
	removeStale()
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-%s-", dirPrefix, os.Getpid(), kind))
	if err != nil {
		return "", fmt.Errorf("create server dir: %w", err)
	}
	atExit(func() { os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", fmt.Errorf("chown server dir: %w", err)
		}
	}
	return dir, nil
}

// removeStale removes server directories left by test binaries that died.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		pid, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(dir), dirPrefix), "-")
		if n, err := strconv.Atoi(pid); err == nil && syscall.Kill(n, 0) == syscall.ESRCH {
			os.RemoveAll(dir)
		}
	}
}

// command returns a command that runs in dir, as cred's user if cred is set,
// and gets deathSig when the test binary dies. (The kernel sends it when the
// OS thread that started the process exits; Go keeps threads alive unless a
// goroutine exits while locked to one, which testing never does.)
func command(dir string, cred *syscall.Credential, deathSig syscall.Signal, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: deathSig}
	return cmd
}

// run runs a setup command, with its output in the error if it fails.
func run(cmd *exec.Cmd) error {
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", filepath.Base(cmd.Path), err, tail(out))
	}
	return nil
}

// serve starts the server that cmdFor builds for a free port and waits until
// it accepts connections at readyDSN, which must not reach another server
// (use a socket in the server's directory). Another process may take the port
// between choosing and binding it, so serve retries on "Address already in
// use". Main stops the server with stopSig. serve returns adminDSN.
func serve(driver, logPath string, stopSig os.Signal, cmdFor func(port int) (cmd *exec.Cmd, readyDSN, adminDSN string)) (string, error) {
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return "", err
		}
		cmd, readyDSN, adminDSN := cmdFor(port)
		p, err := launch(cmd, logPath)
		if err != nil {
			return "", err
		}
		if err = p.waitReady(driver, readyDSN); err == nil {
			atExit(func() { p.stop(stopSig) })
			return adminDSN, nil
		}
		p.stop(os.Kill)
		if attempt == 3 || !strings.Contains(p.logTail(), "Address already in use") {
			return "", err
		}
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// process is a running server.
type process struct {
	cmd     *exec.Cmd
	logPath string        // the server's output
	exited  chan struct{} // closed when the process has exited
	err     error         // how it exited, once exited is closed
}

// launch starts cmd with its output in a new file at logPath.
func launch(cmd *exec.Cmd, logPath string) (*process, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create server log: %w", err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(cmd.Path), err)
	}
	p := &process{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// waitReady waits until the server accepts connections at dsn.
func (p *process) waitReady(driver, dsn string) error {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return fmt.Errorf("open %s: %w", driver, err)
	}
	defer db.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready after %v: %w\n%s", startTimeout, err, p.logTail())
		}
		select {
		case <-p.exited:
			return fmt.Errorf("server exited: %v\n%s", p.err, p.logTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop sends sig to the server and waits for it to exit, killing it if it
// takes longer than stopTimeout.
func (p *process) stop(sig os.Signal) {
	p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// logTail returns the end of the server's log.
func (p *process) logTail() string {
	out, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(no server log: %v)", err)
	}
	return tail(out)
}

// tail returns the last logTailBytes of out, labelled.
func tail(out []byte) string {
	if len(out) > logTailBytes {
		out = out[len(out)-logTailBytes:]
	}
	return "--- log tail ---\n" + strings.TrimSpace(string(out))
}
