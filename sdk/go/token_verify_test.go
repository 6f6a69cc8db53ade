package keyhold_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	keyhold "github.com/keyhold/keyhold/sdk/go"
)

// newVerifier returns a verifier of is's tokens on a clock of its own.
func newVerifier(t testing.TB, is *testIssuer) (*keyhold.TokenVerifier, *clock) {
	t.Helper()
	v := keyhold.New(is.URL).TokenVerifier()
	c := newClock(time.Now())
	keyhold.SetTokenClock(v, c.now)
	return v, c
}

// TestVerifyTokenValid checks a genuine token and the claims it yields.
func TestVerifyTokenValid(t *testing.T) {
	is := newTestIssuer(t)
	k := is.publish("k1")
	v, clk := newVerifier(t, is)
	now := clk.now()
	token := sign(t, k, "k1", is.claims(now))

	got, err := v.VerifyToken(context.Background(), token, keyhold.TokenCheck{Scopes: []string{"read"}})
	if err != nil {
		t.Fatalf("VerifyToken = %v, want the claims", err)
	}
	if got.KeyID != "key_01" || got.AccountID != "acct_01" || got.Plan != "pro" || got.ID != "tok_01" ||
		got.Issuer != is.URL || got.Audience != is.URL || got.Meta["team"] != "blue" {
		t.Errorf("claims = %+v", got)
	}
	if len(got.Scopes) != 2 || !got.HasScope("read") || !got.HasScope("write") || got.HasScope("admin") {
		t.Errorf("scopes = %v, want read write", got.Scopes)
	}
	if !got.ExpiresAt.Equal(time.Unix(now.Add(5*time.Minute).Unix(), 0)) || !got.IssuedAt.Equal(time.Unix(now.Unix(), 0)) || got.NotBefore.IsZero() {
		t.Errorf("times: iat %v nbf %v exp %v", got.IssuedAt, got.NotBefore, got.ExpiresAt)
	}
}

