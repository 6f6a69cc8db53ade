package main

// The backing services of -mode scale: a temporary PostgreSQL and a
// redis-server, each on a free 127.0.0.1 port, in the benchmark's folder.
//
// This mirrors internal/testenv/postgres.go and redis.go on purpose rather
// than importing them: testenv is built around testing.TB and testenv.Main
// (process-wide stop hooks, stale-folder sweeping), which a command should
// not link. What is duplicated is a few dozen lines of process handling.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// serviceStartTimeout bounds how long PostgreSQL or Redis may take to answer.
const serviceStartTimeout = 60 * time.Second

// service is a PostgreSQL or Redis process this program started, in a
// process group of its own (so Ctrl-C on the terminal reaches only this
// program, which stops it in order).
type service struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

// startService starts cmd with its output in logPath. The process gets
// SIGKILL should this program die: the goroutine that starts it stays locked
// to its thread until the process exits, since the kernel sends the
// parent-death signal when that thread ends.
func startService(name string, cmd *exec.Cmd, logPath string) (*service, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	s := &service{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			runtime.UnlockOSThread()
			logf.Close()
			started <- err
			return
		}
		started <- nil
		s.err = cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return s, nil
}

func (s *service) pid() int { return s.cmd.Process.Pid }

func (s *service) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// logTail returns the last lines of the service's output.
func (s *service) logTail(n int) string {
	b, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if t := strings.TrimSpace(strings.Join(lines, "\n")); t != "" {
		return t
	}
	return "(no output)"
}

// waitReady calls ready until it succeeds, the process exits, ctx ends or
// the start timeout passes.
func (s *service) waitReady(ctx context.Context, ready func() error) error {
	deadline := time.Now().Add(serviceStartTimeout)
	for {
		if s.exited() {
			return fmt.Errorf("%s exited before it was ready (%v); its output:\n%s", s.name, s.err, s.logTail(20))
		}
		last := ready()
		if last == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %v; its output:\n%s", s.name, serviceStartTimeout, last, s.logTail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// portInUse reports whether the process failed because its port was taken
// between freeLoopbackPort and its start.
func (s *service) portInUse() bool {
	b, _ := os.ReadFile(s.logPath)
	return s.exited() && strings.Contains(strings.ToLower(string(b)), "already in use")
}

// stop sends sig, waits up to 10 s, then kills the whole process group (a
// PostgreSQL backend left behind goes too).
func (s *service) stop(sig syscall.Signal) {
	pid := s.pid()
	if !s.exited() {
		_ = s.cmd.Process.Signal(sig)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			fmt.Fprintf(os.Stderr, "loadgen: %s did not stop after %v; killing it\n", s.name, sig)
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		fmt.Fprintf(os.Stderr, "loadgen: %s (pid %d) still runs after SIGKILL\n", s.name, pid)
	}
}

// cpuTime is the CPU time of the service's process and of its live
// children (PostgreSQL's postmaster and its backends, which each start a
// session of their own, so a process group would miss them; Redis has no
// children but while it saves).
func (s *service) cpuTime() time.Duration { return treeCPU(s.pid()) }

// backing is the PostgreSQL and Redis of -mode scale.
type backing struct {
	pg        *service
	pgURL     string // the benchmark's database
	pgVersion string
	redis     *service
	redisAddr string
}

func (b *backing) redisURL() string { return "redis://" + b.redisAddr }

// stop stops Redis, then PostgreSQL (fast shutdown: SIGINT ends sessions).
func (b *backing) stop() {
	if b.redis != nil {
		b.redis.stop(syscall.SIGTERM)
	}
	if b.pg != nil {
		b.pg.stop(syscall.SIGINT)
	}
}

// startBacking starts PostgreSQL and Redis in dir. On error it stops what
// it started.
func startBacking(ctx context.Context, dir string) (_ *backing, err error) {
	b := &backing{}
	defer func() {
		if err != nil {
			b.stop()
		}
	}()
	if err := b.startPostgres(ctx, dir); err != nil {
		return nil, err
	}
	if err := b.startRedis(ctx, dir); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *backing) startPostgres(ctx context.Context, dir string) error {
	bin, err := findPostgres()
	if err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, filepath.Join(bin, "postgres"), "--version").Output(); err == nil {
		b.pgVersion = strings.TrimSpace(string(out))
	}
	pgdir := filepath.Join(dir, "postgres")
	if err := os.Mkdir(pgdir, 0o700); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	cred, err := postgresCredential(pgdir)
	if err != nil {
		return err
	}
	data := filepath.Join(pgdir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", data, "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.Dir = pgdir
	initdb.Env = postgresEnv()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("postgres: %s failed: %v; its output:\n%s", initdb, err, strings.TrimSpace(string(out)))
	}

	for attempt := 1; ; attempt++ {
		port, err := freeLoopbackPort()
		if err != nil {
			return err
		}
		cmd := exec.Command(filepath.Join(bin, "postgres"),
			"-D", data,
			"-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1",
			"-c", "unix_socket_directories="+pgdir,
			"-c", "fsync=off",
			"-c", "full_page_writes=off",
			"-c", "synchronous_commit=off",
			"-c", "max_connections=200",
			"-c", "shared_buffers=64MB",
			"-c", "max_parallel_workers_per_gather=0",
		)
		cmd.Dir = pgdir
		cmd.Env = postgresEnv()
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		s, err := startService("postgres", cmd, filepath.Join(dir, "postgres.log"))
		if err != nil {
			return err
		}
		admin := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: "127.0.0.1:" + strconv.Itoa(port),
			Path: "/postgres", RawQuery: "sslmode=disable"}
		err = s.waitReady(ctx, func() error { return pgExec(ctx, admin.String(), "SELECT 1") })
		if err != nil {
			s.stop(syscall.SIGQUIT)
			if s.portInUse() && attempt < 3 {
				continue
			}
			return fmt.Errorf("postgres: %w", err)
		}
		b.pg = s
		if err := pgExec(ctx, admin.String(), "CREATE DATABASE keyhold"); err != nil {
			return fmt.Errorf("postgres: create database: %w", err)
		}
		admin.Path = "/keyhold"
		b.pgURL = admin.String()
		return nil
	}
}

// pgExec runs one statement on a connection of its own.
func pgExec(ctx context.Context, dsn, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// pgDatabaseSize returns pg_database_size of the benchmark's database.
func pgDatabaseSize(ctx context.Context, dsn string) int64 {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return -1
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&n); err != nil {
		return -1
	}
	return n
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
	major := func(binDir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
		return v
	}
	sort.Slice(versions, func(i, j int) bool { return major(versions[i]) > major(versions[j]) })
	dirs = append(dirs, versions...)
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("postgres: initdb and postgres not found on PATH, in /usr/local/bin or /usr/lib/postgresql/*/bin; install PostgreSQL (apt-get install postgresql, or bash .ci/run)")
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

// postgresEnv is this process's environment without the PG* variables that
// would change where initdb and postgres work.
func postgresEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

// benchBase returns where to create the benchmark's folder: the temporary
// directory, or /tmp when this program runs as root and the user that runs
// PostgreSQL could not reach a folder in it.
func benchBase(scale bool) string {
	base := os.TempDir()
	if scale && os.Geteuid() == 0 && !othersCanEnter(base) {
		return "/tmp"
	}
	return base
}

// othersCanEnter reports whether every directory on the path to dir can be
// entered by any user.
func othersCanEnter(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

func (b *backing) startRedis(ctx context.Context, dir string) error {
	bin := ""
	for _, n := range []string{"redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server"} {
		if p, err := exec.LookPath(n); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		return errors.New("redis-server not found; install it (apt-get install redis-server, or bash .ci/run)")
	}
	rdir := filepath.Join(dir, "redis")
	if err := os.Mkdir(rdir, 0o700); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	for attempt := 1; ; attempt++ {
		port, err := freeLoopbackPort()
		if err != nil {
			return err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		cmd := exec.Command(bin,
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--save", "",
			"--appendonly", "no",
			"--dir", rdir,
			"--daemonize", "no",
			"--protected-mode", "no",
		)
		cmd.Dir = rdir
		s, err := startService("redis-server", cmd, filepath.Join(dir, "redis.log"))
		if err != nil {
			return err
		}
		err = s.waitReady(ctx, func() error {
			_, err := redisCommand(addr, "PING")
			return err
		})
		if err != nil {
			s.stop(syscall.SIGKILL)
			if s.portInUse() && attempt < 3 {
				continue
			}
			return fmt.Errorf("redis: %w", err)
		}
		b.redis, b.redisAddr = s, addr
		return nil
	}
}

// redisCommand sends one command (RESP array of bulk strings) and returns
// the reply of a simple string or bulk string.
func redisCommand(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	var req strings.Builder
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(req.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("redis: empty reply")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return "", errors.New("redis: " + line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("redis: bad bulk reply %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("redis: unexpected reply %q", line)
}

// redisInfo is one INFO all: the counters the report uses.
type redisInfo struct {
	version   string
	commands  int64            // total_commands_processed
	calls     map[string]int64 // commandstats: command → calls
	rss       int64            // used_memory_rss
	connected int64            // connected_clients
}

func (b *backing) info() (redisInfo, error) {
	s, err := redisCommand(b.redisAddr, "INFO", "all")
	if err != nil {
		return redisInfo{}, err
	}
	ri := redisInfo{calls: map[string]int64{}}
	for l := range strings.SplitSeq(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimRight(l, "\r"), ":")
		if !ok {
			continue
		}
		switch {
		case k == "redis_version":
			ri.version = v
		case k == "total_commands_processed":
			ri.commands, _ = strconv.ParseInt(v, 10, 64)
		case k == "used_memory_rss":
			ri.rss, _ = strconv.ParseInt(v, 10, 64)
		case k == "connected_clients":
			ri.connected, _ = strconv.ParseInt(v, 10, 64)
		case strings.HasPrefix(k, "cmdstat_"):
			// cmdstat_get:calls=3,usec=…
			for f := range strings.SplitSeq(v, ",") {
				if n, ok := strings.CutPrefix(f, "calls="); ok {
					c, _ := strconv.ParseInt(n, 10, 64)
					ri.calls[strings.TrimPrefix(k, "cmdstat_")] = c
				}
			}
		}
	}
	return ri, nil
}

// treeCPU returns the user+system CPU time of the process pid and of its
// live children, from /proc/*/stat.
func treeCPU(pid int) time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks int64
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f := procStatFields(filepath.Join("/proc", e.Name(), "stat"))
		if len(f) < 13 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); p != pid && ppid != pid { // field 4: ppid
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64) // field 14: utime
		s, _ := strconv.ParseInt(f[12], 10, 64) // field 15: stime
		ticks += u + s
	}
	const clkTck = 100
	return time.Duration(ticks) * time.Second / clkTck
}

// procStatFields returns the fields of a /proc/PID/stat after the command
// name, numbered from 3 (index 0 is field 3, the state).
func procStatFields(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	rest := string(b)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	return strings.Fields(rest)
}
