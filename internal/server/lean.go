package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/verify"
)

// The lean hot path. POST /v1/verify and POST /v1/tokens are answered by
// plain net/http handlers that ServeHTTP calls before Echo: no router, no
// Echo context, and none of the middleware chain (request id, request
// histogram, request log, security headers, recover), which together cost
// more than the verification itself. What the chain did for these two
// routes is done here, cheaper:
//   - recover: finishHot, one deferred call, answering 500 in the verify
//     format and logging the panic once;
//   - request id: the caller's X-Request-Id echoed back when it sent one
//     (as Echo's middleware did, which checked nothing more; net/http has
//     refused header values with control characters already); none is
//     generated;
//   - metrics: the per-code counters (verifyCount, tokenCount), resolved
//     once, instead of the route histogram;
//   - request log: no line per request; refusals are counted and summed up
//     in one line a minute (refusalLog), errors are logged when they happen;
//   - headers: only what a JSON API answer needs (Content-Type,
//     Cache-Control: no-store, X-Content-Type-Options: nosniff,
//     RateLimit-*, Retry-After), from pre-built values. CSP and the other
//     browser-only headers stay on the pages (securityHeaders).
//
// Every other method and path goes to Echo unchanged: GET /v1/verify still
// answers 405 from the route table, where both routes stay registered.

// Hot-path routes: the index of a route in refusalLog and in log lines.
const (
	routeVerify = iota
	routeTokens
	hotRoutes
)

var hotRouteNames = [hotRoutes]string{routeVerify: "/v1/verify", routeTokens: "/v1/tokens"}

// serve dispatches a request: the two hot routes to their lean handlers,
// everything else to Echo.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	// RawPath is set only for a path written with escapes, which Echo
	// routes by its escaped form: such a request keeps going to Echo.
	if r.Method == http.MethodPost && r.URL.RawPath == "" {
		switch r.URL.Path {
		case "/v1/verify":
			s.serveVerify(w, r)
			return
		case "/v1/tokens":
			s.serveTokens(w, r)
			return
		}
	}
	s.echo.ServeHTTP(w, r)
}

// hotCall is one hot-path request's scratch: the body and answer buffer,
// and whether the status was written (after which a panic can only be
// logged). Pooled.
type hotCall struct {
	buf []byte
	// scopes is the backing array of the request's scope list
	// (verify.ReadRequest builds it there): the request's until the call
	// ends, when nothing holds it any more.
	scopes []string
	wrote  bool
	// claim is the request's Idempotency-Key claim (nil without one),
	// released by finishHot should the handler panic.
	claim *verify.Claim
}

var hotCalls = sync.Pool{New: func() any { return &hotCall{buf: make([]byte, 0, 1024)} }}

func getHotCall() *hotCall {
	hc := hotCalls.Get().(*hotCall)
	hc.wrote, hc.claim = false, nil
	return hc
}

// countHot counts one outcome of a hot route: its counter, and, for a
// refusal, the minute's summary.
func (s *Server) countHot(route int, code verify.Code) {
	if route == routeTokens {
		s.tokenCount[code].Inc()
	} else {
		s.verifyCount[code].Inc()
	}
	if code != verify.Valid {
		s.refusals.add(route, code)
	}
}

// writeResult writes res as /v1/verify answers it: status, headers
// (RateLimit-* when a key was found, Retry-After when refused for a while)
// and body. /v1/tokens answers its refusals with it. The answer goes to
// hc.claim (nil without Idempotency-Key) before it is written, so that a
// retry finds it once the caller has it.
func (s *Server) writeResult(w http.ResponseWriter, r *http.Request, hc *hotCall, res *verify.Result) {
	h := setHotHeaders(w.Header(), r, res)
	if ra := res.RetryAfter(); ra > 0 {
		h["Retry-After"] = intHeader(ra)
	}
	hc.buf = verify.AppendJSON(hc.buf[:0], res)
	hc.claim.Finish(res.Code.HTTPStatus(), h, hc.buf)
	hc.write(w, res.Code.HTTPStatus(), hc.buf)
}

