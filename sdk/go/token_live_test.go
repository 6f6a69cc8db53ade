package keyhold_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	keyhold "github.com/keyhold/keyhold/sdk/go"
)

// requireTokens fails the test when the test Keyhold does not publish its
// token keys.
func requireTokens(t *testing.T) {
	t.Helper()
	resp, err := http.Get(keyholdURL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /.well-known/jwks.json: %d", resp.StatusCode)
	}
}

// TestTokenLive exchanges keys of the real Keyhold for tokens and checks
// them offline with the SDK: an issued token verifies with the claims of
// its key; a refused key gets verify's code and no token.
func TestTokenLive(t *testing.T) {
	requireTokens(t)
	p := newPortal(t)
	kh := keyhold.New(keyholdURL)
	ctx := context.Background()
	key := p.createKey("exchanger", "read,write")

	tok, refusal, err := kh.Token(ctx, key, keyhold.TokenOptions{Scopes: []string{"read"}, TTL: 2 * time.Minute})
	if err != nil || refusal != nil {
		t.Fatalf("Token = %+v, %v; want a token", refusal, err)
	}
	if tok.TokenType != "Bearer" || tok.ExpiresIn != 2*time.Minute || tok.KeyID == "" ||
		tok.ExpiresAt.Before(time.Now().Add(time.Minute)) || tok.ExpiresAt.After(time.Now().Add(3*time.Minute)) {
		t.Errorf("token = type %q, in %s, at %s, key %q", tok.TokenType, tok.ExpiresIn, tok.ExpiresAt, tok.KeyID)
	}
	v := kh.TokenVerifier()
	claims, err := v.VerifyToken(ctx, tok.Token, keyhold.TokenCheck{Scopes: []string{"read"}})
	if err != nil {
		t.Fatalf("VerifyToken of Keyhold's token = %v", err)
	}
	if claims.KeyID != tok.KeyID || claims.AccountID == "" || claims.Plan != "free" || claims.Issuer != keyholdURL ||
		len(claims.Scopes) != 1 || claims.Scopes[0] != "read" || claims.ID == "" {
		t.Errorf("claims = %+v", claims)
	}
	if d := claims.ExpiresAt.Sub(tok.ExpiresAt); d < -time.Second || d > time.Second {
		t.Errorf("exp %s, want the answer's expires_at %s", claims.ExpiresAt, tok.ExpiresAt)
	}
	if _, err := v.VerifyToken(ctx, tok.Token, keyhold.TokenCheck{Scopes: []string{"write"}}); !errors.Is(err, keyhold.ErrTokenScope) {
		t.Errorf("a scope left out of the token: %v, want ErrTokenScope", err)
	}
	parts := strings.Split(tok.Token, ".")
	parts[1] = parts[1][:len(parts[1])-2] + "AA"
	if _, err := v.VerifyToken(ctx, strings.Join(parts, "."), keyhold.TokenCheck{}); err == nil {
		t.Error("a tampered token of Keyhold's verified")
	}

	// The default scopes are the key's; the middleware lets the token in.
	all, _, err := kh.Token(ctx, key, keyhold.TokenOptions{})
	if err != nil || all == nil {
		t.Fatalf("Token with defaults = %v", err)
	}
	srv := httptest.NewServer(kh.TokenMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Join(keyhold.TokenFromContext(r.Context()).Scopes, " "))
	}), keyhold.WithTokenCheck(keyhold.TokenCheck{Scopes: []string{"write"}})))
	t.Cleanup(srv.Close)
	if a := call(t, srv.URL, map[string]string{"Authorization": "Bearer " + all.Token}); a.status != 200 || a.body != "read write" {
		t.Errorf("middleware = %d %q, want 200 with the key's scopes", a.status, a.body)
	}

	revoked := p.createKey("revoked", "")
	vr := mustVerify(t, kh, revoked, keyhold.VerifyOptions{Cost: keyhold.NoCost})
	p.revokeKey(vr.KeyID)
	for _, tc := range []struct {
		name   string
		key    string
		opts   keyhold.TokenOptions
		code   keyhold.Code
		status int
	}{
		{"revoked", revoked, keyhold.TokenOptions{}, keyhold.CodeRevoked, 401},
		{"malformed", "kh_live_nope", keyhold.TokenOptions{}, keyhold.CodeMalformed, 401},
		{"scope beyond the key's", key, keyhold.TokenOptions{Scopes: []string{"admin"}}, keyhold.CodeInsufficientScope, 403},
		{"ttl too long", key, keyhold.TokenOptions{TTL: time.Hour}, keyhold.CodeBadRequest, 400},
		{"ttl too short", key, keyhold.TokenOptions{TTL: time.Second}, keyhold.CodeBadRequest, 400},
		{"unknown audience", key, keyhold.TokenOptions{Audience: "https://elsewhere.example"}, keyhold.CodeBadRequest, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, v, err := kh.Token(ctx, tc.key, tc.opts)
			if err != nil || tok != nil || v == nil || v.Valid || v.Code != tc.code || v.StatusCode != tc.status {
				t.Fatalf("Token = %+v, %+v, %v; want refused %s %d", tok, v, err, tc.code, tc.status)
			}
		})
	}
}
