package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"
)

type tokenAnswer struct {
	Token     string    `json:"token"`
	TokenType string    `json:"token_type"`
	ExpiresIn int64     `json:"expires_in"`
	ExpiresAt time.Time `json:"expires_at"`
	KeyID     string    `json:"key_id"`
	verifyAnswer
}

// postToken sends body to /v1/tokens with the key as Bearer.
func (h *harness) postToken(t *testing.T, key, body string) (*http.Response, tokenAnswer, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/v1/tokens", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a tokenAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer is not JSON (%d): %q", resp.StatusCode, raw)
	}
	return resp, a, raw
}

func (h *harness) getJWKS(t *testing.T) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(h.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// nodeVerify checks a compact JWT against a JWKS with Node's crypto: an
// implementation that shares nothing with ours. It prints the claims.
const nodeVerify = `
const crypto = require('crypto');
const [token, jwks] = [process.argv[1], JSON.parse(process.argv[2])];
const [h, p, s] = token.split('.');
const header = JSON.parse(Buffer.from(h, 'base64url'));
if (header.alg !== 'ES256' || header.typ !== 'JWT') { console.error('header', header); process.exit(2); }
const jwk = jwks.keys.find(k => k.kid === header.kid);
if (!jwk) { console.error('kid not published'); process.exit(3); }
const key = crypto.createPublicKey({key: jwk, format: 'jwk'});
const ok = crypto.verify('sha256', Buffer.from(h + '.' + p), {key, dsaEncoding: 'ieee-p1363'}, Buffer.from(s, 'base64url'));
if (!ok) { console.error('bad signature'); process.exit(4); }
process.stdout.write(Buffer.from(p, 'base64url').toString());
`

func nodeCheck(t *testing.T, token, jwks string) (map[string]any, error) {
	t.Helper()
	out, err := exec.Command("node", "-e", nodeVerify, token, jwks).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Logf("node: %s", ee.Stderr)
		}
		return nil, err
	}
	var claims map[string]any
	if err := json.Unmarshal(out, &claims); err != nil {
		t.Fatalf("claims %q: %v", out, err)
	}
	return claims, nil
}

func TestTokenExchange(t *testing.T) {
	h := MustServer(t)
	id, key := mustKeyFor(t, h, "ada@example.com", url.Values{"scopes": {"read write"}, "meta": {`{"tier":"gold"}`}})
	resp, a, raw := h.postToken(t, key, `{"ttl":120,"scopes":["read"]}`)
	if resp.StatusCode != 200 || a.TokenType != "Bearer" || a.ExpiresIn != 120 || a.KeyID != id || a.Token == "" {
		t.Fatalf("exchange: %d %s", resp.StatusCode, raw)
	}
	if resp.Header.Get("RateLimit-Remaining") == "" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", resp.Header)
	}
	jr, jwks := h.getJWKS(t)
	if jr.Header.Get("Cache-Control") != "public, max-age=300" || !strings.Contains(jwks, `"kty":"EC"`) || !strings.Contains(jwks, `"use":"sig"`) || !strings.Contains(jwks, `"alg":"ES256"`) {
		t.Errorf("jwks: %v %s", jr.Header, jwks)
	}
	claims, err := nodeCheck(t, a.Token, jwks)
	if err != nil {
		t.Fatalf("node refused the token: %v", err)
	}
	want := map[string]any{"iss": "http://localhost:8080", "sub": id, "aud": "http://localhost:8080", "scope": "read", "plan": "free"}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v (%v)", k, claims[k], v, claims)
		}
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 120 || claims["nbf"] != claims["iat"] || int64(exp) != a.ExpiresAt.Unix() {
		t.Errorf("times: %v", claims)
	}
	if claims["jti"] == "" || claims["acct"] == "" || claims["acct"] == nil {
		t.Errorf("jti/acct: %v", claims)
	}
	if m, _ := claims["meta"].(map[string]any); m["tier"] != "gold" {
		t.Errorf("meta: %v", claims["meta"])
	}
	// A tampered payload fails the independent check.
	parts := strings.Split(a.Token, ".")
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	p = []byte(strings.Replace(string(p), `"scope":"read"`, `"scope":"read write"`, 1))
	if _, err := nodeCheck(t, parts[0]+"."+base64.RawURLEncoding.EncodeToString(p)+"."+parts[2], jwks); err == nil {
		t.Error("node accepted a tampered token")
	}
	// No scopes asked: all of the key's; the default ttl is 300.
	_, a, raw = h.postToken(t, key, ``)
	claims, err = nodeCheck(t, a.Token, jwks)
	if err != nil || claims["scope"] != "read write" || a.ExpiresIn != 300 {
		t.Errorf("defaults: %s %v %v", raw, claims, err)
	}
	// The issuer's metadata names the JWKS.
	r, err := http.Get(h.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var oc map[string]any
	_ = json.NewDecoder(r.Body).Decode(&oc)
	r.Body.Close()
	if oc["issuer"] != "http://localhost:8080" || oc["jwks_uri"] != "http://localhost:8080/.well-known/jwks.json" {
		t.Errorf("openid-configuration: %v", oc)
	}
	// Exchanges are counted as token_issued, with their cost.
	if err := h.Verifier.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var issued, valid, cost int64
	if err := h.queryRow("SELECT SUM(token_issued), SUM(valid), SUM(cost) FROM usage_hourly WHERE key_id = ?", id).Scan(&issued, &valid, &cost); err != nil {
		t.Fatal(err)
	}
	if issued != 2 || valid != 0 || cost != 2 {
		t.Errorf("usage: token_issued %d valid %d cost %d", issued, valid, cost)
	}
}

