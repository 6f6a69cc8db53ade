// Package verify is the /v1/verify hot path: it answers, without a
// database query in steady state, whether an API key may make a call, and
// counts the call against the key's rate limit and quota.
//
// A verification parses the key (a malformed one is refused with no
// lookup), finds it by SHA-256 in an in-memory cache filled from the
// database on a miss (with short negative entries), checks revocation,
// expiry and scopes, then takes the call's cost from the key's rate limit
// (GCRA) and quota through Limits. A call refused at any step consumes
// nothing. Outcomes are counted in memory per key and written to the
// database in batches by Flush; Close flushes what is left.
//
// The cache drops a key at once when the keys service reports a change
// (InvalidateKey) or a plan change reaches an account (InvalidateAccount),
// and refreshes every entry after a while in case an event was missed.
// While the database is down, cached keys keep verifying, usage waits in
// memory (bounded), and uncached keys get Unavailable.
package verify
