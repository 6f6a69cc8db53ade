package main

// The backing services of -mode scale: a temporary PostgreSQL and a
// redis-server, each on a free 127.0.0.1 port, in the benchmark's folder,
// started by internal/testenv (the same code that starts them for the
// tests).

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyhold/keyhold/internal/testenv"
)

// service is a PostgreSQL or Redis process this program started, in a
// process group of its own (so Ctrl-C on the terminal reaches only this
// program, which stops it in order).
type service struct{ *testenv.Server }

func (s service) pid() int { return s.PID }

// cpuTime is the CPU time of the service's process and of its live
// children (PostgreSQL's postmaster and its backends, which each start a
// session of their own, so a process group would miss them; Redis has no
// children but while it saves).
func (s service) cpuTime() time.Duration { return treeCPU(s.pid()) }

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
		b.redis.Stop()
	}
	if b.pg != nil {
		b.pg.Stop()
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
	s, err := testenv.StartPostgresServer(ctx, dir)
	if err != nil {
		return err
	}
	b.pg, b.pgVersion = &service{s}, s.Version
	admin, err := url.Parse(s.URL)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := pgExec(ctx, admin.String(), "CREATE DATABASE keyhold"); err != nil {
		return fmt.Errorf("postgres: create database: %w", err)
	}
	admin.Path = "/keyhold"
	b.pgURL = admin.String()
	return nil
}

func (b *backing) startRedis(ctx context.Context, dir string) error {
	s, err := testenv.StartRedisServer(ctx, dir)
	if err != nil {
		return err
	}
	b.redis, b.redisAddr = &service{s}, strings.TrimPrefix(s.URL, "redis://")
	return nil
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

// benchBase returns where to create the benchmark's folder: the temporary
// directory, or (for -mode scale) /tmp when this program runs as root and
// the user that runs PostgreSQL could not reach a folder in it.
func benchBase(scale bool) string {
	if scale {
		return testenv.ServerTempDir()
	}
	return os.TempDir()
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
		f := procStatFields("/proc/" + e.Name() + "/stat")
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
