package server

import (
	"errors"
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

func TestMetricLabelValues(t *testing.T) {
	m := newMetrics(prometheus.NewRegistry())
	m.setRoutes([]*echo.Route{{Method: http.MethodGet, Path: "/keys/:id"}, {Method: http.MethodPost, Path: "/keys/:id"}, {Method: http.MethodGet, Path: "/static/*"}})

	routes := []struct {
		name, path string
		err        error
		want       string
	}{
		{"registered pattern", "/keys/:id", nil, "/keys/:id"},
		{"method not allowed keeps the pattern", "/keys/:id", echo.ErrMethodNotAllowed, "/keys/:id"},
		{"router 404 on a partial match", "/keys/:id", echo.ErrNotFound, unmatched},
		{"wrapped router 404", "/static/*", errors.Join(errors.New("x"), echo.ErrNotFound), unmatched},
		{"empty path", "", nil, unmatched},
		{"catch-all of a 404", "/*", nil, unmatched},
		{"a raw path", "/keys/kh_live_abc", nil, unmatched},
	}
	for _, tt := range routes {
		if got := m.routeLabel(tt.path, tt.err); got != tt.want {
			t.Errorf("%s: route label %q, want %q", tt.name, got, tt.want)
		}
	}

	methods := map[string]string{"GET": "GET", "POST": "POST", "TRACE": "TRACE", "get": "OTHER", "BREW": "OTHER", "PROPFIND": "OTHER", "": "OTHER"}
	for in, want := range methods {
		if got := methodLabels[methodIndex(in)]; got != want {
			t.Errorf("method %q: label %q, want %q", in, got, want)
		}
	}

	statuses := map[int]string{200: "200", 303: "303", 404: "404", 429: "429", 503: "503", 206: "2xx", 418: "4xx",
		599: "5xx", 101: "1xx", 0: "other", 99: "other", 600: "other", -1: "other", 1 << 20: "other"}
	for in, want := range statuses {
		if got := statusLabels[statusLabelIndex(in)]; got != want {
			t.Errorf("status %d: label %q, want %q", in, got, want)
		}
	}
}

// TestMetricsObserveDoesNotAllocate guards the per-request cost: once a
// series exists, counting a request allocates nothing.
func TestMetricsObserveDoesNotAllocate(t *testing.T) {
	m := newMetrics(prometheus.NewRegistry())
	m.setRoutes([]*echo.Route{{Method: http.MethodPost, Path: "/v1/verify"}})
	count := func() {
		m.observe(m.routeIndex("/v1/verify", nil), methodIndex(http.MethodPost), statusLabelIndex(http.StatusOK), 0.0001)
	}
	count()
	if n := testing.AllocsPerRun(1000, count); n != 0 {
		t.Errorf("counting a request allocates %v times", n)
	}
}
