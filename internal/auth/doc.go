// Package auth owns the people who use the portal: accounts, password
// rules (NIST SP 800-63B: length, a list of common passwords, no passwords
// made of the email or the service's name) and hashing (argon2id, with a
// bounded number of hashes at once and a smaller share for sign-ups),
// throttling of log-ins, password changes and sign-ups, and sessions
// carried as signed JWTs backed by a server-side row so they can be ended.
// It knows nothing of HTTP: the server package turns its results into
// cookies and pages.
//
// Throttle counters are named by keyed digests (ThrottleKey) and kept by an
// Attempts: the store in production, so that counts survive a restart and
// are shared by instances, or a bounded in-memory Throttle.
//
// Errors callers decide on are *keyhold.Error values with codes EINVALID
// (bad input), ECONFLICT (email taken), EUNAUTHORIZED (wrong credentials,
// bad or ended session) and ETOOMANY (throttled; RetryAfter says how long).
package auth
