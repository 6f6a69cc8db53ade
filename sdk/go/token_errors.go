package keyhold

import "net/http"

// The reasons a token is refused, for errors.Is on an error of
// TokenVerifier.VerifyToken (always a *TokenError). None of their texts,
// nor any TokenError's, contains the token or a part of it.
var (
	// ErrTokenMissing: the request has no Authorization: Bearer token
	// (the middleware's only; VerifyToken calls an empty token malformed).
	ErrTokenMissing = tokenReason("keyhold: no bearer token")
	// ErrTokenMalformed: not a JWT (three base64url parts of JSON), over
	// 8 KiB, or without exp.
	ErrTokenMalformed = tokenReason("keyhold: the token is not a well-formed JWT")
	// ErrTokenAlgorithm: the token is not signed with ES256 (alg none,
	// HS256, RS256, …). errors.Is(err, ErrTokenSignature) holds too.
	ErrTokenAlgorithm = tokenReason("keyhold: the token is not signed with ES256")
	// ErrTokenUnknownKey: its kid is missing or not among the keys
	// Keyhold publishes (it came from another issuer, or its key was
	// retired).
	ErrTokenUnknownKey = tokenReason("keyhold: the token's signing key is not published by Keyhold")
	// ErrTokenSignature: the signature does not match (a changed claim,
	// or another key).
	ErrTokenSignature = tokenReason("keyhold: the token's signature is not valid")
	// ErrTokenIssuer: iss is not the Client's base URL.
	ErrTokenIssuer = tokenReason("keyhold: the token is from another issuer")
	// ErrTokenAudience: aud is not the audience checked for.
	ErrTokenAudience = tokenReason("keyhold: the token is for another audience")
	// ErrTokenExpired: exp has passed, beyond the leeway.
	ErrTokenExpired = tokenReason("keyhold: the token has expired")
	// ErrTokenNotYetValid: nbf or iat is ahead, beyond the leeway.
	ErrTokenNotYetValid = tokenReason("keyhold: the token is not valid yet")
	// ErrTokenScope: the token lacks a scope the check requires. The
	// token is genuine: answer 403, not 401.
	ErrTokenScope = tokenReason("keyhold: the token lacks a required scope")
	// ErrTokenKeysUnavailable: Keyhold's keys (its JWKS) have never been
	// fetched and cannot be now. Nothing is known about the token: answer
	// 503, not 401. Once fetched, keys are served from the cache while
	// Keyhold is unreachable.
	ErrTokenKeysUnavailable = tokenReason("keyhold: the token keys cannot be fetched from Keyhold")
)

// tokenReason is the type of the ErrToken* reasons.
type tokenReason string

func (r tokenReason) Error() string { return string(r) }

// TokenError is a token that VerifyToken refused, or could not check
// (ErrTokenKeysUnavailable). Its text never contains the token.
type TokenError struct {
	// Reason is one of the ErrToken* variables; errors.Is matches it.
	Reason error
	// Detail adds what the check expected (the missing scope, the
	// audience), never what the token says; may be empty.
	Detail string
	// Err is the cause of ErrTokenKeysUnavailable (an *Error of the JWKS
	// fetch), else nil.
	Err error
}

// Error implements error.
func (e *TokenError) Error() string {
	s := e.Reason.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is e's reason (ErrTokenSignature also
// matches ErrTokenAlgorithm).
func (e *TokenError) Is(target error) bool {
	return target == e.Reason || (target == ErrTokenSignature && e.Reason == ErrTokenAlgorithm)
}

// Unwrap returns the cause, so errors.Is(err, ErrUnreachable) works for
// ErrTokenKeysUnavailable.
func (e *TokenError) Unwrap() error { return e.Err }

// Code is the reason as the token middleware spells it in its JSON body
// ("TOKEN_EXPIRED", "INSUFFICIENT_SCOPE", …).
func (e *TokenError) Code() string { return reasonInfo(e.Reason).code }

// StatusCode is the HTTP status the token middleware answers e with: 401
// for a bad token, 403 for a missing scope, 503 when the keys cannot be
// fetched.
func (e *TokenError) StatusCode() int { return reasonInfo(e.Reason).status }

type reasonDesc struct {
	code    string
	status  int
	message string
}

// reasonInfo is the code, status and message of each reason.
func reasonInfo(r error) reasonDesc {
	switch r {
	case ErrTokenMissing:
		return reasonDesc{"TOKEN_MISSING", http.StatusUnauthorized, "No token: send it as Authorization: Bearer <token>."}
	case ErrTokenAlgorithm:
		return reasonDesc{"TOKEN_ALGORITHM", http.StatusUnauthorized, "The token is not signed with ES256."}
	case ErrTokenUnknownKey:
		return reasonDesc{"TOKEN_UNKNOWN_KEY", http.StatusUnauthorized, "The token's signing key is unknown."}
	case ErrTokenSignature:
		return reasonDesc{"TOKEN_SIGNATURE", http.StatusUnauthorized, "The token's signature is not valid."}
	case ErrTokenIssuer:
		return reasonDesc{"TOKEN_ISSUER", http.StatusUnauthorized, "The token is from another issuer."}
	case ErrTokenAudience:
		return reasonDesc{"TOKEN_AUDIENCE", http.StatusUnauthorized, "The token is for another audience."}
	case ErrTokenExpired:
		return reasonDesc{"TOKEN_EXPIRED", http.StatusUnauthorized, "The token has expired: get a new one."}
	case ErrTokenNotYetValid:
		return reasonDesc{"TOKEN_NOT_YET_VALID", http.StatusUnauthorized, "The token is not valid yet."}
	case ErrTokenScope:
		return reasonDesc{"INSUFFICIENT_SCOPE", http.StatusForbidden, "The token lacks a scope this call requires."}
	case ErrTokenKeysUnavailable:
		return reasonDesc{"UNAVAILABLE", http.StatusServiceUnavailable, "The token cannot be checked right now. Retry after the time in Retry-After."}
	}
	return reasonDesc{"TOKEN_MALFORMED", http.StatusUnauthorized, "The token is not a well-formed JWT."}
}
