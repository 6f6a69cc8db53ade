package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/keyhold/keyhold/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestScrape reads what client_golang's handler serves, as keyhold's
// /metrics does: counters and gauges summed over their series, the GC
// summary's count, sum and maximum, and nothing for a missing name.
func TestScrape(t *testing.T) {
	reg := prometheus.NewRegistry()
	loads := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keyhold_verify_key_loads_total"}, []string{"result"})
	loads.WithLabelValues("hit").Add(3)
	loads.WithLabelValues("miss").Add(4)
	cached := prometheus.NewGauge(prometheus.GaugeOpts{Name: "keyhold_verify_cached_keys"})
	cached.Set(1000)
	reg.MustRegister(loads, cached, collectors.NewGoCollector())
	ts := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer ts.Close()

	m, err := (&server{base: ts.URL}).scrape(context.Background(), ts.Client())
	if err != nil {
		t.Fatal(err)
	}
	if got := m.sum("keyhold_verify_key_loads_total"); got != 7 {
		t.Errorf("key loads %v, want 3+4", got)
	}
	if got := m.sum("keyhold_verify_cached_keys"); got != 1000 {
		t.Errorf("cached keys %v, want 1000", got)
	}
	if got := m.sum("no_such_metric"); got != 0 {
		t.Errorf("a missing metric sums to %v, want 0", got)
	}
	if got := m.sum("go_goroutines"); got < 1 {
		t.Errorf("go_goroutines %v, want at least 1", got)
	}
	n, sum, pmax := m.summary("go_gc_duration_seconds", 1)
	if sum < 0 || pmax < 0 || (n > 0 && pmax <= 0) {
		t.Errorf("GC summary: count %d, sum %v, max %v", n, sum, pmax)
	}
}

// TestScrapeRefuses checks that a /metrics that is not 200, or not the
// text format, is an error rather than an empty scrape.
func TestScrapeRefuses(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		body   string
	}{
		{"401", http.StatusUnauthorized, "unauthorized\n"},
		{"garbage", http.StatusOK, "this is { not the text format\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer ts.Close()
			if m, err := (&server{base: ts.URL}).scrape(context.Background(), ts.Client()); err == nil {
				t.Errorf("scrape returned %v, want an error", m)
			}
		})
	}
}

// TestRedisInfo reads INFO from a real redis-server and checks that the
// commands a test sends show up in the counters, as a phase's would.
func TestRedisInfo(t *testing.T) {
	addr := strings.TrimPrefix(testenv.Redis(t), "redis://")
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	b := &backing{redisAddr: addr, rdb: rdb}
	before, err := b.info()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\d+\.\d+`).MatchString(before.version) || before.connected < 1 || before.rss <= 0 {
		t.Fatalf("INFO: version %q, %d clients, rss %d", before.version, before.connected, before.rss)
	}
	ctx := context.Background()
	key := "loadgen-test:" + t.Name()
	defer rdb.Del(ctx, key)
	for range 3 {
		if err := rdb.Incr(ctx, key).Err(); err != nil {
			t.Fatal(err)
		}
	}
	after, err := b.info()
	if err != nil {
		t.Fatal(err)
	}
	d := redisDelta(before, after, 0)
	// Other tests of the binary share the server: at least ours.
	if d.ByCommand["incr"] < 3 || d.Commands < 3 || d.ByCommand["info"] != 0 {
		t.Errorf("between the INFOs: %d commands, by name %v; want at least 3 incr and no info", d.Commands, d.ByCommand)
	}
	// Three INCRs one after the other are three round trips; a pipeline
	// of three is one.
	if d.Reads < 3 {
		t.Errorf("between the INFOs: %d read events for 3 INCRs in turn", d.Reads)
	}
	before = after
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for range 3 {
			p.Incr(ctx, key)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if after, err = b.info(); err != nil {
		t.Fatal(err)
	}
	if d := redisDelta(before, after, 0); d.Reads < 1 || d.Reads >= d.Commands {
		t.Errorf("a pipeline of 3 INCRs: %d read events for %d commands; want fewer reads than commands", d.Reads, d.Commands)
	}
}

// TestRedisInfoDown checks that a Redis that does not answer is an error.
func TestRedisInfoDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	if _, err := (&backing{rdb: rdb}).info(); err == nil {
		t.Error("INFO from a closed port succeeded")
	}
}

// TestProc checks the /proc readings against this process: it has memory,
// it uses CPU, it is in its own tree, and the machine is busier than it.
func TestProc(t *testing.T) {
	pid := os.Getpid()
	rss, hwm := procMemory(pid)
	if rss <= 0 || hwm < rss {
		t.Errorf("RSS %d, peak %d: want 0 < RSS <= peak", rss, hwm)
	}
	// Spin until /proc (in hundredths of a second) has seen CPU time.
	for procCPU(pid) < 20*time.Millisecond {
		for i := 0; i < 1e6; i++ {
			_ = i * i
		}
	}
	self, tree, machine := procCPU(pid), treeCPU(pid), machineCPU()
	if tree < self || machine < self || selfCPU() < self-10*time.Millisecond {
		t.Errorf("CPU: process %v, tree %v, machine %v, getrusage %v", self, tree, machine, selfCPU())
	}
	if r, h := procMemory(-1); r != -1 || h != -1 {
		t.Errorf("a process that does not exist: %d, %d, want -1, -1", r, h)
	}
	if procCPU(-1) != 0 {
		t.Error("a process that does not exist has CPU time")
	}
	if la := loadAvg(); !regexp.MustCompile(`^\d+\.\d\d \d+\.\d\d \d+\.\d\d$`).MatchString(la) {
		t.Errorf("load average %q", la)
	}
	if m := memTotal(); !regexp.MustCompile(`^\d+ kB$`).MatchString(m) {
		t.Errorf("memory %q", m)
	}
}
