// Command loadgen is Keyhold's benchmark harness (`make bench`).
//
// It builds the keyhold binary, seeds a fresh SQLite database through the
// real services (accounts with auth.Service.Signup, keys with
// keys.Service.Create), starts the server on 127.0.0.1, verifies every key
// once so the cache is warm, and then loads the same server:
//
//   - closed loop, -c connections for -d each: GET /healthz, POST
//     /v1/verify, GET /healthz again, and the ratio of verify to healthz
//     throughput;
//   - open loop at -rate requests per second for -d each, against
//     /v1/verify and /healthz, with latency measured from each request's
//     intended send time (no coordinated omission);
//   - the server's resident memory with every key cached.
//
// It prints a plain-text report with the machine's facts, and with -json
// also writes the numbers as JSON. Only 127.0.0.1 is ever contacted, every
// phase ends by itself, and the server is stopped with SIGTERM at the end.
// The keys' plaintext stays in this process's memory.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

type options struct {
	keys        int
	perAccount  int
	seedWorkers int
	conns       int
	duration    time.Duration
	rate        int
	workers     int
	warmup      time.Duration
	pause       time.Duration
	waitIdle    time.Duration
	keyhold     string
	jsonOut     string
	keep        bool
}

func main() {
	var o options
	flag.IntVar(&o.keys, "keys", 1000, "API keys to create and load (100000 for the memory check)")
	flag.IntVar(&o.perAccount, "per-account", 1000, "keys per account (key creation counts an account's keys, so one huge account makes seeding quadratic); 0: all in one account")
	flag.IntVar(&o.seedWorkers, "seed-workers", 4, "goroutines creating keys (SQLite takes one writer at a time; the rest of each creation overlaps)")
	flag.IntVar(&o.conns, "c", 64, "connections of the closed-loop phases")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "duration of each measured phase")
	flag.IntVar(&o.rate, "rate", 10000, "requests per second of the open-loop phases (0: skip them)")
	flag.IntVar(&o.workers, "workers", 512, "most requests in flight in the open-loop phases")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured closed-loop load on /v1/verify before the first phase")
	flag.DurationVar(&o.pause, "pause", time.Second, "idle time between phases")
	flag.DurationVar(&o.waitIdle, "wait-idle", 0, "before each phase, wait up to this long for the other processes of the machine to use under 0.2 CPU (0: do not wait)")
	flag.StringVar(&o.keyhold, "keyhold", "", "keyhold binary to run (default: go build ./cmd/keyhold into a temporary folder)")
	flag.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary folder (database, plans file, server log)")
	flag.Parse()
	if o.keys < 1 || o.conns < 1 || o.duration <= 0 || o.rate < 0 || o.workers < 1 || o.seedWorkers < 1 {
		fmt.Fprintln(os.Stderr, "loadgen: -keys, -c, -d, -workers and -seed-workers must be positive, -rate not negative")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// phase is one measured run against one endpoint.
type phase struct {
	Name       string        `json:"name"`
	Endpoint   string        `json:"endpoint"`
	Mode       string        `json:"mode"` // closed or open
	Conns      int           `json:"connections,omitempty"`
	TargetRate int           `json:"target_rate,omitempty"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	Sent       int64         `json:"sent,omitempty"`
	Answered   int64         `json:"answered"`
	ReqPerSec  float64       `json:"req_per_sec"`
	P50        time.Duration `json:"p50_ns"`
	P99        time.Duration `json:"p99_ns"`
	P999       time.Duration `json:"p999_ns"`
	Max        time.Duration `json:"max_ns"`
	Mean       time.Duration `json:"mean_ns"`
	// Open loop: latency from the actual send, and how late sends were.
	ServiceP50  time.Duration `json:"service_p50_ns,omitempty"`
	ServiceP99  time.Duration `json:"service_p99_ns,omitempty"`
	ServiceP999 time.Duration `json:"service_p999_ns,omitempty"`
	LagP99      time.Duration `json:"start_lag_p99_ns,omitempty"`
	LagMax      time.Duration `json:"start_lag_max_ns,omitempty"`
	Dials       int64         `json:"connections_opened"`

	Statuses   map[int]int64 `json:"statuses"`
	Non2xx     int64         `json:"non_2xx"`
	Errors     int64         `json:"transport_errors"`
	FirstError string        `json:"first_error,omitempty"`

	ServerCPU  time.Duration `json:"server_cpu_ns"`
	LoadgenCPU time.Duration `json:"loadgen_cpu_ns"`
	// OtherCPU is what the rest of the machine used meanwhile: other
	// processes competing for the same cores.
	OtherCPU  time.Duration `json:"other_cpu_ns"`
	LoadAvg   string        `json:"load_average_after"`
	IdleWait  time.Duration `json:"idle_wait_ns,omitempty"`
	Idle      bool          `json:"machine_idle_at_start,omitempty"`
	GCs       int64         `json:"server_gcs"`
	GCPause   time.Duration `json:"server_gc_pause_total_ns"`
	KeyLoads  int64         `json:"server_key_loads"`
	ServerRSS int64         `json:"server_rss_bytes"`
}

type memory struct {
	RSSStart    int64   `json:"rss_start_bytes"`
	RSSWarm     int64   `json:"rss_warm_bytes"`
	HeapWarm    float64 `json:"heap_inuse_warm_bytes"`
	CachedKeys  int64   `json:"cached_keys"`
	RSSEnd      int64   `json:"rss_end_bytes"`
	HeapEnd     float64 `json:"heap_inuse_end_bytes"`
	CachedEnd   int64   `json:"cached_keys_end"`
	PeakRSS     int64   `json:"peak_rss_bytes"`
	GCMaxPause  float64 `json:"gc_max_pause_seconds"`
	GCCount     int64   `json:"gc_count"`
	UsageDrops  float64 `json:"usage_dropped_rows"`
	UsagePend   float64 `json:"usage_pending_rows"`
	KeyLoadsAll int64   `json:"key_loads_total"`
}

type report struct {
	Started  time.Time         `json:"started"`
	Machine  map[string]string `json:"machine"`
	Options  map[string]string `json:"options"`
	Seed     seedStats         `json:"seed"`
	WarmTime time.Duration     `json:"warm_ns"`
	WarmNon2 int64             `json:"warm_non_2xx"`
	Phases   []*phase          `json:"phases"`
	Ratio    float64           `json:"verify_over_healthz"`
	Memory   memory            `json:"memory"`
	Shutdown time.Duration     `json:"shutdown_ns"`
	StopErr  string            `json:"shutdown_error,omitempty"`
	LogLines []string          `json:"server_log"`
}

func run(ctx context.Context, o options, out io.Writer) error {
	rep := &report{Started: time.Now().UTC(), Machine: machineFacts(), Options: map[string]string{}}
	rep.Machine["load average at start"] = loadAvg()
	flag.VisitAll(func(f *flag.Flag) { rep.Options[f.Name] = f.Value.String() })
	say := func(format string, args ...any) { fmt.Fprintf(out, "loadgen: "+format+"\n", args...) }

	dir, err := os.MkdirTemp("", "keyhold-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		say("keeping %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	bin := o.keyhold
	if bin == "" {
		say("building ./cmd/keyhold")
		if bin, err = buildKeyhold(ctx, dir); err != nil {
			return err
		}
	}
	plansPath := filepath.Join(dir, "plans.json")
	if err := writePlans(plansPath, max(o.keys, o.perAccount)); err != nil {
		return err
	}
	dbURL := "sqlite://" + filepath.Join(dir, "keyhold.db")

	say("seeding %d keys through keys.Service (SQLite, %d per account, %d writer(s))", o.keys, o.perAccount, o.seedWorkers)
	secrets, st, err := seed(ctx, dbURL, plansPath, o.keys, o.perAccount, o.seedWorkers, out)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "keyhold.db")); err == nil {
		st.DatabaseSize = fi.Size()
	}
	rep.Seed = st
	say("seeded %d accounts in %s, %d keys in %s (%s per key)", st.Accounts, round(st.SignupTime), st.Keys, round(st.KeysTime), st.PerKey.Round(time.Microsecond))
	bodies := make([][]byte, len(secrets))
	for i, s := range secrets {
		bodies[i] = []byte(`{"key":"` + s + `"}`)
	}
	secrets = nil

	srv, err := startServer(bin, dir, dbURL, plansPath)
	if err != nil {
		return err
	}
	defer func() {
		if srv.alive() {
			_, _ = srv.stop(20 * time.Second)
		}
	}()
	ctl := newClient(4, nil)
	if err := srv.waitReady(ctx, ctl, 30*time.Second); err != nil {
		return err
	}
	say("keyhold pid %d ready at %s", srv.cmd.Process.Pid, srv.base)
	if m, err := srv.scrape(ctx, ctl); err == nil {
		if v := m.sum("go_sched_gomaxprocs_threads"); v > 0 {
			rep.Machine["server GOMAXPROCS"] = fmt.Sprint(v)
		}
	}
	rep.Memory.RSSStart, _ = srv.procStatus()

	var dials atomic.Int64
	client := newClient(o.conns, &dials)
	say("warming the cache: verifying each of %d keys once", len(bodies))
	wt, wo, err := warm(ctx, client, srv.base, bodies, o.conns)
	if err != nil {
		return fmt.Errorf("warm: %w", err)
	}
	_, non2, by := wo.counts()
	rep.WarmTime, rep.WarmNon2 = wt, non2
	if non2 > 0 {
		say("WARNING: %d of %d warm-up verifications were not 2xx: %v", non2, len(bodies), by)
	}
	time.Sleep(o.pause) // let the first usage flush pass
	rep.Memory.RSSWarm, _ = srv.procStatus()
	if m, err := srv.scrape(ctx, ctl); err == nil {
		rep.Memory.CachedKeys = int64(m.sum("keyhold_verify_cached_keys"))
		rep.Memory.HeapWarm = m.sum("go_memstats_heap_inuse_bytes")
	}
	say("warm in %s; %d keys cached; server RSS %s", round(wt), rep.Memory.CachedKeys, mib(rep.Memory.RSSWarm))

	health, verify := healthTarget(srv.base), verifyTarget(srv.base, bodies)
	if o.warmup > 0 {
		closedLoop(ctx, client, verify, o.conns, o.warmup, nil, &outcome{})
		time.Sleep(o.pause)
	}

	measure := func(p *phase, body func()) {
		if o.waitIdle > 0 {
			p.IdleWait, p.Idle = waitIdle(ctx, srv, o.waitIdle)
		}
		before, _ := srv.scrape(ctx, ctl)
		scpu, gcpu, mcpu := srv.cpuTime(), selfCPU(), machineCPU()
		body()
		p.ServerCPU, p.LoadgenCPU = srv.cpuTime()-scpu, selfCPU()-gcpu
		p.OtherCPU = max(0, machineCPU()-mcpu-p.ServerCPU-p.LoadgenCPU)
		p.LoadAvg = loadAvg()
		if after, err := srv.scrape(ctx, ctl); err == nil && before != nil {
			p.GCs = int64(after.sum("go_gc_duration_seconds_count") - before.sum("go_gc_duration_seconds_count"))
			p.GCPause = seconds(after.sum("go_gc_duration_seconds_sum") - before.sum("go_gc_duration_seconds_sum"))
			p.KeyLoads = int64(after.sum("keyhold_verify_key_loads_total") - before.sum("keyhold_verify_key_loads_total"))
		}
		p.ServerRSS, _ = srv.procStatus()
		rep.Phases = append(rep.Phases, p)
		time.Sleep(o.pause)
	}
	closed := func(name string, t target) *phase {
		p := &phase{Name: name, Endpoint: t.name, Mode: "closed", Conns: o.conns}
		say("closed loop: %s, %d connections, %s", t.name, o.conns, o.duration)
		h, oc := newHist(o.conns), &outcome{}
		d0 := dials.Load()
		measure(p, func() { p.Elapsed = closedLoop(ctx, client, t, o.conns, o.duration, h, oc) })
		p.Dials = dials.Load() - d0
		fill(p, h.snapshot(), oc)
		p.ReqPerSec = float64(p.Answered) / p.Elapsed.Seconds()
		return p
	}
	open := func(name string, t target) *phase {
		p := &phase{Name: name, Endpoint: t.name, Mode: "open", TargetRate: o.rate}
		say("open loop: %s at %d req/s, %s, up to %d in flight", t.name, o.rate, o.duration, o.workers)
		var odials atomic.Int64
		oclient := newClient(o.workers, &odials)
		defer oclient.CloseIdleConnections()
		oc := &outcome{}
		var r openResult
		measure(p, func() { r = openLoop(ctx, oclient, t, o.rate, o.duration, o.workers, oc) })
		p.Dials, p.Sent, p.Elapsed = odials.Load(), r.sent, r.elapsed
		total := r.total.snapshot()
		fill(p, total, oc)
		svc, lag := r.service.snapshot(), r.startLag.snapshot()
		p.ServiceP50, p.ServiceP99, p.ServiceP999 = svc.quantile(0.5), svc.quantile(0.99), svc.quantile(0.999)
		p.LagP99, p.LagMax = lag.quantile(0.99), time.Duration(lag.max)
		if p.Elapsed > 0 {
			p.ReqPerSec = float64(p.Answered) / p.Elapsed.Seconds()
		}
		return p
	}

	h1 := closed("healthz #1", health)
	v := closed("verify", verify)
	h2 := closed("healthz #2", health)
	if best := max(h1.ReqPerSec, h2.ReqPerSec); best > 0 {
		rep.Ratio = v.ReqPerSec / best
	}
	if o.rate > 0 && ctx.Err() == nil {
		open("verify", verify)
		open("healthz", health)
	}
	client.CloseIdleConnections()

	rep.Memory.RSSEnd, rep.Memory.PeakRSS = srv.procStatus()
	if m, err := srv.scrape(ctx, ctl); err == nil {
		rep.Memory.CachedEnd = int64(m.sum("keyhold_verify_cached_keys"))
		rep.Memory.HeapEnd = m.sum("go_memstats_heap_inuse_bytes")
		rep.Memory.GCMaxPause = m.sum("go_gc_duration_seconds", `quantile="1"`)
		rep.Memory.GCCount = int64(m.sum("go_gc_duration_seconds_count"))
		rep.Memory.UsageDrops = m.sum("keyhold_usage_dropped_rows_total")
		rep.Memory.UsagePend = m.sum("keyhold_usage_pending_rows")
		rep.Memory.KeyLoadsAll = int64(m.sum("keyhold_verify_key_loads_total"))
	}
	ctl.CloseIdleConnections()
	say("stopping keyhold (SIGTERM)")
	rep.Shutdown, err = srv.stop(20 * time.Second)
	if err != nil {
		rep.StopErr = err.Error()
	}
	rep.LogLines = srv.logLines()

	printReport(out, rep, o)
	if o.jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
		say("wrote %s", o.jsonOut)
	}
	return ctx.Err()
}

// waitIdle waits, in one-second samples, until the processes other than
// the server and this one use under 0.2 CPU, or for at most limit.
func waitIdle(ctx context.Context, srv *server, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < limit && ctx.Err() == nil {
		m, s, g := machineCPU(), srv.cpuTime(), selfCPU()
		t0 := time.Now()
		time.Sleep(time.Second)
		other := machineCPU() - m - (srv.cpuTime() - s) - (selfCPU() - g)
		if float64(other) < 0.2*float64(time.Since(t0)) {
			return time.Since(start), true
		}
	}
	return time.Since(start), false
}

// fill sets a phase's latencies and outcome counts.
func fill(p *phase, s *snapshot, oc *outcome) {
	p.Answered, p.Non2xx, p.Statuses = oc.counts()
	p.Errors = oc.errors.Load()
	if e := oc.firstErr.Load(); e != nil {
		p.FirstError = *e
	}
	p.P50, p.P99, p.P999 = s.quantile(0.5), s.quantile(0.99), s.quantile(0.999)
	p.Max, p.Mean = time.Duration(s.max), s.mean()
}

func machineFacts() map[string]string {
	m := map[string]string{
		"cpus (runtime.NumCPU)": fmt.Sprint(runtime.NumCPU()),
		"loadgen GOMAXPROCS":    fmt.Sprint(runtime.GOMAXPROCS(0)),
		"go":                    runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		"GOGC":                  envOr("GOGC", "(unset: 100)"),
		"GOMEMLIMIT":            envOr("GOMEMLIMIT", "(unset)"),
		"server GOMAXPROCS":     envOr("GOMAXPROCS", "(unset: Go default)"),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if l, _, ok := strings.Cut(string(b), "\n"); ok {
			m["memory"] = strings.Join(strings.Fields(l)[1:], " ")
		}
	}
	return m
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func round(d time.Duration) time.Duration {
	switch {
	case d > 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	default:
		return d.Round(100 * time.Microsecond)
	}
}

func mib(b int64) string {
	if b < 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}
