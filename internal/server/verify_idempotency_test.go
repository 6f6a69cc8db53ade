package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
)

// idemAnswer is one answer of a request made with Idempotency-Key.
type idemAnswer struct {
	status  int
	body    string
	headers string // the RateLimit-* and Retry-After headers
	replay  string // Idempotent-Replayed
	err     error
}

// postIdem sends body to path with the key as Bearer and Idempotency-Key
// idem (nil: none); safe in any goroutine.
func (h *harness) postIdem(path, key, body string, idem []string) idemAnswer {
	req, _ := http.NewRequest(http.MethodPost, h.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	if idem != nil {
		req.Header["Idempotency-Key"] = idem
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return idemAnswer{err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); err == nil && ct != "application/json; charset=utf-8" {
		err = fmt.Errorf("Content-Type %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); err == nil && cc != "no-store" {
		err = fmt.Errorf("Cache-Control %q", cc)
	}
	var hs []string
	for _, name := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After"} {
		hs = append(hs, name+"="+resp.Header.Get(name))
	}
	return idemAnswer{status: resp.StatusCode, body: string(raw), headers: strings.Join(hs, " "), replay: resp.Header.Get("Idempotent-Replayed"), err: err}
}

// idemConcurrently sends n identical requests at once.
func (h *harness) idemConcurrently(t *testing.T, n int, path, key, body, idem string) []idemAnswer {
	t.Helper()
	out := make([]idemAnswer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = h.postIdem(path, key, body, []string{idem})
		})
	}
	close(start)
	wg.Wait()
	replays := 0
	for _, a := range out {
		if a.err != nil {
			t.Fatal(a.err)
		}
		if a.status != 200 || a.body != out[0].body || a.headers != out[0].headers {
			t.Fatalf("answers differ: %d %s [%s] and %d %s [%s]", a.status, a.body, a.headers, out[0].status, out[0].body, out[0].headers)
		}
		if a.replay == "true" {
			replays++
		}
	}
	if replays != n-1 {
		t.Fatalf("%d of %d answers had Idempotent-Replayed: true, want %d", replays, n, n-1)
	}
	return out
}

