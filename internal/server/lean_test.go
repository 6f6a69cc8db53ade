package server_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/server"
)

// The lean hot path of POST /v1/verify and POST /v1/tokens (lean.go): the
// exact headers of each answer, no log line per request but a summary of
// the refusals, a recovered panic, the request id only when sent, and the
// counters; the pages keep their browser headers.

// hotAnswer is what a hot-route test reads of an answer.
type hotAnswer struct {
	resp *http.Response
	raw  []byte
	ans  verifyAnswer
}

// hotPost posts body to path with the given headers (Content-Type JSON
// unless set) through a real connection.
func (h *harness) hotPost(t *testing.T, path, body string, header map[string]string) hotAnswer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := hotAnswer{resp: resp, raw: raw}
	if err := json.Unmarshal(raw, &a.ans); err != nil {
		t.Fatalf("%s: answer is not JSON (%d): %q", path, resp.StatusCode, raw)
	}
	return a
}

// hotHeaders are the headers every hot answer has: ours, and the two
// net/http adds.
var hotHeaders = []string{"Cache-Control", "Content-Length", "Content-Type", "Date", "X-Content-Type-Options"}

// checkHotHeaders checks that a's headers are exactly hotHeaders, plus
// RateLimit-* when limits is set, Retry-After when retry is, and
// X-Request-Id when rid is not empty, with their values.
func checkHotHeaders(t *testing.T, name string, a hotAnswer, limits, retry bool, rid string) {
	t.Helper()
	want := slices.Clone(hotHeaders)
	if limits {
		want = append(want, "Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset")
	}
	if retry {
		want = append(want, "Retry-After")
	}
	if rid != "" {
		want = append(want, "X-Request-Id")
	}
	slices.Sort(want)
	if got := slices.Sorted(maps.Keys(a.resp.Header)); !slices.Equal(got, want) {
		t.Errorf("%s: headers %v, want exactly %v", name, got, want)
	}
	h := a.resp.Header
	for k, v := range map[string]string{"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store",
		"X-Content-Type-Options": "nosniff", "Content-Length": strconv.Itoa(len(a.raw))} {
		if got := h.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s: %s = %q, want %q", name, k, got, v)
		}
	}
	if rid != "" && h.Get("X-Request-Id") != rid {
		t.Errorf("%s: X-Request-Id %q, want the caller's %q", name, h.Get("X-Request-Id"), rid)
	}
	if limits {
		if rl := a.ans.RateLimit; rl == nil {
			// A token answer has no ratelimit to compare with.
			if _, err := strconv.Atoi(h.Get("Ratelimit-Remaining")); err != nil || !strings.Contains(string(a.raw), `"token":`) {
				t.Errorf("%s: RateLimit-* headers but no ratelimit in %s", name, a.raw)
			}
		} else if h.Get("Ratelimit-Limit") != strconv.FormatInt(rl.Limit, 10) || h.Get("Ratelimit-Remaining") != strconv.FormatInt(rl.Remaining, 10) {
			t.Errorf("%s: RateLimit-Limit %q, -Remaining %q; the body says %d, %d", name, h.Get("Ratelimit-Limit"), h.Get("Ratelimit-Remaining"), rl.Limit, rl.Remaining)
		}
		if n, err := strconv.Atoi(h.Get("Ratelimit-Reset")); err != nil || n < 0 || n > 60 {
			t.Errorf("%s: RateLimit-Reset %q", name, h.Get("Ratelimit-Reset"))
		}
	}
	if retry {
		if n, err := strconv.Atoi(h.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("%s: Retry-After %q", name, h.Get("Retry-After"))
		}
	}
}

// hotKeys makes the keys of every outcome the header tests need.
type hotKeys struct {
	valid, revoked, scoped, listed, burst, quota, unknown string
}

func makeHotKeys(t *testing.T, h *harness) hotKeys {
	t.Helper()
	b := h.Browser()
	b.MustSignup("ada@example.com")
	var k hotKeys
	_, k.valid = b.MustCreateKey("valid", nil)
	revokedID, revoked := b.MustCreateKey("gone", nil)
	b.Submit("/keys/"+revokedID, "/keys/"+revokedID+"/revoke", url.Values{})
	k.revoked = revoked
	_, k.scoped = b.MustCreateKey("scoped", url.Values{"scopes": {"read"}})
	_, k.listed = b.MustCreateKey("edge", url.Values{"ip_allowlist": {"203.0.113.0/24"}})
	_, k.burst = b.MustCreateKey("burst", nil)
	quotaID, quota := b.MustCreateKey("quota", nil)
	zero := int64(0)
	if err := h.DB.SetKeyOverrides(context.Background(), quotaID, nil, nil, &zero); err != nil {
		t.Fatal(err)
	}
	h.Verifier.InvalidateKey(quotaID)
	k.quota = quota
	k.unknown = "kh_live_" + strings.Repeat("A", 32)
	k.unknown += checksumLike(t, h, k.unknown)
	return k
}

func keyBody(key, extra string) string {
	b, _ := json.Marshal(key)
	return `{"key":` + string(b) + extra + `}`
}

// TestHotHeaders: every answer of /v1/verify and /v1/tokens, VALID, each
// refusal, 413 and BAD_REQUEST, carries exactly the JSON answer's headers:
// no CSP, X-Frame-Options or other browser header, and no request id the
// caller did not send; one it sent comes back.
func TestHotHeaders(t *testing.T) {
	h := MustServer(t, withMaxKeys(t, 100))
	k := makeHotKeys(t, h)
	cases := []struct {
		name, body    string
		header        map[string]string
		status        int
		code          string
		limits, retry bool
	}{
		{"valid", keyBody(k.valid, ""), nil, 200, "VALID", true, false},
		{"valid, key in X-API-Key", `{}`, map[string]string{"X-API-Key": k.valid}, 200, "VALID", true, false},
		{"valid, key as Bearer", ``, map[string]string{"Authorization": "Bearer " + k.valid}, 200, "VALID", true, false},
		{"malformed", keyBody("kh_live_short", ""), nil, 401, "MALFORMED", false, false},
		{"not found", keyBody(k.unknown, ""), nil, 401, "NOT_FOUND", false, false},
		{"revoked", keyBody(k.revoked, ""), nil, 401, "REVOKED", true, false},
		{"insufficient scope", keyBody(k.scoped, `,"scopes":["write"]`), nil, 403, "INSUFFICIENT_SCOPE", true, false},
		{"forbidden", keyBody(k.listed, `,"ip":"198.51.100.1"`), nil, 403, "FORBIDDEN", true, false},
		{"rate limited", keyBody(k.burst, ""), nil, 429, "RATE_LIMITED", true, true},
		{"quota exceeded", keyBody(k.quota, ""), nil, 429, "QUOTA_EXCEEDED", true, true},
		{"no key", `{}`, nil, 400, "BAD_REQUEST", false, false},
		{"bad json", `{"key":`, nil, 400, "BAD_REQUEST", false, false},
		{"not json", keyBody(k.valid, ""), map[string]string{"Content-Type": "text/plain"}, 415, "BAD_REQUEST", false, false},
		{"too large", keyBody(k.valid, `,"pad":"`+strings.Repeat("x", 5000)+`"`), nil, 413, "BAD_REQUEST", false, false},
	}
	for _, path := range []string{"/v1/verify", "/v1/tokens"} {
		for _, c := range cases {
			for _, rid := range []string{"", "req-42.abc"} {
				name := path + " " + c.name
				header := maps.Clone(c.header)
				if rid != "" {
					name += " with X-Request-Id"
					if header == nil {
						header = map[string]string{}
					}
					header["X-Request-Id"] = rid
				}
				a := h.hotPost(t, path, c.body, header)
				// The burst key (free plan: burst 20) is sent until its
				// rate is spent: the refusal itself is what is checked.
				for i := 0; c.code == "RATE_LIMITED" && a.ans.Code != c.code && i < 40; i++ {
					a = h.hotPost(t, path, c.body, header)
				}
				wantCode := c.code
				if path == "/v1/tokens" && c.code == "VALID" {
					wantCode = "" // the token answer has no code
				}
				if a.resp.StatusCode != c.status || a.ans.Code != wantCode {
					t.Errorf("%s: %d %s, want %d %s", name, a.resp.StatusCode, a.raw, c.status, c.code)
					continue
				}
				if c.status != 200 && (a.ans.Valid || a.ans.Message == "") {
					t.Errorf("%s: a refusal without valid false and a message: %s", name, a.raw)
				}
				checkHotHeaders(t, name, a, c.limits, c.retry, rid)
			}
		}
	}
}

