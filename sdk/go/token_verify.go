package keyhold

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultLeeway is the clock skew allowed on exp, nbf and iat when
// TokenCheck.Leeway is 0.
const DefaultLeeway = 30 * time.Second

// maxToken bounds the token parsed: Keyhold's are well under 2 KiB.
const maxToken = 8 << 10

// TokenVerifier checks Keyhold's tokens offline: the signature against
// Keyhold's published keys (GET /.well-known/jwks.json, cached), and the
// claims. It is safe for concurrent use; make one per Client and share it
// (Client.TokenMiddleware uses the Client's own).
//
// Keys are fetched on first use (or Refresh) and kept for the max-age of
// Keyhold's answer (5 minutes), then refreshed in the background while the
// cached keys go on verifying. A token whose kid is not cached makes one
// fetch, at most once a minute. When Keyhold is unreachable, the cached
// keys are used however old they are; only a verifier that never fetched
// them answers ErrTokenKeysUnavailable.
type TokenVerifier struct {
	c      *Client
	issuer string
	jwks   jwksCache
}

// TokenVerifierOption changes a TokenVerifier made by Client.TokenVerifier.
type TokenVerifierOption func(*TokenVerifier)

// WithIssuer makes the verifier require iss to be issuer (Keyhold's
// KEYHOLD_BASE_URL, without a trailing slash) instead of the Client's base
// URL: for a service that reaches Keyhold by another address (an internal
// one) than its public URL. It is then also TokenCheck's default audience.
func WithIssuer(issuer string) TokenVerifierOption {
	return func(v *TokenVerifier) { v.issuer = strings.TrimRight(issuer, "/") }
}

// TokenVerifier returns a new verifier of the tokens of c's Keyhold, whose
// issuer (iss) is c's base URL without a trailing slash unless WithIssuer
// says otherwise.
func (c *Client) TokenVerifier(opts ...TokenVerifierOption) *TokenVerifier {
	v := &TokenVerifier{c: c, issuer: c.baseURL}
	v.jwks = jwksCache{c: c, now: time.Now}
	for _, o := range opts {
		o(v)
	}
	return v
}

// tokenVerifier is c's own verifier, made on first need.
func (c *Client) tokenVerifier() *TokenVerifier {
	c.verifierOnce.Do(func() { c.verifier = c.TokenVerifier() })
	return c.verifier
}

// Refresh fetches Keyhold's keys now, for instance at start-up so that
// the first token is checked without waiting for them. Its error is an
// *Error; the keys held before are kept.
func (v *TokenVerifier) Refresh(ctx context.Context) error {
	_, err := v.jwks.refresh(ctx, 0)
	return err
}

// TokenCheck says what a token must hold beyond a valid signature.
type TokenCheck struct {
	// Audience the token must be for (its aud); empty: the issuer (the
	// Client's base URL), Keyhold's default audience when
	// KEYHOLD_TOKEN_AUDIENCES is unset. Set it to the name of your service
	// when Keyhold lists it.
	Audience string
	// Scopes the token must all carry.
	Scopes []string
	// Leeway is the clock skew allowed on exp, nbf and iat; 0 means
	// DefaultLeeway, a negative value none.
	Leeway time.Duration
}

// TokenClaims is what a verified token says.
type TokenClaims struct {
	KeyID     string         // sub: the key the token was issued for
	AccountID string         // acct: the key's account
	Plan      string         // plan: the account's plan
	Scopes    []string       // scope, split: what the token may do
	Meta      map[string]any // meta: the key's metadata
	Issuer    string         // iss
	Audience  string         // aud, the one checked
	ID        string         // jti: unique per token
	IssuedAt  time.Time      // iat
	NotBefore time.Time      // nbf
	ExpiresAt time.Time      // exp
}

// HasScope reports whether the token carries scope.
func (t *TokenClaims) HasScope(scope string) bool { return slices.Contains(t.Scopes, scope) }

// claims is the JWT payload Keyhold signs.
type claims struct {
	jwt.RegisteredClaims
	Acct  string         `json:"acct"`
	Plan  string         `json:"plan"`
	Scope string         `json:"scope"`
	Meta  map[string]any `json:"meta"`
}

