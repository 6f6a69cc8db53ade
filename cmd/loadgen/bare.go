package main

// The ceiling: a bare net/http server in a process of its own (this
// program, run again with bareCommand), answering every request with one
// constant body as long as a VALID /v1/verify answer. It is loaded like
// /v1/verify, in the same run, with the same connections, duration and
// request bodies, so the two can be compared: what keyhold costs beyond
// what net/http and the kernel cost to answer anything at all.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// bareCommand, as the first argument, makes loadgen the bare server
// instead of the benchmark: `loadgen __bare SIZE` listens on a free
// 127.0.0.1 port, prints its address on stdout and serves until SIGTERM.
const bareCommand = "__bare"

// bareTargets are what the issue asks of /v1/verify against the ceiling.
const (
	bareMinThroughput = 0.85 // verify req/s ≥ this × bare's
	bareMaxCPU        = 1.3  // verify server CPU per request ≤ this × bare's
	bareMaxP99        = 2.0  // verify p99 ≤ this × bare's
)

// serveBare is the bare server's main: it answers every request with size
// bytes of JSON, after reading the request's body as a server must.
func serveBare(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: loadgen", bareCommand, "SIZE")
		return 2
	}
	size, err := strconv.Atoi(args[0])
	if err != nil || size < 16 || size > 1<<20 {
		fmt.Fprintln(os.Stderr, "loadgen bare: SIZE must be 16 to 1048576 bytes")
		return 2
	}
	body := bareBody(size)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen bare:", err)
		return 1
	}
	contentType := []string{"application/json"}
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header()["Content-Type"] = contentType
			_, _ = w.Write(body)
		}),
	}
	fmt.Printf("http://%s\n", ln.Addr())
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
		<-stop
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "loadgen bare:", err)
		return 1
	}
	return 0
}

// bareBody is a JSON object of exactly size bytes (size ≥ 16).
func bareBody(size int) []byte {
	const head, tail = `{"valid":true,"pad":"`, `"}`
	b := []byte(head)
	if size < len(head)+len(tail) {
		return bytes.Repeat([]byte(" "), size)
	}
	b = append(b, bytes.Repeat([]byte("x"), size-len(head)-len(tail))...)
	return append(b, tail...)
}

// bareProc is the running bare server.
type bareProc struct {
	cmd    *exec.Cmd
	base   string
	size   int
	exited chan struct{}
}

// startBare runs this program as the bare server answering size bytes,
// and waits for its address.
func startBare(size int) (*bareProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bare server: %w", err)
	}
	cmd := exec.Command(self, bareCommand, strconv.Itoa(size))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bare server: %w", err)
	}
	bp := &bareProc{cmd: cmd, size: size, exited: make(chan struct{})}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			first <- strings.TrimSpace(sc.Text())
		}
		close(first)
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() {
		_ = cmd.Wait()
		close(bp.exited)
	}()
	select {
	case addr, ok := <-first:
		if !ok || !strings.HasPrefix(addr, "http://127.0.0.1:") {
			bp.stop()
			return nil, fmt.Errorf("bare server said %q instead of its address", addr)
		}
		bp.base = addr
		return bp, nil
	case <-time.After(10 * time.Second):
		bp.stop()
		return nil, errors.New("bare server: no address within 10s")
	}
}

// cpuTime is the bare server's utime+stime so far (/proc/PID/stat).
func (bp *bareProc) cpuTime() time.Duration { return procCPU(bp.cmd.Process.Pid) }

// stop ends the bare server (SIGTERM, then SIGKILL after 5s).
func (bp *bareProc) stop() {
	select {
	case <-bp.exited:
		return
	default:
	}
	_ = bp.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-bp.exited:
	case <-time.After(5 * time.Second):
		_ = bp.cmd.Process.Kill()
		<-bp.exited
	}
}

// bareTarget posts the verify bodies to the bare server, as verifyTarget
// does to keyhold: the same requests, another answerer.
func bareTarget(base string, bodies [][]byte) target {
	t := keyTarget("/v1/verify", []string{base}, bodies)
	t.name = "POST bare"
	return t
}

