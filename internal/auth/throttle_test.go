package auth_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/auth"
)

func key(s string) auth.ThrottleKey {
	var k auth.ThrottleKey
	sum := sha256.Sum256([]byte(s))
	copy(k[:], sum[:])
	return k
}

func TestThrottleWindow(t *testing.T) {
	ctx := context.Background()
	th := auth.NewThrottle(0)
	t0 := time.Unix(1_000_000, 0).UTC()
	lim := []auth.Limit{{Key: key("k"), Max: 3, Window: time.Minute}}
	var starts []time.Time
	for i := range 3 {
		s, until, err := th.TakeAttempts(ctx, t0.Add(time.Duration(i)*time.Second), lim)
		if err != nil || !until.IsZero() {
			t.Fatalf("attempt %d refused: %v %v", i+1, until, err)
		}
		starts = s
	}
	if !starts[0].Equal(t0) {
		t.Errorf("window starts at %v, want the first attempt %v", starts[0], t0)
	}
	if _, until, _ := th.TakeAttempts(ctx, t0.Add(10*time.Second), lim); !until.Equal(t0.Add(time.Minute)) {
		t.Errorf("4th attempt: blocked until %v, want %v", until, t0.Add(time.Minute))
	}
	// A refund gives one attempt back in the same window.
	if err := th.RefundAttempt(ctx, key("k"), starts[0]); err != nil {
		t.Fatal(err)
	}
	if _, until, _ := th.TakeAttempts(ctx, t0.Add(11*time.Second), lim); !until.IsZero() {
		t.Error("refunded attempt still refused")
	}
	if _, until, _ := th.TakeAttempts(ctx, t0.Add(12*time.Second), lim); until.IsZero() {
		t.Error("limit not enforced after the refund")
	}
	// The window ends a minute after its first attempt.
	if s, until, _ := th.TakeAttempts(ctx, t0.Add(time.Minute), lim); !until.IsZero() || !s[0].Equal(t0.Add(time.Minute)) {
		t.Errorf("after the window: until %v, start %v", until, s)
	}
	// A refund for a window that is over changes nothing.
	_ = th.RefundAttempt(ctx, key("k"), t0)
	for range 2 {
		if _, _, err := th.TakeAttempts(ctx, t0.Add(time.Minute), lim); err != nil {
			t.Fatal(err)
		}
	}
	if _, until, _ := th.TakeAttempts(ctx, t0.Add(time.Minute), lim); until.IsZero() {
		t.Error("a stale refund gave an attempt back")
	}
	if err := th.ForgetAttempts(ctx, key("k")); err != nil {
		t.Fatal(err)
	}
	if _, until, _ := th.TakeAttempts(ctx, t0.Add(time.Minute), lim); !until.IsZero() {
		t.Error("blocked after ForgetAttempts")
	}
}

// TestThrottleAllOrNone: an attempt refused by one limit counts against
// none of the others.
func TestThrottleAllOrNone(t *testing.T) {
	ctx := context.Background()
	th := auth.NewThrottle(0)
	now := time.Unix(1_000_000, 0)
	full := auth.Limit{Key: key("full"), Max: 1, Window: time.Hour}
	other := auth.Limit{Key: key("other"), Max: 2, Window: time.Hour}
	if _, _, err := th.TakeAttempts(ctx, now, []auth.Limit{full}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, until, _ := th.TakeAttempts(ctx, now, []auth.Limit{other, full}); until.IsZero() {
			t.Fatal("attempt past a full limit allowed")
		}
	}
	for i := range 2 {
		if _, until, _ := th.TakeAttempts(ctx, now, []auth.Limit{other}); !until.IsZero() {
			t.Fatalf("attempt %d on the other key refused: refused attempts were counted", i+1)
		}
	}
}

// TestThrottleBounded checks the map holds at most its bound, evicting the
// oldest window first, and drops expired counters as new ones arrive.
func TestThrottleBounded(t *testing.T) {
	ctx := context.Background()
	th := auth.NewThrottle(10)
	now := time.Unix(1_000_000, 0)
	for i := range 25 {
		if _, _, err := th.TakeAttempts(ctx, now.Add(time.Duration(i)*time.Second), []auth.Limit{{Key: key(fmt.Sprint(i)), Max: 1, Window: time.Hour}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := th.Len(); n != 10 {
		t.Errorf("holds %d counters, want its bound 10", n)
	}
	// The newest survive eviction: key 24 is still full.
	if _, until, _ := th.TakeAttempts(ctx, now.Add(30*time.Second), []auth.Limit{{Key: key("24"), Max: 1, Window: time.Hour}}); until.IsZero() {
		t.Error("the newest counter was evicted")
	}
	// The oldest went first: key 0 starts afresh.
	if _, until, _ := th.TakeAttempts(ctx, now.Add(30*time.Second), []auth.Limit{{Key: key("0"), Max: 1, Window: time.Hour}}); !until.IsZero() {
		t.Error("the oldest counter was kept")
	}
	// Once every window is over, the next attempt prunes them all.
	if _, _, err := th.TakeAttempts(ctx, now.Add(2*time.Hour), []auth.Limit{{Key: key("late"), Max: 1, Window: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	if n := th.Len(); n != 1 {
		t.Errorf("holds %d counters after every window ended, want 1", n)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestThrottleMemory replays the failed log-ins that once held 275 MB of
// heap: 50 000 distinct huge emails from 400 addresses, each counted against
// the three log-in limits. Counters are named by fixed-size digests, so the
// size of what was typed does not matter, and the map is bounded.
func TestThrottleMemory(t *testing.T) {
	ctx := context.Background()
	th := auth.NewThrottle(0)
	now := time.Unix(1_000_000, 0)
	pad := strings.Repeat("x", 14_000)
	before := heapInUse()
	for i := range 50_000 {
		email, addr := fmt.Sprintf("%d%s@example.com", i, pad), fmt.Sprintf("198.51.%d.%d", i%400/256, i%400%256)
		limits := []auth.Limit{
			{Key: key("pair\x00" + email + "\x00" + addr), Max: 10, Window: 15 * time.Minute},
			{Key: key("account\x00" + email), Max: 100, Window: 15 * time.Minute},
			{Key: key("address\x00" + addr), Max: 1_000_000, Window: 15 * time.Minute},
		}
		if _, until, _ := th.TakeAttempts(ctx, now.Add(time.Duration(i)*time.Millisecond), limits); !until.IsZero() {
			t.Fatalf("attempt %d refused", i)
		}
	}
	after := heapInUse()
	growth := int64(after) - int64(before)
	t.Logf("%d counters, heap growth %.1f MB", th.Len(), float64(growth)/(1<<20))
	if growth > 20<<20 {
		t.Errorf("heap grew %.1f MB for 50 000 failed log-ins, want under 20 MB", float64(growth)/(1<<20))
	}
	if n := th.Len(); n > auth.DefaultThrottleKeys {
		t.Errorf("%d counters, over the bound %d", n, auth.DefaultThrottleKeys)
	}
	runtime.KeepAlive(th)
}
