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
// Between instances, changes travel through one Invalidator, picked by
// cmd/keyhold: Local (one process), RedisInvalidator (change counters that
// the limiter's script checks on every call, plus pub/sub) or
// store.Notifier (PostgreSQL NOTIFY). A Broadcast applies this process's
// changes here and announces them; its Listen applies the others'.
// While the database is down, cached keys keep verifying, usage waits in
// memory (bounded), and uncached keys get Unavailable.
//
// With Config.Secrets a filter of every stored secret's hash (8-byte
// prefixes in a flat open-addressed table, 12 bytes a secret) answers a
// well-formed key that names no secret NotFound without a database read.
// SyncSecrets loads it with one streaming query and rebuilds it now and
// then; KeyEvent adds each new secret of this process before its key is
// handed out; the Redis invalidator numbers each new secret and publishes
// its hash, and an instance trusts its filter only when it has heard every
// number up to Redis's count, read after the verification began. Whenever
// it cannot be sure (not loaded yet, behind, Redis away) the key is read
// as before: a key that exists is never NotFound because of the filter.
//
// Replays keeps the answers given under an Idempotency-Key for ten
// minutes, in memory and Redis (replay.go says what is kept and why): the
// handlers call Begin before verifying and Claim.Finish where they write.
package verify
