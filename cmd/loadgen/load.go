package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// requestTimeout bounds every request, so every loop ends by itself.
const requestTimeout = 10 * time.Second

// newClient returns a keep-alive client of at most conns connections that
// can only dial 127.0.0.1; dials counts the connections it opened.
func newClient(conns int, dials *atomic.Int64) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil || host != "127.0.0.1" {
				return nil, fmt.Errorf("loadgen only targets 127.0.0.1, not %q", addr)
			}
			if dials != nil {
				dials.Add(1)
			}
			return d.DialContext(ctx, network, addr)
		},
		Proxy:               nil,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: requestTimeout}
}

// target is one endpoint under load: it makes the i-th request.
type target struct {
	name string
	make func(ctx context.Context, i uint64) *http.Request
	wrk  *wrkSpec // the same requests for the wrk driver; nil: it cannot make them
}

// healthTarget gets /healthz; with several bases (instances), the i-th
// request goes to bases[i mod len(bases)].
func healthTarget(bases ...string) target {
	us := make([]string, len(bases))
	for j, b := range bases {
		us[j] = b + "/healthz"
	}
	n := uint64(len(us))
	t := target{name: "GET /healthz", make: func(ctx context.Context, i uint64) *http.Request {
		r, _ := http.NewRequestWithContext(ctx, http.MethodGet, us[i%n], nil)
		return r
	}}
	if len(us) == 1 {
		t.wrk = &wrkSpec{method: http.MethodGet, url: us[0]}
	}
	return t
}

// verifyTarget posts {"key": …} to /v1/verify with the keys taken
// round-robin. With several bases (instances) the requests alternate
// between them, and each key goes to every instance in turn: request i goes
// to bases[i mod n] with key i/n.
func verifyTarget(bases []string, bodies [][]byte) target {
	return keyTarget("/v1/verify", bases, bodies)
}

// tokensTarget posts the same bodies to /v1/tokens, as verifyTarget does:
// each answer 200 is a key verified and a JWT signed (default scopes, ttl
// and audience).
func tokensTarget(bases []string, bodies [][]byte) target {
	return keyTarget("/v1/tokens", bases, bodies)
}

// keyTarget posts bodies to path, as verifyTarget says.
func keyTarget(path string, bases []string, bodies [][]byte) target {
	us := make([]string, len(bases))
	for j, b := range bases {
		us[j] = b + path
	}
	n := uint64(len(us))
	t := target{name: "POST " + path, make: func(ctx context.Context, i uint64) *http.Request {
		b := bodies[(i/n)%uint64(len(bodies))]
		r, _ := http.NewRequestWithContext(ctx, http.MethodPost, us[i%n], bytes.NewReader(b))
		r.Header["Content-Type"] = []string{"application/json"}
		return r
	}}
	if len(us) == 1 && len(bodies) > 0 {
		t.wrk = &wrkSpec{method: http.MethodPost, url: us[0], bodies: bodies}
	}
	return t
}

// outcome counts what came back: statuses and transport errors.
type outcome struct {
	statuses [600]atomic.Int64
	errors   atomic.Int64
	firstErr atomic.Pointer[string]
}

func (o *outcome) fail(err error) {
	o.errors.Add(1)
	s := err.Error()
	o.firstErr.CompareAndSwap(nil, &s)
}

func (o *outcome) status(code int) { o.statuses[min(max(code, 0), 599)].Add(1) }

// add adds x's counts to o (to combine the instances of a phase).
func (o *outcome) add(x *outcome) {
	for c := range x.statuses {
		if n := x.statuses[c].Load(); n != 0 {
			o.statuses[c].Add(n)
		}
	}
	o.errors.Add(x.errors.Load())
	if e := x.firstErr.Load(); e != nil {
		o.firstErr.CompareAndSwap(nil, e)
	}
}

func (o *outcome) counts() (total, non2xx int64, by map[int]int64) {
	by = map[int]int64{}
	for c := range o.statuses {
		n := o.statuses[c].Load()
		if n == 0 {
			continue
		}
		by[c] = n
		total += n
		if c < 200 || c > 299 {
			non2xx += n
		}
	}
	return total, non2xx, by
}

