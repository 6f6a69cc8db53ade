package keyhold_test

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	keyhold "github.com/keyhold/keyhold/sdk/go"
)

// TestVerifyAnswers asks the real Keyhold about keys in each state it can
// be put in from the portal, and checks the typed answer of each code:
// a refusal is a Verification, never an error.
func TestVerifyAnswers(t *testing.T) {
	p := newPortal(t)
	kh := keyhold.New(keyholdURL)
	ctx := context.Background()
	read := p.createKey("reader", "read")

	t.Run("valid", func(t *testing.T) {
		v := mustVerify(t, kh, read, keyhold.VerifyOptions{Scopes: []string{"read"}})
		if !v.Valid || v.Code != keyhold.CodeValid || v.StatusCode != http.StatusOK || v.Message != "" {
			t.Fatalf("got valid %v code %s status %d message %q, want a valid VALID 200 without message", v.Valid, v.Code, v.StatusCode, v.Message)
		}
		if v.KeyID == "" || v.OwnerID == "" || v.Name != "reader" || v.Plan != "free" || len(v.Scopes) != 1 || v.Scopes[0] != "read" {
			t.Errorf("key fields: id %q owner %q name %q plan %q scopes %v", v.KeyID, v.OwnerID, v.Name, v.Plan, v.Scopes)
		}
		if v.RateLimit == nil || v.RateLimit.Limit != 10 || v.RateLimit.Remaining != 9 || v.RateLimit.Reset.IsZero() {
			t.Errorf("ratelimit = %+v, want limit 10, remaining 9 and a reset", v.RateLimit)
		}
		if v.Quota == nil || v.Quota.Limit != 8 || v.Quota.Remaining != 7 || !v.Quota.Reset.After(time.Now()) {
			t.Errorf("quota = %+v, want limit 8, remaining 7 and a reset ahead", v.Quota)
		}
		if v.RetryAfter != 0 || v.ExpiresAt != nil {
			t.Errorf("retry after %s, expires %v; want neither", v.RetryAfter, v.ExpiresAt)
		}
	})
	t.Run("no cost", func(t *testing.T) {
		before := mustVerify(t, kh, read, keyhold.VerifyOptions{Cost: keyhold.NoCost})
		after := mustVerify(t, kh, read, keyhold.VerifyOptions{Cost: keyhold.NoCost})
		if !after.Valid || after.Quota.Remaining != before.Quota.Remaining {
			t.Errorf("quota remaining %d then %d with NoCost, want valid and unchanged", before.Quota.Remaining, after.Quota.Remaining)
		}
	})

	revoked := p.createKey("revoked", "")
	p.revokeKey(mustVerify(t, kh, revoked, keyhold.VerifyOptions{Cost: keyhold.NoCost}).KeyID)
	limited := p.createKey("limited", "")
	mustVerify(t, kh, limited, keyhold.VerifyOptions{Cost: 8})
	quota := p.createKey("quota", "")
	suspended := newPortal(t)
	disabled := suspended.createKey("disabled", "")
	suspended.suspend()

	cases := []struct {
		name   string
		key    string
		opts   keyhold.VerifyOptions
		code   keyhold.Code
		status int
		retry  bool // a Retry-After is expected
		found  bool // the answer describes a key
	}{
		{"malformed", "kh_live_nope", keyhold.VerifyOptions{}, keyhold.CodeMalformed, 401, false, false},
		{"not found", notFoundKey(read), keyhold.VerifyOptions{}, keyhold.CodeNotFound, 401, false, false},
		{"revoked", revoked, keyhold.VerifyOptions{}, keyhold.CodeRevoked, 401, false, true},
		{"disabled", disabled, keyhold.VerifyOptions{}, keyhold.CodeDisabled, 403, false, true},
		{"scope denied", read, keyhold.VerifyOptions{Scopes: []string{"write"}}, keyhold.CodeInsufficientScope, 403, false, true},
		{"rate limited", limited, keyhold.VerifyOptions{Cost: 8}, keyhold.CodeRateLimited, 429, true, true},
		{"quota exceeded", quota, keyhold.VerifyOptions{Cost: 9}, keyhold.CodeQuotaExceeded, 429, true, true},
		{"empty key", "", keyhold.VerifyOptions{}, keyhold.CodeBadRequest, 400, false, false},
		{"bad cost", read, keyhold.VerifyOptions{Cost: 1001}, keyhold.CodeBadRequest, 400, false, false},
		{"key too long", "kh_live_" + strings.Repeat("a", 5000), keyhold.VerifyOptions{}, keyhold.CodeBadRequest, 413, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := kh.Verify(ctx, tc.key, tc.opts)
			if err != nil {
				t.Fatalf("Verify: %v, want a Verification", err)
			}
			if v.Valid || v.Code != tc.code || v.StatusCode != tc.status || v.Message == "" {
				t.Fatalf("got valid %v code %s status %d message %q, want refused %s %d with a message", v.Valid, v.Code, v.StatusCode, v.Message, tc.code, tc.status)
			}
			if tc.retry != (v.RetryAfter > 0) {
				t.Errorf("RetryAfter = %s, want one: %v", v.RetryAfter, tc.retry)
			}
			if tc.found != (v.RateLimit != nil && v.KeyID != "") {
				t.Errorf("key id %q, ratelimit %+v; want a described key: %v", v.KeyID, v.RateLimit, tc.found)
			}
		})
	}
}

