package verify

import (
	"context"
	"errors"
	"math"
	"time"
)

// ErrStale is what Limits return when the key changed since its entry was
// cached (another instance changed it, and the shared change counter says
// so): nothing was taken, and the verifier reads the key again.
var ErrStale = errors.New("verify: cached key is stale")

// Decision is what Limits decided for one call.
type Decision struct {
	RateLimited   bool
	QuotaExceeded bool
	RateLimit     int64     // the burst: calls allowed at once
	RateRemaining int64     // calls left now
	RateReset     time.Time // when the limiter is full again
	QuotaLimit    int64
	QuotaUsed     int64
	QuotaReset    time.Time // end of the quota window
	RetryAfter    time.Duration
}

// QuotaRemaining is what is left of the quota, never negative.
func (d *Decision) QuotaRemaining() int64 { return max(0, d.QuotaLimit-d.QuotaUsed) }

// Limits takes a call's cost from a key's rate limit and quota (its own,
// or its account's pool: Entry.quotaState). Take consumes both or neither: a call refused by the quota gives its rate
// back. Peek reports without consuming. The in-memory version counts per
// process; the Redis version (scale-out) shares counts between instances.
// Both return ErrStale, having taken nothing, when shared change counters
// show the entry is older than the key.
type Limits interface {
	Take(ctx context.Context, e *Entry, cost int64, now time.Time) (Decision, error)
	Peek(ctx context.Context, e *Entry, now time.Time) (Decision, error)
}

// MemoryLimits counts in the key's in-process state with atomic
// operations: exact under any concurrency within one process.
type MemoryLimits struct{}

// Take implements Limits.
func (MemoryLimits) Take(_ context.Context, e *Entry, cost int64, now time.Time) (Decision, error) {
	st := e.state
	q, w := e.quotaWindow(now)
	d := Decision{RateLimit: e.Burst(), QuotaLimit: e.Quota(), QuotaReset: w.End}

	g := gcraOf(e.Rate(), e.Burst(), time.Nanosecond)
	inc := g.interval * cost
	nowNs := now.UnixNano()
	for {
		old := st.tat.Load()
		tat, next, ok := g.next(old, nowNs, cost)
		if !ok {
			d.RateLimited = true
			d.RateRemaining = g.remaining(tat, nowNs)
			d.RetryAfter = time.Duration(g.wait(tat, nowNs, cost))
			d.RateReset = time.Unix(0, tat)
			d.QuotaUsed = q.used.Load()
			return d, nil
		}
		if cost == 0 || st.tat.CompareAndSwap(old, next) {
			d.RateRemaining = g.remaining(next, nowNs)
			d.RateReset = time.Unix(0, next)
			break
		}
	}

	for {
		used := q.used.Load()
		if used+cost > e.Quota() {
			st.tat.Add(-inc) // give the rate back: a refused call consumes nothing
			d.QuotaExceeded = true
			d.QuotaUsed = used
			d.RateRemaining = min(e.Burst(), d.RateRemaining+cost)
			d.RetryAfter = max(time.Second, w.End.Sub(now))
			return d, nil
		}
		if q.used.CompareAndSwap(used, used+cost) {
			d.QuotaUsed = used + cost
			if q != st {
				// The key's own count goes on too: should the account
				// return to quotas per key this window, each key's count
				// is then right.
				st.used.Add(cost)
			}
			return d, nil
		}
	}
}

// Peek implements Limits.
func (MemoryLimits) Peek(_ context.Context, e *Entry, now time.Time) (Decision, error) {
	st := e.state
	q, w := e.quotaWindow(now)
	g := gcraOf(e.Rate(), e.Burst(), time.Nanosecond)
	nowNs := now.UnixNano()
	tat := max(st.tat.Load(), nowNs)
	return Decision{
		RateLimit: e.Burst(), RateRemaining: g.remaining(tat, nowNs), RateReset: time.Unix(0, tat),
		QuotaLimit: e.Quota(), QuotaUsed: q.used.Load(), QuotaReset: w.End,
	}, nil
}

// retryAfterSeconds rounds a wait up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int64 {
	return max(1, int64(math.Ceil(d.Seconds())))
}

var _ Limits = MemoryLimits{}