// do sends one request and reads the whole answer.
func do(client *http.Client, req *http.Request, o *outcome) bool {
	resp, err := client.Do(req)
	if err != nil {
		o.fail(err)
		return false
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		o.fail(err)
		return false
	}
	o.status(resp.StatusCode)
	return true
}

// closedLoop runs conns workers that each send a request, wait for the
// answer and send the next, for d. Latency is from send to the end of the
// answer's body.
func closedLoop(ctx context.Context, client *http.Client, t target, conns int, d time.Duration, h *hist, o *outcome) time.Duration {
	start := time.Now()
	deadline := start.Add(d)
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(requestTimeout))
	defer cancel()
	var wg sync.WaitGroup
	for w := range conns {
		wg.Go(func() {
			i := uint64(w)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				ok := do(client, t.make(ctx, i), o)
				if h != nil && ok {
					h.record(w, time.Since(t0))
				}
				if !ok {
					time.Sleep(time.Millisecond) // no hot spin on a dead server
				}
				i += uint64(conns)
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// openResult is what an open-loop run measured besides statuses.
type openResult struct {
	sent     int64
	elapsed  time.Duration // from the first intended send to the last answer
	total    *hist         // intended send time → answer (coordinated-omission free)
	service  *hist         // actual send → answer
	startLag *hist         // intended send time → actual send
}

// openLoop sends rate requests per second for d, each at its intended
// time, whatever the answers before it: a scheduler hands intended times to
// up to workers goroutines (each with its own keep-alive connection when
// needed). Latency counts from the intended time, so a stall of the server
// (or of this program) shows in the tail instead of silently lowering the
// rate.
func openLoop(ctx context.Context, client *http.Client, t target, rate int, d time.Duration, workers int, o *outcome) openResult {
	shards := runtime.GOMAXPROCS(0) * 4
	res := openResult{total: newHist(shards), service: newHist(shards), startLag: newHist(shards)}
	n := int64(float64(rate) * d.Seconds())
	interval := float64(time.Second) / float64(rate)
	intended := func(i int64) time.Duration { return time.Duration(float64(i) * interval) }

	ctx, cancel := context.WithTimeout(ctx, d+requestTimeout+time.Second)
	defer cancel()
	queue := make(chan int64, min(n, 1<<16))
	start := time.Now()
	var last atomic.Int64 // ns after start of the last answer
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range queue {
				due := start.Add(intended(i))
				t0 := time.Now()
				res.startLag.record(w, t0.Sub(due))
				if ok := do(client, t.make(ctx, uint64(i)), o); ok {
					now := time.Now()
					res.total.record(w, now.Sub(due))
					res.service.record(w, now.Sub(t0))
					for {
						l := last.Load()
						el := int64(now.Sub(start))
						if el <= l || last.CompareAndSwap(l, el) {
							break
						}
					}
				}
			}
		})
	}

	// The scheduler: sleep until the next intended time, then release
	// every request that is due (after a late wake-up, several at once).
	var i int64
schedule:
	for i < n && ctx.Err() == nil {
		now := time.Since(start)
		due := min(int64(float64(now)/interval)+1, n)
		for ; i < due; i++ {
			select {
			case queue <- i:
			case <-ctx.Done():
				break schedule
			}
		}
		if i < n {
			if wait := intended(i) - time.Since(start); wait > 0 {
				time.Sleep(wait)
			}
		}
	}
	res.sent = i
	close(queue)
	wg.Wait()
	res.elapsed = time.Duration(last.Load())
	return res
}

// warm verifies every key once, conns at a time, so the measured phases
// find every key cached. It returns how many answers were not 200.
func warm(ctx context.Context, client *http.Client, base string, bodies [][]byte, conns int) (time.Duration, *outcome, error) {
	t := verifyTarget([]string{base}, bodies)
	o := &outcome{}
	start := time.Now()
	err := parallel(ctx, len(bodies), conns, func(i int) error {
		do(client, t.make(ctx, uint64(i)), o)
		return nil
	})
	if e := o.errors.Load(); e > 0 && err == nil {
		err = errors.New(*o.firstErr.Load())
	}
	return time.Since(start), o, err
}
