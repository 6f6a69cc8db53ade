package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/verify"
)

// metrics counts requests by route, method and status. Every label value
// comes from a fixed set, never from what a client sent, so no request can
// add a series (a made-up method per request once grew the registry without
// bound) and no id or key can become a label:
//   - route is the pattern of a registered route, resolved once from the
//     route table, or "unmatched" when the router found none;
//   - method is one of the standard methods or "OTHER";
//   - status is the exact code for the codes Keyhold answers with, else
//     its class ("4xx").
//
// Series are created on first use and kept in a flat table indexed by the
// three labels, so the per-request cost is a map lookup on the route
// pattern and an atomic load: no label hashing and no allocation once a
// series exists.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	handler  echo.HandlerFunc

	// routes maps each registered pattern to its index in routeNames;
	// written once by setRoutes before the server serves, read-only after.
	routes     map[string]int
	routeNames []string
	series     []atomic.Pointer[requestSeries]
}

// requestSeries is one (route, method, status) combination's children.
type requestSeries struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// unmatched is the route label of a request no route matched; it is index
// 0 of routeNames.
const unmatched = "unmatched"

// methodLabels are the method label values; methodIndex maps a request's
// method to one of them.
var methodLabels = [...]string{"OTHER", http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace}

// methodIndex is a switch on constants rather than a map so that the hot
// path does no hashing.
func methodIndex(m string) int {
	switch m {
	case http.MethodGet:
		return 1
	case http.MethodHead:
		return 2
	case http.MethodPost:
		return 3
	case http.MethodPut:
		return 4
	case http.MethodPatch:
		return 5
	case http.MethodDelete:
		return 6
	case http.MethodOptions:
		return 7
	case http.MethodConnect:
		return 8
	case http.MethodTrace:
		return 9
	}
	return 0
}

// statusLabels are the status label values: the codes Keyhold's handlers,
// middleware and error handler answer with, each kept exact because
// dashboards tell them apart (401 from 429 on /v1/verify, 303 from 200 on
// forms), then the five classes and "other" for anything else a wrapped
// handler might write.
var statusLabels = [...]string{"200", "201", "204", "301", "302", "303", "304", "400", "401", "403", "404",
	"405", "409", "413", "415", "422", "429", "500", "502", "503", "504",
	"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

// statusIndex maps each code from 0 to 599 to its index in statusLabels,
// built once.
var statusIndex = func() (t [600]uint8) {
	exact := map[string]int{}
	for i, l := range statusLabels {
		exact[l] = i
	}
	for code := range t {
		if i, ok := exact[strconv.Itoa(code)]; ok {
			t[code] = uint8(i)
		} else if code >= 100 {
			t[code] = uint8(exact[strconv.Itoa(code/100)+"xx"])
		} else {
			t[code] = uint8(exact["other"])
		}
	}
	return t
}()

func statusLabelIndex(code int) int {
	if code < 0 || code >= len(statusIndex) {
		return len(statusLabels) - 1 // "other"
	}
	return int(statusIndex[code])
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyhold_http_requests_total", Help: "HTTP requests by route pattern, method and status (fixed label sets).",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "keyhold_http_request_duration_seconds", Help: "HTTP request latency by route pattern and method (fixed label sets).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
	}
	m.setRoutes(nil)
	reg.MustRegister(m.requests, m.latency, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return m
}

// setRoutes makes the registered route patterns the route label values.
// It is called once, after the route table is built and before serving.
func (m *metrics) setRoutes(routes []*echo.Route) {
	m.routes = map[string]int{}
	m.routeNames = []string{unmatched}
	for _, r := range routes {
		if _, ok := m.routes[r.Path]; !ok && r.Path != "" && r.Method != echo.RouteNotFound {
			m.routes[r.Path] = len(m.routeNames)
			m.routeNames = append(m.routeNames, r.Path)
		}
	}
	m.series = make([]atomic.Pointer[requestSeries], len(m.routeNames)*len(methodLabels)*len(statusLabels))
}

// routeIndex is the index of a request's route label. Echo's router sets
// c.Path() even when it finds no route (to "", "/*" or the pattern of a
// partial match, which would count a 404 against a real route), so a
// router 404 is recognised by its error, and any path that is not a
// registered pattern counts as unmatched.
func (m *metrics) routeIndex(path string, err error) int {
	if errors.Is(err, echo.ErrNotFound) {
		return 0
	}
	return m.routes[path] // 0, unmatched, when absent
}

// routeLabel is the route as logged and counted: a registered pattern or
// "unmatched", never the raw path.
func (m *metrics) routeLabel(path string, err error) string {
	return m.routeNames[m.routeIndex(path, err)]
}

// observe counts one request.
func (m *metrics) observe(route, method, status int, seconds float64) {
	cell := &m.series[(route*len(methodLabels)+method)*len(statusLabels)+status]
	s := cell.Load()
	if s == nil {
		// Racing first requests create the same children: the vectors
		// return the existing child for equal label values.
		r, meth := m.routeNames[route], methodLabels[method]
		s = &requestSeries{
			requests: m.requests.WithLabelValues(r, meth, statusLabels[status]),
			latency:  m.latency.WithLabelValues(r, meth),
		}
		cell.Store(s)
	}
	s.requests.Inc()
	s.latency.Observe(seconds)
}

func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // commit the error response so its status is counted
		}
		m.observe(m.routeIndex(c.Path(), err), methodIndex(c.Request().Method),
			statusLabelIndex(c.Response().Status), time.Since(start).Seconds())
		return nil
	}
}

// handleMetrics serves the registry. With a metrics token configured it
// answers only requests that carry it as a bearer token, because the counts
// it shows (keys, verifications, Redis outages) are business data.
func (s *Server) handleMetrics(c echo.Context) error {
	if s.metricsToken != nil && !s.metricsAuthorized(c.Request().Header.Get(echo.HeaderAuthorization)) {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="keyhold-metrics"`)
		return errMetricsToken
	}
	return s.metrics.handler(c)
}

var errMetricsToken = &keyhold.Error{Code: keyhold.EUNAUTHORIZED, Message: "Metrics need Authorization: Bearer with the metrics token."}

// metricsAuthorized reports whether an Authorization header carries the
// metrics token. The digests are compared, in constant time, so neither
// the token's bytes nor its length show in the time an answer takes.
func (s *Server) metricsAuthorized(header string) bool {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(sum[:], s.metricsToken) == 1
}

// codeCounters is one counter per verify outcome code, indexed by the code
// and resolved once so the hot path does no label lookup.
type codeCounters [verify.Unavailable + 1]prometheus.Counter

// newCodeCounters makes the counter vector name, labelled by code, with a
// child for every code.
func newCodeCounters(name, help string) (*prometheus.CounterVec, codeCounters) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"code"})
	var cs codeCounters
	for c := range cs {
		cs[c] = vec.WithLabelValues(verify.Code(c).String())
	}
	return vec, cs
}

// registerVerifyMetrics counts verifications and token exchanges by outcome
// code (an exchange that got a token is VALID) and exposes the verifier's
// cache and usage backlog.
func (s *Server) registerVerifyMetrics(reg *prometheus.Registry) {
	verifyVec, verifyCount := newCodeCounters("keyhold_verify_total", "Verifications by outcome code.")
	tokenVec, tokenCount := newCodeCounters("keyhold_token_exchanges_total",
		"Exchanges of a key for a token (POST /v1/tokens) by outcome code; VALID is a token issued.")
	s.verifyCount, s.tokenCount = verifyCount, tokenCount
	v := s.verifier
	reg.MustRegister(verifyVec, tokenVec,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keyhold_verify_cached_keys", Help: "Secrets in the verify cache."},
			func() float64 { return float64(v.CachedKeys()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "keyhold_verify_key_loads_total", Help: "Keys read from the database by the verifier."},
			func() float64 { return float64(v.Loads()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keyhold_usage_pending_rows", Help: "Usage rows waiting for the database."},
			func() float64 { return float64(v.PendingRows()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "keyhold_usage_dropped_rows_total", Help: "Usage rows dropped while the database was down too long."},
			func() float64 { return float64(v.DroppedRows()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "keyhold_quota_notices_dropped_total",
			Help: "Quota threshold crossings dropped on a full queue: their notice, mail and quota.threshold event will not come."},
			func() float64 { d, _ := s.notices.CrossingsLost(); return float64(d) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "keyhold_quota_notices_failed_total",
			Help: "Quota threshold crossings that could not be recorded (the database away for every attempt)."},
			func() float64 { _, f := s.notices.CrossingsLost(); return float64(f) }),
	)
	for _, route := range []verify.Route{verify.RouteVerify, verify.RouteTokens} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "keyhold_idempotent_replays_total",
			Help:        "Answers given again for an Idempotency-Key (they consumed nothing and are not in keyhold_verify_total or usage).",
			ConstLabels: prometheus.Labels{"route": route.String()}},
			func() float64 { return float64(s.replays.Replayed(route)) }))
	}
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "keyhold_idempotent_evicted_total",
		Help: "Idempotency records dropped from memory before their 10 minutes, past the count or byte bound."},
		func() float64 { return float64(s.replays.Evicted()) }))
	if r := s.redis; r != nil {
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keyhold_redis_fallback", Help: "1 while Redis is unreachable and limits are counted in this instance."},
				func() float64 {
					if r.Degraded() {
						return 1
					}
					return 0
				}),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "keyhold_redis_outages_total", Help: "Times Redis became unreachable."},
				func() float64 { return float64(r.Outages()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "keyhold_redis_fallback_verifications_total", Help: "Verifications counted locally while Redis was unreachable."},
				func() float64 { return float64(r.FallbackCalls()) }),
		)
	}
}
