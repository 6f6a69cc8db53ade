// Package keyhold is the Go client of Keyhold: it verifies the API keys
// that reach your API, and its net/http middleware puts the answer in the
// request's context.
//
// A Verify answer is either a *Verification (Keyhold looked at the key and
// said VALID, or why not: MALFORMED, NOT_FOUND, RATE_LIMITED, …) or an
// *Error (Keyhold gave no answer about the key: it was unreachable, slow,
// failing, or answered something that is not a verify answer). The two
// call for different replies to your own client (401/403/429 against
// 503), so they never mix: a refused key is not an error.
//
// The key is never part of an error, a log line or a URL this package
// makes; it travels only in the body of POST /v1/verify (and of POST
// /v1/tokens).
//
// Client.Token exchanges a key for a short-lived JWT that your other
// services check offline with a TokenVerifier (VerifyToken, or its
// Middleware): ES256 only, against Keyhold's published keys, cached. A
// refused token is a *TokenError whose reason (ErrTokenExpired,
// ErrTokenSignature, …) errors.Is tells; its text never contains the
// token.
package keyhold
