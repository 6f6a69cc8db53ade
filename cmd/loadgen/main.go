// Command loadgen is Keyhold's benchmark harness (`make bench`).
//
// It builds the keyhold binary, seeds a fresh SQLite database through the
// real services (accounts with auth.Service.Signup, keys with
// keys.Service.Create), starts the server on 127.0.0.1, verifies every key
// once so the cache is warm, and then loads the same server:
//
//   - closed loop, -c connections for -d each: GET /healthz, POST
//     /v1/verify, GET /healthz again, and the ratio of verify to healthz
//     throughput; right after verify (single mode), a bare net/http
//     server in a process of its own (this program run again, bare.go)
//     answering a constant body as long as a VALID answer, loaded the same
//     way, as the ceiling: verify/bare throughput, server CPU per request
//     (/proc) and p99, as ratios; then POST /v1/tokens (the same keys and
//     connections, each answer a verification plus a signed JWT) beside
//     verify;
//   - open loop at -rate requests per second for -d each, against
//     /v1/verify and /healthz, with latency measured from each request's
//     intended send time (no coordinated omission);
//   - the server's resident memory with every key cached.
//
// With -mode scale it does the same against two instances that share a
// PostgreSQL and a Redis, both of which it starts itself on free 127.0.0.1
// ports in its temporary folder (PostgreSQL with fsync off; Redis without
// persistence) and stops at the end, on Ctrl-C too. Seeding goes through
// the same services into PostgreSQL; both instances get the same
// KEYHOLD_DATABASE_URL, KEYHOLD_REDIS_URL, KEYHOLD_SECRET and
// KEYHOLD_PLANS_FILE. The closed-loop phases share the connections out
// over the instances (one loop per instance, run together, reported per
// instance and combined), the open-loop phases alternate between them, and
// Redis's INFO before and after each phase gives its commands per request.
// -mode both runs single, then scale, and prints the two side by side.
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
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
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
	mode        string
	seedCache   string
	settle      time.Duration
	driver      string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == bareCommand {
		os.Exit(serveBare(os.Args[2:])) // the bare ceiling server (bare.go)
	}
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
	flag.StringVar(&o.mode, "mode", "single", "single: one instance on SQLite; scale: two instances on a PostgreSQL and a Redis that loadgen starts; both: single, then scale, then the two side by side")
	flag.StringVar(&o.seedCache, "seed-cache", "", "single mode: keep the seeded database and the keys' plaintext in this folder, and reuse them in later runs with the same -keys instead of seeding (seedcache.go)")
	flag.DurationVar(&o.settle, "settle", 15*time.Second, "after the warm reading, leave the server idle this long, then read its memory again (0: do not)")
	flag.StringVar(&o.driver, "driver", "go", "what runs the closed loops: go (this program's client) or wrk (Debian's wrk on PATH; it leaves the servers more of the cores: wrk.go)")
	flag.Parse()
	if o.keys < 1 || o.conns < 1 || o.duration <= 0 || o.rate < 0 || o.workers < 1 || o.seedWorkers < 1 {
		fmt.Fprintln(os.Stderr, "loadgen: -keys, -c, -d, -workers and -seed-workers must be positive, -rate not negative")
		os.Exit(2)
	}
	if o.driver != "go" && o.driver != "wrk" {
		fmt.Fprintf(os.Stderr, "loadgen: -driver must be go or wrk, not %q\n", o.driver)
		os.Exit(2)
	}
	switch o.mode {
	case "single", "scale", "both":
	default:
		fmt.Fprintf(os.Stderr, "loadgen: -mode must be single, scale or both, not %q\n", o.mode)
		os.Exit(2)
	}
	if o.mode != "single" && o.conns < 2 {
		fmt.Fprintln(os.Stderr, "loadgen: -mode scale needs -c 2 or more (the connections are shared between two instances)")
		os.Exit(2)
	}
	// run in a closure, so that its deferred stop runs before os.Exit.
	err := func() error {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return run(ctx, o, os.Stdout)
	}()
	if err != nil {
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
	OtherCPU time.Duration `json:"other_cpu_ns"`
	LoadAvg  string        `json:"load_average_after"`
	IdleWait time.Duration `json:"idle_wait_ns,omitempty"`
	Idle     bool          `json:"machine_idle_at_start,omitempty"`
	GCs      int64         `json:"server_gcs"`
	GCPause  time.Duration `json:"server_gc_pause_total_ns"`
	KeyLoads int64         `json:"server_key_loads"`
	// ServerAlloc is what the servers allocated on the Go heap during the
	// phase (go_memstats_alloc_bytes_total): per request, it sets how
	// often the collector runs for a given headroom.
	ServerAlloc int64 `json:"server_alloc_bytes"`
	ServerRSS   int64 `json:"server_rss_bytes"`

	// OKPerSec is the rate of 200 answers: for /v1/verify, of valid keys.
	OKPerSec float64 `json:"status_200_per_sec"`
	// With several instances: each one's CPU and RSS (ServerCPU and
	// ServerRSS are their sums), its share of a closed loop, and what
	// Redis and PostgreSQL used.
	InstanceCPU []time.Duration  `json:"instance_cpu_ns,omitempty"`
	InstanceRSS []int64          `json:"instance_rss_bytes,omitempty"`
	PerInstance []*instancePhase `json:"per_instance,omitempty"`
	RedisCPU    time.Duration    `json:"redis_cpu_ns,omitempty"`
	PostgresCPU time.Duration    `json:"postgres_cpu_ns,omitempty"`
	Redis       *redisPhase      `json:"redis,omitempty"`
}

