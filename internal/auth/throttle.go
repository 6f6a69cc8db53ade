package auth

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ThrottleKey names what a throttle counts (an account, a client address,
// the two together) by a fixed-size digest, never by the value: a counter
// costs the same however long the email someone typed, and the counters
// kept in the database reveal neither emails nor addresses (the digest is
// keyed with the instance secret; see Service.throttleKey).
type ThrottleKey [16]byte

// Limit allows Max attempts against Key in a fixed window of length Window
// that starts at the key's first attempt.
type Limit struct {
	Key    ThrottleKey
	Max    int
	Window time.Duration
}

// Attempts keeps the attempt counters behind throttling. Throttle keeps
// them in memory, for one process; the store keeps them in the database,
// where they survive a restart and are shared by every instance.
type Attempts interface {
	// TakeAttempts counts one attempt against every limit, all or none, at
	// now. When some key has used up its window, nothing is counted and
	// blockedUntil is the latest end of such a window. Otherwise starts
	// holds the start of each key's window, in the order of limits, for
	// RefundAttempt.
	TakeAttempts(ctx context.Context, now time.Time, limits []Limit) (starts []time.Time, blockedUntil time.Time, err error)
	// RefundAttempt takes back one attempt counted against key in the
	// window that started at start; nothing when that window is over.
	RefundAttempt(ctx context.Context, key ThrottleKey, start time.Time) error
	// ForgetAttempts deletes key's counter.
	ForgetAttempts(ctx context.Context, key ThrottleKey) error
}

// throttled is the cause inside an ETOOMANY error: how long to wait.
type throttled struct{ retryAfter time.Duration }

func (t throttled) Error() string { return "auth: throttled for " + t.retryAfter.String() }

// RetryAfter returns how long the caller refused by an ETOOMANY error of
// this package should wait before trying again; 0 for any other error.
func RetryAfter(err error) time.Duration {
	var t throttled
	if errors.As(err, &t) {
		return t.retryAfter
	}
	return 0
}

// DefaultThrottleKeys is how many counters a Throttle made by NewThrottle(0)
// keeps: about 100 bytes each, 10 MB in all.
const DefaultThrottleKeys = 100_000

// Throttle is Attempts in memory. It holds at most a fixed number of
// counters: expired ones are dropped as new ones arrive, and when every
// counter is live the one whose window started first is evicted. Eviction
// forgets failures, so the bound is set well above what the per-address
// limits let a client create in a window; the database-backed Attempts has
// no such bound.
type Throttle struct {
	mu      sync.Mutex
	maxKeys int
	seen    map[ThrottleKey]*counter
	// oldest and newest end the list of counters in the order their
	// windows started (a window that restarts moves to the newest end).
	oldest, newest *counter
}

type counter struct {
	key        ThrottleKey
	attempts   int
	start, end int64 // the window, in Unix nanoseconds
	prev, next *counter
}

// NewThrottle returns an in-memory Throttle keeping at most maxKeys
// counters; 0 means DefaultThrottleKeys.
func NewThrottle(maxKeys int) *Throttle {
	if maxKeys <= 0 {
		maxKeys = DefaultThrottleKeys
	}
	return &Throttle{maxKeys: maxKeys, seen: make(map[ThrottleKey]*counter)}
}

// Len returns how many counters the throttle holds.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.seen)
}

// TakeAttempts implements Attempts.
func (t *Throttle) TakeAttempts(_ context.Context, now time.Time, limits []Limit) ([]time.Time, time.Time, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := now.UnixNano()
	t.pruneExpired(n)
	var until int64
	for _, l := range limits {
		if c := t.seen[l.Key]; c != nil && c.end > n && c.attempts >= l.Max {
			until = max(until, c.end)
		}
	}
	if until != 0 {
		return nil, time.Unix(0, until).UTC(), nil
	}
	starts := make([]time.Time, len(limits))
	for i, l := range limits {
		c := t.seen[l.Key]
		switch {
		case c == nil:
			if len(t.seen) >= t.maxKeys {
				t.evictOldest(limits)
			}
			c = &counter{key: l.Key}
			t.seen[l.Key] = c
			fallthrough
		case c.end <= n: // a new window
			c.attempts, c.start, c.end = 0, n, n+int64(l.Window)
			t.unlink(c)
			t.pushNewest(c)
		}
		c.attempts++
		starts[i] = time.Unix(0, c.start).UTC()
	}
	return starts, time.Time{}, nil
}

// RefundAttempt implements Attempts.
func (t *Throttle) RefundAttempt(_ context.Context, key ThrottleKey, start time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.seen[key]; c != nil && c.start == start.UnixNano() && c.attempts > 0 {
		c.attempts--
	}
	return nil
}

// ForgetAttempts implements Attempts.
func (t *Throttle) ForgetAttempts(_ context.Context, key ThrottleKey) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.seen[key]; c != nil {
		t.remove(c)
	}
	return nil
}

// pruneExpired drops counters whose window is over from the oldest end.
// Windows of different lengths share the list, so a long live window can
// hold back shorter expired ones behind it; maxKeys still bounds them.
func (t *Throttle) pruneExpired(now int64) {
	for t.oldest != nil && t.oldest.end <= now {
		t.remove(t.oldest)
	}
}

// evictOldest drops the counter whose window started first, skipping the
// keys being counted now.
func (t *Throttle) evictOldest(limits []Limit) {
next:
	for c := t.oldest; c != nil; c = c.next {
		for _, l := range limits {
			if l.Key == c.key {
				continue next
			}
		}
		t.remove(c)
		return
	}
}

func (t *Throttle) remove(c *counter) {
	t.unlink(c)
	delete(t.seen, c.key)
}

func (t *Throttle) unlink(c *counter) {
	if c.prev != nil {
		c.prev.next = c.next
	} else if t.oldest == c {
		t.oldest = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else if t.newest == c {
		t.newest = c.prev
	}
	c.prev, c.next = nil, nil
}

func (t *Throttle) pushNewest(c *counter) {
	c.prev = t.newest
	if t.newest != nil {
		t.newest.next = c
	} else {
		t.oldest = c
	}
	t.newest = c
}

var _ Attempts = (*Throttle)(nil)