// TestVerifyTokenRefusals makes each kind of bad token and checks that it
// is refused with its reason, and that the error never quotes the token.
func TestVerifyTokenRefusals(t *testing.T) {
	is := newTestIssuer(t)
	k := is.publish("k1")
	v, clk := newVerifier(t, is)
	now := clk.now()
	with := func(change map[string]any) map[string]any {
		c := is.claims(now)
		maps.Copy(c, change)
		return c
	}
	without := func(name string) map[string]any {
		c := is.claims(now)
		delete(c, name)
		return c
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pubRaw, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	other := newKey(t) // another Keyhold's key
	tampered := func() string {
		parts := strings.Split(sign(t, k, "k1", is.claims(now)), ".")
		parts[1] = segment(t, with(map[string]any{"scope": "read write admin"}))
		return strings.Join(parts, ".")
	}()

	cases := []struct {
		name   string
		token  string
		check  keyhold.TokenCheck
		reason error
	}{
		{"alg none", unsigned(t, map[string]any{"alg": "none", "kid": "k1", "typ": "JWT"}, is.claims(now)), keyhold.TokenCheck{}, keyhold.ErrTokenAlgorithm},
		{"alg None", unsigned(t, map[string]any{"alg": "None", "kid": "k1"}, is.claims(now)), keyhold.TokenCheck{}, keyhold.ErrTokenAlgorithm},
		{"no alg", unsigned(t, map[string]any{"kid": "k1"}, is.claims(now)), keyhold.TokenCheck{}, keyhold.ErrTokenAlgorithm},
		{"HS256 with the public key's PEM", signHS256(t, pubPEM, "k1", is.claims(now)), keyhold.TokenCheck{}, keyhold.ErrTokenAlgorithm},
		{"HS256 with the public key's bytes", signHS256(t, pubRaw, "k1", is.claims(now)), keyhold.TokenCheck{}, keyhold.ErrTokenAlgorithm},
		{"RS256", unsigned(t, map[string]any{"alg": "RS256", "kid": "k1"}, is.claims(now)) + "c2ln", keyhold.TokenCheck{}, keyhold.ErrTokenAlgorithm},
		{"unpublished kid", sign(t, k, "k9", is.claims(now)), keyhold.TokenCheck{}, keyhold.ErrTokenUnknownKey},
		{"no kid", sign(t, k, "", is.claims(now)), keyhold.TokenCheck{}, keyhold.ErrTokenUnknownKey},
		{"another Keyhold's key and kid", sign(t, other, "theirs", is.claims(now)), keyhold.TokenCheck{}, keyhold.ErrTokenUnknownKey},
		{"another Keyhold's key, our kid", sign(t, other, "k1", is.claims(now)), keyhold.TokenCheck{}, keyhold.ErrTokenSignature},
		{"tampered claim", tampered, keyhold.TokenCheck{}, keyhold.ErrTokenSignature},
		{"signature cut", func() string { s := sign(t, k, "k1", is.claims(now)); return s[:len(s)-8] }(), keyhold.TokenCheck{}, keyhold.ErrTokenSignature},
		{"cut short", sign(t, k, "k1", is.claims(now))[:150], keyhold.TokenCheck{}, keyhold.ErrTokenMalformed},
		{"expired", sign(t, k, "k1", with(map[string]any{"exp": now.Add(-time.Minute).Unix()})), keyhold.TokenCheck{}, keyhold.ErrTokenExpired},
		{"expired, no leeway", sign(t, k, "k1", with(map[string]any{"exp": now.Add(-10 * time.Second).Unix()})), keyhold.TokenCheck{Leeway: -1}, keyhold.ErrTokenExpired},
		{"not yet valid", sign(t, k, "k1", with(map[string]any{"nbf": now.Add(2 * time.Minute).Unix()})), keyhold.TokenCheck{}, keyhold.ErrTokenNotYetValid},
		{"issued in the future", sign(t, k, "k1", with(map[string]any{"iat": now.Add(2 * time.Minute).Unix()})), keyhold.TokenCheck{}, keyhold.ErrTokenNotYetValid},
		{"wrong audience", sign(t, k, "k1", with(map[string]any{"aud": "https://elsewhere.example"})), keyhold.TokenCheck{}, keyhold.ErrTokenAudience},
		{"audience not the one checked", sign(t, k, "k1", is.claims(now)), keyhold.TokenCheck{Audience: "billing"}, keyhold.ErrTokenAudience},
		{"no audience", sign(t, k, "k1", without("aud")), keyhold.TokenCheck{}, keyhold.ErrTokenAudience},
		{"wrong issuer", sign(t, k, "k1", with(map[string]any{"iss": "https://other-keyhold.example"})), keyhold.TokenCheck{}, keyhold.ErrTokenIssuer},
		{"issuer with a slash", sign(t, k, "k1", with(map[string]any{"iss": is.URL + "/"})), keyhold.TokenCheck{}, keyhold.ErrTokenIssuer},
		{"no issuer", sign(t, k, "k1", without("iss")), keyhold.TokenCheck{}, keyhold.ErrTokenIssuer},
		{"no exp", sign(t, k, "k1", without("exp")), keyhold.TokenCheck{}, keyhold.ErrTokenMalformed},
		{"missing scope", sign(t, k, "k1", is.claims(now)), keyhold.TokenCheck{Scopes: []string{"read", "admin"}}, keyhold.ErrTokenScope},
		{"empty", "", keyhold.TokenCheck{}, keyhold.ErrTokenMalformed},
		{"not a JWT", "kh_live_notajwt", keyhold.TokenCheck{}, keyhold.ErrTokenMalformed},
		{"bad base64", "e30.%%%.e30", keyhold.TokenCheck{}, keyhold.ErrTokenMalformed},
		{"too long", sign(t, k, "k1", with(map[string]any{"pad": strings.Repeat("a", 9000)})), keyhold.TokenCheck{}, keyhold.ErrTokenMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.VerifyToken(context.Background(), tc.token, tc.check)
			if got != nil || !errors.Is(err, tc.reason) {
				t.Fatalf("VerifyToken = %+v, %v; want the reason %v", got, err, tc.reason)
			}
			var te *keyhold.TokenError
			if !errors.As(err, &te) || te.Reason != tc.reason {
				t.Fatalf("error %#v is not a *TokenError of that reason", err)
			}
			for _, part := range strings.Split(tc.token, ".") {
				if len(part) >= 8 && strings.Contains(err.Error(), part) {
					t.Errorf("the error %q quotes the token", err)
				}
			}
			for _, s := range []string{"HS256", "RS256", "none", "theirs", "k9", "elsewhere", "other-keyhold"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the error %q quotes the token's %q", err, s)
				}
			}
		})
	}
	t.Run("algorithm is a signature failure too", func(t *testing.T) {
		_, err := v.VerifyToken(context.Background(), cases[0].token, keyhold.TokenCheck{})
		if !errors.Is(err, keyhold.ErrTokenSignature) {
			t.Errorf("errors.Is(%v, ErrTokenSignature) = false", err)
		}
	})
	t.Run("within the leeway", func(t *testing.T) {
		for name, c := range map[string]map[string]any{
			"expired 10 s ago": with(map[string]any{"exp": now.Add(-10 * time.Second).Unix()}),
			"nbf in 10 s":      with(map[string]any{"nbf": now.Add(10 * time.Second).Unix()}),
		} {
			if _, err := v.VerifyToken(context.Background(), sign(t, k, "k1", c), keyhold.TokenCheck{}); err != nil {
				t.Errorf("%s: %v, want valid within the default 30 s leeway", name, err)
			}
		}
	})
}

