package keyhold

import "time"

// Hooks for the tests of package keyhold_test.

// SetTokenClock makes v read the time from now: for the checks of exp and
// nbf and for the age of its cached keys.
func SetTokenClock(v *TokenVerifier, now func() time.Time) { v.jwks.now = now }

// WaitTokenRefresh waits for v's background refreshes of its keys.
func WaitTokenRefresh(v *TokenVerifier) { v.jwks.bg.Wait() }
