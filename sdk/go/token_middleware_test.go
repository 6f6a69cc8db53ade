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
	"time"

	keyhold "github.com/keyhold/keyhold/sdk/go"
)

// TestTokenMiddleware puts the token middleware in front of a handler
// and checks what a caller gets for each kind of token: 401 naming the
// reason, 403 for a missing scope, 503 without keys, and the handler with
// the claims in the context.
func TestTokenMiddleware(t *testing.T) {
	is := newTestIssuer(t)
	k := is.publish("k1")
	now := time.Now()
	var reached atomic.Int32
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		c := keyhold.TokenFromContext(r.Context())
		if c == nil {
			http.Error(w, "no claims in the context", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "hello "+c.KeyID+" of "+c.AccountID+" "+strings.Join(c.Scopes, ","))
	})
	kh := keyhold.New(is.URL)
	up := httptest.NewServer(kh.TokenMiddleware(handler, keyhold.WithTokenCheck(keyhold.TokenCheck{Scopes: []string{"read"}})))
	t.Cleanup(up.Close)
	admin := httptest.NewServer(kh.TokenMiddleware(handler, keyhold.WithTokenCheck(keyhold.TokenCheck{Scopes: []string{"admin"}})))
	t.Cleanup(admin.Close)
	var reported atomic.Value
	down := httptest.NewServer(keyhold.New(closedURL(t)).TokenMiddleware(handler,
		keyhold.WithTokenErrorHandler(func(_ *http.Request, err error) { reported.Store(err) })))
	t.Cleanup(down.Close)

	good := sign(t, k, "k1", is.claims(now))
	expiredClaims := is.claims(now)
	expiredClaims["exp"] = now.Add(-time.Hour).Unix()
	expired := sign(t, k, "k1", expiredClaims)

	cases := []struct {
		name    string
		server  string
		headers map[string]string
		status  int
		code    string // "" when the handler answers
		www     string // in WWW-Authenticate
	}{
		{"valid", up.URL, map[string]string{"Authorization": "Bearer " + good}, 200, "", ""},
		{"valid, lower-case bearer", up.URL, map[string]string{"Authorization": "bearer " + good}, 200, "", ""},
		{"no token", up.URL, nil, 401, "TOKEN_MISSING", `Bearer realm="api"`},
		{"token in X-API-Key", up.URL, map[string]string{"X-API-Key": good}, 401, "TOKEN_MISSING", `Bearer realm="api"`},
		{"basic auth", up.URL, map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, 401, "TOKEN_MISSING", `Bearer realm="api"`},
		{"expired", up.URL, map[string]string{"Authorization": "Bearer " + expired}, 401, "TOKEN_EXPIRED", `error="invalid_token"`},
		{"an API key, not a token", up.URL, map[string]string{"Authorization": "Bearer kh_live_abc"}, 401, "TOKEN_MALFORMED", `error="invalid_token"`},
		{"alg none", up.URL, map[string]string{"Authorization": "Bearer " + unsigned(t, map[string]any{"alg": "none", "kid": "k1"}, is.claims(now))}, 401, "TOKEN_ALGORITHM", `error="invalid_token"`},
		{"another key", up.URL, map[string]string{"Authorization": "Bearer " + sign(t, newKey(t), "k1", is.claims(now))}, 401, "TOKEN_SIGNATURE", `error="invalid_token"`},
		{"missing scope", admin.URL, map[string]string{"Authorization": "Bearer " + good}, 403, "INSUFFICIENT_SCOPE", `error="insufficient_scope", scope="admin"`},
		{"keys unreachable", down.URL, map[string]string{"Authorization": "Bearer " + good}, 503, "UNAVAILABLE", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reached.Store(0)
			a := call(t, tc.server+"/", tc.headers)
			if a.status != tc.status {
				t.Fatalf("status %d (%s), want %d", a.status, a.body, tc.status)
			}
			if tc.code == "" {
				if reached.Load() != 1 || a.body != "hello key_01 of acct_01 read,write" {
					t.Fatalf("handler reached %d times, body %q; want once with the claims", reached.Load(), a.body)
				}
				return
			}
			if reached.Load() != 0 {
				t.Fatal("the handler was reached for a refused token")
			}
			var v struct {
				Valid   *bool  `json:"valid"`
				Code    string `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal([]byte(a.body), &v); err != nil || v.Valid == nil || *v.Valid || v.Code != tc.code || v.Message == "" {
				t.Fatalf("body %q, want valid false, code %s and a message", a.body, tc.code)
			}
			if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || a.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Content-Type %q, Cache-Control %q; want JSON, no-store", ct, a.header.Get("Cache-Control"))
			}
			if got := a.header.Get("WWW-Authenticate"); !strings.Contains(got, tc.www) {
				t.Errorf("WWW-Authenticate %q, want %q in it", got, tc.www)
			}
			if n, err := strconv.Atoi(a.header.Get("Retry-After")); (tc.status == 503) != (err == nil && n > 0) {
				t.Errorf("Retry-After %q with status %d", a.header.Get("Retry-After"), tc.status)
			}
		})
	}
	if err, _ := reported.Load().(error); !errors.Is(err, keyhold.ErrTokenKeysUnavailable) {
		t.Errorf("the error handler got %v, want ErrTokenKeysUnavailable", err)
	}
	// Both middlewares of kh share its verifier: one fetch of the keys.
	if got := is.hits.Load(); got != 1 {
		t.Errorf("%d fetches of the JWKS for two middlewares of one Client, want 1", got)
	}
}

// TestTokenContext checks NewTokenContext and TokenFromContext outside
// the middleware.
func TestTokenContext(t *testing.T) {
	if keyhold.TokenFromContext(t.Context()) != nil {
		t.Error("claims in an empty context")
	}
	c := &keyhold.TokenClaims{KeyID: "key_01"}
	if got := keyhold.TokenFromContext(keyhold.NewTokenContext(t.Context(), c)); got != c {
		t.Errorf("TokenFromContext = %v, want the claims put in", got)
	}
}
