package keyhold_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	keyhold "github.com/keyhold/keyhold/sdk/go"
)

// TestMiddleware puts the middleware, in front of a tiny handler, before
// the real Keyhold (and one that is down), and checks what a client of the
// API gets for each kind of key.
func TestMiddleware(t *testing.T) {
	p := newPortal(t)
	read := p.createKey("reader", "read")
	other := p.createKey("no scopes", "")
	limited := p.createKey("limited", "read")

	// handler answers 200 with the key id the middleware put in the context.
	var reached atomic.Int32 // set by the servers' goroutines
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		v := keyhold.FromContext(r.Context())
		if v == nil || !v.Valid {
			http.Error(w, "no valid verification in the context", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "hello "+v.KeyID)
	})
	up := httptest.NewServer(keyhold.New(keyholdURL).Middleware(handler, keyhold.WithScopes("read")))
	t.Cleanup(up.Close)
	costly := httptest.NewServer(keyhold.New(keyholdURL).Middleware(handler, keyhold.WithScopes("read"), keyhold.WithCost(8)))
	t.Cleanup(costly.Close)
	downErrs := make(chan error, 10)
	down := httptest.NewServer(keyhold.New(closedURL(t)).Middleware(handler,
		keyhold.WithErrorHandler(func(_ *http.Request, err error) { downErrs <- err })))
	t.Cleanup(down.Close)

	// The first call of cost 8 is valid; the second is rate limited.
	if a := call(t, costly.URL+"/", map[string]string{"X-API-Key": limited}); a.status != http.StatusOK {
		t.Fatalf("first call of cost 8 = %d %s, want 200", a.status, a.body)
	}

	cases := []struct {
		name    string
		server  string
		headers map[string]string
		status  int
		code    string // of the JSON body; "" when the handler answers
		retry   bool   // Retry-After is expected
		limits  bool   // RateLimit-* headers are expected
	}{
		{"valid, bearer", up.URL, map[string]string{"Authorization": "Bearer " + read}, 200, "", false, true},
		{"valid, lower-case bearer", up.URL, map[string]string{"Authorization": "bearer " + read}, 200, "", false, true},
		{"valid, X-API-Key", up.URL, map[string]string{"X-API-Key": read}, 200, "", false, true},
		{"basic auth and X-API-Key", up.URL, map[string]string{"Authorization": "Basic dXNlcjpwYXNz", "X-API-Key": read}, 200, "", false, true},
		{"no key", up.URL, nil, 401, "BAD_REQUEST", false, false},
		{"empty bearer", up.URL, map[string]string{"Authorization": "Bearer "}, 401, "BAD_REQUEST", false, false},
		// Keyhold down and no key: 401, so the middleware did not call it.
		{"no key, Keyhold down", down.URL, nil, 401, "BAD_REQUEST", false, false},
		{"malformed", up.URL, map[string]string{"X-API-Key": "kh_live_nope"}, 401, "MALFORMED", false, false},
		{"not found", up.URL, map[string]string{"X-API-Key": notFoundKey(read)}, 401, "NOT_FOUND", false, false},
		{"too long for Keyhold", up.URL, map[string]string{"X-API-Key": strings.Repeat("k", 5000)}, 401, "BAD_REQUEST", false, false},
		{"scope denied", up.URL, map[string]string{"Authorization": "Bearer " + other}, 403, "INSUFFICIENT_SCOPE", false, true},
		{"rate limited", costly.URL, map[string]string{"X-API-Key": limited}, 429, "RATE_LIMITED", true, true},
		{"Keyhold down", down.URL, map[string]string{"X-API-Key": read}, 503, "UNAVAILABLE", true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reached.Store(0)
			a := call(t, tc.server+"/", tc.headers)
			if a.status != tc.status {
				t.Fatalf("status %d (%s), want %d", a.status, a.body, tc.status)
			}
			if tc.code == "" {
				if reached.Load() != 1 || !strings.HasPrefix(a.body, "hello 01") {
					t.Fatalf("handler reached %d times, body %q; want once with the key id", reached.Load(), a.body)
				}
			} else {
				if reached.Load() != 0 {
					t.Fatalf("the handler was reached for a refused key")
				}
				var v struct {
					Valid   *bool  `json:"valid"`
					Code    string `json:"code"`
					Message string `json:"message"`
				}
				if err := json.Unmarshal([]byte(a.body), &v); err != nil || v.Valid == nil || *v.Valid || v.Code != tc.code || v.Message == "" {
					t.Fatalf("body %q, want a verify answer with valid false, code %s and a message", a.body, tc.code)
				}
				if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type %q, want JSON", ct)
				}
			}
			if n, err := strconv.Atoi(a.header.Get("Retry-After")); tc.retry != (err == nil && n > 0) {
				t.Errorf("Retry-After %q, want one: %v", a.header.Get("Retry-After"), tc.retry)
			}
			for _, h := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
				if _, err := strconv.Atoi(a.header.Get(h)); tc.limits != (err == nil) {
					t.Errorf("%s %q, want one: %v", h, a.header.Get(h), tc.limits)
				}
			}
			if tc.status == 401 && a.header.Get("WWW-Authenticate") == "" && tc.code == "BAD_REQUEST" && tc.headers == nil {
				t.Errorf("a request without a key got no WWW-Authenticate")
			}
		})
	}
	close(downErrs)
	var reported []error
	for err := range downErrs {
		reported = append(reported, err)
	}
	if len(reported) != 1 || !errors.Is(reported[0], keyhold.ErrUnreachable) || strings.Contains(reported[0].Error(), read) {
		t.Errorf("errors reported while Keyhold was down: %v; want one of kind unreachable, without the key", reported)
	}
}

type answer struct {
	status int
	header http.Header
	body   string
}

// call sends GET url with headers, as a client of the API would.
func call(t *testing.T, base string, headers map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// TestWithCostRefusesBadCosts checks that a cost Keyhold would refuse on
// every request fails when the handler is built, not on each request.
func TestWithCostRefusesBadCosts(t *testing.T) {
	for _, n := range []int{-2, 0, 1001} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WithCost(%d) did not panic", n)
				}
			}()
			keyhold.WithCost(n)
		}()
	}
	for _, n := range []int{keyhold.NoCost, 1, 1000} {
		keyhold.WithCost(n) // must not panic
	}
}

// TestFromContextOutsideMiddleware checks that a handler without the
// middleware sees nil, not a zero Verification that could pass for valid.
func TestFromContextOutsideMiddleware(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if v := keyhold.FromContext(r.Context()); v != nil {
		t.Fatalf("FromContext = %+v, want nil", v)
	}
	want := &keyhold.Verification{Valid: true, KeyID: "k"}
	if v := keyhold.FromContext(keyhold.NewContext(r.Context(), want)); v != want {
		t.Fatalf("FromContext(NewContext(v)) = %+v, want v", v)
	}
}
