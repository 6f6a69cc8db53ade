package auth_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/auth"
)

// take is one attempt against limits at now that must not fail; it returns
// the window starts and, when refused, the end of the blocking window.
func take(tb testing.TB, th *auth.Throttle, now time.Time, limits ...auth.Limit) ([]time.Time, time.Time) {
	tb.Helper()
	starts, until, err := th.TakeAttempts(context.Background(), now, limits)
	if err != nil {
		tb.Fatal(err)
	}
	return starts, until
}

// TestThrottleLimitEdges: a limit of Max allows exactly Max attempts in a
// window, refuses the next until the window's last nanosecond, and opens a
// fresh window, starting at that attempt, the moment the old one ends. The
// cases "behind a longer window" put a live long window at the oldest end
// of the list, so pruning cannot drop the short counter first: the window
// end must then be seen by TakeAttempts itself.
func TestThrottleLimitEdges(t *testing.T) {
	t0 := time.Unix(1_000_000, 0).UTC()
	const window = time.Minute
	for _, behind := range []bool{false, true} {
		for _, limit := range []int{1, 3} {
			t.Run(fmt.Sprintf("limit %d, behind a longer window %v", limit, behind), func(t *testing.T) {
				th := auth.NewThrottle(0)
				if behind {
					take(t, th, t0.Add(-time.Second), auth.Limit{Key: key("long"), Max: 100, Window: time.Hour})
				}
				lim := auth.Limit{Key: key("k"), Max: limit, Window: window}
				for i := range limit {
					starts, until := take(t, th, t0.Add(time.Duration(i)*time.Second), lim)
					if !until.IsZero() || !starts[0].Equal(t0) {
						t.Fatalf("attempt %d of %d: until %v, start %v; want allowed in the window of %v", i+1, limit, until, starts, t0)
					}
				}
				end := t0.Add(window)
				for _, at := range []time.Time{t0.Add(time.Duration(limit) * time.Second), end.Add(-time.Nanosecond)} {
					if _, until := take(t, th, at, lim); !until.Equal(end) {
						t.Errorf("attempt past the limit at %v: blocked until %v, want %v", at, until, end)
					}
				}
				// At the window's end a new one starts, with a whole budget.
				for i := range limit {
					starts, until := take(t, th, end, lim)
					if !until.IsZero() || !starts[0].Equal(end) {
						t.Fatalf("attempt %d at the window's end: until %v, start %v; want a new window at %v", i+1, until, starts, end)
					}
				}
				if _, until := take(t, th, end, lim); !until.Equal(end.Add(window)) {
					t.Errorf("past the limit of the new window: blocked until %v, want %v", until, end.Add(window))
				}
			})
		}
	}
}

// TestThrottleRefundEdges: a refund gives back one attempt of the window it
// names and never more than were taken, so refunds cannot bank attempts
// for later.
func TestThrottleRefundEdges(t *testing.T) {
	ctx := context.Background()
	t0 := time.Unix(1_000_000, 0).UTC()
	lim := auth.Limit{Key: key("k"), Max: 2, Window: time.Minute}
	tests := []struct {
		name    string
		refunds int
		start   time.Time // the window start the refunds name
		allowed int       // attempts allowed afterwards in the window
	}{
		{"one refund of one attempt", 1, t0, 2},
		{"two refunds of one attempt", 2, t0, 2},
		{"a refund naming another window", 1, t0.Add(time.Second), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := auth.NewThrottle(0)
			take(t, th, t0, lim)
			for range tt.refunds {
				if err := th.RefundAttempt(ctx, lim.Key, tt.start); err != nil {
					t.Fatal(err)
				}
			}
			for i := range tt.allowed {
				if _, until := take(t, th, t0.Add(time.Second), lim); !until.IsZero() {
					t.Fatalf("attempt %d after the refunds refused, want %d allowed", i+1, tt.allowed)
				}
			}
			if _, until := take(t, th, t0.Add(time.Second), lim); until.IsZero() {
				t.Errorf("attempt %d after the refunds allowed, want %d only", tt.allowed+1, tt.allowed)
			}
		})
	}
	// A refund or a forget of a key never counted is no error and creates
	// no counter.
	th := auth.NewThrottle(0)
	if err := th.RefundAttempt(ctx, key("never"), t0); err != nil {
		t.Fatal(err)
	}
	if err := th.ForgetAttempts(ctx, key("never")); err != nil {
		t.Fatal(err)
	}
	if n := th.Len(); n != 0 {
		t.Errorf("%d counters after refunding and forgetting unknown keys, want 0", n)
	}
}

