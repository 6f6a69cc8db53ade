package templates

import (
	"testing"
	"time"
)

// TestWebhookRetryIn: a retry's time from now, in words.
func TestWebhookRetryIn(t *testing.T) {
	now := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{-time.Minute, "now"},
		{0, "now"},
		{time.Second, "in 1 second"},
		{5 * time.Second, "in 5 seconds"},
		{5 * time.Minute, "in 5 minutes"},
		{2*time.Hour + 10*time.Minute, "in 2 hours"},
		{30 * time.Hour, "on Mar 5, 2026 at 16:00 UTC"},
	} {
		if got := webhookRetryIn(now.Add(tc.in), now); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{{84 * time.Millisecond, "84 ms"}, {10 * time.Second, "10.0 s"}, {1500 * time.Millisecond, "1.5 s"}} {
		if got := webhookLatency(tc.in); got != tc.want {
			t.Errorf("latency %v: %q, want %q", tc.in, got, tc.want)
		}
	}
}
