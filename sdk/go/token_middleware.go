package keyhold

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// TokenMiddlewareOption changes what the token middleware asks of each
// token.
type TokenMiddlewareOption func(*tokenMiddleware)

// WithTokenCheck makes each request's token pass check (audience,
// required scopes, leeway); the default is TokenCheck{}: Keyhold's
// default audience, no scope, DefaultLeeway.
func WithTokenCheck(check TokenCheck) TokenMiddlewareOption {
	check.Scopes = append([]string(nil), check.Scopes...)
	return func(m *tokenMiddleware) { m.check = check }
}

// WithTokenErrorHandler calls f when a token could not be checked because
// Keyhold's keys could not be fetched (before the 503 is written), instead
// of logging it with slog's default logger. Refused tokens are the
// client's fault and are not reported.
func WithTokenErrorHandler(f func(r *http.Request, err error)) TokenMiddlewareOption {
	return func(m *tokenMiddleware) { m.onError = f }
}

type tokenMiddleware struct {
	v       *TokenVerifier
	next    http.Handler
	check   TokenCheck
	onError func(*http.Request, error)
}

// Middleware returns a handler that verifies the token of each request
// (Authorization: Bearer <jwt>) offline before next sees it:
//   - no token, or a bad one (malformed, another algorithm, unknown key,
//     bad signature, another issuer or audience, expired, not yet
//     valid): 401 with WWW-Authenticate: Bearer error="invalid_token" and
//     a JSON body {"valid":false,"code":"TOKEN_EXPIRED","message":…}
//     naming the reason (the codes of TokenError.Code);
//   - a genuine token lacking a required scope: 403, code
//     INSUFFICIENT_SCOPE, error="insufficient_scope";
//   - Keyhold's keys never fetched and unreachable: 503 with Retry-After,
//     code UNAVAILABLE;
//   - valid: next, with the *TokenClaims in the request's context (see
//     TokenFromContext).
func (v *TokenVerifier) Middleware(next http.Handler, opts ...TokenMiddlewareOption) http.Handler {
	m := &tokenMiddleware{v: v, next: next}
	for _, o := range opts {
		o(m)
	}
	return m
}

// TokenMiddleware is Middleware of the Client's own TokenVerifier (one per
// Client, shared by all its token middlewares, so Keyhold's keys are
// fetched once).
func (c *Client) TokenMiddleware(next http.Handler, opts ...TokenMiddlewareOption) http.Handler {
	return c.tokenVerifier().Middleware(next, opts...)
}

// ServeHTTP implements http.Handler.
func (m *tokenMiddleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token := bearerToken(r)
	if token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
		writeTokenRefusal(w, &TokenError{Reason: ErrTokenMissing})
		return
	}
	claims, err := m.v.VerifyToken(r.Context(), token, m.check)
	if err == nil {
		m.next.ServeHTTP(w, r.WithContext(NewTokenContext(r.Context(), claims)))
		return
	}
	var te *TokenError
	if !errors.As(err, &te) { // VerifyToken returns only *TokenError
		te = &TokenError{Reason: ErrTokenMalformed}
	}
	switch te.Reason {
	case ErrTokenKeysUnavailable:
		if m.onError != nil {
			m.onError(r, err)
		} else {
			slog.ErrorContext(r.Context(), "keyhold: the token could not be checked", "err", err)
		}
		retry := unavailableRetry
		var e *Error
		if errors.As(err, &e) && e.RetryAfter > 0 {
			retry = e.RetryAfter
		}
		w.Header().Set("Retry-After", strconv.FormatInt(int64(retry/time.Second), 10))
	case ErrTokenScope:
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+strings.Join(m.check.Scopes, " ")+`"`)
	default:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	writeTokenRefusal(w, te)
}

// writeTokenRefusal writes te's status and JSON body.
func writeTokenRefusal(w http.ResponseWriter, te *TokenError) {
	d := reasonInfo(te.Reason)
	body, _ := json.Marshal(struct { // strings only: cannot fail
		Valid   bool   `json:"valid"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}{false, d.code, d.message})
	writeJSON(w, d.status, body)
}

// bearerToken returns the token of Authorization: Bearer, or "". Unlike
// KeyFromRequest it ignores X-API-Key: a token is never sent there.
func bearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// claimsKey is the context key of the token middleware's claims.
type claimsKey struct{}

// TokenFromContext returns the claims the token middleware put in ctx, or
// nil outside it. They are always of a verified token.
func TokenFromContext(ctx context.Context) *TokenClaims {
	c, _ := ctx.Value(claimsKey{}).(*TokenClaims)
	return c
}

// NewTokenContext returns ctx carrying c, as the token middleware passes
// it to your handler; for tests of handlers that read TokenFromContext.
func NewTokenContext(ctx context.Context, c *TokenClaims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}
