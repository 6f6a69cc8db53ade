package api

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humaecho"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/rootkey"
)

// rootKeyKey is the context key of the authenticated root key.
type rootKeyKey struct{}

// write is a problem answered by a middleware, before the operation runs.
func (a *API) write(ctx huma.Context, status int, msg string) {
	_ = huma.WriteErr(a.huma, ctx, status, msg)
}

// refuseKeyInQuery answers 401 to a request whose query string holds
// anything key-shaped (a root key or an API key): URLs end up in logs,
// histories and proxies, so a key there must be treated as leaked, and the
// call is refused whatever the key, before anything reads it. The request
// log shows only the path.
func (a *API) refuseKeyInQuery(ctx huma.Context, next func(huma.Context)) {
	if q := ctx.URL().RawQuery; q != "" {
		// Raw and decoded: a key may come percent-encoded.
		dq, _ := url.QueryUnescape(q)
		if keys.RedactText(q) != q || keys.RedactText(dq) != dq {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="keyhold"`)
			a.write(ctx, http.StatusUnauthorized, "Send the root key in the Authorization header (Authorization: Bearer kh_root_…), never in the URL: "+
				"a URL ends up in logs and browser histories. Treat a key you sent this way as leaked: revoke it and make another.")
			return
		}
	}
	next(ctx)
}

// authenticate finds the root key of Authorization: Bearer and puts its
// actor in the context; no key, an unknown or revoked one, or an API key
// answer 401.
func (a *API) authenticate(ctx huma.Context, next func(huma.Context)) {
	presented, found := strings.CutPrefix(ctx.Header("Authorization"), "Bearer ")
	presented = strings.TrimSpace(presented)
	if !found || presented == "" {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="keyhold"`)
		a.write(ctx, http.StatusUnauthorized, "Send a root key: Authorization: Bearer kh_root_…. Operators make root keys at /admin/root-keys.")
		return
	}
	if strings.HasPrefix(presented, keys.Prefix) {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="keyhold", error="invalid_token"`)
		a.write(ctx, http.StatusUnauthorized, "This is an API key (kh_live_…), which only /v1/verify takes. The management API needs a root key (kh_root_…).")
		return
	}
	k, err := a.rootKeys.Authenticate(ctx.Context(), presented)
	if err != nil {
		if errors.Is(err, rootkey.ErrUnauthorized) {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="keyhold", error="invalid_token"`)
			a.write(ctx, http.StatusUnauthorized, "This root key is not valid: it may be mistyped or revoked.")
			return
		}
		a.write(ctx, http.StatusServiceUnavailable, keyhold.ErrorMessage(err))
		return
	}
	actor := audit.Actor{RootKeyID: k.ID, IP: humaecho.Unwrap(ctx).RealIP()}
	ctx = huma.WithValue(ctx, rootKeyKey{}, k)
	ctx = huma.WithValue(ctx, actorKey{}, actor)
	ctx = huma.WithValue(ctx, opKey{}, ctx.Operation().OperationID)
	next(ctx)
}

// rateLimit spends one call of the root key's limit, and says where it
// stands in RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset on
// every answer; a refused call answers 429 with Retry-After.
func (a *API) rateLimit(ctx huma.Context, next func(huma.Context)) {
	k := ctx.Context().Value(rootKeyKey{}).(*rootkey.RootKey)
	ok, remaining, wait := a.limiter.Take(k.ID, a.now())
	secs := strconv.FormatInt(int64(math.Ceil(wait.Seconds())), 10)
	ctx.SetHeader("RateLimit-Limit", strconv.FormatInt(a.limiter.Limit(), 10))
	ctx.SetHeader("RateLimit-Remaining", strconv.FormatInt(remaining, 10))
	ctx.SetHeader("RateLimit-Reset", secs)
	if !ok {
		wait := retryAfter(wait)
		ctx.SetHeader("Retry-After", wait)
		a.write(ctx, http.StatusTooManyRequests, "This root key is making calls faster than its limit; wait "+wait+" s (Retry-After) and retry.")
		return
	}
	next(ctx)
}

// authorize checks that the root key holds the operation's permission;
// 403 names the one missing.
func (a *API) authorize(ctx huma.Context, next func(huma.Context)) {
	k := ctx.Context().Value(rootKeyKey{}).(*rootkey.RootKey)
	perm, _ := ctx.Operation().Metadata[permissionKey].(string)
	if perm == "" || !k.Has(perm) {
		a.write(ctx, http.StatusForbidden, "This root key lacks the permission "+perm+
			". An operator can make a root key that has it at /admin/root-keys.")
		return
	}
	next(ctx)
}

// retryAfter is a wait in whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(max(1, int64(math.Ceil(d.Seconds()))), 10)
}