func TestVerifyIdempotencyKey(t *testing.T) {
	h := MustServer(t)
	_, key := mustKeyFor(t, h, "ada@example.com", nil)
	out := h.idemConcurrently(t, 64, "/v1/verify", key, `{"cost":1}`, "req-1")
	var first verifyAnswer
	mustJSON(t, out[0].body, &first)
	if !first.Valid || first.Quota.Remaining != first.Quota.Limit-1 {
		t.Fatalf("first answer %s", out[0].body)
	}
	// One consumption: the next call (no Idempotency-Key) sees one less.
	_, next := h.postVerify(t, verifyJSON(key, ""), nil)
	if next.Quota.Remaining != first.Quota.Limit-2 {
		t.Errorf("after 64 identical requests and one more, %d of %d left, want %d", next.Quota.Remaining, next.Quota.Limit, next.Quota.Limit-2)
	}
	// Other parameters: 400 saying so, nothing consumed.
	for _, body := range []string{`{"cost":2}`, `{"cost":1,"scopes":["read"]}`, `{"cost":1,"ip":"203.0.113.7"}`} {
		a := h.postIdem("/v1/verify", key, body, []string{"req-1"})
		if a.status != 400 || a.replay != "" || !strings.Contains(a.body, `"code":"BAD_REQUEST"`) || !strings.Contains(a.body, "other parameters") {
			t.Errorf("%s with the same Idempotency-Key: %d %s", body, a.status, a.body)
		}
	}
	// A malformed header: BAD_REQUEST naming it.
	for _, idem := range [][]string{{""}, {strings.Repeat("x", 256)}, {"a\tb"}, {"a", "b"}} {
		a := h.postIdem("/v1/verify", key, `{"cost":1}`, idem)
		if a.status != 400 || !strings.Contains(a.body, "Idempotency-Key") || !strings.Contains(a.body, `"code":"BAD_REQUEST"`) {
			t.Errorf("Idempotency-Key %q: %d %s", idem, a.status, a.body)
		}
	}
	// A refusal consumed nothing and is answered afresh, not replayed.
	r1 := h.postIdem("/v1/verify", key, `{"scopes":["admin"]}`, []string{"req-2"})
	r2 := h.postIdem("/v1/verify", key, `{"scopes":["admin"]}`, []string{"req-2"})
	// (Bodies may differ in the rate limit's remaining: it refills between
	// the two calls.)
	if r1.status != 403 || r2.status != 403 || r2.replay != "" || !strings.Contains(r2.body, `"code":"INSUFFICIENT_SCOPE"`) {
		t.Errorf("refusal: %d %s; retry %d %s %q", r1.status, r1.body, r2.status, r2.body, r2.replay)
	}
	_, last := h.postVerify(t, verifyJSON(key, ""), nil)
	if last.Quota.Remaining != first.Quota.Limit-3 {
		t.Errorf("%d left at the end, want %d", last.Quota.Remaining, first.Quota.Limit-3)
	}
	// Replays are counted apart: not as verifications.
	p := h.Browser().Get("/metrics")
	for _, want := range []string{`keyhold_idempotent_replays_total{route="verify"} 63`, `keyhold_verify_total{code="VALID"} 3`,
		`keyhold_verify_total{code="BAD_REQUEST"} 7`, `keyhold_verify_total{code="INSUFFICIENT_SCOPE"} 2`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestIdempotencyKeyOutlivesNoRevocation: a retry with the Idempotency-Key
// of a VALID answer, after the key was revoked, is answered REVOKED (the
// revoke takes effect on the next call), not replayed, on both routes.
func TestIdempotencyKeyOutlivesNoRevocation(t *testing.T) {
	h := MustServer(t)
	keyID, key := mustKeyFor(t, h, "ada@example.com", nil)
	for _, path := range []string{"/v1/verify", "/v1/tokens"} {
		if a := h.postIdem(path, key, `{}`, []string{"before-" + path}); a.status != 200 {
			t.Fatalf("%s first: %d %s", path, a.status, a.body)
		}
		if a := h.postIdem(path, key, `{}`, []string{"before-" + path}); a.status != 200 || a.replay != "true" {
			t.Fatalf("%s retry before the revoke: %d %q, want a replay", path, a.status, a.replay)
		}
	}
	if _, err := h.Keys.RevokeAny(context.Background(), audit.Actor{}, keyID); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/verify", "/v1/tokens"} {
		a := h.postIdem(path, key, `{}`, []string{"before-" + path})
		if a.status != 401 || a.replay != "" || !strings.Contains(a.body, `"code":"REVOKED"`) {
			t.Errorf("%s retry after the revoke: %d %s (replayed %q), want 401 REVOKED afresh", path, a.status, a.body, a.replay)
		}
	}
}

func TestTokenIdempotencyKey(t *testing.T) {
	h := MustServer(t)
	_, key := mustKeyFor(t, h, "ada@example.com", nil)
	out := h.idemConcurrently(t, 64, "/v1/tokens", key, `{"ttl":120}`, "tok-1")
	var tok tokenAnswer
	mustJSON(t, out[0].body, &tok)
	if tok.Token == "" || tok.ExpiresIn != 120 {
		t.Fatalf("first answer %s", out[0].body)
	}
	_, next := h.postVerify(t, verifyJSON(key, ""), nil)
	if next.Quota.Remaining != next.Quota.Limit-2 {
		t.Errorf("after 64 identical exchanges and a verification, %d of %d left, want one exchange charged", next.Quota.Remaining, next.Quota.Limit)
	}
	for _, body := range []string{`{"ttl":121}`, `{"ttl":120,"scopes":["read"]}`, `{"ttl":120,"cost":2}`} {
		a := h.postIdem("/v1/tokens", key, body, []string{"tok-1"})
		if a.status != 400 || strings.Contains(a.body, tok.Token) || !strings.Contains(a.body, "other parameters") {
			t.Errorf("%s with the same Idempotency-Key: %d %s", body, a.status, a.body)
		}
	}
	// The same Idempotency-Key on /v1/verify is another request.
	if a := h.postIdem("/v1/verify", key, `{"cost":1}`, []string{"tok-1"}); a.status != 400 {
		t.Errorf("the token's Idempotency-Key on /v1/verify: %d %s", a.status, a.body)
	}
	p := h.Browser().Get("/metrics")
	for _, want := range []string{`keyhold_idempotent_replays_total{route="tokens"} 63`, `keyhold_token_exchanges_total{code="VALID"} 1`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func mustJSON(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
}