// replayable reports whether ans, what Replays.Begin answered, is to be
// written: its own refusals always, a kept VALID only while the key still
// passes the checks that take nothing. A key revoked, expired, suspended
// or narrowed since its first answer gets today's answer instead: the
// request then runs afresh, without a claim (nothing is recorded).
func (s *Server) replayable(r *http.Request, req *verify.Request, ans *verify.Answer) bool {
	if !ans.Replayed || ans.Status != http.StatusOK {
		return true
	}
	return s.verifier.StillValid(r.Context(), req)
}

// writeReplay writes what Replays.Begin answered instead of verifying: a
// first answer again (Idempotent-Replayed: true; counted by Replays, not
// as a verification), or its own refusal of the header or of a request
// still running elsewhere (counted as an outcome of route).
func (s *Server) writeReplay(w http.ResponseWriter, r *http.Request, hc *hotCall, route int, ans *verify.Answer) {
	if !ans.Replayed {
		s.countHot(route, ans.Code)
	}
	setHotHeaders(w.Header(), r, nil)
	hc.wrote = true
	_ = ans.Write(w) // a client gone away is no error of ours
}

// write sends the status and the body. The status is marked written
// first: a panic in Write can no longer change the answer.
func (hc *hotCall) write(w http.ResponseWriter, status int, body []byte) {
	hc.wrote = true
	w.WriteHeader(status)
	_, _ = w.Write(body) // a client gone away is no error of ours
}

// Pre-built header values. net/http copies the header map when the status
// is written, so shared slices are never changed through it.
var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noStore         = []string{"no-store"}
	noSniff         = []string{"nosniff"}
)

// setHotHeaders sets what every answer of /v1/verify and /v1/tokens
// carries: the JSON type, no caching, nosniff, the caller's X-Request-Id
// when it sent one, and RateLimit-* when a key was found.
func setHotHeaders(h http.Header, r *http.Request, res *verify.Result) http.Header {
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	h["X-Content-Type-Options"] = noSniff
	if rid := r.Header["X-Request-Id"]; len(rid) > 0 && rid[0] != "" {
		h["X-Request-Id"] = rid[:1:1]
	}
	if res != nil && res.Entry != nil {
		h["Ratelimit-Limit"] = limitHeader(res.Decision.RateLimit)
		h["Ratelimit-Remaining"] = intHeader(res.Decision.RateRemaining)
		h["Ratelimit-Reset"] = intHeader(res.ResetSeconds())
	}
	return h
}

// smallInts are the header values of 0 to 4095: every RateLimit-Reset and
// Retry-After, and RateLimit-Remaining of plans up to that rate.
var smallInts = func() (t [4096][]string) {
	for i := range t {
		t[i] = []string{strconv.Itoa(i)}
	}
	return t
}()

// intHeader is n as a header value: pre-built below 4096, else made.
func intHeader(n int64) []string {
	if uint64(n) < uint64(len(smallInts)) {
		return smallInts[n]
	}
	return []string{strconv.FormatInt(n, 10)}
}

// limitCache keeps the header values of rate limits past smallInts: a
// plan's limit is one of a few values, the same on every call. Direct
// mapped and lock-free; a collision only costs a strconv.
var limitCache [64]atomic.Pointer[cachedInt]

type cachedInt struct {
	n int64
	v []string
}

// limitHeader is a rate limit as a header value.
func limitHeader(n int64) []string {
	if uint64(n) < uint64(len(smallInts)) {
		return smallInts[n]
	}
	slot := &limitCache[uint64(n)*0x9E3779B97F4A7C15>>58]
	if c := slot.Load(); c != nil && c.n == n {
		return c.v
	}
	v := intHeader(n)
	slot.Store(&cachedInt{n: n, v: v})
	return v
}