func TestTokenKeyPage(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	id, _ := b.MustCreateKey("api", nil)
	p := b.Get("/keys/" + id)
	curl := p.Doc.Find(`[data-testid="token-curl"]`).Text()
	if !strings.Contains(curl, "curl -X POST http://localhost:8080/v1/tokens") || !strings.Contains(curl, `Authorization: Bearer kh_live_`) || !strings.Contains(curl, `{"ttl":300}`) {
		t.Errorf("curl %q", curl)
	}
	if note := p.Doc.Find(`[data-testid="token-revoke-note"]`).Text(); !strings.Contains(note, "at most 15 minutes") {
		t.Errorf("note %q", note)
	}
}

func TestTokenRefusalsMatchVerify(t *testing.T) {
	h := MustServer(t)
	ada := h.Browser()
	ada.MustSignup("ada@example.com")
	revokedID, revoked := ada.MustCreateKey("gone", nil)
	ada.Submit("/keys/"+revokedID, "/keys/"+revokedID+"/revoke", url.Values{})
	expiredID, expired := ada.MustCreateKey("old", nil)
	h.exec("UPDATE api_keys SET expires_at = ? WHERE id = ?", time.Now().Add(-time.Hour).UTC(), expiredID)
	h.Verifier.InvalidateKey(expiredID)
	_, scoped := ada.MustCreateKey("scoped", url.Values{"scopes": {"read"}})
	quotaID, overQuota := ada.MustCreateKey("quota", nil)
	zero := int64(1)
	if err := h.DB.SetKeyOverrides(context.Background(), quotaID, nil, nil, &zero); err != nil {
		t.Fatal(err)
	}
	h.Verifier.InvalidateKey(quotaID)
	if resp, _, raw := h.postToken(t, overQuota, ``); resp.StatusCode != 200 {
		t.Fatalf("first exchange: %d %s", resp.StatusCode, raw)
	}

	tests := []struct {
		name, key, body string
		status          int
		code            string
	}{
		{"revoked", revoked, ``, 401, "REVOKED"},
		{"expired", expired, ``, 401, "EXPIRED"},
		{"over quota", overQuota, ``, 429, "QUOTA_EXCEEDED"},
		{"scope not the key's", scoped, `{"scopes":["write"]}`, 403, "INSUFFICIENT_SCOPE"},
		{"malformed", "kh_live_short", ``, 401, "MALFORMED"},
		{"ttl too short", scoped, `{"ttl":59}`, 400, "BAD_REQUEST"},
		{"ttl too long", scoped, `{"ttl":901}`, 400, "BAD_REQUEST"},
		{"ttl fractional", scoped, `{"ttl":300.5}`, 400, "BAD_REQUEST"},
		{"ttl a string", scoped, `{"ttl":"300"}`, 400, "BAD_REQUEST"},
		{"unknown audience", scoped, `{"audience":"https://evil.example"}`, 400, "BAD_REQUEST"},
		{"cost 0 (a check, not an exchange)", scoped, `{"cost":0}`, 400, "BAD_REQUEST"},
		{"audience not a string", scoped, `{"audience":1}`, 400, "BAD_REQUEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, a, raw := h.postToken(t, tt.key, tt.body)
			if resp.StatusCode != tt.status || a.Code != tt.code || a.Token != "" || a.Message == "" {
				t.Fatalf("got %d %s", resp.StatusCode, raw)
			}
			if strings.HasPrefix(tt.name, "ttl") && !strings.Contains(a.Message, "60 to 900") {
				t.Errorf("message %q does not name the range", a.Message)
			}
			if tt.code == "BAD_REQUEST" {
				return
			}
			// The same answer as verify's, headers included.
			body := `{"key":"` + tt.key + `"}`
			if tt.body != "" {
				body = `{"key":"` + tt.key + `",` + tt.body[1:]
			}
			vr, va := h.postVerify(t, strings.NewReader(body), nil)
			if vr.StatusCode != resp.StatusCode || va.Code != a.Code || (vr.Header.Get("Retry-After") == "") != (resp.Header.Get("Retry-After") == "") {
				t.Errorf("verify answers %d %s, tokens %d %s", vr.StatusCode, va.Raw, resp.StatusCode, raw)
			}
		})
	}
}

func TestTokenRateLimited(t *testing.T) {
	h := MustServer(t)
	_, key := mustKeyFor(t, h, "ada@example.com", nil)
	for range 30 { // free plan: burst 20
		resp, a, raw := h.postToken(t, key, ``)
		if a.Code == "RATE_LIMITED" {
			if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || a.Token != "" {
				t.Fatalf("rate limited: %d %v %s", resp.StatusCode, resp.Header, raw)
			}
			return
		}
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, raw)
		}
	}
	t.Fatal("never rate limited past the burst")
}

// TestTokenMetrics counts exchanges by outcome code apart from
// verifications: a token issued is VALID, a bad ttl BAD_REQUEST.
func TestTokenMetrics(t *testing.T) {
	h := MustServer(t)
	_, key := mustKeyFor(t, h, "ada@example.com", nil)
	if resp, _, raw := h.postToken(t, key, `{}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("exchange: %d %s", resp.StatusCode, raw)
	}
	h.postToken(t, key, `{"ttl":5}`)
	h.postToken(t, "kh_live_x", `{}`)
	p := h.Browser().Get("/metrics")
	for _, want := range []string{`keyhold_token_exchanges_total{code="VALID"} 1`, `keyhold_token_exchanges_total{code="BAD_REQUEST"} 1`,
		`keyhold_token_exchanges_total{code="MALFORMED"} 1`, `keyhold_verify_total{code="VALID"} 0`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(p.Body, key[8:40]) {
		t.Error("a key is in the metrics")
	}
}
