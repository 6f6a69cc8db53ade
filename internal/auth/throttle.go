package auth

import (
	"sync"
	"time"
)

// Throttle counts failures per key (an account's email, a client address)
// in a fixed window and refuses further attempts once a key reaches its
// limit, until its window ends. It is in memory: each instance throttles on
// its own, which bounds guessing to limit × instances per window.
type Throttle struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	now    func() time.Time
	seen   map[string]*failures
}

type failures struct {
	count int
	start time.Time
}

// maxThrottleKeys bounds the map; past it, expired entries are pruned.
const maxThrottleKeys = 100_000

// NewThrottle returns a Throttle allowing limit failures per window.
func NewThrottle(limit int, window time.Duration, now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{limit: limit, window: window, now: now, seen: make(map[string]*failures)}
}

// Blocked reports whether key has used up its failures, and for how long.
func (t *Throttle) Blocked(key string) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.seen[key]
	if !ok {
		return false, 0
	}
	left := f.start.Add(t.window).Sub(t.now())
	if left <= 0 {
		delete(t.seen, key)
		return false, 0
	}
	return f.count >= t.limit, left
}

// Fail records one failure for key.
func (t *Throttle) Fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	f, ok := t.seen[key]
	if !ok || now.Sub(f.start) >= t.window {
		if len(t.seen) >= maxThrottleKeys {
			t.prune(now)
		}
		t.seen[key] = &failures{count: 1, start: now}
		return
	}
	f.count++
}

// Reset forgets key's failures (after a successful log-in).
func (t *Throttle) Reset(key string) {
	t.mu.Lock()
	delete(t.seen, key)
	t.mu.Unlock()
}

func (t *Throttle) prune(now time.Time) {
	for k, f := range t.seen {
		if now.Sub(f.start) >= t.window {
			delete(t.seen, k)
		}
	}
}