// answerBadRequest counts and writes a BAD_REQUEST answer in the verify
// format, with status (400, 413 for a body over 4 KiB, 415 for one that
// is not JSON) and msg, which names the field at fault.
func (s *Server) answerBadRequest(w http.ResponseWriter, r *http.Request, hc *hotCall, route, status int, msg string) {
	s.countHot(route, verify.BadRequest)
	b, _ := json.Marshal(struct {
		Valid   bool   `json:"valid"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}{false, verify.BadRequest.String(), msg})
	setHotHeaders(w.Header(), r, nil)
	hc.write(w, status, b)
}

// internalError is the answer to a request whose handler panicked.
var internalError = []byte(`{"valid":false,"code":"UNAVAILABLE","message":"Keyhold could not answer this request (an internal error). Retry later."}`)

// finishHot, deferred by the hot handlers, puts hc back, and turns a
// panic into a 500 in the verify format (when nothing was written yet) and
// one log line with the stack, key-shaped text redacted.
// http.ErrAbortHandler goes on up, as net/http expects. After a panic hc
// is not put back: it may be half written.
func (s *Server) finishHot(w http.ResponseWriter, r *http.Request, hc *hotCall, route int) {
	v := recover()
	if v == nil {
		hotCalls.Put(hc)
		return
	}
	// Those waiting on the claim get the failure at once, and a retry
	// runs (a 500 is not kept); Finish does nothing if it ran already.
	hc.claim.Finish(http.StatusInternalServerError, nil, internalError)
	if v == http.ErrAbortHandler {
		panic(v)
	}
	s.log.LogAttrs(r.Context(), slog.LevelError, "panic", slog.String("route", hotRouteNames[route]),
		slog.String("request_id", keys.RedactText(r.Header.Get("X-Request-Id"))),
		slog.String("err", keys.RedactText(fmt.Sprint(v))), slog.String("stack", keys.RedactText(string(debug.Stack()))))
	if hc.wrote {
		return
	}
	h := w.Header()
	clear(h)
	setHotHeaders(h, r, nil)
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write(internalError)
}

// refusalSummaryEvery is how often refusalLog writes its line.
const refusalSummaryEvery = time.Minute

// refusalLog counts the refusals of the hot routes by code and logs their
// sums once a window (a minute), instead of a line per request: one line
// per route that had any, with the count of each code, and nothing from
// the requests themselves. Its goroutine runs while there are refusals to
// report and stops after a window without any; the next refusal starts it
// again.
type refusalLog struct {
	log     *slog.Logger
	every   time.Duration
	counts  [hotRoutes][verify.Unavailable + 1]atomic.Int64
	running atomic.Bool
}

func newRefusalLog(log *slog.Logger) *refusalLog {
	return &refusalLog{log: log, every: refusalSummaryEvery}
}

// add counts one refusal.
func (l *refusalLog) add(route int, code verify.Code) {
	l.counts[route][code].Add(1)
	if !l.running.Load() && l.running.CompareAndSwap(false, true) {
		go l.run()
	}
}

// run writes a summary every window until a window passes without a
// refusal.
func (l *refusalLog) run() {
	t := time.NewTicker(l.every)
	defer t.Stop()
	for range t.C {
		if l.flush() {
			continue
		}
		l.running.Store(false)
		// A refusal counted after the flush but before the store saw the
		// loop running and started none: keep going for it.
		if !l.pending() || !l.running.CompareAndSwap(false, true) {
			return
		}
	}
}

// pending reports whether any refusal waits for the next summary.
func (l *refusalLog) pending() bool {
	for r := range l.counts {
		for c := range l.counts[r] {
			if l.counts[r][c].Load() != 0 {
				return true
			}
		}
	}
	return false
}

// flush logs and resets the counts; false when there were none.
func (l *refusalLog) flush() bool {
	some := false
	for r := range l.counts {
		attrs := make([]slog.Attr, 0, 4)
		var total int64
		for c := range l.counts[r] {
			if n := l.counts[r][c].Swap(0); n != 0 {
				attrs = append(attrs, slog.Int64(verify.Code(c).String(), n))
				total += n
			}
		}
		if total == 0 {
			continue
		}
		some = true
		l.log.LogAttrs(context.Background(), slog.LevelInfo, "refusals",
			slog.String("route", hotRouteNames[r]), slog.Duration("window", l.every),
			slog.Int64("total", total), slog.GroupAttrs("codes", attrs...))
	}
	return some
}