// TestHotOtherMethods: other methods on the hot paths, and a path with a
// trailing slash, are Echo's answers as before: 405 in the JSON error
// format (problem JSON for /v1/tokens, as for the whole management API),
// and the redirect.
func TestHotOtherMethods(t *testing.T) {
	h := MustServer(t)
	for _, c := range []struct{ method, path, ctype string }{
		{http.MethodGet, "/v1/verify", "application/json"},
		{http.MethodPut, "/v1/verify", "application/json"},
		{http.MethodGet, "/v1/tokens", "application/problem+json"},
		{http.MethodDelete, "/v1/tokens", "application/problem+json"},
	} {
		req, _ := http.NewRequest(c.method, h.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) || !strings.Contains(string(raw), "METHOD_NOT_ALLOWED") {
			t.Errorf("%s %s: %d %q %s", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
		}
		if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s %s: Echo's answer lost its middleware headers: %v", c.method, c.path, resp.Header)
		}
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Post(h.URL+"/v1/verify/", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/v1/verify" {
		t.Errorf("POST /v1/verify/: %d to %q, want the redirect as before", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestHotNoRequestLog: the hot routes write no log line per request,
// whatever the answer; their refusals come in one summary line per route
// and window, with the count of each code and nothing of the requests (no
// key, no request id).
func TestHotNoRequestLog(t *testing.T) {
	h := MustServer(t, withMaxKeys(t, 100))
	h.Handler.(*server.Server).SetRefusalSummaryEvery(100 * time.Millisecond)
	k := makeHotKeys(t, h)
	// The pages still log each request (at debug level, as configured).
	before := h.log.String()
	if !strings.Contains(before, `"msg":"request"`) {
		t.Fatalf("the pages wrote no request line; the test cannot tell: %s", before)
	}
	rid := "rid-" + strings.Repeat("7", 8)
	for range 3 {
		h.hotPost(t, "/v1/verify", keyBody(k.valid, ""), map[string]string{"X-Request-Id": rid})
		h.hotPost(t, "/v1/verify", keyBody(k.unknown, ""), nil)
		h.hotPost(t, "/v1/tokens", keyBody(k.unknown, ""), nil)
	}
	h.hotPost(t, "/v1/verify", keyBody("kh_live_short", ""), nil)
	h.hotPost(t, "/v1/verify", `{}`, nil)
	h.hotPost(t, "/v1/tokens", keyBody(k.valid, ""), nil)

	var lines []map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines = lines[:0]
		for l := range strings.SplitSeq(strings.TrimPrefix(h.log.String(), before), "\n") {
			if l == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("log line not JSON: %q", l)
			}
			lines = append(lines, m)
		}
		if len(lines) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := map[string]map[string]any{}
	for _, m := range lines {
		if m["msg"] != "refusals" {
			t.Errorf("a line that is no summary: %v", m)
			continue
		}
		route, _ := m["route"].(string)
		if got[route] != nil {
			t.Errorf("two summaries of %s in one window: %v", route, lines)
		}
		got[route] = m
	}
	codes := func(route string) map[string]any {
		m := got[route]
		if m == nil {
			t.Fatalf("no summary for %s in %v", route, lines)
		}
		c, _ := m["codes"].(map[string]any)
		return c
	}
	if c := codes("/v1/verify"); len(c) != 3 || c["NOT_FOUND"] != 3.0 || c["MALFORMED"] != 1.0 || c["BAD_REQUEST"] != 1.0 || got["/v1/verify"]["total"] != 5.0 {
		t.Errorf("verify summary %v, want NOT_FOUND 3, MALFORMED 1, BAD_REQUEST 1", got["/v1/verify"])
	}
	if c := codes("/v1/tokens"); len(c) != 1 || c["NOT_FOUND"] != 3.0 {
		t.Errorf("tokens summary %v, want NOT_FOUND 3", got["/v1/tokens"])
	}
	all := strings.TrimPrefix(h.log.String(), before)
	for _, secret := range []string{k.valid, k.unknown, k.valid[8:40], k.unknown[8:40], rid} {
		if strings.Contains(all, secret) {
			t.Errorf("the log has %q: %s", secret, all)
		}
	}
	// A window without refusals writes nothing, and the next refusal is
	// summed up again.
	mark := h.log.String()
	time.Sleep(300 * time.Millisecond)
	if extra := strings.TrimPrefix(h.log.String(), mark); extra != "" {
		t.Errorf("a quiet window logged %s", extra)
	}
	h.hotPost(t, "/v1/verify", keyBody(k.revoked, ""), nil)
	for !strings.Contains(strings.TrimPrefix(h.log.String(), mark), `"REVOKED":1`) {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("no summary after a later refusal: %s", strings.TrimPrefix(h.log.String(), mark))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// panicBody panics when read: a bug in the hot handler's path.
type panicBody struct{}

func (panicBody) Read([]byte) (int, error) { panic("boom kh_live_" + strings.Repeat("B", 38)) }

// TestHotRecover: a panic in a hot handler answers 500 in the verify
// format, with the hot headers, and is logged once with the route and the
// stack, key-shaped text redacted; the server goes on answering.
func TestHotRecover(t *testing.T) {
	h := MustServer(t)
	_, key := mustKeyFor(t, h, "ada@example.com", nil)
	for _, path := range []string{"/v1/verify", "/v1/tokens"} {
		before := h.log.String()
		req := httptest.NewRequest(http.MethodPost, path, panicBody{})
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-Id", "rid-panic")
		rec := httptest.NewRecorder()
		h.Handler.ServeHTTP(rec, req)
		var a verifyAnswer
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || rec.Code != http.StatusInternalServerError || a.Valid || a.Code != "UNAVAILABLE" || a.Message == "" {
			t.Errorf("%s: %d %s, want 500 in the verify format", path, rec.Code, rec.Body)
		}
		got := slices.Sorted(maps.Keys(rec.Header()))
		if want := []string{"Cache-Control", "Content-Type", "X-Content-Type-Options", "X-Request-Id"}; !slices.Equal(got, want) {
			t.Errorf("%s: headers %v, want %v", path, got, want)
		}
		logged := strings.TrimPrefix(h.log.String(), before)
		if n := strings.Count(logged, `"msg":"panic"`); n != 1 || strings.Count(logged, "\n") != 1 {
			t.Errorf("%s: want one panic line, got %q", path, logged)
		}
		if !strings.Contains(logged, `"route":"`+path+`"`) || !strings.Contains(logged, "rid-panic") || !strings.Contains(logged, "lean.go") || strings.Contains(logged, strings.Repeat("B", 38)) {
			t.Errorf("%s: panic line %q: want the route, request id and stack, and no key", path, logged)
		}
	}
	if a := h.hotPost(t, "/v1/verify", keyBody(key, ""), nil); a.resp.StatusCode != 200 {
		t.Errorf("after the panics: %d %s", a.resp.StatusCode, a.raw)
	}
}

// TestHotCounters: each answer counts once in its route's counter by
// code, BAD_REQUEST of each kind included, and the hot routes are not in
// the request histogram.
func TestHotCounters(t *testing.T) {
	h := MustServer(t, withMaxKeys(t, 100))
	k := makeHotKeys(t, h)
	h.hotPost(t, "/v1/verify", keyBody(k.valid, ""), nil)
	h.hotPost(t, "/v1/verify", keyBody(k.valid, ""), nil)
	h.hotPost(t, "/v1/verify", keyBody(k.revoked, ""), nil)
	h.hotPost(t, "/v1/verify", `{}`, nil)
	h.hotPost(t, "/v1/verify", keyBody(k.valid, `,"pad":"`+strings.Repeat("x", 5000)+`"`), nil)
	h.hotPost(t, "/v1/tokens", keyBody(k.valid, ""), nil)
	h.hotPost(t, "/v1/tokens", keyBody(k.valid, `,"cost":0`), nil)
	h.hotPost(t, "/v1/tokens", keyBody(k.valid, `,"ttl":5`), nil)
	h.hotPost(t, "/v1/tokens", keyBody(k.quota, ""), nil)
	p := h.Browser().Get("/metrics")
	for _, want := range []string{
		`keyhold_verify_total{code="VALID"} 2`, `keyhold_verify_total{code="REVOKED"} 1`, `keyhold_verify_total{code="BAD_REQUEST"} 2`,
		`keyhold_token_exchanges_total{code="VALID"} 1`, `keyhold_token_exchanges_total{code="BAD_REQUEST"} 2`,
		`keyhold_token_exchanges_total{code="QUOTA_EXCEEDED"} 1`, `keyhold_verify_total{code="QUOTA_EXCEEDED"} 0`,
	} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, route := range []string{`route="/v1/verify"`, `route="/v1/tokens"`} {
		if strings.Contains(p.Body, route) {
			t.Errorf("the request metrics count the hot route %s", route)
		}
	}
}

// TestPagesKeepBrowserHeaders: the headers the hot answers drop stay on
// HTML pages, and Echo still gives them a request id.
func TestPagesKeepBrowserHeaders(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	for _, path := range []string{"/login", "/signup", "/nope"} {
		p := b.Get(path)
		if !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: Content-Type %q, want a page", path, p.Header.Get("Content-Type"))
		}
		checkHeaders(t, path, p)
		for _, k := range []string{"Permissions-Policy", "Cross-Origin-Opener-Policy", "X-Request-Id"} {
			if p.Header.Get(k) == "" {
				t.Errorf("%s: no %s", path, k)
			}
		}
	}
}
