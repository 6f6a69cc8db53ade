// Package auth owns the people who use the portal: accounts, password
// hashing (argon2id), log-in throttling, and sessions carried as signed JWTs
// backed by a server-side row so they can be ended. It knows nothing of HTTP:
// the server package turns its results into cookies and pages.
//
// Errors callers decide on are *keyhold.Error values with codes EINVALID
// (bad sign-up input), ECONFLICT (email taken), EUNAUTHORIZED (wrong
// credentials, bad or ended session) and ETOOMANY (throttled).
package auth