// notFoundKey returns a well-formed key that does not exist: like with one
// character of its random part changed and the checksum made anew (the
// scheme is public: the CRC32 of what precedes it, in 6 base62 digits), so
// Keyhold must look it up to refuse it.
func notFoundKey(like string) string {
	body := like[:len(like)-6]
	b := []byte(body)
	if b[10] == 'A' {
		b[10] = 'B'
	} else {
		b[10] = 'A'
	}
	return string(b) + checksum(string(b))
}

func mustVerify(t *testing.T, kh *keyhold.Client, key string, opts keyhold.VerifyOptions) *keyhold.Verification {
	t.Helper()
	v, err := kh.Verify(context.Background(), key, opts)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return v
}

// TestVerifyErrors checks that each way of getting no answer about the key
// is an *Error of its kind, and that no error names the key.
func TestVerifyErrors(t *testing.T) {
	const key = "kh_live_o5s5Cs1tsXQvRBDF2DYwqBlnq5XzHVPE2gqtfb"
	stall := make(chan struct{})
	serve := func(h http.HandlerFunc) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	// The stalled server reads the request, so that the server notices the
	// client hang up, then answers nothing until the test ends.
	stalled := serve(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(stall) }) // before the servers close, which waits for their handlers
	cases := []struct {
		name     string
		client   *keyhold.Client
		ctx      func() (context.Context, context.CancelFunc)
		kind     error
		status   int
		code     keyhold.Code
		retry    time.Duration
		wrapsCtx error
	}{
		{name: "down", client: keyhold.New(closedURL(t)), kind: keyhold.ErrUnreachable},
		{name: "stalled, client timeout", client: keyhold.New(stalled, keyhold.WithTimeout(100*time.Millisecond)), kind: keyhold.ErrTimeout, wrapsCtx: context.DeadlineExceeded},
		{name: "stalled, context deadline", client: keyhold.New(stalled, keyhold.WithTimeout(0)),
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 100*time.Millisecond)
			},
			kind: keyhold.ErrTimeout, wrapsCtx: context.DeadlineExceeded},
		{name: "stalled, http client timeout", client: keyhold.New(stalled, keyhold.WithTimeout(0), keyhold.WithHTTPClient(&http.Client{Timeout: 100 * time.Millisecond})), kind: keyhold.ErrTimeout},
		{name: "canceled", client: keyhold.New(stalled),
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			},
			kind: keyhold.ErrCanceled, wrapsCtx: context.Canceled},
		{name: "unavailable", client: keyhold.New(serve(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"valid":false,"code":"UNAVAILABLE","message":"Keyhold cannot verify this key right now."}`))
		})), kind: keyhold.ErrServer, status: 503, code: keyhold.CodeUnavailable, retry: 2 * time.Second},
		{name: "500 from a proxy", client: keyhold.New(serve(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "<html>bad gateway "+key+"</html>", http.StatusBadGateway)
		})), kind: keyhold.ErrServer, status: 502},
		{name: "HTML 200", client: keyhold.New(serve(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("<!doctype html><p>" + key))
		})), kind: keyhold.ErrBadAnswer, status: 200},
		{name: "JSON without a code", client: keyhold.New(serve(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"valid":true}`))
		})), kind: keyhold.ErrBadAnswer, status: 200},
		{name: "404", client: keyhold.New(serve(http.NotFound)), kind: keyhold.ErrBadAnswer, status: 404},
		{name: "redirect", client: keyhold.New(serve(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "/login")
			w.WriteHeader(http.StatusFound)
		}), keyhold.WithHTTPClient(&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }})),
			kind: keyhold.ErrBadAnswer, status: 302},
		{name: "relative base URL", client: keyhold.New("keys.example.com"), kind: keyhold.ErrInvalidBaseURL},
		{name: "base URL with credentials and no scheme", client: keyhold.New("user:" + key + "@keys"), kind: keyhold.ErrInvalidBaseURL},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			v, err := tc.client.Verify(ctx, key, keyhold.VerifyOptions{Scopes: []string{"read"}})
			if v != nil || err == nil {
				t.Fatalf("Verify = %+v, %v; want only an error", v, err)
			}
			var e *keyhold.Error
			if !errors.As(err, &e) || !errors.Is(err, tc.kind) {
				t.Fatalf("error %v (%T), want an *Error of kind %v", err, err, tc.kind)
			}
			if e.StatusCode != tc.status || e.Code != tc.code || e.RetryAfter != tc.retry {
				t.Errorf("status %d code %q retry %s, want %d %q %s", e.StatusCode, e.Code, e.RetryAfter, tc.status, tc.code, tc.retry)
			}
			if tc.wrapsCtx != nil && !errors.Is(err, tc.wrapsCtx) {
				t.Errorf("error %v does not wrap %v", err, tc.wrapsCtx)
			}
			if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), key[8:20]) {
				t.Errorf("the error names the key: %q", err)
			}
		})
	}
}

