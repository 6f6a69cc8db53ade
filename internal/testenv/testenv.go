package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a service may take to become ready.
const startTimeout = 60 * time.Second

// mainCalled records that the test binary runs its tests through Main.
var mainCalled atomic.Bool

// stoppers holds the functions that stop what this process started, in the
// order of their start; Main runs them in reverse.
var (
	stopMu   sync.Mutex
	stoppers []func()
	stopped  bool
)

// Main runs the tests of m, then stops every service that the tests started
// and removes its files, and exits with the tests' exit code. Call it from
// TestMain in every package that uses testenv:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	mainCalled.Store(true)
	code := m.Run()
	stopAll()
	os.Exit(code)
}

// onStop registers f to run when Main stops the services.
func onStop(f func()) {
	stopMu.Lock()
	defer stopMu.Unlock()
	stoppers = append(stoppers, f)
}

func stopAll() {
	stopMu.Lock()
	fs := stoppers
	stoppers = nil
	stopped = true
	stopMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// requireMain fails tb when the test binary does not run through Main.
func requireMain(tb testing.TB) {
	tb.Helper()
	if !mainCalled.Load() {
		tb.Fatalf("testenv: this package's tests must run through testenv.Main, " +
			"so that the services stop when they end; add to a _test.go file:\n" +
			"\tfunc TestMain(m *testing.M) { testenv.Main(m) }")
	}
	stopMu.Lock()
	defer stopMu.Unlock()
	if stopped {
		tb.Fatalf("testenv: services were already stopped by testenv.Main")
	}
}

// errNotInstalled marks a start error caused by a missing program.
var errNotInstalled = errors.New("not installed")

// notInstalled returns an error wrapping errNotInstalled that says how to
// install the program.
func notInstalled(service, howto string) error {
	return fmt.Errorf("%s: %w; install it with: %s", service, errNotInstalled, howto)
}

// fail reports a start error of a service: a missing program skips the test
// unless CI is "true"; every other error fails it.
func fail(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, errNotInstalled) && os.Getenv("CI") != "true" {
		tb.Skipf("testenv: %v (the test fails instead of skipping when CI=true)", err)
	}
	if errors.Is(err, errNotInstalled) {
		tb.Fatalf("testenv: %v (CI=true: .ci/run installs it)", err)
	}
	tb.Fatalf("testenv: %v", err)
}

// once starts a service at most once per process and remembers the result,
// so that every test after a failed start fails at once in the same way.
type once[T any] struct {
	mu   sync.Mutex
	done bool
	val  T
	err  error
}

func (o *once[T]) get(start func() (T, error)) (T, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.done {
		o.val, o.err = start()
		o.done = true
	}
	return o.val, o.err
}

// Shared temporary directory of this process.
var (
	rootOnce once[string]
	rootName = "keyhold-testenv-"
)

// rootDir returns a directory that holds the files of every service of this
// process. It is removed by Main. Directories of earlier test binaries that
// died without Main are removed first.
func rootDir() (string, error) {
	return rootOnce.get(func() (string, error) {
		base := ServerTempDir()
		removeStaleRoots(base)
		dir, err := os.MkdirTemp(base, rootName+strconv.Itoa(os.Getpid())+"-")
		if err != nil {
			return "", fmt.Errorf("creating the temporary directory: %w", err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return "", fmt.Errorf("creating the temporary directory: %w", err)
		}
		onStop(func() {
			if err := os.RemoveAll(dir); err != nil {
				fmt.Fprintf(os.Stderr, "testenv: removing %s: %v\n", dir, err)
			}
		})
		return dir, nil
	})
}

// ServerTempDir returns the directory in which to create a directory for
// [StartPostgresServer]: the temporary directory, or /tmp when this process
// runs as root and the user that then runs PostgreSQL could not reach a
// directory inside the temporary directory.
func ServerTempDir() string {
	base := os.TempDir()
	if os.Geteuid() == 0 && !othersCanEnter(base) {
		// PostgreSQL runs as another user and must reach its directory.
		base = "/tmp"
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

// removeStaleRoots removes the directories of test binaries that are gone.
func removeStaleRoots(base string) {
	matches, _ := filepath.Glob(filepath.Join(base, rootName+"*"))
	for _, m := range matches {
		rest := strings.TrimPrefix(filepath.Base(m), rootName)
		pidText, _, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			profiles, _ := filepath.Glob(filepath.Join(m, "chromium-*"))
			for _, p := range profiles {
				killUsing(p)
			}
			os.RemoveAll(m)
		}
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 16 << 10

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - tailSize; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// proc is a service process that this package started.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *tailBuffer
	done chan struct{} // closed when the process has exited
	err  error         // the result of Wait, once done is closed
}

// startProc starts cmd in a process group of its own, with its output in a
// tail buffer (and in cmd.Stdout too, when that is set). The process gets SIGKILL when this process dies: the
// goroutine that starts it stays locked to its thread until it exits, since
// the kernel sends the parent-death signal when that thread ends.
func startProc(name string, cmd *exec.Cmd) (*proc, error) {
	p := &proc{name: name, cmd: cmd, out: &tailBuffer{}, done: make(chan struct{})}
	var w io.Writer = p.out
	if cmd.Stdout != nil {
		w = io.MultiWriter(p.out, cmd.Stdout)
	}
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.WaitDelay = 2 * time.Second // children may hold the output pipe open
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			runtime.UnlockOSThread()
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
		// The thread stays locked and ends with this goroutine; the
		// process is gone by now.
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// output returns the last output of the process, for error messages.
func (p *proc) output() string {
	s := strings.TrimSpace(p.out.String())
	if s == "" {
		return "(no output)"
	}
	return s
}

// waitReady calls ready until it succeeds, the process exits, or the
// deadline passes.
func (p *proc) waitReady(ready func() error) error {
	return p.waitReadyCtx(context.Background(), ready)
}

// waitReadyCtx is waitReady that also gives up when ctx ends.
func (p *proc) waitReadyCtx(ctx context.Context, ready func() error) error {
	deadline := time.Now().Add(startTimeout)
	var last error
	for {
		if p.exited() {
			return fmt.Errorf("%s exited before it was ready (%v); its output:\n%s", p.name, p.err, p.output())
		}
		if last = ready(); last == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s was not ready after %v: %v; its output:\n%s", p.name, startTimeout, last, p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends sig to the process, waits for it to end, and kills its whole
// process group when it does not end in time. It also kills any child left
// in the group after the process ended.
func (p *proc) stop(sig syscall.Signal) {
	pid := p.cmd.Process.Pid
	if !p.exited() {
		_ = p.cmd.Process.Signal(sig)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			fmt.Fprintf(os.Stderr, "testenv: %s did not stop after %v; killing it\n", p.name, sig)
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		fmt.Fprintf(os.Stderr, "testenv: %s (pid %d) is still running after SIGKILL\n", p.name, pid)
	}
}

// portInUse reports whether a process failed because its port was taken
// between freePort and its start.
func (p *proc) portInUse() bool {
	return p.exited() && strings.Contains(strings.ToLower(p.out.String()), "already in use")
}

// lookFor returns the first of names found on PATH or, for names with a
// slash, as an executable file.
func lookFor(names ...string) string {
	for _, n := range names {
		if path, err := exec.LookPath(n); err == nil {
			return path
		}
	}
	return ""
}