// TestThrottlePrunesAtWindowEnd: a counter is dropped the moment its window
// ends, not a nanosecond later, and pruning stops at the first live window.
func TestThrottlePrunesAtWindowEnd(t *testing.T) {
	t0 := time.Unix(1_000_000, 0).UTC()
	th := auth.NewThrottle(0)
	take(t, th, t0, auth.Limit{Key: key("a"), Max: 5, Window: time.Minute})
	take(t, th, t0.Add(time.Second), auth.Limit{Key: key("b"), Max: 5, Window: time.Minute})
	take(t, th, t0.Add(time.Minute), auth.Limit{Key: key("c"), Max: 5, Window: time.Minute})
	if n := th.Len(); n != 2 {
		t.Errorf("%d counters when a's window has just ended and b's has not, want 2 (b and c)", n)
	}
	take(t, th, t0.Add(time.Minute+time.Second), auth.Limit{Key: key("c"), Max: 5, Window: time.Minute})
	if n := th.Len(); n != 1 {
		t.Errorf("%d counters when b's window has just ended, want 1 (c)", n)
	}
}

// TestThrottleEvictionOrder: when every counter is live, the one whose
// window started first goes, a window that restarts counts as new, and a
// key being counted is never evicted to make room for another of the same
// attempt.
func TestThrottleEvictionOrder(t *testing.T) {
	t0 := time.Unix(1_000_000, 0).UTC()
	long := func(name string) auth.Limit { return auth.Limit{Key: key(name), Max: 1, Window: time.Hour} }
	full := func(th *auth.Throttle, at time.Time, name string) bool {
		_, until := take(t, th, at, long(name))
		return !until.IsZero()
	}

	t.Run("a restarted window moves to the newest end", func(t *testing.T) {
		th := auth.NewThrottle(3)
		take(t, th, t0, long("first"))
		short := auth.Limit{Key: key("short"), Max: 1, Window: time.Minute}
		take(t, th, t0.Add(time.Second), short)
		take(t, th, t0.Add(2*time.Second), long("third"))
		// short's window ends behind first's live one and restarts.
		restart := t0.Add(time.Second + time.Minute)
		if _, until := take(t, th, restart, short); !until.IsZero() {
			t.Fatal("short was refused after its window ended")
		}
		// Two new keys evict first, then third: short is now the newest.
		take(t, th, restart.Add(time.Second), long("new1"))
		take(t, th, restart.Add(2*time.Second), long("new2"))
		if n := th.Len(); n != 3 {
			t.Errorf("%d counters, want the bound 3", n)
		}
		if _, until := take(t, th, restart.Add(3*time.Second), short); until.IsZero() {
			t.Error("short's restarted window was evicted before older ones")
		}
		for _, name := range []string{"first", "third"} {
			if full(th, restart.Add(3*time.Second), name) {
				t.Errorf("%s was kept, want it evicted as the oldest", name)
			}
		}
	})

	t.Run("keys of the same attempt are skipped", func(t *testing.T) {
		th := auth.NewThrottle(2)
		take(t, th, t0, long("old"))
		take(t, th, t0.Add(time.Second), long("newer"))
		// old is the oldest but is counted again in this attempt, so newer
		// makes room for the new key.
		take(t, th, t0.Add(2*time.Second), auth.Limit{Key: key("old"), Max: 5, Window: time.Hour}, long("fresh"))
		if full(th, t0.Add(3*time.Second), "newer") {
			t.Error("newer was kept, want it evicted in place of old, which was being counted")
		}
		if !full(th, t0.Add(3*time.Second), "fresh") {
			t.Error("fresh, counted in the same attempt as old, was not kept")
		}
	})
}

// TestNewThrottleBound: 0 and a negative bound both mean
// DefaultThrottleKeys, which is then held exactly.
func TestNewThrottleBound(t *testing.T) {
	for _, maxKeys := range []int{0, -1} {
		t.Run(fmt.Sprint(maxKeys), func(t *testing.T) {
			th := auth.NewThrottle(maxKeys)
			now := time.Unix(1_000_000, 0)
			for i := range auth.DefaultThrottleKeys + 1 {
				take(t, th, now, auth.Limit{Key: key(fmt.Sprint(i)), Max: 1, Window: time.Hour})
			}
			if n := th.Len(); n != auth.DefaultThrottleKeys {
				t.Errorf("NewThrottle(%d) holds %d counters, want DefaultThrottleKeys (%d)", maxKeys, n, auth.DefaultThrottleKeys)
			}
		})
	}
}
