package keyhold_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	keyhold "github.com/keyhold/keyhold/sdk/go"
)

// TestIdempotencyKeyLive: with an IdempotencyKey the real Keyhold answers
// a retry with the first answer, Replayed, and charges once; a token
// likewise.
func TestIdempotencyKeyLive(t *testing.T) {
	p := newPortal(t)
	kh := keyhold.New(keyholdURL)
	ctx := context.Background()
	key := p.createKey("idem", "read")
	opts := keyhold.VerifyOptions{IdempotencyKey: "order-17"}
	first := mustVerify(t, kh, key, opts)
	again := mustVerify(t, kh, key, opts)
	if first.Replayed || !again.Replayed || again.Quota.Remaining != first.Quota.Remaining || first.Quota.Remaining != 7 {
		t.Fatalf("first replayed %v (quota %d left), again replayed %v (%d left); want the first answer again, one unit taken", first.Replayed, first.Quota.Remaining, again.Replayed, again.Quota.Remaining)
	}
	if v := mustVerify(t, kh, key, keyhold.VerifyOptions{IdempotencyKey: "order-17", Cost: 2}); v.Code != keyhold.CodeBadRequest || v.Replayed {
		t.Errorf("another cost with the same IdempotencyKey: %s, want BAD_REQUEST", v.Code)
	}
	if v := mustVerify(t, kh, key, keyhold.VerifyOptions{IdempotencyKey: strings.Repeat("x", 300)}); v.Code != keyhold.CodeBadRequest {
		t.Errorf("an unusable IdempotencyKey: %s, want BAD_REQUEST", v.Code)
	}

	topts := keyhold.TokenOptions{IdempotencyKey: "exchange-17"}
	t1, _, err := kh.Token(ctx, key, topts)
	if err != nil || t1 == nil {
		t.Fatalf("Token: %v", err)
	}
	t2, _, err := kh.Token(ctx, key, topts)
	if err != nil || t2 == nil || t2.Token != t1.Token || !t2.Replayed || t1.Replayed {
		t.Fatalf("the retried exchange: %v, replayed %v (first %v), same token %v", err, t2 != nil && t2.Replayed, t1.Replayed, t2 != nil && t2.Token == t1.Token)
	}
	if v := mustVerify(t, kh, key, keyhold.VerifyOptions{Cost: keyhold.NoCost}); v.Quota.Remaining != 6 {
		t.Errorf("%d left, want 6: one verification and one exchange", v.Quota.Remaining)
	}
}

// TestIdempotencyKeyRetries: with an IdempotencyKey, Verify and Token try
// again, with the same key, after no answer or a 503; without one they
// try once.
func TestIdempotencyKeyRetries(t *testing.T) {
	const key = "kh_live_o5s5Cs1tsXQvRBDF2DYwqBlnq5XzHVPE2gqtfb"
	var mu sync.Mutex
	var seen []string
	tries := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tries++
		n := tries
		seen = append(seen, r.Header.Get("Idempotency-Key"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case n%3 == 1: // no answer: the connection is dropped
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
		case n%3 == 2:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"valid":false,"code":"UNAVAILABLE","message":"x"}`))
		case r.URL.Path == "/v1/tokens":
			w.Header().Set("Idempotent-Replayed", "true")
			_, _ = w.Write([]byte(`{"token":"a.b.c","token_type":"Bearer","expires_in":300,"expires_at":"2030-01-01T00:00:00Z","key_id":"k"}`))
		default:
			w.Header().Set("Idempotent-Replayed", "true")
			_, _ = w.Write([]byte(`{"valid":true,"code":"VALID"}`))
		}
	}))
	t.Cleanup(srv.Close)
	kh := keyhold.New(srv.URL)
	reset := func() []string {
		mu.Lock()
		defer mu.Unlock()
		s := seen
		seen, tries = nil, 0
		return s
	}

	v, err := kh.Verify(context.Background(), key, keyhold.VerifyOptions{IdempotencyKey: "retry-me"})
	if err != nil || !v.Valid || !v.Replayed {
		t.Fatalf("Verify with an IdempotencyKey = %+v, %v; want the third try's valid replay", v, err)
	}
	if s := reset(); len(s) != 3 || s[0] != "retry-me" || s[1] != "retry-me" || s[2] != "retry-me" {
		t.Errorf("tries sent Idempotency-Key %q, want retry-me three times", s)
	}
	tok, _, err := kh.Token(context.Background(), key, keyhold.TokenOptions{IdempotencyKey: "retry-tok"})
	if err != nil || tok == nil || !tok.Replayed {
		t.Fatalf("Token with an IdempotencyKey = %+v, %v", tok, err)
	}
	if s := reset(); len(s) != 3 {
		t.Errorf("%d tries of Token, want 3", len(s))
	}

	_, err = kh.Verify(context.Background(), key, keyhold.VerifyOptions{})
	if !errors.Is(err, keyhold.ErrUnreachable) {
		t.Errorf("Verify without IdempotencyKey = %v, want ErrUnreachable after one try", err)
	}
	if s := reset(); len(s) != 1 || s[0] != "" {
		t.Errorf("without IdempotencyKey: tries %q, want one without the header", s)
	}
}
