// Package keys owns Keyhold's API keys: their format, the Secret type that
// carries a plaintext key, and the Service that creates, lists, edits,
// rotates and revokes keys and reads their usage, over the Store interface
// declared here (internal/store implements it). The Service tells
// subscribers (Subscribe) of every change, so caches of keys elsewhere can
// drop what changed.
//
// # Format
//
// A key is Prefix ("kh_live_"), 32 base62 characters (0-9A-Za-z) drawn from
// crypto/rand without modulo bias, and a 6-character base62 encoding of the
// CRC32 (IEEE) of everything before it, left-padded with '0': Len (46)
// bytes in all, for example
//
//	kh_live_abcdefghijklmnopqrstuvwxyz0123450Qkiwo
//
// This is GitHub's token scheme. The prefix lets secret scanners find a
// leaked key; the checksum lets Parse turn away a mistyped, truncated or
// made-up key without touching the database. The checksum is not a secret
// and gives no security by itself: the 32 random characters (about 190
// bits) do.
//
// # Secrets
//
// A Secret is a full plaintext key. It exists only briefly: Generate makes
// one when a key is created or rotated, and Parse makes one from what a
// caller of /v1/verify sent. Keys are stored and looked up only by
// Secret.Hash (SHA-256); the plaintext is shown to its owner once, through
// Secret.Reveal, and afterwards the key is identified by Secret.Display
// ("kh_live_…o5p6").
//
// A Secret redacts itself everywhere else: fmt verbs, slog attributes,
// encoding/json and encoding.TextMarshaler all print "kh_live_…[redacted]",
// so a key passed by mistake to a log line or an error message does not leak.
// Text that is not a Secret but may hold one (a request path a client sent)
// goes through RedactText before it is logged or shown.
//
// # Use
//
// Creating a key:
//
//	secret, err := keys.Generate()
//	// store secret.Hash() and secret.Display(); show secret.Reveal() once
//
// Verifying one, on the hot path (no allocation):
//
//	secret, err := keys.Parse(presented)
//	if err != nil {
//		// keys.ErrMalformed: answer MALFORMED, no lookup
//	}
//	key, err := lookupByHash(secret.Hash())
package keys
