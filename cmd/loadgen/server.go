package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// moduleRoot returns the directory of the go.mod of the current directory.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run loadgen from inside the keyhold module (no go.mod found)")
	}
	return filepath.Dir(gomod), nil
}

// buildKeyhold builds ./cmd/keyhold into dir and returns the binary's path.
func buildKeyhold(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "keyhold")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/keyhold")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/keyhold: %w", err)
	}
	return bin, nil
}

// freeLoopbackPort asks the kernel for a free port on 127.0.0.1.
func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// server is a keyhold process under test.
type server struct {
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:PORT
	logPath string
	exited  chan struct{}
	waitErr error
}

// startServer runs bin with the benchmark's environment: the variables of
// this process except KEYHOLD_* and STRIPE_* (GOGC, GOMEMLIMIT and
// GOMAXPROCS pass through), plus ours (KEYHOLD_ADDR, KEYHOLD_BASE_URL,
// KEYHOLD_LOG_LEVEL and the KEY=VALUE pairs of keyholdEnv). Its output goes
// to dir/logName.
func startServer(bin, dir, logName string, keyholdEnv []string) (*server, error) {
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	env := []string{}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KEYHOLD_") || strings.HasPrefix(kv, "STRIPE_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"KEYHOLD_ADDR="+addr,
		"KEYHOLD_BASE_URL=http://"+addr,
		"KEYHOLD_LOG_LEVEL=warn",
	)
	env = append(env, keyholdEnv...)
	logPath := filepath.Join(dir, logName)
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Should this program die without stopping the server, the kernel
	// stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start keyhold: %w", err)
	}
	s := &server{cmd: cmd, base: "http://" + addr, logPath: logPath, exited: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	return s, nil
}

// waitReady polls /readyz until it answers 200.
func (s *server) waitReady(ctx context.Context, client *http.Client, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("keyhold exited before it was ready (%v); its log:\n%s", s.waitErr, s.logTail(20))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/readyz", nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("keyhold not ready after %s; its log:\n%s", timeout, s.logTail(20))
}

// stop sends SIGTERM and waits for a graceful exit (the server drains and
// flushes usage), killing the process after timeout.
func (s *server) stop(timeout time.Duration) (time.Duration, error) {
	t0 := time.Now()
	select {
	case <-s.exited:
		return 0, fmt.Errorf("keyhold had already exited: %v", s.waitErr)
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return time.Since(t0), s.waitErr
	case <-time.After(timeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return time.Since(t0), fmt.Errorf("keyhold did not stop within %s after SIGTERM; killed", timeout)
	}
}

func (s *server) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// procStatus returns VmRSS and VmHWM (peak RSS) of the server, in bytes.
func (s *server) procStatus() (rss, hwm int64) { return procMemory(s.cmd.Process.Pid) }

// cpuTime returns the server's user+system CPU time so far.
func (s *server) cpuTime() time.Duration { return procCPU(s.cmd.Process.Pid) }

// logTail returns the last n lines of the server's log.
func (s *server) logTail(n int) string {
	lines := s.logLines()
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (s *server) logLines() []string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return nil
	}
	var out []string
	for l := range strings.SplitSeq(strings.TrimRight(string(b), "\n"), "\n") {
		// The one line on stdout says where it listens; the rest is the
		// log at warn level and above, and any crash.
		if l != "" && !strings.HasPrefix(l, "Keyhold is running at ") {
			out = append(out, l)
		}
	}
	return out
}
