package main

// The backing services of -mode scale: a temporary PostgreSQL and a
// redis-server, each on a free 127.0.0.1 port, in the benchmark's folder,
// started by internal/testenv (the same code that starts them for the
// tests).

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

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
	rdb       *redis.Client // for INFO
}

func (b *backing) redisURL() string { return "redis://" + b.redisAddr }

// stop stops Redis, then PostgreSQL (fast shutdown: SIGINT ends sessions).
func (b *backing) stop() {
	if b.rdb != nil {
		b.rdb.Close()
	}
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
	b.rdb = redis.NewClient(&redis.Options{Addr: b.redisAddr, MaxRetries: -1})
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

// redisInfo is one INFO all: the counters the report uses.
type redisInfo struct {
	version   string
	commands  int64            // total_commands_processed
	reads     int64            // total_reads_processed: read events, one per round trip however many commands it carries
	calls     map[string]int64 // commandstats: command → calls
	rss       int64            // used_memory_rss
	connected int64            // connected_clients
}

// info reads INFO all from the benchmark's Redis.
func (b *backing) info() (redisInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sections, err := b.rdb.InfoMap(ctx, "all").Result()
	if err != nil {
		return redisInfo{}, fmt.Errorf("redis INFO: %w", err)
	}
	return parseInfo(sections), nil
}

// parseInfo takes the counters the report uses from INFO's sections.
func parseInfo(sections map[string]map[string]string) redisInfo {
	num := func(section, key string) int64 {
		n, _ := strconv.ParseInt(sections[section][key], 10, 64)
		return n
	}
	ri := redisInfo{
		version:   sections["Server"]["redis_version"],
		commands:  num("Stats", "total_commands_processed"),
		reads:     num("Stats", "total_reads_processed"),
		rss:       num("Memory", "used_memory_rss"),
		connected: num("Clients", "connected_clients"),
		calls:     map[string]int64{},
	}
	for k, v := range sections["Commandstats"] {
		// cmdstat_get:calls=3,usec=…
		for f := range strings.SplitSeq(v, ",") {
			if n, ok := strings.CutPrefix(f, "calls="); ok {
				ri.calls[strings.TrimPrefix(k, "cmdstat_")], _ = strconv.ParseInt(n, 10, 64)
			}
		}
	}
	return ri
}
