package keyhold_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	keyhold "github.com/keyhold/keyhold/sdk/go"
)

// fakeTokens is a POST /v1/tokens that records the request and answers
// status with body and headers.
func fakeTokens(t *testing.T, status int, body string, headers map[string]string) (string, *map[string]any) {
	t.Helper()
	got := map[string]any{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/tokens" {
			http.NotFound(w, r)
			return
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &got)
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &got
}

// TestTokenRequestAndAnswer checks what Client.Token sends and how it
// reads an issued token.
func TestTokenRequestAndAnswer(t *testing.T) {
	u, sent := fakeTokens(t, 200, `{"token":"eyJ.a.b","token_type":"Bearer","expires_in":120,"expires_at":"2030-01-02T03:04:05Z","key_id":"key_01"}`, nil)
	tok, refusal, err := keyhold.New(u).Token(context.Background(), "kh_live_x", keyhold.TokenOptions{
		Scopes: []string{"read"}, TTL: 119500 * time.Millisecond, Audience: "billing", Cost: 3,
	})
	if err != nil || refusal != nil {
		t.Fatalf("Token = %v, %v; want a token", refusal, err)
	}
	want := keyhold.Token{Token: "eyJ.a.b", TokenType: "Bearer", ExpiresIn: 2 * time.Minute, ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), KeyID: "key_01"}
	if tok.Token != want.Token || tok.TokenType != want.TokenType || tok.ExpiresIn != want.ExpiresIn || !tok.ExpiresAt.Equal(want.ExpiresAt) || tok.KeyID != want.KeyID {
		t.Errorf("token = %+v, want %+v", tok, want)
	}
	b, _ := json.Marshal(*sent)
	if string(b) != `{"audience":"billing","cost":3,"key":"kh_live_x","scopes":["read"],"ttl":120}` {
		t.Errorf("sent %s", b)
	}

	u, sent = fakeTokens(t, 200, `{"token":"eyJ.a.b","token_type":"Bearer","expires_in":300,"expires_at":1893456000,"key_id":"key_01"}`, nil)
	tok, _, err = keyhold.New(u).Token(context.Background(), "kh_live_x", keyhold.TokenOptions{})
	if err != nil || tok.ExpiresAt.Unix() != 1893456000 {
		t.Errorf("expires_at as Unix seconds: %+v, %v", tok, err)
	}
	if b, _ := json.Marshal(*sent); string(b) != `{"key":"kh_live_x"}` {
		t.Errorf("defaults sent %s, want the key alone", b)
	}
}

// TestTokenRefusalsAndErrors checks that a refused key is a Verification
// read as Verify reads it, and that no answer is an *Error.
func TestTokenRefusalsAndErrors(t *testing.T) {
	ctx := context.Background()
	u, _ := fakeTokens(t, 429, `{"valid":false,"code":"RATE_LIMITED","message":"Slow down.","key_id":"key_01","ratelimit":{"limit":10,"remaining":0,"reset":"2030-01-01T00:00:00Z"}}`,
		map[string]string{"Retry-After": "3", "RateLimit-Limit": "10"})
	tok, v, err := keyhold.New(u).Token(ctx, "kh_live_x", keyhold.TokenOptions{})
	if err != nil || tok != nil || v == nil || v.Valid || v.Code != keyhold.CodeRateLimited || v.StatusCode != 429 || v.RetryAfter != 3*time.Second || v.KeyID != "key_01" {
		t.Fatalf("rate limited: %+v, %+v, %v; want the refusal", tok, v, err)
	}
	u, _ = fakeTokens(t, 403, `{"valid":false,"code":"INSUFFICIENT_SCOPE","message":"No."}`, nil)
	if _, v, err := keyhold.New(u).Token(ctx, "kh_live_x", keyhold.TokenOptions{Scopes: []string{"admin"}}); err != nil || v.Code != keyhold.CodeInsufficientScope {
		t.Errorf("scope: %+v, %v", v, err)
	}

	for _, tc := range []struct {
		name   string
		status int
		body   string
		kind   error
	}{
		{"unavailable", 503, `{"valid":false,"code":"UNAVAILABLE"}`, keyhold.ErrServer},
		{"200 without a token", 200, `{"valid":true,"code":"VALID"}`, keyhold.ErrBadAnswer},
		{"200 not JSON", 200, `<html>`, keyhold.ErrBadAnswer},
		{"a proxy's 200 of another type", 200, `{"token":"x","token_type":"mac","expires_in":300}`, keyhold.ErrBadAnswer},
		{"a 401 claiming valid", 401, `{"valid":true,"code":"VALID"}`, keyhold.ErrBadAnswer},
		{"404", 404, `not found`, keyhold.ErrBadAnswer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, _ := fakeTokens(t, tc.status, tc.body, nil)
			tok, v, err := keyhold.New(u).Token(ctx, "kh_live_secret", keyhold.TokenOptions{})
			if tok != nil || v != nil || !errors.Is(err, tc.kind) {
				t.Fatalf("Token = %+v, %+v, %v; want an error of kind %v", tok, v, err, tc.kind)
			}
			if strings.Contains(err.Error(), "kh_live_secret") {
				t.Errorf("the error %q quotes the key", err)
			}
		})
	}
	if _, _, err := keyhold.New(closedURL(t)).Token(ctx, "k", keyhold.TokenOptions{}); !errors.Is(err, keyhold.ErrUnreachable) {
		t.Errorf("unreachable: %v", err)
	}
	if _, _, err := keyhold.New("nope").Token(ctx, "k", keyhold.TokenOptions{}); !errors.Is(err, keyhold.ErrInvalidBaseURL) {
		t.Errorf("bad base URL: %v", err)
	}
}