type memory struct {
	RSSStart  int64   `json:"rss_start_bytes"`
	RSSWarm   int64   `json:"rss_warm_bytes"`
	HeapWarm  float64 `json:"heap_inuse_warm_bytes"`
	HeapStart float64 `json:"heap_inuse_start_bytes"`
	// LiveWarm is the live heap the last collection before the warm
	// reading left: its goal over 1+GOGC/100 (0 when a memory limit set
	// the goal instead, and the live size cannot be told).
	LiveWarm   float64 `json:"heap_live_warm_bytes,omitempty"`
	GOGCWarm   float64 `json:"gogc_warm"`
	CachedKeys int64   `json:"cached_keys"`
	// Where the warm RSS goes (breakdown.go).
	Warm rssBreakdown `json:"rss_warm_breakdown"`
	// RSSSettled is the RSS -settle after the warm reading, the server
	// idle meanwhile (SettleGCs collections), and SettledBreakdown where
	// it went then: the target's "after warm-up and a GC".
	RSSSettled       int64         `json:"rss_settled_bytes"`
	SettleGCs        int64         `json:"settle_gcs"`
	SettleWait       time.Duration `json:"settle_wait_ns"`
	SettledBreakdown rssBreakdown  `json:"rss_settled_breakdown"`
	LiveSettled      float64       `json:"heap_live_settled_bytes,omitempty"`
	RSSEnd           int64         `json:"rss_end_bytes"`
	HeapEnd          float64       `json:"heap_inuse_end_bytes"`
	CachedEnd        int64         `json:"cached_keys_end"`
	PeakRSS          int64         `json:"peak_rss_bytes"`
	GCMaxPause       float64       `json:"gc_max_pause_seconds"`
	GCCount          int64         `json:"gc_count"`
	UsageDrops       float64       `json:"usage_dropped_rows"`
	UsagePend        float64       `json:"usage_pending_rows"`
	KeyLoadsAll      int64         `json:"key_loads_total"`
}

// instance is one keyhold process of the run: its memory, stop and log.
type instance struct {
	Pid      int      `json:"pid"`
	Base     string   `json:"base_url"`
	Memory   memory   `json:"memory"`
	Shutdown int64    `json:"shutdown_ns"`
	StopErr  string   `json:"shutdown_error,omitempty"`
	LogLines []string `json:"server_log"`
}

// instancePhase is one instance's share of a closed-loop phase.
type instancePhase struct {
	Conns     int           `json:"connections"`
	Answered  int64         `json:"answered"`
	OK        int64         `json:"status_200"`
	ReqPerSec float64       `json:"req_per_sec"`
	P50       time.Duration `json:"p50_ns"`
	P99       time.Duration `json:"p99_ns"`
	P999      time.Duration `json:"p999_ns"`
	Non2xx    int64         `json:"non_2xx"`
	Errors    int64         `json:"transport_errors"`
}

// redisPhase is what Redis did during a phase (INFO before and after; the
// INFO command itself is left out).
type redisPhase struct {
	Commands  int64            `json:"commands_processed"`
	Reads     int64            `json:"reads_processed"` // read events: round trips, pipelined ones counting once
	ByCommand map[string]int64 `json:"commands_by_name"`
	CPU       time.Duration    `json:"redis_cpu_ns"`
}

type report struct {
	Mode     string            `json:"mode"` // single or scale
	Started  time.Time         `json:"started"`
	Machine  map[string]string `json:"machine"`
	Options  map[string]string `json:"options"`
	Storage  string            `json:"storage"`
	Driver   string            `json:"driver"` // what ran the closed loops
	Seed     seedStats         `json:"seed"`
	WarmTime time.Duration     `json:"warm_ns"`
	WarmNon2 int64             `json:"warm_non_2xx"`
	Phases   []*phase          `json:"phases"`
	Ratio    float64           `json:"verify_over_healthz"`
	// Bare is /v1/verify beside the bare net/http ceiling (single mode).
	Bare *bareComparison `json:"bare,omitempty"`
	// Memory, Shutdown, StopErr and LogLines are the first (in single
	// mode the only) instance's; Instances has every instance.
	Memory    memory        `json:"memory"`
	Shutdown  time.Duration `json:"shutdown_ns"`
	StopErr   string        `json:"shutdown_error,omitempty"`
	LogLines  []string      `json:"server_log"`
	Instances []*instance   `json:"instances"`
	RedisRSS  int64         `json:"redis_rss_bytes,omitempty"`
}

