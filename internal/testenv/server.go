package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// Server is a PostgreSQL or Redis server started by [StartPostgresServer] or
// [StartRedisServer], outside of a test: nothing stops it but its Stop (and
// the death of this process, which kills it).
type Server struct {
	// URL is postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
	// (a superuser on the maintenance database) or redis://127.0.0.1:PORT.
	URL string
	// PID is the server's process id (PostgreSQL's postmaster).
	PID int
	// Version is the output of postgres --version; empty for Redis.
	Version string

	p       *proc
	sig     syscall.Signal
	log     *os.File
	stopped sync.Once
}

// Stop stops the server (PostgreSQL with a fast shutdown, Redis with
// SIGTERM), kills what is left of its process group, and waits for it to
// end. Later calls do nothing.
func (s *Server) Stop() {
	s.stopped.Do(func() {
		s.p.stop(s.sig)
		s.log.Close()
	})
}

// StartPostgresServer runs initdb in dir/postgres and starts a PostgreSQL
// server on it on a free 127.0.0.1 port, as [Postgres] does (as the user
// postgres, or nobody, when this process runs as root: such a user must be
// able to reach dir; see [ServerTempDir]). The server's output goes to
// dir/postgres.log. It returns once the server answers, or when ctx ends.
//
// It exists for the benchmark harness (cmd/loadgen); tests use [Postgres].
func StartPostgresServer(ctx context.Context, dir string) (*Server, error) {
	bin, err := findPostgres()
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, err
	}
	srv, p, err := runPostgres(ctx, bin, filepath.Join(dir, "postgres"), log)
	if err != nil {
		log.Close()
		return nil, err
	}
	srv.close() // the caller makes connections of its own
	s := &Server{URL: srv.adminURL.String(), PID: p.cmd.Process.Pid, p: p, sig: syscall.SIGINT, log: log}
	if out, err := exec.CommandContext(ctx, filepath.Join(bin, "postgres"), "--version").Output(); err == nil {
		s.Version = strings.TrimSpace(string(out))
	}
	return s, nil
}

// StartRedisServer starts a redis-server without persistence on a free
// 127.0.0.1 port, as [Redis] does, with dir/redis as its directory and its
// output in dir/redis.log. It returns once the server answers PING, or when
// ctx ends.
//
// It exists for the benchmark harness (cmd/loadgen); tests use [Redis].
func StartRedisServer(ctx context.Context, dir string) (*Server, error) {
	bin, err := findRedis()
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		return nil, err
	}
	addr, p, err := runRedis(ctx, bin, filepath.Join(dir, "redis"), log)
	if err != nil {
		log.Close()
		return nil, err
	}
	return &Server{URL: "redis://" + addr, PID: p.cmd.Process.Pid, p: p, sig: syscall.SIGTERM, log: log}, nil
}
