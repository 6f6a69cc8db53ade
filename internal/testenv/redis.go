package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var redisOnce once[string]

// Redis returns the URL (redis://127.0.0.1:PORT) of the redis-server of this
// test binary, started on first use and stopped by Main.
//
// The server and its databases are shared by every test of the binary, and
// tests may run in parallel: use key prefixes of your own (for example made
// from t.Name() or a random string) and never FLUSHDB or FLUSHALL.
func Redis(tb testing.TB) string {
	tb.Helper()
	requireMain(tb)
	u, err := redisOnce.get(startRedis)
	if err != nil {
		fail(tb, err)
	}
	return u
}

func startRedis() (string, error) {
	bin, err := findRedis()
	if err != nil {
		return "", err
	}
	root, err := rootDir()
	if err != nil {
		return "", err
	}
	addr, p, err := runRedis(context.Background(), bin, filepath.Join(root, "redis"), nil)
	if err != nil {
		return "", err
	}
	onStop(func() { p.stop(syscall.SIGTERM) })
	return "redis://" + addr, nil
}

// findRedis returns the path of redis-server.
func findRedis() (string, error) {
	bin := lookFor("redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server")
	if bin == "" {
		return "", notInstalled("redis-server", "apt-get install redis-server (Debian)")
	}
	return bin, nil
}

// runRedis starts redis-server on a free loopback port, with dir (which it
// creates) as its working directory and its output also in log when that is
// not nil. It returns the server's address (127.0.0.1:PORT) once it answers
// PING; the caller stops p (SIGTERM).
func runRedis(ctx context.Context, bin, dir string, log io.Writer) (string, *proc, error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("redis: %w", err)
	}
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return "", nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		p, err := startRedisProc(ctx, bin, dir, port, log)
		if errors.Is(err, errPortInUse) && attempt < 3 {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("redis: %w", err)
		}
		return addr, p, nil
	}
}

// startRedisProc starts bin, a redis-server, on 127.0.0.1:port in dir,
// without persistence, with the extra flags given (a cluster node's), its
// output also in log when that is not nil, and waits until it answers PING
// (or ctx ends). A server that could not bind its port is errPortInUse.
// The one way tests start a redis-server: alone, private or in a cluster.
func startRedisProc(ctx context.Context, bin, dir string, port int, log io.Writer, extra ...string) (*proc, error) {
	cmd := exec.Command(bin, append([]string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--daemonize", "no",
		"--protected-mode", "no",
	}, extra...)...)
	cmd.Dir = dir
	if log != nil {
		cmd.Stdout = log
	}
	p, err := startProc("redis-server", cmd)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := p.waitReadyCtx(ctx, func() error { return redisPing(addr) }); err != nil {
		p.stop(syscall.SIGKILL)
		if p.portInUse() {
			return nil, fmt.Errorf("%w: %v", errPortInUse, err)
		}
		return nil, err
	}
	return p, nil
}

// redisPing sends PING to addr and expects +PONG.
func redisPing(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return err
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(line); got != "+PONG" {
		return fmt.Errorf("PING answered %q, want +PONG", got)
	}
	return nil
}

// RedisServer is a redis-server of one test's own, which the test may stop
// and start again (an outage) at the same address.
type RedisServer struct {
	tb   testing.TB
	bin  string
	dir  string
	port int
	p    *proc
}

// PrivateRedis starts a redis-server for tb alone, stopped in Cleanup.
func PrivateRedis(tb testing.TB) *RedisServer {
	tb.Helper()
	requireMain(tb)
	bin, err := findRedis()
	if err != nil {
		fail(tb, err)
	}
	port, err := freePort()
	if err != nil {
		tb.Fatal(err)
	}
	r := &RedisServer{tb: tb, bin: bin, dir: tb.TempDir(), port: port}
	// The port may be taken between freePort and the server's bind (other
	// test binaries run too): the first start tries other ports.
	for attempt := 1; ; attempt++ {
		err := r.start()
		if err == nil {
			break
		}
		if !errors.Is(err, errPortInUse) || attempt == 3 {
			tb.Fatalf("redis: %v", err)
		}
		if r.port, err = freePort(); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(r.Stop)
	return r
}

// URL returns redis://127.0.0.1:PORT.
func (r *RedisServer) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(r.port) }

// Start starts the server (again) on its port and waits until it answers.
func (r *RedisServer) Start() {
	r.tb.Helper()
	if err := r.start(); err != nil {
		r.tb.Fatalf("redis: %v", err)
	}
}

// errPortInUse: the server could not bind its port.
var errPortInUse = errors.New("port in use")

func (r *RedisServer) start() error {
	if r.p != nil {
		return nil
	}
	p, err := startRedisProc(context.Background(), r.bin, r.dir, r.port, nil)
	if err != nil {
		return err
	}
	r.p = p
	onStop(func() { p.stop(syscall.SIGKILL) })
	return nil
}

// Stop kills the server (its data is lost, as after a crash without
// persistence).
func (r *RedisServer) Stop() {
	if r.p == nil {
		return
	}
	r.p.stop(syscall.SIGKILL)
	r.p = nil
}

// Stall freezes the server (SIGSTOP) with its data and connections: it
// accepts nothing and answers nothing, as a Redis stuck behind a partition
// or a long fork. Calls time out; what they sent waits in the kernel and
// is run when the server resumes. Cleanup resumes it before stopping it.
func (r *RedisServer) Stall() {
	r.tb.Helper()
	if r.p == nil {
		r.tb.Fatal("redis: Stall of a server that is not running")
	}
	if err := r.p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		r.tb.Fatalf("redis: SIGSTOP: %v", err)
	}
	p := r.p
	r.tb.Cleanup(func() { _ = p.cmd.Process.Signal(syscall.SIGCONT) })
}

// Resume lets a stalled server run again, with everything it held.
func (r *RedisServer) Resume() {
	r.tb.Helper()
	if r.p == nil {
		r.tb.Fatal("redis: Resume of a server that is not running")
	}
	if err := r.p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		r.tb.Fatalf("redis: SIGCONT: %v", err)
	}
}
