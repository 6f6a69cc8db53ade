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
