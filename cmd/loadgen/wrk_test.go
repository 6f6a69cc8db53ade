package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestParseWrk: the script's lines become a result, and output that is
// not the script's is an error rather than a run of zero requests.
func TestParseWrk(t *testing.T) {
	good := "Running 1s test @ http://127.0.0.1:1/\n" +
		"loadgen-wrk summary 1200 1000512 30 2 812.5 9000\n" +
		"loadgen-wrk pct 50 700\nloadgen-wrk pct 90 1100\nloadgen-wrk pct 99 2500\nloadgen-wrk pct 99.9 6000\n"
	r, err := parseWrk([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if r.requests != 1200 || r.elapsed != 1000512*time.Microsecond || r.statusErrs != 30 || r.sockErrs != 2 {
		t.Errorf("summary: %+v", r)
	}
	if r.quantile(0.5) != 700*time.Microsecond || r.quantile(0.999) != 6*time.Millisecond || r.maximum() != 9*time.Millisecond || r.mean() != 812500*time.Nanosecond {
		t.Errorf("latencies: %+v", r)
	}
	oc := r.outcome()
	if total, non2, by := oc.counts(); total != 1200 || non2 != 30 || by[200] != 1170 || oc.errors.Load() != 2 || oc.firstErr.Load() == nil {
		t.Errorf("outcome: %d %d %v", total, non2, by)
	}
	for name, out := range map[string]string{
		"no summary":    "loadgen-wrk pct 50 700\n",
		"bad number":    "loadgen-wrk summary 12x 1 0 0 1 1\n",
		"short summary": "loadgen-wrk summary 1 2 3\n",
		"unknown line":  "loadgen-wrk summary 1 2 0 0 1 1\nloadgen-wrk what 1\n",
	} {
		if _, err := parseWrk([]byte(out)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestWrkDriver runs the real wrk against a server that answers 401 to one
// body of four: every body is sent, as a POST of JSON to the path, the
// refusals are counted, and latencies come back.
func TestWrkDriver(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type")+" "+string(b)]++
		mu.Unlock()
		if strings.Contains(string(b), "bad") {
			w.WriteHeader(http.StatusUnauthorized)
		}
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	w, err := newWrkDriver(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bodies := [][]byte{[]byte(`{"key":"a"}`), []byte(`{"key":"b"}`), []byte(`{"key":"c"}`), []byte(`{"key":"bad"}`)}
	tg := keyTarget("/v1/verify", []string{srv.URL}, bodies)
	r, err := w.run(context.Background(), tg.wrk, 4, 2, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.requests < 40 || r.statusErrs == 0 || r.statusErrs >= r.requests/2 || r.sockErrs != 0 {
		t.Errorf("requests %d, of which ≥400 %d, socket errors %d", r.requests, r.statusErrs, r.sockErrs)
	}
	if r.quantile(0.5) <= 0 || r.quantile(0.99) < r.quantile(0.5) || r.maximum() < r.quantile(0.999) || r.cpu <= 0 {
		t.Errorf("latencies or CPU: %+v", r)
	}
	mu.Lock()
	if len(seen) != 4 {
		t.Errorf("requests seen: %v", seen)
	}
	for k := range seen {
		if !strings.HasPrefix(k, "POST /v1/verify application/json {\"key\":") {
			t.Errorf("request %q", k)
		}
	}
	mu.Unlock()

	h := healthTarget(srv.URL)
	r, err = w.run(context.Background(), h.wrk, 2, 1, time.Second)
	if err != nil || r.requests == 0 || r.statusErrs != 0 {
		t.Fatalf("healthz: %+v %v", r, err)
	}
	mu.Lock()
	if seen["GET /healthz  "] == 0 {
		t.Errorf("no GET /healthz without a body: %v", seen)
	}
	mu.Unlock()

	if keyTarget("/v1/verify", []string{srv.URL, srv.URL}, bodies).wrk != nil {
		t.Error("a target alternating between instances has a wrk spec")
	}
}

// TestMergeWrk: several wrk loops' percentiles merge to the highest, the
// mean weighted by requests.
func TestMergeWrk(t *testing.T) {
	a := &wrkResult{requests: 300, pct: map[int]time.Duration{500: 1, 990: 9}, avg: 2, top: 10}
	b := &wrkResult{requests: 100, pct: map[int]time.Duration{500: 3, 990: 5}, avg: 6, top: 20}
	m := merge([]latencies{a, b}, []*outcome{a.outcome(), b.outcome()})
	if m.quantile(0.5) != 3 || m.quantile(0.99) != 9 || m.maximum() != 20 || m.mean() != 3 {
		t.Errorf("%+v", m)
	}
}

// TestWrkThreadsDivideConnections: every connection asked for is opened.
func TestWrkThreadsDivideConnections(t *testing.T) {
	for _, c := range []int{1, 2, 3, 31, 32, 64} {
		for _, n := range []int{1, 2} {
			if th := wrkThreads(n, c); th < 1 || c%th != 0 {
				t.Errorf("%d connections over %d processes: %d threads", c, n, th)
			}
		}
	}
}
