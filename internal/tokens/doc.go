// Package tokens turns a verified API key into a short-lived JWT (DESIGN
// "Tokens: API key → short-lived JWT") and publishes the keys that check
// it. It owns the signing keys: ECDSA P-256, made on first need, kept in
// the database with the private part sealed (AES-GCM under a key derived
// by HKDF-SHA256 from the instance secret), shared by every instance,
// rotated every RotateEvery by a periodic job (RotateWorker) or at once
// (Service.Rotate, `keyhold tokens rotate`). A retired key stays in the
// JWKS for RetireWindow, twice the longest token lifetime, so every token
// it signed can be checked until it expires; then it is dropped.
//
// The current signer and the JWKS are kept in memory and re-read every
// Config.Refresh (30 s by default), in the background: issuing a token
// costs one ECDSA signature and no database read in steady state. A
// rotation made by another instance is seen within that refresh; until
// then this instance signs with the previous key, which stays published.
//
// The package runs no verification itself: the server's /v1/tokens handler
// verifies the key with internal/verify and then calls Service.Issue.
package tokens
