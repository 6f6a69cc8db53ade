package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/store"
)

func throttleKey(b byte) auth.ThrottleKey { return auth.ThrottleKey{b, 1, 2, 3} }

func TestThrottleCounters(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t0 := time.UnixMilli(1_767_225_600_000).UTC()
		a := auth.Limit{Key: throttleKey(1), Max: 2, Window: time.Minute}
		b := auth.Limit{Key: throttleKey(2), Max: 5, Window: time.Hour}
		var starts []time.Time
		for i := range 2 {
			s, until, err := db.TakeAttempts(ctx, t0.Add(time.Duration(i)*time.Second), []auth.Limit{a, b})
			if err != nil || !until.IsZero() {
				t.Fatalf("attempt %d: until %v, %v", i+1, until, err)
			}
			starts = s
		}
		if !starts[0].Equal(t0) || !starts[1].Equal(t0) {
			t.Errorf("windows start %v, want %v", starts, t0)
		}
		// a is full: the attempt is refused and counts against b neither.
		_, until, err := db.TakeAttempts(ctx, t0.Add(2*time.Second), []auth.Limit{a, b})
		if err != nil || !until.Equal(t0.Add(time.Minute)) {
			t.Fatalf("past the limit: until %v (want %v), %v", until, t0.Add(time.Minute), err)
		}
		for i := range 3 {
			if _, until, _ := db.TakeAttempts(ctx, t0.Add(3*time.Second), []auth.Limit{b}); !until.IsZero() {
				t.Fatalf("b refused at attempt %d: a refused attempt was counted", i+3)
			}
		}
		if _, until, _ := db.TakeAttempts(ctx, t0.Add(3*time.Second), []auth.Limit{b}); until.IsZero() {
			t.Error("b past its limit")
		}
		// A refund in the window gives one back; one for an old window none.
		if err := db.RefundAttempt(ctx, a.Key, starts[0]); err != nil {
			t.Fatal(err)
		}
		if err := db.RefundAttempt(ctx, a.Key, t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, until, _ := db.TakeAttempts(ctx, t0.Add(4*time.Second), []auth.Limit{a}); !until.IsZero() {
			t.Error("refunded attempt refused")
		}
		if _, until, _ := db.TakeAttempts(ctx, t0.Add(4*time.Second), []auth.Limit{a}); until.IsZero() {
			t.Error("a stale refund gave an attempt back")
		}
		// The window ends a minute after its first attempt.
		s, until, err := db.TakeAttempts(ctx, t0.Add(time.Minute), []auth.Limit{a})
		if err != nil || !until.IsZero() || !s[0].Equal(t0.Add(time.Minute)) {
			t.Errorf("new window: %v %v %v", s, until, err)
		}
		// Forget deletes the counter.
		if _, _, err := db.TakeAttempts(ctx, t0.Add(time.Minute), []auth.Limit{a}); err != nil {
			t.Fatal(err)
		}
		if err := db.ForgetAttempts(ctx, a.Key); err != nil {
			t.Fatal(err)
		}
		if _, until, _ := db.TakeAttempts(ctx, t0.Add(time.Minute), []auth.Limit{a}); !until.IsZero() {
			t.Error("refused after ForgetAttempts")
		}
		// Pruning removes the windows that are over: a's (ends t0+2m), not b's.
		n, err := db.DeleteExpiredAttempts(ctx, t0.Add(30*time.Minute))
		if err != nil || n != 1 {
			t.Errorf("pruned %d, %v; want 1", n, err)
		}
		if _, until, _ := db.TakeAttempts(ctx, t0.Add(30*time.Minute), []auth.Limit{b}); until.IsZero() {
			t.Error("pruning dropped a live window")
		}
	})
}

// TestThrottleCountersConcurrent: parallel attempts on one key are counted
// atomically, so exactly the limit gets through.
func TestThrottleCountersConcurrent(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		// Two keys in both orders: rows are locked in one order, no deadlock.
		x := auth.Limit{Key: throttleKey(7), Max: 10, Window: time.Minute}
		y := auth.Limit{Key: throttleKey(8), Max: 1000, Window: time.Minute}
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			passed int
		)
		for i := range 40 {
			wg.Go(func() {
				limits := []auth.Limit{x, y}
				if i%2 == 1 {
					limits = []auth.Limit{y, x}
				}
				_, until, err := db.TakeAttempts(ctx, now, limits)
				if err != nil {
					t.Error(err)
					return
				}
				if until.IsZero() {
					mu.Lock()
					passed++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if passed != 10 {
			t.Errorf("%d of 40 parallel attempts passed, want exactly 10", passed)
		}
	})
}
