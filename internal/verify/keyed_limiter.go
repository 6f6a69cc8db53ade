package verify

import (
	"sync"
	"time"
)

// KeyedLimiter is a rate limit per name (the management API's per root
// key), held in this instance's memory with the same GCRA arithmetic as a
// key's limit. It forgets names that have been idle long enough to be full
// again, so its size follows the names in use.
type KeyedLimiter struct {
	g     gcra
	limit int64
	mu    sync.Mutex
	tat   map[string]int64 // nanoseconds
	swept int64
}

// NewKeyedLimiter allows rate calls per second per name, burst at once.
func NewKeyedLimiter(rate, burst int64) *KeyedLimiter {
	g := gcraOf(rate, burst, time.Nanosecond)
	return &KeyedLimiter{g: g, limit: burst, tat: map[string]int64{}}
}

// Limit is the burst: how many calls a name may make at once.
func (l *KeyedLimiter) Limit() int64 { return l.limit }

// Take spends one call of name at now. It returns whether the call is
// allowed, how many more would be allowed right after it, and, for a
// refused call, how long to wait; for an allowed one, how long until the
// name is full again.
func (l *KeyedLimiter) Take(name string, now time.Time) (ok bool, remaining int64, wait time.Duration) {
	n := now.UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(n)
	tat, next, ok := l.g.next(l.tat[name], n, 1)
	if !ok {
		return false, 0, time.Duration(l.g.wait(tat, n, 1))
	}
	l.tat[name] = next
	return true, l.g.remaining(next, n), time.Duration(next - n)
}

// sweep drops, at most once per tolerance, the names whose tat has passed:
// they are full, as a name never seen.
func (l *KeyedLimiter) sweep(now int64) {
	if now-l.swept < max(l.g.tolerance, int64(time.Second)) {
		return
	}
	l.swept = now
	for name, tat := range l.tat {
		if tat <= now {
			delete(l.tat, name)
		}
	}
}
