package server_test

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyhold/keyhold/internal/server"
	"github.com/keyhold/keyhold/internal/store"
)

// seriesOf returns every series in reg as "name{label=value,…}".
func seriesOf(t *testing.T, reg *prometheus.Registry) map[string]bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var b strings.Builder
			b.WriteString(mf.GetName() + "{")
			for _, l := range m.GetLabel() {
				b.WriteString(l.GetName() + "=" + l.GetValue() + ",")
			}
			out[b.String()+"}"] = true
		}
	}
	return out
}

// standardMethods are the methods that keep their own label value.
var standardMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
	"DELETE": true, "OPTIONS": true, "CONNECT": true, "TRACE": true}

const tokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~"

func randomMethod(r *rand.Rand) string {
	for {
		b := make([]byte, 1+r.IntN(16))
		for i := range b {
			b[i] = tokenChars[r.IntN(len(tokenChars))]
		}
		if !standardMethods[string(b)] {
			return string(b)
		}
	}
}

// randomSegment is one path segment of random bytes, escaped, long enough
// never to be a route's own segment.
func randomSegment(r *rand.Rand) string {
	b := make([]byte, 12+r.IntN(20))
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return url.PathEscape(string(b))
}

// TestMetricLabelsAreBounded sends requests with made-up methods and
// paths: they must land in series that already exist (method OTHER, route
// "unmatched" or the pattern of the route they hit), never in new ones.
func TestMetricLabelsAreBounded(t *testing.T) {
	h := MustServer(t)
	r := rand.New(rand.NewPCG(1, 2))
	// Each shape reaches a fixed outcome: no route (404), or a route that
	// does not take the method (405), including a wildcard and a param.
	shapes := []string{"/", "/keys/", "/admin/keys/", "/static/", "/v1/", "/v1/verify?x=", "/metrics?", "/nope/" + "kh_live_"}
	send := func(method, target string) {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Method = method
		h.Handler.ServeHTTP(httptest.NewRecorder(), req)
	}
	for _, s := range shapes {
		send(randomMethod(r), s+randomSegment(r))
		send(http.MethodGet, "/"+randomSegment(r)+"/"+randomSegment(r))
	}
	before := seriesOf(t, h.Registry)

	for range 10000 {
		send(randomMethod(r), shapes[r.IntN(len(shapes))]+randomSegment(r))
	}
	after := seriesOf(t, h.Registry)
	t.Logf("series: %d before, %d after 10000 random requests", len(before), len(after))
	var added []string
	for s := range after {
		if !before[s] {
			added = append(added, s)
		}
	}
	if len(added) > 0 {
		sort.Strings(added)
		t.Errorf("%d new series, e.g. %v", len(added), added[:min(len(added), 5)])
	}
	var http []string
	for s := range after {
		if strings.HasPrefix(s, "keyhold_http_requests_total") {
			http = append(http, s)
		}
	}
	sort.Strings(http)
	t.Logf("request series: %v", http)
}

// withMetricsToken makes /metrics ask for a bearer token.
func withMetricsToken(token string) option {
	return func(c *server.Config, _ *store.DB) { c.MetricsToken = token }
}

func TestMetricsToken(t *testing.T) {
	const token = "0123456789abcdef-metrics"
	tests := []struct {
		name, configured, authorization string
		want                            int
	}{
		{"open without a configured token", "", "", http.StatusOK},
		{"open ignores a header", "", "Bearer whatever", http.StatusOK},
		{"no header", token, "", http.StatusUnauthorized},
		{"wrong token", token, "Bearer 0123456789abcdef-metricX", http.StatusUnauthorized},
		{"token prefix", token, "Bearer " + token[:len(token)-1], http.StatusUnauthorized},
		{"token with more after it", token, "Bearer " + token + "x", http.StatusUnauthorized},
		{"another scheme", token, "Basic " + token, http.StatusUnauthorized},
		{"bare token", token, token, http.StatusUnauthorized},
		{"right token", token, "Bearer " + token, http.StatusOK},
		{"scheme is case-insensitive", token, "bearer " + token, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := MustServer(t, withMetricsToken(tt.configured))
			b := h.Browser()
			if tt.authorization != "" {
				b.header.Set("Authorization", tt.authorization)
			}
			p := b.Get("/metrics")
			if p.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", p.StatusCode, tt.want)
			}
			switch tt.want {
			case http.StatusOK:
				if !strings.Contains(p.Body, "keyhold_verify_total") {
					t.Errorf("no metrics in the body: %.200s", p.Body)
				}
			case http.StatusUnauthorized:
				if got := p.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
				}
				if strings.Contains(p.Body, "keyhold_") || strings.Contains(p.Body, token) {
					t.Errorf("401 body shows metrics or the token: %.200s", p.Body)
				}
			}
		})
	}
}
