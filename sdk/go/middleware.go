package keyhold

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MiddlewareOption changes what the middleware of Client.Middleware asks
// of each key.
type MiddlewareOption func(*middleware)

// WithCost makes each request take n (1–1000, or NoCost) from the key's
// rate limit and quota; the default is 1. It panics on another n, when the
// handler is built, since a bad cost would refuse every request.
func WithCost(n int) MiddlewareOption {
	if n != NoCost && (n < 1 || n > 1000) {
		panic(fmt.Sprintf("keyhold: WithCost(%d): the cost must be from 1 to 1000, or NoCost", n))
	}
	return func(m *middleware) { m.opts.Cost = n }
}

// WithScopes makes each request require scopes of the key.
func WithScopes(scopes ...string) MiddlewareOption {
	return func(m *middleware) { m.opts.Scopes = append([]string(nil), scopes...) }
}

// WithClientIP sends, with each verification, the address f returns for
// the request (VerifyOptions.IP), so that keys with an IP allow-list are
// checked against it. Use RemoteIP when clients connect to your server
// directly; behind a proxy, a function that reads the address your proxy
// vouches for (e.g. the last X-Forwarded-For entry it appends). Without
// this option no address is sent, and keys with an allow-list answer
// FORBIDDEN.
func WithClientIP(f func(*http.Request) string) MiddlewareOption {
	return func(m *middleware) { m.clientIP = f }
}

// RemoteIP returns the address of r's peer, r.RemoteAddr without its
// port, for WithClientIP.
func RemoteIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// WithErrorHandler calls f when Keyhold gave no answer (before the 503 is
// written), instead of logging the error with slog's default logger. The
// error never contains the key. f gets ErrCanceled too (the API's client
// hung up while Keyhold was asked), which the default does not log: it is
// no fault of Keyhold's or yours.
func WithErrorHandler(f func(r *http.Request, err error)) MiddlewareOption {
	return func(m *middleware) { m.onError = f }
}

// middleware is the handler of Client.Middleware.
type middleware struct {
	c        *Client
	next     http.Handler
	opts     VerifyOptions
	onError  func(*http.Request, error)
	clientIP func(*http.Request) string // nil: no IP sent
}

// unavailableRetry is the Retry-After of a 503 when Keyhold sent none: the
// delay Keyhold itself gives with UNAVAILABLE.
const unavailableRetry = 2 * time.Second

// Middleware returns a handler that verifies the key of each request
// before next sees it. The key comes from Authorization: Bearer or, if
// that is absent, X-API-Key.
//   - no key: 401 with a verify-shaped body (code BAD_REQUEST), without
//     calling Keyhold;
//   - refused: Keyhold's answer as it came (401 for MALFORMED, NOT_FOUND,
//     REVOKED, EXPIRED or a bad request; 403 for INSUFFICIENT_SCOPE,
//     FORBIDDEN, DISABLED; 429 for RATE_LIMITED, QUOTA_EXCEEDED), with its
//     Retry-After and RateLimit-* headers;
//   - no answer from Keyhold: 503 with Retry-After, code UNAVAILABLE;
//   - valid: next, with the *Verification in the request's context (see
//     FromContext) and the RateLimit-* headers set.
func (c *Client) Middleware(next http.Handler, opts ...MiddlewareOption) http.Handler {
	m := &middleware{c: c, next: next}
	for _, o := range opts {
		o(m)
	}
	return m
}

// ServeHTTP implements http.Handler.
func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := KeyFromRequest(r)
	if key == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
		writeJSON(w, http.StatusUnauthorized, missingKeyBody)
		return
	}
	opts := m.opts
	if m.clientIP != nil {
		opts.IP = m.clientIP(r)
	}
	v, err := m.c.Verify(r.Context(), key, opts)
	if err != nil {
		m.unavailable(w, r, err)
		return
	}
	for h, vs := range v.header {
		if h != "Retry-After" || !v.Valid {
			w.Header()[h] = vs
		}
	}
	if !v.Valid {
		writeJSON(w, refusalStatus(v), v.body)
		return
	}
	m.next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), v)))
}

// unavailable answers a request whose key Keyhold could not verify.
func (m *middleware) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case m.onError != nil:
		m.onError(r, err)
	case !errors.Is(err, ErrCanceled):
		slog.ErrorContext(r.Context(), "keyhold: the key could not be verified", "err", err)
	}
	retry := unavailableRetry
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		retry = e.RetryAfter
	}
	w.Header().Set("Retry-After", strconv.FormatInt(int64(retry/time.Second), 10))
	writeJSON(w, http.StatusServiceUnavailable, unavailableBody)
}

// refusalStatus is the status the middleware answers a refused key with:
// Keyhold's, except that a bad request (a key too long or not a key at
// all) is the client's missing credential, 401.
func refusalStatus(v *Verification) int {
	switch v.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests:
		return v.StatusCode
	}
	return http.StatusUnauthorized
}

var (
	missingKeyBody  = []byte(`{"valid":false,"code":"BAD_REQUEST","message":"No API key: send it as Authorization: Bearer <key> or X-API-Key: <key>."}`)
	unavailableBody = []byte(`{"valid":false,"code":"UNAVAILABLE","message":"The API key cannot be verified right now. Retry after the time in Retry-After."}`)
)

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client went away; there is no one to tell
}

// KeyFromRequest returns the API key of r: the token of Authorization:
// Bearer, else X-API-Key, else "".
func KeyFromRequest(r *http.Request) string {
	if scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " "); ok && strings.EqualFold(scheme, "Bearer") {
		if t := strings.TrimSpace(token); t != "" {
			return t
		}
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key"))
}

// verificationKey is the context key of the middleware's Verification.
type verificationKey struct{}

// FromContext returns the Verification the middleware put in ctx, or nil
// outside the middleware. It is always a valid one: refused keys never
// reach your handler.
func FromContext(ctx context.Context) *Verification {
	v, _ := ctx.Value(verificationKey{}).(*Verification)
	return v
}

// NewContext returns ctx carrying v, as the middleware passes it to your
// handler; for tests of handlers that read FromContext.
func NewContext(ctx context.Context, v *Verification) context.Context {
	return context.WithValue(ctx, verificationKey{}, v)
}
