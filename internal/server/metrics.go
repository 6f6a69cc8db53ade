package server

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyhold/keyhold/internal/verify"
)

// metrics counts requests by route template (never by raw path, so no id
// or key can become a label) and status.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	handler  echo.HandlerFunc
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyhold_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "keyhold_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.latency, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return m
}

func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // commit the error response so its status is counted
		}
		route := c.Path()
		if route == "" || route == "/*" {
			route = "unmatched"
		}
		method := c.Request().Method
		m.requests.WithLabelValues(route, method, strconv.Itoa(c.Response().Status)).Inc()
		m.latency.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		return nil
	}
}

func (s *Server) handleMetrics(c echo.Context) error { return s.metrics.handler(c) }

// registerVerifyMetrics counts verifications by outcome code and exposes
// the verifier's cache and usage backlog. Counters are resolved once so the
// hot path does no label lookup.
func (s *Server) registerVerifyMetrics(reg *prometheus.Registry) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyhold_verify_total", Help: "Verifications by outcome code.",
	}, []string{"code"})
	for c := range s.verifyCount {
		s.verifyCount[c] = vec.WithLabelValues(verify.Code(c).String())
	}
	v := s.verifier
	reg.MustRegister(vec,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keyhold_verify_cached_keys", Help: "Secrets in the verify cache."},
			func() float64 { return float64(v.CachedKeys()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "keyhold_verify_key_loads_total", Help: "Keys read from the database by the verifier."},
			func() float64 { return float64(v.Loads()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keyhold_usage_pending_rows", Help: "Usage rows waiting for the database."},
			func() float64 { return float64(v.PendingRows()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "keyhold_usage_dropped_rows_total", Help: "Usage rows dropped while the database was down too long."},
			func() float64 { return float64(v.DroppedRows()) }),
	)
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