// run runs the benchmark of each mode in turn (single, scale, or both),
// printing each report, then with both the two side by side.
func run(ctx context.Context, o options, out io.Writer) error {
	say := func(format string, args ...any) { fmt.Fprintf(out, "loadgen: "+format+"\n", args...) }
	modes := []string{o.mode}
	if o.mode == "both" {
		modes = []string{"single", "scale"}
	}
	if o.keyhold == "" {
		// One build for every mode.
		dir, err := os.MkdirTemp("", "keyhold-bench-bin-")
		if err != nil {
			return err
		}
		if o.keep {
			say("keeping %s", dir)
		} else {
			defer os.RemoveAll(dir)
		}
		say("building ./cmd/keyhold")
		if o.keyhold, err = buildKeyhold(ctx, dir); err != nil {
			return err
		}
	}
	var reps []*report
	for _, mode := range modes {
		if ctx.Err() != nil {
			break
		}
		rep, err := bench(ctx, o, mode, out)
		if err != nil {
			return fmt.Errorf("%s mode: %w", mode, err)
		}
		printReport(out, rep, o)
		reps = append(reps, rep)
	}
	if len(reps) == 2 {
		printComparison(out, reps[0], reps[1], o)
	}
	if o.jsonOut != "" && len(reps) > 0 {
		var v any = reps[0]
		if len(reps) > 1 {
			v = map[string]*report{"single": reps[0], "scale": reps[1]}
		}
		b, err := json.MarshalIndent(v, "", "  ")
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

// connShare is instance i's share of conns connections over n instances.
func connShare(conns, n, i int) int {
	c := conns / n
	if i < conns%n {
		c++
	}
	return c
}

// closedSplit runs one closed loop per target (instance), at the same time,
// with the connections shared out between them; hs and outs (one per
// target, or nil to record nothing) receive the results. It returns each
// loop's elapsed time.
func closedSplit(ctx context.Context, client *http.Client, ts []target, conns int, d time.Duration, hs []*hist, outs []*outcome) []time.Duration {
	els := make([]time.Duration, len(ts))
	var wg sync.WaitGroup
	for i, t := range ts {
		c := connShare(conns, len(ts), i)
		var h *hist
		o := &outcome{}
		if hs != nil {
			hs[i] = newHist(max(c, 1))
			h = hs[i]
		}
		if outs != nil {
			outs[i] = o
		}
		if c == 0 {
			continue
		}
		wg.Go(func() { els[i] = closedLoop(ctx, client, t, c, d, h, o) })
	}
	wg.Wait()
	return els
}

// redactDSN hides a password in a database URL for printing.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil {
		return u.Redacted()
	}
	return "?"
}

// waitIdle waits, in one-second samples, until the processes other than
// those of this benchmark (ours) use under 0.2 CPU, or for at most limit.
func waitIdle(ctx context.Context, ours func() time.Duration, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < limit && ctx.Err() == nil {
		m, s := machineCPU(), ours()
		t0 := time.Now()
		time.Sleep(time.Second)
		other := machineCPU() - m - (ours() - s)
		if float64(other) < 0.2*float64(time.Since(t0)) {
			return time.Since(start), true
		}
	}
	return time.Since(start), false
}

// fill sets a phase's latencies and outcome counts.
func fill(p *phase, s latencies, oc *outcome) {
	p.Answered, p.Non2xx, p.Statuses = oc.counts()
	p.Errors = oc.errors.Load()
	if e := oc.firstErr.Load(); e != nil {
		p.FirstError = *e
	}
	p.P50, p.P99, p.P999 = s.quantile(0.5), s.quantile(0.99), s.quantile(0.999)
	p.Max, p.Mean = s.maximum(), s.mean()
}

// machineFacts is what the report says of the machine and the settings.
func machineFacts() map[string]string {
	m := map[string]string{
		"cpus (runtime.NumCPU)": fmt.Sprint(runtime.NumCPU()),
		"loadgen GOMAXPROCS":    fmt.Sprint(runtime.GOMAXPROCS(0)),
		"go":                    runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		"GOGC":                  envOr("GOGC", "(unset: 100)"),
		"GOMEMLIMIT":            envOr("GOMEMLIMIT", "(unset)"),
		"server GOMAXPROCS":     envOr("GOMAXPROCS", "(unset: Go default)"),
	}
	if v := cpuModel(); v != "" {
		m["cpu"] = v
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if v := memTotal(); v != "" {
		m["memory"] = v
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