// validAnswerSize asks keyhold about the first key and returns the length
// of its (VALID) answer, the bare server's body size.
func (b *benchRun) validAnswerSize() (int, error) {
	req := verifyTarget(b.bases[:1], b.bodies).make(b.ctx, 0)
	resp, err := b.ctl.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"code":"VALID"`)) {
		return 0, fmt.Errorf("the first key's answer is %d %.80s, not VALID", resp.StatusCode, body)
	}
	return len(body), nil
}

// barePhase starts the bare server, loads it as closedPhase loads
// /v1/verify (same client, connections, duration and bodies), measures
// its CPU from /proc, and stops it. It runs in single mode, beside the
// one instance's verify phase.
func (b *benchRun) barePhase() *phase {
	o := b.o
	size, err := b.validAnswerSize()
	if err != nil {
		b.say("bare server skipped: %v", err)
		return nil
	}
	bp, err := startBare(size)
	if err != nil {
		b.say("bare server skipped: %v", err)
		return nil
	}
	defer bp.stop()
	b.say("closed loop: bare net/http server (pid %d, %d-byte answer), %d connections, %s", bp.cmd.Process.Pid, size, o.conns, o.duration)
	t := bareTarget(bp.base, b.bodies)
	// Unmeasured, like the warm-up of verify: the connections are opened.
	b.closed([]target{t}, o.conns, min(o.warmup, time.Second))
	time.Sleep(b.o.pause)

	p := &phase{Name: "bare", Endpoint: t.name, Mode: "closed", Conns: o.conns}
	d0 := b.dials.Load()
	cpu0, self0, m0 := bp.cpuTime(), b.loadCPU(), machineCPU()
	lats, ocs, els := b.closed([]target{t}, o.conns, o.duration)
	p.ServerCPU, p.LoadgenCPU = bp.cpuTime()-cpu0, b.loadCPU()-self0
	p.OtherCPU = max(0, machineCPU()-m0-p.ServerCPU-p.LoadgenCPU)
	p.LoadAvg = loadAvg()
	p.Dials = b.dials.Load() - d0
	p.Elapsed = els[0]
	fill(p, lats[0], ocs[0])
	p.ReqPerSec = float64(p.Answered) / p.Elapsed.Seconds()
	p.OKPerSec = float64(p.Statuses[200]) / p.Elapsed.Seconds()
	p.ServerRSS, _ = procMemory(bp.cmd.Process.Pid)
	b.rep.Phases = append(b.rep.Phases, p)
	b.rep.Bare = compareBare(findPhase(b.rep, "closed", "verify"), p, size)
	time.Sleep(b.o.pause)
	return p
}

// bareComparison is /v1/verify beside the bare server, as ratios.
type bareComparison struct {
	AnswerBytes     int     `json:"answer_bytes"`
	VerifyReqPerSec float64 `json:"verify_req_per_sec"`
	BareReqPerSec   float64 `json:"bare_req_per_sec"`
	Throughput      float64 `json:"throughput_verify_over_bare"`
	VerifyCPUPerReq float64 `json:"verify_server_cpu_us_per_req"`
	BareCPUPerReq   float64 `json:"bare_server_cpu_us_per_req"`
	CPU             float64 `json:"cpu_per_req_verify_over_bare"`
	VerifyP99       int64   `json:"verify_p99_ns"`
	BareP99         int64   `json:"bare_p99_ns"`
	P99             float64 `json:"p99_verify_over_bare"`
}

func compareBare(verify, bare *phase, size int) *bareComparison {
	if verify == nil || bare == nil || bare.ReqPerSec == 0 || bare.Answered == 0 || bare.P99 == 0 {
		return nil
	}
	c := &bareComparison{AnswerBytes: size, VerifyReqPerSec: verify.ReqPerSec, BareReqPerSec: bare.ReqPerSec,
		VerifyCPUPerReq: perReq(verify.ServerCPU, verify.Answered), BareCPUPerReq: perReq(bare.ServerCPU, bare.Answered),
		VerifyP99: int64(verify.P99), BareP99: int64(bare.P99)}
	c.Throughput = c.VerifyReqPerSec / c.BareReqPerSec
	if c.BareCPUPerReq > 0 {
		c.CPU = c.VerifyCPUPerReq / c.BareCPUPerReq
	}
	c.P99 = float64(c.VerifyP99) / float64(c.BareP99)
	return c
}

// printBare prints /v1/verify beside the bare ceiling with the targets.
func printBare(p printf, c *bareComparison) {
	if c == nil {
		return
	}
	p("  /v1/verify beside a bare net/http server (own process, constant %d-byte answer = a VALID answer's size; same connections, duration and bodies):", c.AnswerBytes)
	p("    %-26s %12s %12s %8s   %s", "", "verify", "bare", "ratio", "target")
	p("    %-26s %12.0f %12.0f %8.3f   ≥ %.2f %s", "req/s", c.VerifyReqPerSec, c.BareReqPerSec, c.Throughput, bareMinThroughput, verdict(c.Throughput >= bareMinThroughput))
	p("    %-26s %12.1f %12.1f %8.3f   ≤ %.2f %s", "server CPU µs/req (/proc)", c.VerifyCPUPerReq, c.BareCPUPerReq, c.CPU, bareMaxCPU, verdict(c.CPU > 0 && c.CPU <= bareMaxCPU))
	p("    %-26s %12s %12s %8.3f   ≤ %.2f %s", "p99 (closed loop)", lat(time.Duration(c.VerifyP99)), lat(time.Duration(c.BareP99)), c.P99, bareMaxP99, verdict(c.P99 <= bareMaxP99))
}