// closedURL returns the URL of a loopback port that nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return u
}

// checksum is the key format's checksum of s: CRC32 (IEEE) in base62,
// most significant digit first, padded to 6 digits.
func checksum(s string) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	sum := crc32.ChecksumIEEE([]byte(s))
	out := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		out[i] = alphabet[sum%62]
		sum /= 62
	}
	return string(out)
}

// TestVerifyNeverFollowsRedirects: a 307 or 308 from what should be
// Keyhold would send the key, in the body, to wherever it points. The
// client stops at the redirect (a bad answer), with its own HTTP client
// and with one the caller gave that says nothing about redirects; the
// other server never hears the key.
func TestVerifyNeverFollowsRedirects(t *testing.T) {
	const key = "kh_live_redirectedredirectedredirected1"
	heard := make(chan string, 4)
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		heard <- string(b)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"valid":true,"code":"VALID"}`)
	}))
	defer elsewhere.Close()
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, elsewhere.URL+"/v1/verify", status)
		}))
		for name, c := range map[string]*keyhold.Client{
			"default client":  keyhold.New(redirector.URL),
			"caller's client": keyhold.New(redirector.URL, keyhold.WithHTTPClient(&http.Client{})),
		} {
			v, err := c.Verify(context.Background(), key, keyhold.VerifyOptions{})
			if v != nil || !errors.Is(err, keyhold.ErrBadAnswer) {
				t.Errorf("%d, %s: Verify = %+v, %v; want ErrBadAnswer", status, name, v, err)
			}
		}
		redirector.Close()
	}
	select {
	case body := <-heard:
		t.Errorf("the redirect's target heard %q", body)
	default:
	}
}
