package keyhold_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	keyhold "github.com/keyhold/keyhold/sdk/go"
)

// TestVerifyRequest checks what Verify sends: the key in the JSON body
// only, the cost as Keyhold reads it (absent for the default of one, 0 for
// NoCost), the scopes, and the headers, to the base URL with or without a
// trailing slash.
func TestVerifyRequest(t *testing.T) {
	const key = "kh_live_o5s5Cs1tsXQvRBDF2DYwqBlnq5XzHVPE2gqtfb"
	type sent struct {
		method, path, query, ua, contentType, auth string
		body                                       map[string]any
	}
	got := make(chan sent, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sent{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, ua: r.UserAgent(),
			contentType: r.Header.Get("Content-Type"), auth: r.Header.Get("Authorization") + r.Header.Get("X-API-Key")}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &s.body)
		got <- s
		_, _ = w.Write([]byte(`{"valid":true,"code":"VALID"}`))
	}))
	t.Cleanup(srv.Close)

	cases := []struct {
		name   string
		base   string
		opts   []keyhold.Option
		vopts  keyhold.VerifyOptions
		cost   any // the body's cost; nil when absent
		scopes any
		ua     string
	}{
		{"default cost", srv.URL, nil, keyhold.VerifyOptions{}, nil, nil, "keyhold-go"},
		{"cost 5, scopes, trailing slash", srv.URL + "/", nil, keyhold.VerifyOptions{Cost: 5, Scopes: []string{"read", "write"}}, 5.0, []any{"read", "write"}, "keyhold-go"},
		{"no cost, user agent", srv.URL, []keyhold.Option{keyhold.WithUserAgent("my-api/1.4")}, keyhold.VerifyOptions{Cost: keyhold.NoCost}, 0.0, nil, "my-api/1.4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := keyhold.New(tc.base, tc.opts...).Verify(context.Background(), key, tc.vopts)
			if err != nil || !v.Valid {
				t.Fatalf("Verify = %+v, %v; want valid", v, err)
			}
			s := <-got
			if s.method != http.MethodPost || s.path != "/v1/verify" || s.query != "" || s.auth != "" {
				t.Errorf("sent %s %s?%s with auth headers %q, want POST /v1/verify, no query, no headers with the key", s.method, s.path, s.query, s.auth)
			}
			if s.ua != tc.ua || s.contentType != "application/json" {
				t.Errorf("User-Agent %q, Content-Type %q; want %q and application/json", s.ua, s.contentType, tc.ua)
			}
			if s.body["key"] != key || !equalJSON(s.body["cost"], tc.cost) || !equalJSON(s.body["scopes"], tc.scopes) {
				t.Errorf("body %v, want key, cost %v, scopes %v", s.body, tc.cost, tc.scopes)
			}
		})
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestVerifyAnswerFromAProxy checks that a 200 whose body does not say
// VALID, or says valid with another code, never lets a key through.
func TestVerifyAnswerFromAProxy(t *testing.T) {
	for _, body := range []string{`{"valid":true,"code":"NOT_FOUND"}`, `{"valid":false,"code":"VALID"}`} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(body))
		}))
		v, err := keyhold.New(srv.URL).Verify(context.Background(), "k", keyhold.VerifyOptions{})
		srv.Close()
		if err != nil || v.Valid {
			t.Errorf("answer %s: Verify = %+v, %v; want a Verification that is not valid", body, v, err)
		}
	}
	// Valid only with status 200 as well.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"valid":true,"code":"VALID"}`))
	}))
	defer srv.Close()
	if v, err := keyhold.New(srv.URL).Verify(context.Background(), "k", keyhold.VerifyOptions{}); err != nil || v.Valid {
		t.Errorf("a 401 saying valid: Verify = %+v, %v; want not valid", v, err)
	}
}

// TestDefaultTimeout checks that a Client made without WithTimeout gives
// up on a Keyhold that never answers (after DefaultTimeout), rather than
// holding the request for as long as the server stalls.
func TestDefaultTimeout(t *testing.T) {
	stall := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stall) })
	_, err := keyhold.New(srv.URL).Verify(context.Background(), "k", keyhold.VerifyOptions{})
	if !errors.Is(err, keyhold.ErrTimeout) {
		t.Fatalf("Verify against a stalled server: %v, want ErrTimeout", err)
	}
}

// TestMiddlewarePassesKeyholdsRetryAfter checks that a 503 UNAVAILABLE
// from Keyhold reaches the API's client with Keyhold's Retry-After, and
// that an error without one gets the default of 2 seconds.
func TestMiddlewarePassesKeyholdsRetryAfter(t *testing.T) {
	cases := []struct {
		name   string
		answer func(w http.ResponseWriter)
		retry  string
	}{
		{"Keyhold's UNAVAILABLE", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"valid":false,"code":"UNAVAILABLE","message":"…"}`))
		}, "7"},
		{"HTML", func(w http.ResponseWriter) { _, _ = w.Write([]byte("<html>")) }, "2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tc.answer(w) }))
			defer kh.Close()
			h := keyhold.New(kh.URL).Middleware(http.NotFoundHandler(), keyhold.WithErrorHandler(func(*http.Request, error) {}))
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("X-API-Key", "kh_live_x")
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != tc.retry ||
				!strings.Contains(rec.Body.String(), `"code":"UNAVAILABLE"`) {
				t.Fatalf("%d Retry-After %q %s, want 503 with Retry-After %s and code UNAVAILABLE", rec.Code, rec.Header().Get("Retry-After"), rec.Body, tc.retry)
			}
		})
	}
}

// TestMiddlewareLogs checks the default logging of the middleware: one
// line, without the key, when Keyhold cannot be reached, and none when the
// API's client hung up (the request's context canceled).
func TestMiddlewareLogs(t *testing.T) {
	const key = "kh_live_o5s5Cs1tsXQvRBDF2DYwqBlnq5XzHVPE2gqtfb"
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	h := keyhold.New(closedURL(t)).Middleware(http.NotFoundHandler())

	serve := func(ctx context.Context) int {
		req := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := serve(context.Background()); code != http.StatusServiceUnavailable {
		t.Fatalf("Keyhold down: %d, want 503", code)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "unreachable") || strings.Contains(buf.String(), key[8:20]) {
		t.Fatalf("log %q, want one line naming the unreachable Keyhold and not the key", buf.String())
	}
	buf.Reset()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if code := serve(ctx); code != http.StatusServiceUnavailable {
		t.Fatalf("client gone: %d, want 503", code)
	}
	if buf.Len() != 0 {
		t.Fatalf("a canceled request logged %q, want nothing", buf.String())
	}
}