// TestVerifyTokenAudienceAndScopes checks a named audience (as a string
// and in an array) and the scope check.
func TestVerifyTokenAudienceAndScopes(t *testing.T) {
	is := newTestIssuer(t)
	k := is.publish("k1")
	v, clk := newVerifier(t, is)
	c := is.claims(clk.now())
	c["aud"] = "billing"
	single := sign(t, k, "k1", c)
	c["aud"] = []string{"search", "billing"}
	several := sign(t, k, "k1", c)
	for name, token := range map[string]string{"string": single, "array": several} {
		got, err := v.VerifyToken(context.Background(), token, keyhold.TokenCheck{Audience: "billing", Scopes: []string{"write", "read"}})
		if err != nil || got.Audience != "billing" {
			t.Errorf("aud as %s: %+v, %v; want valid for billing", name, got, err)
		}
	}
	_, err := v.VerifyToken(context.Background(), single, keyhold.TokenCheck{Audience: "billing", Scopes: []string{"admin"}})
	var te *keyhold.TokenError
	if !errors.As(err, &te) || te.Reason != keyhold.ErrTokenScope || !strings.Contains(te.Detail, "admin") || te.StatusCode() != 403 || te.Code() != "INSUFFICIENT_SCOPE" {
		t.Errorf("missing scope: %v, want ErrTokenScope naming admin, 403 INSUFFICIENT_SCOPE", err)
	}
}

// TestTokenKeyCache checks when the verifier fetches Keyhold's keys: once
// at first, again for an unknown kid at most once a minute, in the
// background when stale, and never needed while the cache holds the key,
// even with the JWKS down.
func TestTokenKeyCache(t *testing.T) {
	is := newTestIssuer(t)
	k1 := is.publish("k1")
	v, clk := newVerifier(t, is)
	ctx := context.Background()
	check := func(step, kid string, wantErr error, wantHits int32) {
		t.Helper()
		k := is.key(kid)
		if k == nil {
			k = newKey(t) // an unpublished kid
		}
		_, err := v.VerifyToken(ctx, sign(t, k, kid, is.claims(clk.now())), keyhold.TokenCheck{})
		if wantErr == nil && err != nil || wantErr != nil && !errors.Is(err, wantErr) {
			t.Fatalf("%s: VerifyToken = %v, want %v", step, err, wantErr)
		}
		keyhold.WaitTokenRefresh(v)
		if got := is.hits.Load(); got != wantHits {
			t.Fatalf("%s: %d fetches of the JWKS, want %d", step, got, wantHits)
		}
	}

	check("first token", "k1", nil, 1)
	check("same key again", "k1", nil, 1)
	is.publish("k2")
	check("a new kid within the minute", "k2", keyhold.ErrTokenUnknownKey, 1)
	clk.advance(61 * time.Second)
	check("the new kid a minute later", "k2", nil, 2)
	for range 20 {
		check("unknown kids, many", "nope", keyhold.ErrTokenUnknownKey, 2)
	}
	clk.advance(61 * time.Second)
	check("an unknown kid a minute later", "nope", keyhold.ErrTokenUnknownKey, 3)
	check("known keys meanwhile", "k1", nil, 3)

	clk.advance(5 * time.Minute) // past max-age=300
	check("stale: served, refreshed behind", "k1", nil, 4)
	check("fresh again", "k2", nil, 4)

	is.setDown(true)
	clk.advance(10 * time.Minute)
	check("stale and Keyhold down: cached keys verify", "k1", nil, 5)
	check("still down, within the minute: no fetch", "k2", nil, 5)
	clk.advance(61 * time.Second)
	check("unknown kid while down", "nope", keyhold.ErrTokenUnknownKey, 6)
	is.srv.Close() // unreachable, not just failing
	clk.advance(10 * time.Minute)
	check("unreachable: cached keys verify", "k1", nil, 6)
	if _, err := v.VerifyToken(ctx, sign(t, k1, "k1", is.claims(clk.now())), keyhold.TokenCheck{}); err != nil {
		t.Fatalf("after a failed refresh: %v", err)
	}
}