// VerifyToken checks token: signed with ES256 by a key Keyhold publishes,
// issued by the Client's Keyhold, for check.Audience, within exp and nbf
// (with check.Leeway), and carrying check.Scopes. A refused token is a
// *TokenError whose Reason is one of ErrToken*: errors.Is(err,
// ErrTokenExpired) and the like tell which. ErrTokenScope means a genuine
// token without the scope (403); ErrTokenKeysUnavailable means it could
// not be checked (503); any other, a bad token (401).
func (v *TokenVerifier) VerifyToken(ctx context.Context, token string, check TokenCheck) (*TokenClaims, error) {
	if token == "" || len(token) > maxToken {
		return nil, &TokenError{Reason: ErrTokenMalformed}
	}
	if v.c.urlErr != nil {
		return nil, &TokenError{Reason: ErrTokenKeysUnavailable, Err: &Error{Kind: v.c.urlErr}}
	}
	aud := check.Audience
	if aud == "" {
		aud = v.issuer
	}
	leeway := check.Leeway
	switch {
	case leeway == 0:
		leeway = DefaultLeeway
	case leeway < 0:
		leeway = 0
	}
	p := jwt.NewParser(
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(aud),
		jwt.WithLeeway(leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(v.jwks.now),
	)
	var cl claims
	var keyErr error // the keyfunc's own refusal, kept typed
	_, err := p.ParseWithClaims(token, &cl, func(t *jwt.Token) (any, error) {
		// Only ES256: alg none, HS256 with the public key as its secret
		// and every other algorithm stop here, before any key is used.
		if t.Method != jwt.SigningMethodES256 {
			keyErr = &TokenError{Reason: ErrTokenAlgorithm}
			return nil, keyErr
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			keyErr = &TokenError{Reason: ErrTokenUnknownKey, Detail: "no kid"}
			return nil, keyErr
		}
		k, err := v.jwks.key(ctx, kid)
		if err != nil {
			keyErr = err
			return nil, err
		}
		return k, nil
	})
	if err != nil {
		if keyErr != nil {
			return nil, keyErr
		}
		return nil, refusal(err, &cl, aud)
	}
	got := &TokenClaims{
		KeyID:     cl.Subject,
		AccountID: cl.Acct,
		Plan:      cl.Plan,
		Scopes:    strings.Fields(cl.Scope),
		Meta:      cl.Meta,
		Issuer:    cl.Issuer,
		Audience:  aud,
		ID:        cl.ID,
	}
	if cl.IssuedAt != nil {
		got.IssuedAt = cl.IssuedAt.Time
	}
	if cl.NotBefore != nil {
		got.NotBefore = cl.NotBefore.Time
	}
	got.ExpiresAt = cl.ExpiresAt.Time // required above
	for _, s := range check.Scopes {
		if !got.HasScope(s) {
			return nil, &TokenError{Reason: ErrTokenScope, Detail: "missing scope " + s}
		}
	}
	return got, nil
}

// refusal maps an error of the JWT library to its reason. The library's
// text is dropped: it can quote the token's header (its alg).
func refusal(err error, cl *claims, aud string) *TokenError {
	if errors.Is(err, jwt.ErrTokenInvalidClaims) { // signature good, claims not
		switch {
		case errors.Is(err, jwt.ErrTokenInvalidIssuer):
			return &TokenError{Reason: ErrTokenIssuer}
		case errors.Is(err, jwt.ErrTokenInvalidAudience):
			return &TokenError{Reason: ErrTokenAudience, Detail: "want " + aud}
		case errors.Is(err, jwt.ErrTokenExpired):
			return &TokenError{Reason: ErrTokenExpired}
		case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
			return &TokenError{Reason: ErrTokenNotYetValid}
		case cl.Issuer == "":
			return &TokenError{Reason: ErrTokenIssuer, Detail: "no iss"}
		case len(cl.Audience) == 0:
			return &TokenError{Reason: ErrTokenAudience, Detail: "no aud"}
		}
		return &TokenError{Reason: ErrTokenMalformed, Detail: "no exp"}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return &TokenError{Reason: ErrTokenMalformed}
	case errors.Is(err, jwt.ErrTokenUnverifiable): // an alg the library does not know
		return &TokenError{Reason: ErrTokenAlgorithm}
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return &TokenError{Reason: ErrTokenSignature}
	}
	return &TokenError{Reason: ErrTokenMalformed}
}
