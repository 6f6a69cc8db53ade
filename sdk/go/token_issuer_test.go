package keyhold_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testIssuer is a stand-in Keyhold for the offline checks: an httptest
// server publishing a JWKS of P-256 keys made in the test, and a signer
// of tokens written here with crypto/ecdsa (not with the JWT library the
// SDK verifies with), so that a token the SDK accepts is one a second
// implementation made.
type testIssuer struct {
	t    testing.TB
	srv  *httptest.Server
	URL  string // the issuer, iss, and the default audience
	hits atomic.Int32

	mu   sync.Mutex
	keys map[string]*ecdsa.PrivateKey // published, by kid
	down bool                         // answer 503
}

func newTestIssuer(t testing.TB) *testIssuer {
	t.Helper()
	is := &testIssuer{t: t, keys: map[string]*ecdsa.PrivateKey{}}
	is.srv = httptest.NewServer(http.HandlerFunc(is.serveJWKS))
	t.Cleanup(is.srv.Close)
	is.URL = is.srv.URL
	return is
}

func (is *testIssuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/.well-known/jwks.json" || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	is.hits.Add(1)
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	type jwk struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		Kid string `json:"kid"`
		Use string `json:"use"`
		Alg string `json:"alg"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}
	doc := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for kid, k := range is.keys {
		x, y := xy(is.t, &k.PublicKey)
		doc.Keys = append(doc.Keys, jwk{"EC", "P-256", kid, "sig", "ES256", b64(x), b64(y)})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = json.NewEncoder(w).Encode(doc)
}

// setDown makes the JWKS answer 503 (down true) or the keys again.
func (is *testIssuer) setDown(down bool) {
	is.mu.Lock()
	is.down = down
	is.mu.Unlock()
}

// publish makes a new key, publishes it as kid and returns it.
func (is *testIssuer) publish(kid string) *ecdsa.PrivateKey {
	is.t.Helper()
	k := newKey(is.t)
	is.mu.Lock()
	is.keys[kid] = k
	is.mu.Unlock()
	return k
}

func (is *testIssuer) key(kid string) *ecdsa.PrivateKey {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.keys[kid]
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// xy are the coordinates of pub, 32 bytes each.
func xy(t testing.TB, pub *ecdsa.PublicKey) (x, y []byte) {
	b, err := pub.Bytes() // 0x04 ‖ x ‖ y
	if err != nil {
		t.Fatal(err)
	}
	return b[1:33], b[33:]
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// claims are Keyhold's claims of a token issued at now for five minutes,
// for is's default audience.
func (is *testIssuer) claims(now time.Time) map[string]any {
	return map[string]any{
		"iss": is.URL, "sub": "key_01", "aud": is.URL,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"jti": "tok_01", "acct": "acct_01", "plan": "pro", "scope": "read write",
		"meta": map[string]any{"team": "blue"},
	}
}

// sign makes an ES256 token of claims signed by k, with kid in its header
// (none when kid is empty).
func sign(t testing.TB, k *ecdsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": "ES256", "typ": "JWT"}
	if kid != "" {
		h["kid"] = kid
	}
	signing := segment(t, h) + "." + segment(t, claims)
	sum := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64) // JWS ES256: r ‖ s, 32 bytes each
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + b64(sig)
}

// signHS256 makes an HS256 token with secret as the HMAC key: the attack
// of a verifier that takes the public key as the HMAC secret.
func signHS256(t testing.TB, secret []byte, kid string, claims map[string]any) string {
	t.Helper()
	signing := segment(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}) + "." + segment(t, claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	return signing + "." + b64(m.Sum(nil))
}

// unsigned makes a token with header h and no signature.
func unsigned(t testing.TB, h, claims map[string]any) string {
	t.Helper()
	return segment(t, h) + "." + segment(t, claims) + "."
}

func segment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64(b)
}

// clock is a settable time for the verifier, safe for its goroutines.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }
