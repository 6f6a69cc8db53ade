package main

import (
	"net/http"
	"net/url"
	"testing"
)

// TestLoginThrottleSurvivesRestart checks serve keeps throttle counters in
// the database: failures counted before a restart still refuse the
// address after it.
func TestLoginThrottleSurvivesRestart(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	first := MustRun(t, env)
	first.Client(t).MustSignup("ada@example.com")
	c := first.Client(t)
	for i := range 10 {
		p := c.Submit("/login", "/login", url.Values{"email": {"ada@example.com"}, "password": {"wrong password!"}})
		if p.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d = %s, want 401", i+1, p.Status)
		}
	}
	first.MustStop(t)

	second := MustRun(t, env)
	p := second.Client(t).Submit("/login", "/login", url.Values{"email": {"ada@example.com"}, "password": {testPassword}})
	if p.StatusCode != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" {
		t.Errorf("log-in after the restart = %s, Retry-After %q; want 429: the counters were lost", p.Status, p.Header.Get("Retry-After"))
	}
}
