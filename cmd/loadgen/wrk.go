package main

// The wrk driver (-driver wrk): closed loops run by Debian's wrk, a C
// load generator, instead of this program's own Go client. On a 2-core
// machine the load generator shares the cores with the servers, and the
// Go client spends about as much CPU per request as the server it loads;
// wrk spends a fraction of that, so the servers get the cores and the
// numbers say more about them (issue 17's baselines were taken with
// `wrk -t2 -c64`). Each target gets one wrk process with its share of the
// connections; the script (wrk.lua) cycles through the target's bodies
// and prints its results in lines this file parses.

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed wrk.lua
var wrkScript []byte

// wrkSpec is what wrk needs to make a target's requests: one URL, a
// method, and the bodies to cycle through (none for a GET).
type wrkSpec struct {
	method string
	url    string
	bodies [][]byte
}

// latencies is what a phase reads of a closed loop's latency: the Go
// client's histogram, or the percentiles wrk printed.
type latencies interface {
	quantile(q float64) time.Duration
	mean() time.Duration
	maximum() time.Duration
}

// wrkResult is one wrk run, as its script printed it.
type wrkResult struct {
	requests   int64
	elapsed    time.Duration
	statusErrs int64                 // answers with a status of 400 or more
	sockErrs   int64                 // connect, read, write errors and timeouts
	pct        map[int]time.Duration // by per mille: 500, 900, 990, 999
	avg, top   time.Duration
	cpu        time.Duration // wrk's own user+system CPU
}

func (r *wrkResult) quantile(q float64) time.Duration { return r.pct[perMille(q)] }
func (r *wrkResult) mean() time.Duration              { return r.avg }
func (r *wrkResult) maximum() time.Duration           { return r.top }

// outcome turns wrk's counts into the Go client's form. wrk tells only
// how many answers had a status of 400 or more, not which: they are
// counted under 400, the rest under 200.
func (r *wrkResult) outcome() *outcome {
	o := &outcome{}
	o.statuses[200].Store(r.requests - r.statusErrs)
	o.statuses[400].Store(r.statusErrs)
	o.errors.Store(r.sockErrs)
	if r.sockErrs > 0 {
		s := fmt.Sprintf("wrk counted %d socket errors (connect, read, write, timeout)", r.sockErrs)
		o.firstErr.Store(&s)
	}
	return o
}

// wrkDriver runs wrk; dir holds the script and the bodies files.
type wrkDriver struct {
	path string
	dir  string

	mu     sync.Mutex
	files  map[*[]byte]string // a bodies slice's file, by its first element
	script string
}

// newWrkDriver finds wrk on PATH and writes the script into dir.
func newWrkDriver(dir string) (*wrkDriver, error) {
	path, err := exec.LookPath("wrk")
	if err != nil {
		return nil, fmt.Errorf("-driver wrk: %w (Debian: apt-get install wrk)", err)
	}
	script := filepath.Join(dir, "wrk.lua")
	if err := os.WriteFile(script, wrkScript, 0o644); err != nil {
		return nil, err
	}
	return &wrkDriver{path: path, dir: dir, files: map[*[]byte]string{}, script: script}, nil
}

// bodiesFile writes bodies one per line (a verify body is one line of
// JSON), once per slice, and returns the file's path.
func (w *wrkDriver) bodiesFile(bodies [][]byte) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if f, ok := w.files[&bodies[0]]; ok {
		return f, nil
	}
	f := filepath.Join(w.dir, fmt.Sprintf("bodies-%d.txt", len(w.files)))
	var buf bytes.Buffer
	for _, b := range bodies {
		if bytes.IndexByte(b, '\n') >= 0 {
			return "", fmt.Errorf("a body holds a newline; wrk.lua reads one body per line")
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(f, buf.Bytes(), 0o600); err != nil {
		return "", err
	}
	w.files[&bodies[0]] = f
	return f, nil
}

// args is wrk's command line for a closed loop of conns connections over
// threads threads for d.
func (w *wrkDriver) args(s *wrkSpec, conns, threads int, d time.Duration) ([]string, error) {
	path := "/"
	if i := strings.Index(strings.TrimPrefix(s.url, "http://"), "/"); i >= 0 {
		path = strings.TrimPrefix(s.url, "http://")[i:]
	}
	bodies := ""
	if len(s.bodies) > 0 {
		f, err := w.bodiesFile(s.bodies)
		if err != nil {
			return nil, err
		}
		bodies = f
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	return []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", strconv.Itoa(secs) + "s",
		"--timeout", strconv.Itoa(int(requestTimeout/time.Second)) + "s", "-s", w.script, s.url,
		"--", s.method, path, bodies}, nil
}

// run runs one closed loop with wrk and parses what its script printed.
func (w *wrkDriver) run(ctx context.Context, s *wrkSpec, conns, threads int, d time.Duration) (*wrkResult, error) {
	args, err := w.args(s, conns, threads, d)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, d+requestTimeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.path, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("wrk %s: %w: %s", s.url, err, strings.TrimSpace(errb.String()))
	}
	r, err := parseWrk(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("wrk %s: %w", s.url, err)
	}
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return r, nil
}

// parseWrk reads wrk.lua's lines: "loadgen-wrk summary REQUESTS
// DURATION_US STATUS_ERRORS SOCKET_ERRORS MEAN_US MAX_US" and
// "loadgen-wrk pct PERCENT VALUE_US".
func parseWrk(out []byte) (*wrkResult, error) {
	r := &wrkResult{pct: map[int]time.Duration{}}
	summary := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "loadgen-wrk" {
			continue
		}
		nums := make([]float64, len(f)-2)
		for i, s := range f[2:] {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("bad number %q in %q", s, sc.Text())
			}
			nums[i] = v
		}
		us := func(v float64) time.Duration { return time.Duration(v * float64(time.Microsecond)) }
		switch {
		case f[1] == "summary" && len(nums) == 6:
			summary = true
			r.requests, r.elapsed = int64(nums[0]), us(nums[1])
			r.statusErrs, r.sockErrs = int64(nums[2]), int64(nums[3])
			r.avg, r.top = us(nums[4]), us(nums[5])
		case f[1] == "pct" && len(nums) == 2:
			r.pct[perMille(nums[0]/100)] = us(nums[1])
		default:
			return nil, fmt.Errorf("unexpected line %q", sc.Text())
		}
	}
	if !summary {
		return nil, fmt.Errorf("no summary in its output: %.200q", out)
	}
	return r, nil
}

// perMille is q (0.99) in thousandths (990), a key that survives the
// rounding of 99.9/100.
func perMille(q float64) int { return int(math.Round(q * 1000)) }

// wrkThreads is how many threads each of n wrk processes gets: the
// machine's cores shared out, at least one, and a divisor of conns (wrk
// gives each thread conns/threads connections and drops the remainder).
func wrkThreads(n, conns int) int {
	t := max(1, min(conns, runtime.NumCPU()/max(n, 1)))
	for conns%t != 0 {
		t--
	}
	return t
}
