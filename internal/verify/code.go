package verify

import "net/http"

// Code is the outcome of a verification. Each maps to one HTTP status.
type Code uint8

// Outcomes, in the order the checks run.
const (
	Valid             Code = iota // the key may make this call
	BadRequest                    // no key, bad JSON, bad cost or scopes
	Malformed                     // not a well-formed key (no lookup was made)
	NotFound                      // no such key
	Revoked                       // the key was revoked
	Expired                       // the key, or this rotated-away secret, expired
	Disabled                      // the key's account is suspended
	Forbidden                     // the client address (Request.IP) is not on the key's IP allow-list
	InsufficientScope             // the key lacks a required scope
	RateLimited                   // over the per-second rate limit
	QuotaExceeded                 // over the quota of this window
	Unavailable                   // the database could not be reached for an uncached key
)

var codeNames = [...]string{
	Valid: "VALID", BadRequest: "BAD_REQUEST", Malformed: "MALFORMED", NotFound: "NOT_FOUND",
	Revoked: "REVOKED", Expired: "EXPIRED", Disabled: "DISABLED", Forbidden: "FORBIDDEN", InsufficientScope: "INSUFFICIENT_SCOPE",
	RateLimited: "RATE_LIMITED", QuotaExceeded: "QUOTA_EXCEEDED", Unavailable: "UNAVAILABLE",
}

var codeMessages = [...]string{
	Valid:             "The key is valid.",
	BadRequest:        "The request is not valid.",
	Malformed:         "The key is not a well-formed Keyhold key.",
	NotFound:          "The key does not exist.",
	Revoked:           "The key has been revoked.",
	Expired:           "The key has expired.",
	Disabled:          "The key's account is suspended.",
	Forbidden:         "The client address is not on the key's IP allow-list (ip is missing or not in any of its CIDRs).",
	InsufficientScope: "The key lacks a scope this call requires.",
	RateLimited:       "The key is over its rate limit. Retry after the time in Retry-After.",
	QuotaExceeded:     "The key has used its quota for this period.",
	Unavailable:       "Keyhold cannot verify this key right now. Retry after the time in Retry-After.",
}

// String returns the code as the API spells it, e.g. "NOT_FOUND".
func (c Code) String() string { return codeNames[c] }

// Message returns a human sentence about the code.
func (c Code) Message() string { return codeMessages[c] }

// HTTPStatus returns the status /v1/verify answers with for the code.
func (c Code) HTTPStatus() int {
	switch c {
	case Valid:
		return http.StatusOK
	case BadRequest:
		return http.StatusBadRequest
	case Malformed, NotFound, Revoked, Expired:
		return http.StatusUnauthorized
	case InsufficientScope, Disabled, Forbidden:
		return http.StatusForbidden
	case RateLimited, QuotaExceeded:
		return http.StatusTooManyRequests
	}
	return http.StatusServiceUnavailable
}
