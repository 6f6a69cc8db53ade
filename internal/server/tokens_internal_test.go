package server

import (
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/verify"
)

// TestReplayedTokenExpired: a replayed token answer is given again only
// while its token works for more than a few seconds; a body that cannot
// be read is not given again either.
func TestReplayedTokenExpired(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	body := func(exp time.Time) []byte {
		return []byte(`{"token":"x","token_type":"Bearer","expires_in":60,"expires_at":"` + exp.Format(time.RFC3339) + `","key_id":"k"}`)
	}
	for _, tc := range []struct {
		name string
		ans  verify.Answer
		want bool
	}{
		{"lives a minute more", verify.Answer{Status: 200, Replayed: true, Body: body(now.Add(time.Minute))}, false},
		{"expired", verify.Answer{Status: 200, Replayed: true, Body: body(now.Add(-time.Second))}, true},
		{"expires within 5 s", verify.Answer{Status: 200, Replayed: true, Body: body(now.Add(3 * time.Second))}, true},
		{"unreadable", verify.Answer{Status: 200, Replayed: true, Body: []byte(`{`)}, true},
		{"not a replay", verify.Answer{Status: 200, Body: body(now.Add(-time.Hour))}, false},
		{"a refusal of Begin's own", verify.Answer{Status: 400, Replayed: false, Body: []byte(`{}`)}, false},
	} {
		if got := replayedTokenExpired(&tc.ans, now); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
