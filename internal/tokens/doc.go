// Package tokens turns a verified API key into a short-lived JWT (DESIGN
// "Tokens: API key → short-lived JWT") and publishes the keys that check
// it. It owns the signing keys: ECDSA P-256, made on first need, kept in
// the database with the private part sealed (AES-GCM under a key derived
// by HKDF-SHA256 from the instance secret), shared by every instance,
// rotated every RotateEvery by a periodic job (RotateWorker) or on demand
// (Service.Rotate, `keyhold tokens rotate`).
//
// A rotation publishes the next key at once and lets it sign only
// Config.PublishAhead later (JWKSMaxAge + 2×Refresh, 6 minutes): by then
// every instance serves it in its JWKS and every verifier that caches the
// JWKS for its max-age has fetched it again, so no verifier meets a kid it
// does not know, and none has to fetch on an unknown kid (which the SDK
// does at most once a minute). The key it replaces signs until then, and
// stays in the JWKS for RetireWindow more, twice the longest token
// lifetime, so every token it signed can be checked until it expires; then
// it is dropped.
//
// The current signer and the JWKS are kept in memory and re-read every
// Config.Refresh (30 s by default), in the background: issuing a token
// costs one ECDSA signature and no database read in steady state. When a
// published key's time to sign comes, the next issue reads the keys again
// first, so every instance switches at that moment.
//
// The package runs no verification itself: the server's /v1/tokens handler
// verifies the key with internal/verify and then calls Service.Issue.
package tokens