// TestTokenKeysConcurrent verifies tokens of a kid not yet cached from
// many goroutines at once: one fetch serves them all (run with -race).
func TestTokenKeysConcurrent(t *testing.T) {
	is := newTestIssuer(t)
	k := is.publish("k1")
	v, clk := newVerifier(t, is)
	token := sign(t, k, "k1", is.claims(clk.now()))
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			if _, err := v.VerifyToken(context.Background(), token, keyhold.TokenCheck{}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := is.hits.Load(); got != 1 {
		t.Errorf("%d fetches of the JWKS, want 1", got)
	}
}

// TestTokenKeysUnavailable checks a verifier that never got the keys:
// Keyhold unreachable or failing is ErrTokenKeysUnavailable (nothing is
// known about the token), with the cause for errors.Is, and once Keyhold
// answers the token verifies.
func TestTokenKeysUnavailable(t *testing.T) {
	is := newTestIssuer(t)
	k := is.publish("k1")
	token := sign(t, k, "k1", is.claims(time.Now()))

	v := keyhold.New(closedURL(t)).TokenVerifier()
	_, err := v.VerifyToken(context.Background(), token, keyhold.TokenCheck{})
	if !errors.Is(err, keyhold.ErrTokenKeysUnavailable) || !errors.Is(err, keyhold.ErrUnreachable) {
		t.Errorf("unreachable Keyhold: %v, want ErrTokenKeysUnavailable and ErrUnreachable", err)
	}
	if err := v.Refresh(context.Background()); !errors.Is(err, keyhold.ErrUnreachable) {
		t.Errorf("Refresh = %v, want ErrUnreachable", err)
	}

	is.setDown(true)
	v, clk := newVerifier(t, is)
	_, err = v.VerifyToken(context.Background(), token, keyhold.TokenCheck{})
	if !errors.Is(err, keyhold.ErrTokenKeysUnavailable) || !errors.Is(err, keyhold.ErrServer) {
		t.Errorf("failing Keyhold: %v, want ErrTokenKeysUnavailable and ErrServer", err)
	}
	is.setDown(false)
	if _, err := v.VerifyToken(context.Background(), token, keyhold.TokenCheck{}); !errors.Is(err, keyhold.ErrTokenKeysUnavailable) {
		t.Errorf("within a second of the failure: %v, want no new fetch yet", err)
	}
	clk.advance(2 * time.Second)
	if _, err := v.VerifyToken(context.Background(), token, keyhold.TokenCheck{}); err != nil {
		t.Errorf("Keyhold back: %v, want valid", err)
	}

	_, err = keyhold.New("not a url").TokenVerifier().VerifyToken(context.Background(), token, keyhold.TokenCheck{})
	if !errors.Is(err, keyhold.ErrTokenKeysUnavailable) || !errors.Is(err, keyhold.ErrInvalidBaseURL) {
		t.Errorf("bad base URL: %v, want ErrTokenKeysUnavailable and ErrInvalidBaseURL", err)
	}
}

// TestJWKSKeysOfOtherKinds serves a JWKS with, beside the one ES256 key,
// keys of other kinds under other kids (RSA, P-384, a symmetric key, a
// point off the curve, an encryption key): tokens naming them are refused
// as of an unknown key, and the ES256 key still verifies.
func TestJWKSKeysOfOtherKinds(t *testing.T) {
	k := newKey(t)
	x, y := xy(t, &k.PublicKey)
	offCurve := append([]byte(nil), y...)
	offCurve[31] ^= 1
	body := `{"keys":[
	 {"kty":"RSA","kid":"rsa","n":"AQAB","e":"AQAB"},
	 {"kty":"EC","crv":"P-384","kid":"p384","x":"` + b64(x) + `","y":"` + b64(y) + `"},
	 {"kty":"oct","kid":"hmac","k":"c2VjcmV0"},
	 {"kty":"EC","crv":"P-256","kid":"off","x":"` + b64(x) + `","y":"` + b64(offCurve) + `"},
	 {"kty":"EC","crv":"P-256","kid":"enc","use":"enc","x":"` + b64(x) + `","y":"` + b64(y) + `"},
	 {"kty":"EC","crv":"P-256","kid":"es384","alg":"ES384","x":"` + b64(x) + `","y":"` + b64(y) + `"},
	 {"kty":"EC","crv":"P-256","kid":"good","x":"` + b64(x) + `","y":"` + b64(y) + `"}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	v := keyhold.New(srv.URL).TokenVerifier()
	is := &testIssuer{URL: srv.URL}
	now := time.Now()
	for _, kid := range []string{"rsa", "p384", "hmac", "off", "enc", "es384"} {
		if _, err := v.VerifyToken(context.Background(), sign(t, k, kid, is.claims(now)), keyhold.TokenCheck{}); !errors.Is(err, keyhold.ErrTokenUnknownKey) {
			t.Errorf("kid %s: %v, want ErrTokenUnknownKey", kid, err)
		}
	}
	if _, err := v.VerifyToken(context.Background(), sign(t, k, "good", is.claims(now)), keyhold.TokenCheck{}); err != nil {
		t.Errorf("the ES256 key: %v", err)
	}
	if _, err := v.VerifyToken(context.Background(), signHS256(t, []byte("secret"), "hmac", is.claims(now)), keyhold.TokenCheck{}); !errors.Is(err, keyhold.ErrTokenAlgorithm) {
		t.Errorf("HS256 with the published symmetric key: %v, want ErrTokenAlgorithm", err)
	}
}

// TestJWKSBadAnswers checks that a JWKS URL answering something else
// leaves the verifier without keys, as an *Error of the right kind.
func TestJWKSBadAnswers(t *testing.T) {
	for name, tc := range map[string]struct {
		status int
		body   string
		kind   error
	}{
		"not JSON":    {200, "<html>", keyhold.ErrBadAnswer},
		"no keys":     {200, `{"issuer":"x"}`, keyhold.ErrBadAnswer},
		"404":         {404, `{"keys":[]}`, keyhold.ErrBadAnswer},
		"500":         {500, `oops`, keyhold.ErrServer},
		"over 64 KiB": {200, `{"keys":[` + strings.Repeat(" ", 70<<10) + `]}`, keyhold.ErrBadAnswer},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			v := keyhold.New(srv.URL).TokenVerifier()
			if err := v.Refresh(context.Background()); !errors.Is(err, tc.kind) {
				t.Errorf("Refresh = %v, want %v", err, tc.kind)
			}
			_, err := v.VerifyToken(context.Background(), sign(t, newKey(t), "k1", (&testIssuer{URL: srv.URL}).claims(time.Now())), keyhold.TokenCheck{})
			if !errors.Is(err, keyhold.ErrTokenKeysUnavailable) {
				t.Errorf("VerifyToken = %v, want ErrTokenKeysUnavailable", err)
			}
		})
	}
}

// TestWithIssuer checks a verifier that reaches Keyhold by another URL
// than the issuer its tokens name.
func TestWithIssuer(t *testing.T) {
	is := newTestIssuer(t)
	k := is.publish("k1")
	c := is.claims(time.Now())
	c["iss"], c["aud"] = "https://keys.example.com", "https://keys.example.com"
	token := sign(t, k, "k1", c)
	if _, err := keyhold.New(is.URL).TokenVerifier().VerifyToken(context.Background(), token, keyhold.TokenCheck{}); !errors.Is(err, keyhold.ErrTokenIssuer) {
		t.Errorf("without WithIssuer: %v, want ErrTokenIssuer", err)
	}
	v := keyhold.New(is.URL).TokenVerifier(keyhold.WithIssuer("https://keys.example.com/"))
	if got, err := v.VerifyToken(context.Background(), token, keyhold.TokenCheck{}); err != nil || got.Issuer != "https://keys.example.com" {
		t.Errorf("WithIssuer: %+v, %v; want valid", got, err)
	}
}
