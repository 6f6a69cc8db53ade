package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresURLEnv names the environment variable that points the tests at a
// PostgreSQL server that runs already: a postgres:// URL of a superuser (or
// a role that may create databases). Each test gets a new database there.
const PostgresURLEnv = "KEYHOLD_TEST_POSTGRES_URL"

// pgServer is the PostgreSQL server of this process.
type pgServer struct {
	adminURL *url.URL // the maintenance database, as a superuser

	mu   sync.Mutex // guards conn: a pgx.Conn is not safe for concurrent use
	conn *pgx.Conn
}

var pgOnce once[*pgServer]

// Postgres returns the DSN (postgres://…?sslmode=disable) of a new, empty
// database for this test, on the PostgreSQL server of this test binary. The
// database is dropped when the test ends, with any connection still open to
// it; close your pools in a Cleanup registered after this call (or with
// defer) to end them first.
//
// The server is the one that KEYHOLD_TEST_POSTGRES_URL points to, or else one
// that Postgres starts on first use and Main stops.
func Postgres(tb testing.TB) string {
	tb.Helper()
	requireMain(tb)
	srv, err := pgOnce.get(startPostgres)
	if err != nil {
		fail(tb, err)
	}
	name := "test_" + randomHex(8)
	if err := srv.exec("CREATE DATABASE " + pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("testenv: creating database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if err := srv.dropDatabase(name); err != nil {
			tb.Errorf("testenv: dropping database %s: %v", name, err)
		}
	})
	u := *srv.adminURL
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// exec runs one statement on the maintenance database, reconnecting when the
// connection was lost.
func (s *pgServer) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil || s.conn.IsClosed() {
		conn, err := pgx.Connect(ctx, s.adminURL.String())
		if err != nil {
			return fmt.Errorf("connecting to %s: %w", s.adminURL.Redacted(), err)
		}
		s.conn = conn
	}
	_, err := s.conn.Exec(ctx, sql)
	return err
}

// dropDatabase drops a test database and ends its connections.
func (s *pgServer) dropDatabase(name string) error {
	ident := pgx.Identifier{name}.Sanitize()
	err := s.exec("DROP DATABASE IF EXISTS " + ident + " WITH (FORCE)")
	if err == nil || !strings.Contains(err.Error(), "syntax error") {
		return err
	}
	// Before PostgreSQL 13 there is no WITH (FORCE).
	if err := s.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = " +
		"'" + strings.ReplaceAll(name, "'", "''") + "'"); err != nil {
		return err
	}
	return s.exec("DROP DATABASE IF EXISTS " + ident)
}

func (s *pgServer) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.conn.Close(ctx)
		s.conn = nil
	}
}

func startPostgres() (*pgServer, error) {
	if raw := os.Getenv(PostgresURLEnv); raw != "" {
		return attachPostgres(raw)
	}
	bin, err := findPostgres()
	if err != nil {
		return nil, err
	}
	root, err := rootDir()
	if err != nil {
		return nil, err
	}
	srv, p, err := runPostgres(context.Background(), bin, filepath.Join(root, "postgres"), nil)
	if err != nil {
		return nil, err
	}
	onStop(func() {
		srv.close()
		// SIGINT is PostgreSQL's fast shutdown: it ends the sessions.
		p.stop(syscall.SIGINT)
	})
	return srv, nil
}

// runPostgres runs initdb in dir, which it creates, and starts postgres on
// it on a free loopback port, with its output also in log when that is not
// nil. It returns once the server answers; the caller stops p (SIGINT).
func runPostgres(ctx context.Context, bin, dir string, log io.Writer) (*pgServer, *proc, error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	cred, err := postgresCredential(dir)
	if err != nil {
		return nil, nil, err
	}
	data := filepath.Join(dir, "data")

	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", data, "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.Env = postgresEnv()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("postgres: %s failed: %v; its output:\n%s", initdb, err, strings.TrimSpace(string(out)))
	}

	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, nil, err
		}
		cmd := exec.Command(filepath.Join(bin, "postgres"),
			"-D", data,
			"-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1",
			"-c", "unix_socket_directories="+dir,
			"-c", "fsync=off",
			"-c", "full_page_writes=off",
			"-c", "synchronous_commit=off",
			"-c", "max_connections=200",
			"-c", "shared_buffers=64MB",
			"-c", "max_parallel_workers_per_gather=0",
		)
		cmd.Dir = dir
		cmd.Env = postgresEnv()
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if log != nil {
			cmd.Stdout = log
		}
		p, err := startProc("postgres", cmd)
		if err != nil {
			return nil, nil, err
		}
		srv := &pgServer{adminURL: &url.URL{
			Scheme:   "postgres",
			User:     url.User("postgres"),
			Host:     "127.0.0.1:" + strconv.Itoa(port),
			Path:     "/postgres",
			RawQuery: "sslmode=disable",
		}}
		err = p.waitReadyCtx(ctx, func() error { return srv.exec("SELECT 1") })
		if err != nil {
			srv.close()
			p.stop(syscall.SIGQUIT)
			if p.portInUse() && attempt < 3 {
				continue
			}
			return nil, nil, fmt.Errorf("postgres: %w", err)
		}
		return srv, p, nil
	}
}

// attachPostgres uses the server that KEYHOLD_TEST_POSTGRES_URL names.
func attachPostgres(raw string) (*pgServer, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("%s must be a postgres:// URL", PostgresURLEnv)
	}
	srv := &pgServer{adminURL: u}
	if err := srv.exec("SELECT 1"); err != nil {
		return nil, fmt.Errorf("postgres (from %s): %w", PostgresURLEnv, err)
	}
	onStop(srv.close)
	return srv, nil
}

// findPostgres returns the directory that holds initdb and postgres: the one
// on PATH, in /usr/local/bin, or the newest /usr/lib/postgresql/*/bin.
func findPostgres() (string, error) {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	dirs = append(dirs, "/usr/local/bin")
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(versions, func(i, j int) bool { return pgVersion(versions[i]) > pgVersion(versions[j]) })
	dirs = append(dirs, versions...)
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", notInstalled("postgres (initdb and postgres)", "apt-get install postgresql (Debian), or set "+PostgresURLEnv)
}

// pgVersion reads the major version from /usr/lib/postgresql/VERSION/bin.
func pgVersion(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode().Perm()&0o111 != 0
}

// postgresCredential returns the user that runs PostgreSQL, which refuses to
// run as root: as root, the user postgres (or nobody), who then gets dir; nil
// otherwise, to run as the current user.
func postgresCredential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var u *user.User
	var err error
	for _, name := range []string{"postgres", "nobody"} {
		if u, err = user.Lookup(name); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: running as root, and neither the user postgres nor nobody exists to run PostgreSQL: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("postgres: user %s has a non-numeric uid or gid", u.Username)
	}
	if err := os.Chown(dir, int(uid), int(gid)); err != nil {
		return nil, fmt.Errorf("postgres: giving %s to %s: %w", dir, u.Username, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// postgresEnv is the environment of initdb and postgres: this process's,
// without the PG* variables that would change where they work.
func postgresEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}
